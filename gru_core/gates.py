"""Exact gate traces: re-run an ``nn.GRU``'s own weights step by step and keep r, z, n, h.

``nn.GRU`` (fused on CPU, cuDNN on GPU) never exposes its gates. :func:`trace_gates` is the
"equivalent loop" for it: it runs the same weights through the same equations, one timestep at a
time, and returns every gate of every layer, unit and timestep, together with an ``output`` and
``h_n`` that equal ``nn.GRU(x, h0)`` to rounding (tests/test_gates.py proves it).

The equations, exactly as PyTorch computes them (``torch.nn.GRU`` docstring), for layer k and
timestep t -- stated once, in :data:`EQUATIONS` (plain text and LaTeX; the Gates page shows the
LaTeX, and tests/test_gates.py evaluates the plain text against ``nn.GRU``)::

{equations}

Symbols (legend of the package docstring): B batch, T time, C input columns, K layers, U units
(``hidden_size``), D directions (2 if bidirectional, else 1).

- Parameters are stacked in the order (r, z, n): ``weight_ih_l{k}`` is ``(W_ir|W_iz|W_in)`` of shape
  ``(3U, C)`` for k = 0 and ``(3U, D*U)`` above; ``weight_hh_l{k}`` is ``(W_hr|W_hz|W_hn)``,
  ``(3U, U)``; ``bias_ih_l{k}`` and ``bias_hh_l{k}`` are ``(3U,)`` (absent when ``bias=False``:
  read them as 0). The backward direction of a bidirectional GRU has the same parameters with a
  ``_reverse`` suffix. :func:`layer_weights` reads them (the one place that does).
- x_t of layer k > 0 is layer k-1's output at t: forward and backward h concatenated
  (``[h_fwd, h_bwd]``, D*U values), exactly as ``nn.GRU`` feeds it.
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

__all__ = ["EQUATIONS", "Equation", "GateTrace", "equations_latex", "layer_weights", "trace_gates",
           "z_keep_to_write", "z_write_to_keep"]

_BLOCK = 1024  # timesteps whose per-step views are made at once (bounds memory for long series)


@dataclass(frozen=True)
class Equation:
    """One line of the GRU update, in words, plain text and LaTeX.

    Attributes
    ----------
    name : str
        The quantity it defines: ``"r"``, ``"z"``, ``"n"`` or ``"h"``.
    role : str
        What it is, in a few words ("reset gate", ...).
    text : str
        Plain text; products are written by juxtaposition (``W_ir x_t``), ``*`` is elementwise.
    latex : str
        LaTeX of the same line (``\\odot`` elementwise); exactly one ``=``.
    """

    name: str
    role: str
    text: str
    latex: str


EQUATIONS: tuple[Equation, ...] = (
    Equation("r", "reset gate",
             "r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)",
             r"r_t = \sigma\left(W_{ir}\,x_t + b_{ir} + W_{hr}\,h_{t-1} + b_{hr}\right)"),
    Equation("z", "update gate",
             "z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)",
             r"z_t = \sigma\left(W_{iz}\,x_t + b_{iz} + W_{hz}\,h_{t-1} + b_{hz}\right)"),
    Equation("n", "candidate",
             "n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))",
             r"n_t = \tanh\left(W_{in}\,x_t + b_{in} + r_t \odot \left(W_{hn}\,h_{t-1} + b_{hn}\right)\right)"),
    Equation("h", "new state",
             "h_t = (1 - z_t) * n_t + z_t * h_{t-1}",
             r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}"),
)
"""The GRU update as ``nn.GRU`` computes it, in order (r, z, n, h); PyTorch's z (share kept)."""

if __doc__:  # the module docstring shows EQUATIONS (None under python -OO)
    __doc__ = __doc__.replace("{equations}", "\n".join(f"    {e.text:<62} {e.role}" for e in EQUATIONS))


def equations_latex() -> str:
    """:data:`EQUATIONS` as one LaTeX ``aligned`` block, each line labelled with its role."""
    rows = [e.latex.replace(" = ", " &= ", 1) + rf" && \text{{{e.role}}}" for e in EQUATIONS]
    return r"\begin{aligned}" + r"\\".join(rows) + r"\end{aligned}"


