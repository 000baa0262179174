"""Exact gate traces: re-run an ``nn.GRU``'s own weights step by step and keep r, z, n, h.

``nn.GRU`` (fused on CPU, cuDNN on GPU) never exposes its gates. :func:`trace_gates` is the
"equivalent loop" for it: it runs the same weights through the same equations, one timestep at a
time, and returns every gate of every layer, unit and timestep, together with an ``output`` and
``h_n`` that equal ``nn.GRU(x, h0)`` to rounding (tests/test_gates.py proves it).

The equations, exactly as PyTorch computes them (``torch.nn.GRU`` docstring), for layer k and
timestep t::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))     candidate ("new")
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

- Parameters are stacked in the order (r, z, n): ``weight_ih_l{k}`` is ``(W_ir|W_iz|W_in)`` of shape
  ``(3*hidden_size, input_size)`` for k = 0 and ``(3*hidden_size, D*hidden_size)`` above;
  ``weight_hh_l{k}`` is ``(W_hr|W_hz|W_hn)``, ``(3*hidden_size, hidden_size)``; ``bias_ih_l{k}``
  and ``bias_hh_l{k}`` are ``(3*hidden_size,)`` (absent when ``bias=False``: read them as 0). The
  backward direction of a bidirectional GRU has the same parameters with a ``_reverse`` suffix.
- x_t of layer k > 0 is layer k-1's output at t: forward and backward h concatenated
  (``[h_fwd, h_bwd]``, D*hidden_size values), exactly as ``nn.GRU`` feeds it.
- Dropout between layers (``nn.GRU(dropout=p)``) is NOT applied: the trace always has inference
  semantics, as if ``gru.eval()`` had been called.

Two z conventions. In PyTorch, z near 1 **keeps** the old state (z is "share of the old state
kept"). Many tutorials write ``h_t = (1 - z_t) * h_{t-1} + z_t * n_t``, where z near 1 **writes**
the candidate: z_tutorial = 1 - z_torch. Same model, flipped label. Every z in this module is
PyTorch's; :func:`z_keep_to_write` / :meth:`GateTrace.z_write` give the tutorial one.

Where PyTorch differs from the paper (Cho et al., 2014, and d2l): PyTorch applies the reset gate
*after* the matrix product, ``r_t * (W_hn h_{t-1} + b_hn)`` ("reset after", as cuDNN does); the
paper computes ``W_hn (r_t * h_{t-1})`` ("reset before"). That is a different function, not a
relabelling: ``diag(r) W_hn h`` differs from ``W_hn diag(r) h`` in general, and PyTorch also scales
the hidden bias b_hn by r. This module computes what PyTorch computes.

How it stays fast: per layer and direction, the input projections ``W_i x_t + b_i`` of all
timesteps are one matrix product; the loop over t then does one small matrix product
``W_h h_{t-1} + b_h`` and five in-place elementwise ops, writing straight into preallocated
buffers (r, z, n overwrite the input projections they were computed from).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gru_core.errors import DataError

__all__ = ["GateTrace", "trace_gates", "z_keep_to_write", "z_write_to_keep"]

_BLOCK = 1024  # timesteps whose per-step views are made at once (bounds memory for long series)


def z_keep_to_write(z):
    """Convert PyTorch's update gate ("share of the old state kept") to the tutorial convention.

    Parameters
    ----------
    z : torch.Tensor, np.ndarray or float
        Update gate as ``nn.GRU`` computes it: ``h_t = (1 - z) * n_t + z * h_{t-1}``.

    Returns
    -------
    Same type and shape as ``z``
        ``1 - z``: the share of the candidate n_t written into the state, as in
        ``h_t = (1 - z') * h_{t-1} + z' * n_t``.
    """
    return 1 - z


def z_write_to_keep(z):
    """Convert a tutorial-convention update gate ("share of the candidate written") to PyTorch's.

    Parameters
    ----------
    z : torch.Tensor, np.ndarray or float
        Update gate as in ``h_t = (1 - z) * h_{t-1} + z * n_t``.

    Returns
    -------
    Same type and shape as ``z``
        ``1 - z``: PyTorch's z, the share of the old state h_{t-1} kept.
    """
    return 1 - z


@dataclass
class GateTrace:
    """Every gate of every layer, unit and timestep of one ``nn.GRU`` run.

    Shapes use L = num_layers, B = batch, T = timesteps, H = hidden_size, D = 2 if bidirectional
    else 1. Index ``[k, b, t, j]`` is layer k, sequence b, timestep t, unit j.

    Attributes
    ----------
    r, z, n, h : torch.Tensor
        (L, B, T, H) reset gate, update gate (PyTorch convention: share kept), candidate and
        hidden state of the forward direction; ``h[:, :, t]`` is the state after reading x_t.
    r_reverse, z_reverse, n_reverse, h_reverse : torch.Tensor or None
        (L, B, T, H) the same for the backward direction, aligned to the ORIGINAL time axis:
        index t is the backward cell's state after reading x_{T-1}, ..., x_t. None unless the GRU
        is bidirectional.
    output : torch.Tensor
        (B, T, D*H) equal to ``nn.GRU(x, h0)[0]``: last layer's ``[h, h_reverse]``.
    h_n : torch.Tensor
        (D*L, B, H) equal to ``nn.GRU(x, h0)[1]``: final states, ordered layer 0 forward,
        layer 0 backward, layer 1 forward, ...
    """

    r: torch.Tensor
    z: torch.Tensor
    n: torch.Tensor
    h: torch.Tensor
    r_reverse: torch.Tensor | None
    z_reverse: torch.Tensor | None
    n_reverse: torch.Tensor | None
    h_reverse: torch.Tensor | None
    output: torch.Tensor
    h_n: torch.Tensor

    @property
    def bidirectional(self) -> bool:
        """True when the trace holds a backward direction."""
        return self.h_reverse is not None

    def z_write(self, reverse: bool = False) -> torch.Tensor:
        """Update gate in the tutorial convention, ``1 - z``: share of the candidate written.

        Parameters
        ----------
        reverse : bool
            Return the backward direction's gate (bidirectional GRUs only).

        Returns
        -------
        torch.Tensor
            (L, B, T, H) ``1 - z`` (or ``1 - z_reverse``).
        """
        if not reverse:
            return z_keep_to_write(self.z)
        if self.z_reverse is None:
            raise DataError(
                "This trace has no backward direction because the GRU is not bidirectional; "
                "call z_write() without reverse=True."
            )
        return z_keep_to_write(self.z_reverse)


def _check_inputs(gru, x, h0) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the arguments of :func:`trace_gates`; return x and h0 cast to the weights."""
    if not isinstance(gru, nn.GRU):
        raise DataError(
            f"trace_gates needs a torch.nn.GRU, got {type(gru).__name__}; "
            "gate traces exist only for GRU cells (pass model.rnn of a 'gru' forecaster)."
        )
    if not gru.batch_first:
        raise DataError(
            "trace_gates expects a GRU built with batch_first=True (inputs shaped "
            "(batch, time, input_size)); rebuild it with nn.GRU(..., batch_first=True) and load "
            "the same state_dict (the weights do not depend on batch_first)."
        )
    weight = gru.weight_ih_l0
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise DataError(
                f"x must be a tensor shaped (batch, time, {gru.input_size}); could not convert "
                f"{type(x).__name__}: {exc}"
            ) from exc
    if x.dim() == 2:
        raise DataError(
            f"x has shape {tuple(x.shape)} but trace_gates needs 3 dimensions "
            f"(batch, time, input_size={gru.input_size}); add a batch dimension with x.unsqueeze(0)."
        )
    if x.dim() != 3:
        raise DataError(
            f"x has shape {tuple(x.shape)} ({x.dim()} dimensions) but trace_gates needs "
            f"(batch, time, input_size={gru.input_size}); reshape it to 3 dimensions."
        )
    B, T, C = x.shape  # batch, time, input features
    if C != gru.input_size:
        raise DataError(
            f"x has {C} input features (last dimension) but the GRU expects "
            f"input_size={gru.input_size}; pass x with shape (batch, time, {gru.input_size})."
        )
    if B == 0 or T == 0:
        raise DataError(
            f"x has shape {tuple(x.shape)}: it needs at least one sequence and one timestep."
        )
    if x.is_complex() or x.dtype == torch.bool:
        raise DataError(f"x has dtype {x.dtype}; pass real numbers (float32 or float64).")
    x = x.to(device=weight.device, dtype=weight.dtype)
    if not torch.isfinite(x).all():
        raise DataError("x contains NaN or infinite values; fill or drop them before tracing.")

    D = 2 if gru.bidirectional else 1
    want = (D * gru.num_layers, B, gru.hidden_size)
    if h0 is None:
        h0 = x.new_zeros(want)  # (D*L, B, H)
    else:
        if not isinstance(h0, torch.Tensor):
            h0 = torch.as_tensor(h0)
        if tuple(h0.shape) != want:
            raise DataError(
                f"h0 has shape {tuple(h0.shape)} but this GRU with batch {B} needs "
                f"(num_directions*num_layers, batch, hidden_size) = {want}; pass h0=None for zeros."
            )
        h0 = h0.to(device=weight.device, dtype=weight.dtype).contiguous()
        if not torch.isfinite(h0).all():
            raise DataError("h0 contains NaN or infinite values; pass finite values or h0=None.")
    return x, h0


def _scan(g: torch.Tensor, w_hh_t: torch.Tensor, b_hh: torch.Tensor, h_prev: torch.Tensor,
          y: torch.Tensor, reverse: bool) -> None:
    """Run one layer and direction over time, in place.

    Parameters
    ----------
    g : torch.Tensor
        (B, T, 3H) input projections ``W_i x_t + b_i`` (r|z|n); overwritten with r_t|z_t|n_t.
    w_hh_t : torch.Tensor
        (H, 3H) ``weight_hh`` transposed.
    b_hh : torch.Tensor
        (3H,) ``bias_hh`` (zeros when the GRU has no bias).
    h_prev : torch.Tensor
        (B, H) initial state.
    y : torch.Tensor
        (B, T, H) view that receives h_t (may be strided: half of a bidirectional output).
    reverse : bool
        Read time backwards (t = T-1, ..., 0), still writing at index t.
    """
    B, T, H3 = g.shape  # batch, time, 3*hidden
    H = H3 // 3
    gh = g.new_empty(B, H3)  # (B, 3H) W_h h_{t-1} + b_h of the current step
    gh_rz, gh_n = gh[:, : 2 * H], gh[:, 2 * H :]  # (B, 2H), (B, H)
    starts = range(0, T, _BLOCK)
    for s in reversed(starts) if reverse else starts:
        e = min(s + _BLOCK, T)
        blk = g[:, s:e]  # (B, b, 3H) this block of timesteps
        steps = zip(
            blk[..., : 2 * H].unbind(1),  # r|z pre-activations, each (B, 2H)
            blk[..., :H].unbind(1),  # r_t, each (B, H), valid after the sigmoid
            blk[..., H : 2 * H].unbind(1),  # z_t, each (B, H)
            blk[..., 2 * H :].unbind(1),  # n_t, each (B, H)
            y[:, s:e].unbind(1),  # h_t, each (B, H)
        )
        if reverse:
            steps = reversed(list(steps))
        for rz_t, r_t, z_t, n_t, h_t in steps:
            torch.addmm(b_hh, h_prev, w_hh_t, out=gh)  # (B, 3H) W_h h_{t-1} + b_h
            rz_t.add_(gh_rz).sigmoid_()  # (B, 2H) r_t | z_t
            n_t.addcmul_(r_t, gh_n).tanh_()  # (B, H) tanh(W_in x + b_in + r * (W_hn h + b_hn))
            torch.lerp(n_t, h_prev, z_t, out=h_t)  # (B, H) n + z * (h_prev - n)
            h_prev = h_t


@torch.no_grad()
def trace_gates(gru: nn.GRU, x: torch.Tensor, h0: torch.Tensor | None = None) -> GateTrace:
    """Run ``gru`` on ``x`` step by step and return every gate (see the module docstring).

    Computation happens in the dtype and on the device of the GRU's weights (x and h0 are cast to
    them). Dropout between layers is not applied (inference semantics, like ``gru.eval()``).

    Parameters
    ----------
    gru : torch.nn.GRU
        Built with ``batch_first=True``; any ``num_layers``, ``bidirectional``, ``bias``.
    x : torch.Tensor
        (B, T, input_size) input sequences. An unbatched (T, input_size) input is refused: add a
        batch dimension with ``x.unsqueeze(0)``.
    h0 : torch.Tensor, optional
        (D*num_layers, B, hidden_size) initial states, ordered like ``nn.GRU``'s; zeros if None.

    Returns
    -------
    GateTrace
        r, z, n, h (and their ``_reverse`` counterparts) shaped (num_layers, B, T, hidden_size),
        plus ``output`` and ``h_n`` equal to ``gru(x, h0)``.

    Raises
    ------
    DataError
        Not an ``nn.GRU``, ``batch_first=False``, x not 3-D, wrong input_size, empty, non-finite
        values, or h0 of the wrong shape.
    """
    x, h0 = _check_inputs(gru, x, h0)
    B, T, _ = x.shape  # batch, time, input_size
    L, H = gru.num_layers, gru.hidden_size
    D = 2 if gru.bidirectional else 1
    # inference_mode (cheaper than no_grad: no view or version tracking) for the work itself; the
    # fields returned below are copies made outside it, so they are ordinary tensors.
    with torch.inference_mode():
        g_all = x.new_empty(L, D, B, T, 3 * H)  # r|z|n of every layer, direction, step
        layer_in = x  # (B, T, C) input of layer k: x, then layer k-1's output
        outs = []  # per layer (B, T, D*H)
        for k in range(L):
            y = x.new_empty(B, T, D * H)  # (B, T, D*H) [h_fwd, h_bwd]
            flat_in = layer_in.reshape(B * T, layer_in.shape[-1])  # (B*T, C)
            for d in range(D):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                w_ih = getattr(gru, "weight_ih" + sfx)  # (3H, C)
                w_hh = getattr(gru, "weight_hh" + sfx)  # (3H, H)
                if gru.bias:
                    b_ih = getattr(gru, "bias_ih" + sfx)  # (3H,)
                    b_hh = getattr(gru, "bias_hh" + sfx)  # (3H,)
                else:
                    b_ih = b_hh = w_ih.new_zeros(3 * H)  # (3H,) no bias: adding 0 is exact
                g = g_all[k, d]  # (B, T, 3H), contiguous
                torch.addmm(b_ih, flat_in, w_ih.t(), out=g.view(B * T, 3 * H))  # W_i x_t + b_i, all t
                w_hh_t = w_hh.t().contiguous()  # (H, 3H) contiguous: a faster small matmul per step
                _scan(g, w_hh_t, b_hh, h0[k * D + d], y[..., d * H : (d + 1) * H], reverse=d == 1)
            outs.append(y)
            layer_in = y

    h_n = torch.stack(
        [y[:, -1, :H] if d == 0 else y[:, 0, H:] for y in outs for d in range(D)]
    )  # (D*L, B, H)
    fwd = g_all[:, 0]  # (L, B, T, 3H)
    rev = g_all[:, 1] if D == 2 else None  # (L, B, T, 3H)
    return GateTrace(
        r=fwd[..., :H].contiguous(),  # (L, B, T, H)
        z=fwd[..., H : 2 * H].contiguous(),
        n=fwd[..., 2 * H :].contiguous(),
        h=torch.stack([y[..., :H] for y in outs]),  # (L, B, T, H)
        r_reverse=None if rev is None else rev[..., :H].contiguous(),
        z_reverse=None if rev is None else rev[..., H : 2 * H].contiguous(),
        n_reverse=None if rev is None else rev[..., 2 * H :].contiguous(),
        h_reverse=None if rev is None else torch.stack([y[..., H:] for y in outs]),
        output=outs[-1].clone(),  # (B, T, D*H)
        h_n=h_n,
    )
