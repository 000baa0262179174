"""What-if experiments on a trained GRU: clamp its gates, edit its input, read the new forecast.

Clamped trace. :func:`trace_clamped` runs ``nn.GRU``'s own weights through the same equations as
:func:`gru_core.gates.trace_gates` (PyTorch's, "reset after")::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))     candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

as a plain loop with one extra step: after the sigmoids, chosen entries of r_t and z_t are
replaced by fixed values (a :class:`Clamp`: gate, value, units, timesteps, layers). Everything
downstream -- n_t, h_t, the next steps, the layers above, the forecast -- then follows from the
overridden gate. With no clamp it is ``nn.GRU`` (tests/test_intervene.py checks it against
``nn.GRU`` and ``trace_gates``); with z = 1 everywhere every state stays h0.

z is PyTorch's: z = 1 **keeps** the old state (shuts the write), z = 0 writes the candidate.

Two cut-down cells (``mode``), applied to every layer, unit and timestep before any clamp:

* ``"update_only"``: no reset gate, r = 1 (n_t sees all of W_hn h_{t-1} + b_hn);
* ``"reset_only"``: no update gate, z = 0 (h_t = n_t: the state is rewritten every step).

Input edits. :class:`Edit` changes the target column of one window in the data's own units
(set points, a spike, a level shift, noise, scaling a stretch); :func:`what_if` scales the edited
window with the dataset's scaler, traces it (clamped or not) and maps the forecast back to data
units. Bidirectional GRUs are refused for clamps (a clamp at "timestep t" would be ambiguous);
:func:`forecast_from_trace` handles both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.gates import GateTrace, _check_inputs, layer_weights, trace_gates

__all__ = ["MODES", "EDITS", "Clamp", "Edit", "WhatIf", "trace_clamped", "forecast_from_trace",
           "apply_edits", "window_values", "what_if"]

MODES = {
    "full": "the trained GRU as it is",
    "update_only": "no reset gate: r = 1 everywhere",
    "reset_only": "no update gate: z = 0 everywhere, so h_t = n_t",
}
"""Cell modes of :func:`trace_clamped`: key -> what it does (for help texts)."""


@dataclass(frozen=True)
class Clamp:
    """Hold one gate at a fixed value.

    Parameters
    ----------
    gate : str
        ``"r"`` (reset) or ``"z"`` (update, PyTorch's: 1 keeps the old state).
    value : float
        The value in [0, 1] the gate is held at.
    units : tuple of int, optional
        Units (0-based) clamped; None = every unit.
    steps : (start, stop), optional
        Timesteps ``start <= t < stop`` (0 = the oldest input of the window); None = all.
    layers : tuple of int, optional
        Layers clamped; None = every layer.
    """

    gate: str
    value: float
    units: tuple[int, ...] | None = None
    steps: tuple[int, int] | None = None
    layers: tuple[int, ...] | None = None


def _overrides(clamps, mode: str, L: int, T: int, H: int, dtype, device) -> dict:
    """Per gate a (L, T, H) tensor of forced values, NaN where the gate is left alone."""
    if mode not in MODES:
        raise DataError(f"Unknown cell mode {mode!r}: choose one of {', '.join(MODES)}.")
    out = {g: torch.full((L, T, H), float("nan"), dtype=dtype, device=device) for g in ("r", "z")}
    if mode == "update_only":
        out["r"].fill_(1.0)
    elif mode == "reset_only":
        out["z"].fill_(0.0)
    for c in clamps:
        if c.gate not in out:
            raise DataError(f"A clamp's gate must be 'r' or 'z'; got {c.gate!r}.")
        if not (isinstance(c.value, (int, float)) and 0.0 <= float(c.value) <= 1.0):
            raise DataError(f"A gate is a share between 0 and 1; clamp value {c.value!r} is "
                            "outside [0, 1]: pick a value from 0 to 1.")
        layers = list(range(L)) if c.layers is None else list(c.layers)
        units = list(range(H)) if c.units is None else list(c.units)
        lo, hi = (0, T) if c.steps is None else (int(c.steps[0]), int(c.steps[1]))
        if not 0 <= lo < hi <= T:
            raise DataError(f"Clamp timesteps [{lo}, {hi}) do not fit a window of {T} steps: use "
                            f"0 <= start < stop <= {T}.")
        for name, vals, n in (("layer", layers, L), ("unit", units, H)):
            bad = [v for v in vals if not 0 <= int(v) < n]
            if bad or not vals:
                raise DataError(f"Clamp {name}s {bad or vals} are not in 0..{n - 1}: this GRU has "
                                f"{n} {name}s; pick from 0 to {n - 1}.")
        idx = torch.as_tensor(units, device=device)
        for k in layers:
            out[c.gate][k, lo:hi, idx] = float(c.value)  # (t, U') forced values
    return out


@torch.no_grad()
def trace_clamped(gru: nn.GRU, x: torch.Tensor, h0: torch.Tensor | None = None,
                  clamps=(), mode: str = "full") -> GateTrace:
    """Trace ``gru`` on ``x`` with gates held by ``clamps`` (see the module docstring).

    Parameters
    ----------
    gru : torch.nn.GRU
        ``batch_first=True``, unidirectional; any ``num_layers`` and ``bias``.
    x : torch.Tensor
        (B, T, input_size) input sequences (scaled units for a forecaster).
    h0 : torch.Tensor, optional
        (num_layers, B, hidden_size) initial states; zeros if None.
    clamps : sequence of Clamp
        Applied in order (a later clamp wins where two overlap), after ``mode``.
    mode : str
        ``"full"``, ``"update_only"`` (r = 1) or ``"reset_only"`` (z = 0); see :data:`MODES`.

    Returns
    -------
    GateTrace
        r, z, n, h (num_layers, B, T, hidden_size) as computed under the clamps (a clamped gate
        reads its forced value); ``output`` (B, T, hidden) and ``h_n`` (num_layers, B, hidden).
    """
    if isinstance(gru, nn.GRU) and gru.bidirectional:
        raise DataError("Gate clamps need a unidirectional GRU: in a bidirectional one each "
                        "timestep has two gates (forward and backward). Train with "
                        "bidirectional off to clamp gates.")
    x, h0 = _check_inputs(gru, x, h0)
    B, T, _ = x.shape  # batch, time, input_size
    L, H = gru.num_layers, gru.hidden_size
    force = _overrides(clamps, mode, L, T, H, x.dtype, x.device)
    gates = {g: x.new_empty(L, B, T, H) for g in ("r", "z", "n", "h")}
    layer_in = x  # (B, T, C) input of layer k
    for k in range(L):
        w_ih, w_hh, b_ih, b_hh = layer_weights(gru, k)  # (3H, C), (3H, H), (3H,), (3H,)
        gi_all = layer_in @ w_ih.t() + b_ih  # (B, T, 3H) W_i x_t + b_i for every t
        h = h0[k]  # (B, H)
        for t in range(T):
            gi, gh = gi_all[:, t], h @ w_hh.t() + b_hh  # (B, 3H), (B, 3H)
            r = torch.sigmoid(gi[:, :H] + gh[:, :H])  # (B, H)
            z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])  # (B, H)
            fr, fz = force["r"][k, t], force["z"][k, t]  # (H,) forced values or NaN
            r = torch.where(torch.isnan(fr), r, fr)  # (B, H) clamped reset gate
            z = torch.where(torch.isnan(fz), z, fz)  # (B, H) clamped update gate
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])  # (B, H)
            h = (1 - z) * n + z * h  # (B, H)
            for g, v in (("r", r), ("z", z), ("n", n), ("h", h)):
                gates[g][k, :, t] = v
        layer_in = gates["h"][k]  # (B, T, H) input of the next layer
    return GateTrace(r=gates["r"], z=gates["z"], n=gates["n"], h=gates["h"], r_reverse=None,
                     z_reverse=None, n_reverse=None, h_reverse=None,
                     output=gates["h"][-1].clone(),  # (B, T, H)
                     h_n=gates["h"][:, :, -1].clone())  # (L, B, H)


@torch.no_grad()
def forecast_from_trace(model, trace: GateTrace) -> torch.Tensor:
    """The forecaster's head applied to a trace's summary state: what ``model(x)`` would give.

    Same summary as ``Forecaster.encode``: the last layer's final h (unidirectional), or
    ``[h_fwd(T-1), h_bwd(0)]`` (bidirectional).

    Parameters
    ----------
    model : gru_core.model.Forecaster
        A GRU forecaster (its ``head`` maps D*hidden to the horizon).
    trace : GateTrace
        From :func:`trace_gates` or :func:`trace_clamped` on ``model.rnn``.

    Returns
    -------
    torch.Tensor
        (B, H) forecasts in scaled units.
    """
    last = trace.h[-1, :, -1]  # (B, U) last layer, forward, after the last step
    if trace.bidirectional:
        last = torch.cat([last, trace.h_reverse[-1, :, 0]], dim=-1)  # (B, 2U)
    w = model.head.weight
    return model.head(last.to(device=w.device, dtype=w.dtype))  # (B, H)


# ------------------------------------------------------------------------------- input edits
EDITS = {
    "set": "set the points to `amount`",
    "spike": "add `amount` to one point (or each point of the stretch)",
    "shift": "add `amount` to every point from `start` on (a level shift) or over the stretch",
    "noise": "add Gaussian noise with standard deviation `amount` (seeded)",
    "scale": "multiply the stretch by `amount`",
}
"""Input edit kinds: key -> what it does (amounts in the data's units; scale: a factor)."""


@dataclass(frozen=True)
class Edit:
    """One change to the target column of a window, in the data's own units.

    Parameters
    ----------
    kind : str
        One of :data:`EDITS`.
    start : int
        First timestep edited (0 = the oldest input).
    stop : int, optional
        One past the last; None = ``start + 1`` for "set" / "spike", the window's end otherwise.
    amount : float
        The value (set), the size (spike, shift), the noise std, or the factor (scale).
    seed : int
        Noise seed.
    """

    kind: str
    start: int
    stop: int | None = None
    amount: float = 0.0
    seed: int = 0


def apply_edits(values: np.ndarray, edits) -> np.ndarray:
    """Apply ``edits`` in order to a copy of ``values``.

    Parameters
    ----------
    values : np.ndarray
        (L,) the target column, or (L, C) a whole window (column 0 = target is edited), data units.

    Returns
    -------
    np.ndarray
        Same shape, float64, edited.
    """
    out = np.array(values, dtype=np.float64)  # (L,) or (L, C) copy
    col = out if out.ndim == 1 else out[:, 0]  # (L,) view of the target
    L = col.shape[0]
    for e in edits:
        if e.kind not in EDITS:
            raise DataError(f"Unknown edit {e.kind!r}: choose one of {', '.join(EDITS)}.")
        stop = e.stop if e.stop is not None else (e.start + 1 if e.kind in ("set", "spike") else L)
        if not 0 <= e.start < stop <= L:
            raise DataError(f"Edit stretch [{e.start}, {stop}) does not fit a window of {L} "
                            f"inputs: use 0 <= start < stop <= {L}.")
        if not np.isfinite(e.amount):
            raise DataError(f"Edit amount must be a finite number; got {e.amount!r}.")
        part = col[e.start:stop]  # (s,) view
        if e.kind == "set":
            part[:] = e.amount
        elif e.kind in ("spike", "shift"):
            part += e.amount
        elif e.kind == "noise":
            part += np.random.default_rng(e.seed).normal(0.0, abs(e.amount), part.shape)
        else:
            part *= e.amount
    return out


def window_values(ds, split: str, i: int) -> np.ndarray:
    """Window ``i`` of ``split``'s inputs in the data's own units, (L, C) float64."""
    w = getattr(ds, split)
    if not 0 <= i < len(w.starts):
        raise DataError(f"Window {i} does not exist: the {split} part has {len(w.starts)} "
                        f"windows (0 to {len(w.starts) - 1}).")
    return np.asarray(ds.scaler.inverse_transform(w.X[i].double().numpy()), dtype=np.float64)


@dataclass
class WhatIf:
    """One what-if computation on one window.

    Attributes
    ----------
    trace : GateTrace
        (K, 1, L, U) gates under the edits and clamps.
    forecast : np.ndarray
        (H,) the forecast in the data's units.
    inputs : np.ndarray
        (L, C) the window fed in, data units.
    """

    trace: GateTrace
    forecast: np.ndarray
    inputs: np.ndarray


@torch.no_grad()
def what_if(model, ds, values: np.ndarray, clamps=(), mode: str = "full") -> WhatIf:
    """Forecast and gates for a window given in data units, with optional gate clamps.

    Parameters
    ----------
    model : gru_core.model.Forecaster
        A GRU forecaster trained on ``ds``.
    ds : gru_core.windows.Dataset
        Gives the scaler (and the window length).
    values : np.ndarray
        (L, C) the (edited) window in the data's units (see :func:`window_values`,
        :func:`apply_edits`).
    clamps, mode
        As in :func:`trace_clamped`. With neither, the plain :func:`trace_gates` is used (also
        for bidirectional GRUs).
    """
    if not isinstance(getattr(model, "rnn", None), nn.GRU):
        raise DataError("What-if experiments need a GRU model (the gates are a GRU's); this "
                        "model's cell is not a GRU. Train one with cell = GRU.")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != model.rnn.input_size or not np.isfinite(v).all():
        raise DataError(f"The window must be {model.rnn.input_size} column(s) of finite numbers "
                        f"(shape (lookback, {model.rnn.input_size})); got shape {v.shape}.")
    w = model.head.weight
    x = torch.as_tensor(np.asarray(ds.scaler.transform(v)), dtype=w.dtype, device=w.device)[None]  # (1, L, C)
    if clamps or mode != "full":
        trace = trace_clamped(model.rnn, x, clamps=clamps, mode=mode)
    else:
        trace = trace_gates(model.rnn, x)
    y = forecast_from_trace(model, trace)[0].double().cpu().numpy()  # (H,) scaled
    return WhatIf(trace=trace, forecast=np.asarray(ds.scaler.inverse_target(y)), inputs=v)