def layer_weights(rnn: nn.GRU, layer: int, direction: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The parameters of one layer and direction of ``rnn``, stacked (r, z, n) as PyTorch keeps them.

    Parameters
    ----------
    rnn : torch.nn.GRU
        Any GRU (``bias`` True or False, one or two directions).
    layer : int
        Layer k, 0-based.
    direction : int
        0 forward, 1 backward (bidirectional GRUs only).

    Returns
    -------
    W_i, W_h, b_i, b_h : torch.Tensor
        ``(3U, C_k)`` ``(W_ir|W_iz|W_in)``, ``(3U, U)`` ``(W_hr|W_hz|W_hn)``, ``(3U,)`` ``b_i`` and
        ``(3U,)`` ``b_h`` -- the GRU's own tensors (not copies), except that a GRU built with
        ``bias=False`` gets zero biases (adding 0 is exact). ``C_k`` is the input size for k = 0
        and D*U above. Split into the r, z, n blocks with ``.chunk(3)`` (rows ``[0, U)`` are r,
        ``[U, 2U)`` z, ``[2U, 3U)`` n).

    Raises
    ------
    DataError
        ``rnn`` is not an ``nn.GRU``, or the layer / direction does not exist.
    """
    if not isinstance(rnn, nn.GRU):
        raise DataError(f"layer_weights needs a torch.nn.GRU, got {type(rnn).__name__}; gate "
                        "weights (r, z, n) exist only for GRU cells.")
    K, D = rnn.num_layers, 2 if rnn.bidirectional else 1
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < K:
        raise DataError(f"layer must be a whole number from 0 to {K - 1} (the GRU has {K} "
                        f"layer(s)); got {layer!r}.")
    if direction not in range(D) or isinstance(direction, bool):
        raise DataError("direction must be 0 (forward)" + (" or 1 (backward)" if D == 2 else
                        "; this GRU is not bidirectional") + f"; got {direction!r}.")
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    w_i = getattr(rnn, "weight_ih" + sfx)  # (3U, C_k)
    w_h = getattr(rnn, "weight_hh" + sfx)  # (3U, U)
    if rnn.bias:
        return w_i, w_h, getattr(rnn, "bias_ih" + sfx), getattr(rnn, "bias_hh" + sfx)  # (3U,) each
    zeros = w_i.new_zeros(w_i.shape[0])  # (3U,)
    return w_i, w_h, zeros, zeros


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

    Shapes use K layers, B batch, T timesteps, U units (``hidden_size``), D directions (2 if
    bidirectional, else 1). Index ``[k, b, t, j]`` is layer k, sequence b, timestep t, unit j.

    Attributes
    ----------
    r, z, n, h : torch.Tensor
        (K, B, T, U) reset gate, update gate (PyTorch convention: share kept), candidate and
        hidden state of the forward direction; ``h[:, :, t]`` is the state after reading x_t.
    r_reverse, z_reverse, n_reverse, h_reverse : torch.Tensor or None
        (K, B, T, U) the same for the backward direction, aligned to the ORIGINAL time axis:
        index t is the backward cell's state after reading x_{T-1}, ..., x_t. None unless the GRU
        is bidirectional.
    output : torch.Tensor
        (B, T, D*U) equal to ``nn.GRU(x, h0)[0]``: last layer's ``[h, h_reverse]``.
    h_n : torch.Tensor
        (D*K, B, U) equal to ``nn.GRU(x, h0)[1]``: final states, ordered layer 0 forward,
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
            (K, B, T, U) ``1 - z`` (or ``1 - z_reverse``).
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
        h0 = x.new_zeros(want)  # (D*K, B, U)
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
        (B, T, 3U) input projections ``W_i x_t + b_i`` (r|z|n); overwritten with r_t|z_t|n_t.
    w_hh_t : torch.Tensor
        (U, 3U) ``weight_hh`` transposed.
    b_hh : torch.Tensor
        (3U,) ``bias_hh`` (zeros when the GRU has no bias).
    h_prev : torch.Tensor
        (B, U) initial state.
    y : torch.Tensor
        (B, T, U) view that receives h_t (may be strided: half of a bidirectional output).
    reverse : bool
        Read time backwards (t = T-1, ..., 0), still writing at index t.
    """
    B, T, U3 = g.shape  # batch, time, 3*hidden
    U = U3 // 3
    gh = g.new_empty(B, U3)  # (B, 3U) W_h h_{t-1} + b_h of the current step
    gh_rz, gh_n = gh[:, : 2 * U], gh[:, 2 * U :]  # (B, 2U), (B, U)
    starts = range(0, T, _BLOCK)
    for s in reversed(starts) if reverse else starts:
        e = min(s + _BLOCK, T)
        blk = g[:, s:e]  # (B, b, 3U) this block of timesteps
        steps = zip(
            blk[..., : 2 * U].unbind(1),  # r|z pre-activations, each (B, 2U)
            blk[..., :U].unbind(1),  # r_t, each (B, U), valid after the sigmoid
            blk[..., U : 2 * U].unbind(1),  # z_t, each (B, U)
            blk[..., 2 * U :].unbind(1),  # n_t, each (B, U)
            y[:, s:e].unbind(1),  # h_t, each (B, U)
        )
        if reverse:
            steps = reversed(list(steps))
        for rz_t, r_t, z_t, n_t, h_t in steps:
            torch.addmm(b_hh, h_prev, w_hh_t, out=gh)  # (B, 3U) W_h h_{t-1} + b_h
            rz_t.add_(gh_rz).sigmoid_()  # (B, 2U) r_t | z_t
            n_t.addcmul_(r_t, gh_n).tanh_()  # (B, U) tanh(W_in x + b_in + r * (W_hn h + b_hn))
            torch.lerp(n_t, h_prev, z_t, out=h_t)  # (B, U) n + z * (h_prev - n)
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
        (D*K, B, U) initial states, ordered like ``nn.GRU``'s; zeros if None.

    Returns
    -------
    GateTrace
        r, z, n, h (and their ``_reverse`` counterparts) shaped (K, B, T, U),
        plus ``output`` and ``h_n`` equal to ``gru(x, h0)``.

    Raises
    ------
    DataError
        Not an ``nn.GRU``, ``batch_first=False``, x not 3-D, wrong input_size, empty, non-finite
        values, or h0 of the wrong shape.
    """
    x, h0 = _check_inputs(gru, x, h0)
    B, T, _ = x.shape  # batch, time, input_size
    K, U = gru.num_layers, gru.hidden_size
    D = 2 if gru.bidirectional else 1
    # inference_mode (cheaper than no_grad: no view or version tracking) for the work itself; the
    # fields returned below are copies made outside it, so they are ordinary tensors.
    with torch.inference_mode():
        g_all = x.new_empty(K, D, B, T, 3 * U)  # r|z|n of every layer, direction, step
        layer_in = x  # (B, T, C) input of layer k: x, then layer k-1's output
        outs = []  # per layer (B, T, D*U)
        for k in range(K):
            y = x.new_empty(B, T, D * U)  # (B, T, D*U) [h_fwd, h_bwd]
            flat_in = layer_in.reshape(B * T, layer_in.shape[-1])  # (B*T, C_k)
            for d in range(D):
                w_ih, w_hh, b_ih, b_hh = layer_weights(gru, k, d)  # (3U, C_k), (3U, U), (3U,), (3U,)
                g = g_all[k, d]  # (B, T, 3U), contiguous
                torch.addmm(b_ih, flat_in, w_ih.t(), out=g.view(B * T, 3 * U))  # W_i x_t + b_i, all t
                w_hh_t = w_hh.t().contiguous()  # (U, 3U) contiguous: a faster small matmul per step
                _scan(g, w_hh_t, b_hh, h0[k * D + d], y[..., d * U : (d + 1) * U], reverse=d == 1)
            outs.append(y)
            layer_in = y

    h_n = torch.stack(
        [y[:, -1, :U] if d == 0 else y[:, 0, U:] for y in outs for d in range(D)]
    )  # (D*K, B, U)
    fwd = g_all[:, 0]  # (K, B, T, 3U)
    rev = g_all[:, 1] if D == 2 else None  # (K, B, T, 3U)
    return GateTrace(
        r=fwd[..., :U].contiguous(),  # (K, B, T, U)
        z=fwd[..., U : 2 * U].contiguous(),
        n=fwd[..., 2 * U :].contiguous(),
        h=torch.stack([y[..., :U] for y in outs]),  # (K, B, T, U)
        r_reverse=None if rev is None else rev[..., :U].contiguous(),
        z_reverse=None if rev is None else rev[..., U : 2 * U].contiguous(),
        n_reverse=None if rev is None else rev[..., 2 * U :].contiguous(),
        h_reverse=None if rev is None else torch.stack([y[..., U:] for y in outs]),
        output=outs[-1].clone(),  # (B, T, D*U)
        h_n=h_n,
    )
