"""The numbers behind the gate pictures: one gate computation filled in, and per-unit summaries.

:func:`explain_step` takes a trace from :func:`gru_core.gates.trace_gates` and recomputes a single
unit's r, z, n and h at one timestep *from the GRU's own weights* (:func:`gru_core.gates.layer_weights`)
and the trace's previous state, keeping every intermediate value, so a student can check the
arithmetic of the equations in :data:`gru_core.gates.EQUATIONS` (PyTorch's, stated there once).
Each bracket ``(W_ir x_t + b_ir)`` is one row of a weight matrix (unit j's row) dotted with a
vector, plus a bias. z is PyTorch's update gate (share of the old state kept); the tutorial gate is
``1 - z``. :func:`step_latex` writes the filled-in equations as LaTeX.

Symbols: B batch, T time, C input columns, K layers, U units, D directions.

Which x_t and h_{t-1}:

- Layer 0 reads the model input x_t. Layer k > 0 reads layer k-1's output at t: the forward and
  backward states ``[h_fwd, h_bwd]`` concatenated (D * U values).
- The forward direction's previous state is the trace's h at t-1 (``h0`` at t = 0). The backward
  direction reads time in reverse, so its previous state is its h at t+1 (``h0`` at t = T-1).

Everything is computed in the dtype of the weights, so the filled-in numbers reproduce the
trace's r, z, n, h to rounding (tests/test_explain.py: 1e-12 in float64, 1e-6 in float32).

:func:`unit_summary` condenses a trace into one row per unit: mean gates, how often they are
saturated, and a *measured* memory (:func:`measured_memory`). With PyTorch's z the old state is
multiplied by z at every step, so the share of h_t still carried (directly) k steps later is
``z_{t+1} * ... * z_{t+k}``; the memory of a unit is the mean over start steps t of the first k at
which that share drops below 1/e. The textbook shortcut ``tau = 1 / (1 - mean z)`` is right only for
a constant z: a unit with z = 0.999 for 500 steps and then 0.001 has mean z = 0.5, tau = 2, yet it
carries its state for hundreds of steps. The summary keeps tau only as "approximation for constant z".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.gates import GateTrace, layer_weights

__all__ = ["StepExplanation", "explain_step", "step_latex", "measured_memory", "unit_summary",
           "unit_order", "gate_arrays", "SATURATION", "SORT_KEYS"]

SATURATION = (0.05, 0.95)  # a gate below / above these is "saturated" (fully shut / open)
MEMORY_SHARE = float(np.exp(-1.0))  # memory ends when the share of h_t still carried drops below 1/e


@dataclass
class StepExplanation:
    """Every number of one unit's GRU update at one timestep (floats; PyTorch's z convention).

    Attributes
    ----------
    layer, t, unit, batch, direction : int
        Where: layer k, timestep t (original time axis), unit j, sequence b, 0 = forward,
        1 = backward.
    x : tuple of float
        The cell's input x_t (model input for layer 0, layer k-1's ``[h_fwd, h_bwd]`` above).
    h_prev : float
        h_{t-1}[j] -- the unit's previous state (its initial state h0 at the first step read).
    wx_r, b_ir, wh_r, b_hr : float
        ``W_ir[j] . x_t``, ``b_ir[j]``, ``W_hr[j] . h_{t-1}``, ``b_hr[j]``.
    r_pre, r : float
        ``(wx_r + b_ir) + (wh_r + b_hr)`` and ``sigmoid(r_pre)``.
    wx_z, b_iz, wh_z, b_hz, z_pre, z : float
        The same for the update gate.
    wx_n, b_in, wh_n, b_hn : float
        ``W_in[j] . x_t``, ``b_in[j]``, ``W_hn[j] . h_{t-1}``, ``b_hn[j]``.
    n_pre, n : float
        ``(wx_n + b_in) + r * (wh_n + b_hn)`` and ``tanh(n_pre)``.
    h : float
        ``(1 - z) * n + z * h_prev``.
    trace_r, trace_z, trace_n, trace_h : float
        The trace's own values at this place, for comparison.
    """

    layer: int
    t: int
    unit: int
    batch: int
    direction: int
    x: tuple[float, ...]
    h_prev: float
    wx_r: float
    b_ir: float
    wh_r: float
    b_hr: float
    r_pre: float
    r: float
    wx_z: float
    b_iz: float
    wh_z: float
    b_hz: float
    z_pre: float
    z: float
    wx_n: float
    b_in: float
    wh_n: float
    b_hn: float
    n_pre: float
    n: float
    h: float
    trace_r: float
    trace_z: float
    trace_n: float
    trace_h: float

    # the two brackets of each gate: ``W_i[j] . x_t + b_i[j]`` and ``W_h[j] . h_{t-1} + b_h[j]``
    ir = property(lambda self: self.wx_r + self.b_ir, doc="``W_ir x_t + b_ir`` for this unit.")
    hr = property(lambda self: self.wh_r + self.b_hr, doc="``W_hr h_{t-1} + b_hr`` for this unit.")
    iz = property(lambda self: self.wx_z + self.b_iz, doc="``W_iz x_t + b_iz`` for this unit.")
    hz = property(lambda self: self.wh_z + self.b_hz, doc="``W_hz h_{t-1} + b_hz`` for this unit.")
    in_ = property(lambda self: self.wx_n + self.b_in, doc="``W_in x_t + b_in`` for this unit.")
    hn = property(lambda self: self.wh_n + self.b_hn,
                  doc="``W_hn h_{t-1} + b_hn`` for this unit (the part the reset gate multiplies).")

    @property
    def z_write(self) -> float:
        """Tutorial-convention update gate ``1 - z``: share of the candidate written."""
        return 1.0 - self.z

    @property
    def max_abs_diff(self) -> float:
        """Largest |recomputed - traced| over r, z, n, h."""
        return max(abs(self.r - self.trace_r), abs(self.z - self.trace_z),
                   abs(self.n - self.trace_n), abs(self.h - self.trace_h))


def _check_index(name: str, value: int, size: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise DataError(f"{name} must be a whole number from 0 to {size - 1} ({what}); got {value!r}.")
    return value


@torch.no_grad()
def explain_step(gru: nn.GRU, x: torch.Tensor, trace: GateTrace, layer: int, t: int, unit: int,
                 batch: int = 0, direction: int = 0, h0: torch.Tensor | None = None
                 ) -> StepExplanation:
    """Recompute unit ``unit`` of layer ``layer`` at timestep ``t`` with every intermediate value.

    Parameters
    ----------
    gru : torch.nn.GRU
        The GRU that produced ``trace`` (same weights).
    x : torch.Tensor
        (B, T, input_size) the input that was traced.
    trace : GateTrace
        ``trace_gates(gru, x, h0)``.
    layer, t, unit, batch : int
        Layer k, timestep t (original time axis), unit j, sequence b.
    direction : int
        0 forward, 1 backward (bidirectional GRUs only).
    h0 : torch.Tensor, optional
        (D*K, B, U) the initial state that was traced; zeros if None.

    Returns
    -------
    StepExplanation
        Floats computed in the weights' dtype; ``r``, ``z``, ``n``, ``h`` equal the trace's to
        rounding.

    Raises
    ------
    DataError
        An index out of range, a backward direction on a one-way GRU, or x not matching the trace.
    """
    if not isinstance(gru, nn.GRU):
        raise DataError(f"explain_step needs a torch.nn.GRU, got {type(gru).__name__}; "
                        "gate explanations exist only for GRU cells.")
    K, B, T, U = trace.r.shape  # layers, batch, time, units
    D = 2 if gru.bidirectional else 1
    if x.dim() != 3 or x.shape[0] != B or x.shape[1] != T:
        raise DataError(f"x has shape {tuple(x.shape)} but the trace is for batch {B}, {T} steps; "
                        "pass the same x that was given to trace_gates.")
    _check_index("layer", layer, K, f"the GRU has {K} layer(s)")
    _check_index("t", t, T, f"the trace has {T} timesteps")
    _check_index("unit", unit, U, f"the layer has {U} units (hidden_size)")
    _check_index("batch", batch, B, f"the trace has {B} sequence(s)")
    _check_index("direction", direction, D, "0 = forward" + (", 1 = backward" if D == 2 else
                                                            "; this GRU is not bidirectional"))

    w = gru.weight_ih_l0
    dtype, device = w.dtype, w.device
    rev = direction == 1
    h_all = trace.h_reverse if rev else trace.h          # (K, B, T, U)
    r_all = trace.r_reverse if rev else trace.r
    z_all = trace.z_reverse if rev else trace.z
    n_all = trace.n_reverse if rev else trace.n

    # 1. The cell's input x_t: the model input, or layer k-1's [h_fwd, h_bwd] at t.
    if layer == 0:
        x_t = x[batch, t].to(device=device, dtype=dtype)  # (C,)
    else:
        parts = [trace.h[layer - 1, batch, t]]
        if D == 2:
            parts.append(trace.h_reverse[layer - 1, batch, t])
        x_t = torch.cat(parts).to(device=device, dtype=dtype)  # (D*U,)

    # 2. The previous state: one step earlier in the direction's reading order, else h0.
    first = (t == T - 1) if rev else (t == 0)
    if first:
        if h0 is None:
            h_prev = torch.zeros(U, dtype=dtype, device=device)  # (U,)
        else:
            h_prev = h0[layer * D + direction, batch].to(device=device, dtype=dtype)  # (U,)
    else:
        h_prev = h_all[layer, batch, t + 1 if rev else t - 1].to(device=device, dtype=dtype)  # (U,)

    # 3. Unit j's rows of the stacked (r|z|n) parameters.
    w_ih, w_hh, b_ih, b_hh = layer_weights(gru, layer, direction)  # (3U, C_k), (3U, U), (3U,), (3U,)
    rows = [unit, U + unit, 2 * U + unit]  # r, z, n
    wx = w_ih[rows] @ x_t          # (3,) W_i[j] . x_t
    wh = w_hh[rows] @ h_prev       # (3,) W_h[j] . h_{t-1}
    bi, bh = b_ih[rows], b_hh[rows]  # (3,)

    # 4. The equations, in the same order of operations as the trace.
    gi = wx + bi                   # (3,) W_i x + b_i
    gh = wh + bh                   # (3,) W_h h + b_h
    r = torch.sigmoid(gi[0] + gh[0])
    z = torch.sigmoid(gi[1] + gh[1])
    n_pre = gi[2] + r * gh[2]
    n = torch.tanh(n_pre)
    hp = h_prev[unit]
    h = (1 - z) * n + z * hp

    f = float
    return StepExplanation(
        layer=layer, t=t, unit=unit, batch=batch, direction=direction,
        x=tuple(f(v) for v in x_t.tolist()), h_prev=f(hp),
        wx_r=f(wx[0]), b_ir=f(bi[0]), wh_r=f(wh[0]), b_hr=f(bh[0]),
        r_pre=f(gi[0] + gh[0]), r=f(r),
        wx_z=f(wx[1]), b_iz=f(bi[1]), wh_z=f(wh[1]), b_hz=f(bh[1]),
        z_pre=f(gi[1] + gh[1]), z=f(z),
        wx_n=f(wx[2]), b_in=f(bi[2]), wh_n=f(wh[2]), b_hn=f(bh[2]),
        n_pre=f(n_pre), n=f(n), h=f(h),
        trace_r=f(r_all[layer, batch, t, unit]), trace_z=f(z_all[layer, batch, t, unit]),
        trace_n=f(n_all[layer, batch, t, unit]), trace_h=f(h_all[layer, batch, t, unit]),
    )




def _num(v: float) -> str:
    """A number for the filled-in equations: 4 decimals, negatives in brackets."""
    s = f"{v:.4f}"
    return f"({s})" if v < 0 else s


def step_latex(e: StepExplanation, tutorial: bool = False) -> str:
    """The equations of :data:`gru_core.gates.EQUATIONS` with unit ``e.unit``'s numbers filled in.

    Parameters
    ----------
    e : StepExplanation
        From :func:`explain_step`. Its direction picks the previous state's symbol: ``h_{t-1}``
        forward, ``h_{t+1}`` backward (the backward cell reads time in reverse).
    tutorial : bool
        Also write the update gate in the tutorial convention (``1 - z``) and the state update with
        it; the numbers are the same model's.

    Returns
    -------
    str
        One LaTeX ``aligned`` block; every number is the explanation's value rounded to 4 decimals
        (negative ones in brackets), final results in bold.
    """
    prev = "h_{t-1}" if e.direction == 0 else "h_{t+1}"
    j = f"[{e.unit}]"
    n = _num
    lines = [
        rf"r_t{j} &= \sigma\big((W_{{ir}}x_t + b_{{ir}}) + (W_{{hr}}{prev} + b_{{hr}})\big)",
        rf"&= \sigma\big(({n(e.wx_r)} + {n(e.b_ir)}) + ({n(e.wh_r)} + {n(e.b_hr)})\big)"
        rf" = \sigma({n(e.r_pre)}) = \mathbf{{{e.r:.4f}}}",
        rf"z_t{j} &= \sigma\big((W_{{iz}}x_t + b_{{iz}}) + (W_{{hz}}{prev} + b_{{hz}})\big)",
        rf"&= \sigma\big(({n(e.wx_z)} + {n(e.b_iz)}) + ({n(e.wh_z)} + {n(e.b_hz)})\big)"
        rf" = \sigma({n(e.z_pre)}) = \mathbf{{{e.z:.4f}}}",
        rf"n_t{j} &= \tanh\big((W_{{in}}x_t + b_{{in}}) + r_t{j}\,(W_{{hn}}{prev} + b_{{hn}})\big)",
        rf"&= \tanh\big(({n(e.wx_n)} + {n(e.b_in)}) + {e.r:.4f}\cdot({n(e.wh_n)} + "
        rf"{n(e.b_hn)})\big) = \tanh({n(e.n_pre)}) = \mathbf{{{n(e.n)}}}",
        rf"h_t{j} &= (1 - z_t{j})\,n_t{j} + z_t{j}\,{prev}{j}",
        rf"&= (1 - {e.z:.4f})\cdot{n(e.n)} + {e.z:.4f}\cdot{n(e.h_prev)} = \mathbf{{{n(e.h)}}}",
    ]
    if tutorial:
        zt = r"z^{\mathrm{tut}}_t" + j
        lines += [
            rf"{zt} &= 1 - z_t{j} = \mathbf{{{e.z_write:.4f}}}"
            r"\quad\text{(tutorial convention: share of the candidate written)}",
            rf"h_t{j} &= (1 - {zt})\,{prev}{j} + {zt}\,n_t{j} = {1 - e.z_write:.4f}\cdot{n(e.h_prev)}"
            rf" + {e.z_write:.4f}\cdot{n(e.n)} = \mathbf{{{n(e.h)}}}",
        ]
    return r"\begin{aligned}" + r"\\".join(lines) + r"\end{aligned}"


def measured_memory(z, reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """How many steps each unit carries its state, measured on a trace's z (PyTorch convention).

    With ``h_t = (1 - z_t) n_t + z_t h_{t-1}``, the share of h_t still in the state k steps later
    (along the direct path, not counting that r, z, n themselves read h) is the running product
    ``z_{t+1} * ... * z_{t+k}``. For every start step t (all but the last) this finds the first k
    at which that share drops below 1/e (``MEMORY_SHARE``); the unit's memory is the mean of k.

    A start whose share never drops below 1/e before the end of the span is *censored*: it counts
    the steps that were left (``T - 1 - t``), so the memory is then a lower bound.

    Parameters
    ----------
    z : array-like
        (T, U) update gate of one layer and direction, PyTorch's (share of the old state kept),
        indexed by the original time axis.
    reverse : bool
        The backward direction: its state carries from t to t-1, so time is read in reverse.

    Returns
    -------
    memory : np.ndarray
        (U,) mean steps until less than 1/e of a state is left (NaN when T < 2).
    censored : np.ndarray
        (U,) share of start steps (0..1) that reached the end of the span first.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise DataError(f"z must be a (time, units) array; got shape {z.shape}.")
    T, U = z.shape
    if T < 2:
        return np.full(U, np.nan), np.full(U, np.nan)
    if reverse:
        z = z[::-1]
    # S[m] = log(z_0 ... z_{m-1}); the share carried from t to t+k is exp(S[t+k+1] - S[t+1]). Each
    # log z <= 0, so S never increases (also in floating point) and one binary search per start
    # finds the first m with S[m] < S[t+1] - 1, i.e. -S[m] > -S[t+1] + 1.
    log_z = np.log(np.clip(np.ascontiguousarray(z.T), 1e-300, 1.0))    # (U, T), rows contiguous
    neg_S = np.zeros((U, T + 1))                                        # (U, T+1) -S, non-decreasing
    np.cumsum(-log_z, axis=1, out=neg_S[:, 1:])
    t = np.arange(T - 1)                                                # (T-1,) start steps
    k = np.empty((U, T - 1))                                            # steps until < 1/e
    dropped = np.empty((U, T - 1), dtype=bool)                          # False: censored
    for u in range(U):
        m = np.searchsorted(neg_S[u], neg_S[u, 1:T] + 1.0, side="right")  # (T-1,) first drop or T+1
        dropped[u] = m <= T
        k[u] = np.where(dropped[u], m - t - 1, T - 1 - t)
    return k.mean(axis=1), 1.0 - dropped.mean(axis=1)


def unit_summary(r, z, saturation: tuple[float, float] = SATURATION,
                 reverse: bool = False) -> pd.DataFrame:
    """One row per unit: how its gates behaved over a trace (PyTorch's z convention).

    Parameters
    ----------
    r, z : array-like
        (T, U) reset and update gates of one layer and direction (z as ``nn.GRU`` computes it:
        share of the old state kept).
    saturation : (low, high)
        A gate value below ``low`` or above ``high`` counts as saturated.
    reverse : bool
        The gates are of a backward direction (matters for the memory only).

    Returns
    -------
    pd.DataFrame
        Columns ``unit``; ``mean_z``; ``z_saturated`` (share of steps with z < low or z > high);
        ``z_keeps`` (share with z > high: the old state kept almost unchanged); ``z_writes``
        (share with z < low: the candidate written almost entirely); ``memory`` (measured, steps,
        see :func:`measured_memory`); ``memory_censored`` (share of its start steps that reached
        the span's end first: then ``memory`` is a lower bound); ``tau_const`` (the approximation
        for constant z, ``1 / (1 - mean_z)`` steps, ``inf`` when mean z is 1); ``mean_r``;
        ``r_saturated``. Shares are fractions in [0, 1].
    """
    r = np.asarray(r, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    if r.ndim != 2 or r.shape != z.shape or r.shape[0] == 0:
        raise DataError(f"r and z must both be (time, units) arrays with at least one step; got "
                        f"{r.shape} and {z.shape}. Pass one layer and direction of a trace.")
    low, high = saturation
    mean_z = z.mean(axis=0)  # (U,)
    gap = 1.0 - mean_z
    with np.errstate(divide="ignore"):
        tau = np.where(gap > 1e-12, 1.0 / np.maximum(gap, 1e-300), np.inf)
    memory, censored = measured_memory(z, reverse=reverse)
    return pd.DataFrame({
        "unit": np.arange(z.shape[1]),
        "mean_z": mean_z,
        "z_saturated": ((z < low) | (z > high)).mean(axis=0),
        "z_keeps": (z > high).mean(axis=0),
        "z_writes": (z < low).mean(axis=0),
        "memory": memory,
        "memory_censored": censored,
        "tau_const": tau,
        "mean_r": r.mean(axis=0),
        "r_saturated": ((r < low) | (r > high)).mean(axis=0),
    })


SORT_KEYS = ("unit", "memory", "mean_z", "z_saturated", "mean_r")
"""Orders :func:`unit_order` knows: unit number, then each highest (longest) first."""


def unit_order(summary: pd.DataFrame, by: str, tutorial: bool = False) -> np.ndarray:
    """(U,) unit numbers in display order (first = top heatmap row) for one of ``SORT_KEYS``.

    ``"unit"`` is ascending; every other key puts the highest value first (ties keep unit order).
    With ``tutorial=True``, ``"mean_z"`` ranks by the tutorial gate ``1 - z`` instead.
    """
    if by not in SORT_KEYS:
        raise DataError(f"Cannot order units by {by!r}; choose one of {', '.join(SORT_KEYS)}.")
    units = summary["unit"].to_numpy()
    if by == "unit":
        return units.copy()
    vals = summary[by].to_numpy(dtype=np.float64)
    if by == "mean_z" and tutorial:
        vals = 1.0 - vals
    return units[np.argsort(-vals, kind="stable")]


def gate_arrays(trace: GateTrace, layer: int, direction: int = 0, batch: int = 0
                ) -> dict[str, np.ndarray]:
    """(T, U) float32 numpy arrays of r, z, n, h for one layer, direction and sequence."""
    if direction and not trace.bidirectional:
        raise DataError("This trace has no backward direction (the GRU is not bidirectional); "
                        "use direction=0.")
    sfx = "_reverse" if direction else ""
    return {g: getattr(trace, g + sfx)[layer, batch].detach().cpu().float().numpy() for g in "rznh"}
