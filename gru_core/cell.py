"""One GRU cell, one step at a time: the arithmetic the Cell page shows, with plain tensor ops.

A cell of U = 1..4 units reads one number x_t per step (input size 1). Its weights are stored as
PyTorch stacks them (``nn.GRUCell`` / ``nn.GRU`` layer 0), blocks in the order (r, z, n)::

    W_i = (W_ir|W_iz|W_in)  (3U, 1)      W_h = (W_hr|W_hz|W_hn)  (3U, U)
    b_i = (b_ir|b_iz|b_in)  (3U,)        b_h = (b_hr|b_hz|b_hn)  (3U,)

One step, exactly as PyTorch computes it ("reset after", as cuDNN does)::

    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate, PyTorch: share of h KEPT
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate
    h' = (1 - z) * n + z * h

The paper (Cho et al., 2014) and d2l reset *before* the product: ``n = tanh(W_in x + b_in +
W_hn (r * h) + b_hn)``. That is a different function (the bias b_hn is not scaled by r, and with
U > 1 the matrix mixes units after the reset, not before); :func:`gru_step` computes both for the
same inputs so the page can show the difference as a number. Tutorials also flip the update
gate's label: ``h' = (1 - z') * h + z' * n`` with z' = 1 - z (share of the candidate WRITTEN).

tests/test_cell.py checks one step against ``nn.GRUCell`` with the same weights and both reset
forms against formulas written out in the test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gru_core.errors import DataError

__all__ = ["PRESETS", "SEQUENCES", "CellWeights", "CellStep", "CellRun", "preset_weights",
           "weights_from_gru", "gru_step", "run_cell", "input_sequence", "step_latex"]

MAX_UNITS = 4
PRESETS = {
    "random": "random: the uniform(-1/sqrt(U), 1/sqrt(U)) weights nn.GRUCell starts from (seeded)",
    "remembers": "remembers: z saturated near 1 (b_iz = +4), so h' stays close to h",
    "forgets": "forgets: z near 0 (b_iz = -4), so h' is almost the candidate n",
    "resets": "resets: r near 0 (b_ir = -4), so the candidate ignores h",
}
SEQUENCES = {"step": "step (1 from t = 3)", "impulse": "impulse (1 at t = 3)",
             "sine": "sine (period 12)", "window": "data window (scaled)"}
SATURATED = 4.0      # |pre-activation| of a saturated gate in the presets: sigmoid(4) = 0.982


@dataclass
class CellWeights:
    """A GRU cell's weights in PyTorch's layout (input size 1, U units).

    Attributes
    ----------
    W_i : torch.Tensor
        (3U, 1) input weights (W_ir|W_iz|W_in).
    W_h : torch.Tensor
        (3U, U) recurrent weights (W_hr|W_hz|W_hn).
    b_i, b_h : torch.Tensor
        (3U,) input and hidden biases.
    source : str
        Where the weights came from, for captions.
    """

    W_i: torch.Tensor
    W_h: torch.Tensor
    b_i: torch.Tensor
    b_h: torch.Tensor
    source: str = ""

    @property
    def hidden_size(self) -> int:
        return self.W_h.shape[1]

    def block(self, name: str, gate: str) -> torch.Tensor:
        """One gate's slice of ``W_i``, ``W_h``, ``b_i`` or ``b_h`` (gate "r", "z" or "n")."""
        U, k = self.hidden_size, "rzn".index(gate)
        return getattr(self, name)[k * U:(k + 1) * U]


def _check_units(hidden_size) -> int:
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, (int, np.integer)) \
            or not 1 <= hidden_size <= MAX_UNITS:
        raise DataError(f"The cell stepper has 1 to {MAX_UNITS} units; got {hidden_size!r}. "
                        f"Pick a hidden size from 1 to {MAX_UNITS}.")
    return int(hidden_size)


def preset_weights(preset: str = "random", hidden_size: int = 2, seed: int = 0) -> CellWeights:
    """Weights for a teaching preset (see :data:`PRESETS`), float64.

    "random" draws every weight from uniform(-1/sqrt(U), 1/sqrt(U)) with ``seed`` (nn.GRUCell's
    initialisation). The others start from the same draw and then saturate one gate: its input
    and recurrent weights are set to 0 and its input bias to +4 ("remembers": z = 0.982) or -4
    ("forgets": z = 0.018; "resets": r = 0.018); the candidate's input weight is set to 1.5 so it
    answers the input clearly.
    """
    if preset not in PRESETS:
        raise DataError(f"Unknown preset {preset!r}: choose one of {', '.join(PRESETS)}.")
    U = _check_units(hidden_size)
    g = torch.Generator().manual_seed(int(seed))
    k = 1.0 / math.sqrt(U)
    draw = lambda *shape: (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * k  # noqa: E731
    w = CellWeights(W_i=draw(3 * U, 1), W_h=draw(3 * U, U), b_i=draw(3 * U), b_h=draw(3 * U),
                    source=PRESETS[preset] + f"; seed {seed}")
    if preset == "random":
        return w
    gate, bias = {"remembers": ("z", SATURATED), "forgets": ("z", -SATURATED),
                  "resets": ("r", -SATURATED)}[preset]
    for name in ("W_i", "W_h", "b_h"):
        w.block(name, gate).zero_()
    w.block("b_i", gate).fill_(bias)
    w.block("W_i", "n").fill_(1.5)
    return w


def weights_from_gru(gru: nn.GRU, units: list[int], column: int = 0) -> CellWeights:
    """The rows of layer 0 of a trained ``nn.GRU`` that belong to ``units`` (1 to 4 of them).

    The cell keeps only the chosen units' mutual recurrent weights and input ``column``'s weight:
    in the model these units also hear the other units (and any other input columns), which the
    stepper treats as 0. Float64 copies; the model is not changed.
    """
    if not isinstance(gru, nn.GRU):
        raise DataError(f"Loading weights needs a GRU model, got {type(gru).__name__}: train a GRU "
                        "on the Train page (cell type GRU).")
    U_all = gru.hidden_size
    units = [int(u) for u in units]
    _check_units(len(units))
    if len(set(units)) != len(units) or not all(0 <= u < U_all for u in units):
        raise DataError(f"Units {units} are not distinct units of this GRU (it has units 0 to "
                        f"{U_all - 1}); pick up to {MAX_UNITS} different ones.")
    if not 0 <= column < gru.input_size:
        raise DataError(f"Input column {column} does not exist (the GRU reads {gru.input_size}).")
    rows = torch.tensor([k * U_all + u for k in range(3) for u in units])        # (3U,)
    cols = torch.tensor(units)                                                    # (U,)
    with torch.no_grad():
        W_i = gru.weight_ih_l0[rows][:, column:column + 1].double().clone()      # (3U, 1)
        W_h = gru.weight_hh_l0[rows][:, cols].double().clone()                   # (3U, U)
        zeros = torch.zeros(3 * U_all, dtype=torch.float64)
        b_i = (gru.bias_ih_l0 if gru.bias else zeros)[rows].double().clone()     # (3U,)
        b_h = (gru.bias_hh_l0 if gru.bias else zeros)[rows].double().clone()
    note = f"trained GRU, layer 0, unit(s) {', '.join(map(str, units))}"
    if U_all > len(units):
        note += f" (the other {U_all - len(units)} unit(s) are read as 0 here)"
    return CellWeights(W_i, W_h, b_i, b_h, source=note)


@dataclass
class CellStep:
    """Every number of one step, all (U,) float64 tensors.

    ``i_*`` are input parts ``W_i* x + b_i*``, ``g_*`` hidden parts ``W_h* h + b_h*``; ``a_r`` and
    ``a_z`` the gate pre-activations. ``n``/``h`` are PyTorch's "reset after" results;
    ``g_n_before``/``n_before``/``h_before`` the paper's "reset before" ones for the same x, h.
    """

    x: float
    h_prev: torch.Tensor
    i_r: torch.Tensor
    i_z: torch.Tensor
    i_n: torch.Tensor
    g_r: torch.Tensor
    g_z: torch.Tensor
    g_n: torch.Tensor
    a_r: torch.Tensor
    a_z: torch.Tensor
    r: torch.Tensor
    z: torch.Tensor
    n: torch.Tensor
    h: torch.Tensor
    g_n_before: torch.Tensor
    n_before: torch.Tensor
    h_before: torch.Tensor


def _as_state(w: CellWeights, h) -> torch.Tensor:
    U = w.hidden_size
    h = torch.as_tensor(h, dtype=torch.float64).reshape(-1)
    if h.numel() == 1 and U > 1:
        h = h.expand(U).clone()
    if h.shape != (U,) or not torch.isfinite(h).all():
        raise DataError(f"h_prev must be {U} finite number(s), one per unit; got {h.tolist()}.")
    return h


def gru_step(w: CellWeights, x: float, h_prev) -> CellStep:
    """One step of the cell (see the module docstring), both reset forms.

    Parameters
    ----------
    w : CellWeights
    x : float
        The input x_t.
    h_prev : float or array-like (U,)
        The previous state; one number is used for every unit.
    """
    h = _as_state(w, h_prev)                                              # (U,)
    x = float(x)
    if not math.isfinite(x):
        raise DataError(f"x_t must be a finite number; got {x}.")
    i = w.W_i[:, 0] * x + w.b_i                                           # (3U,) W_i x + b_i
    g = w.W_h @ h + w.b_h                                                 # (3U,) W_h h + b_h
    U = w.hidden_size
    i_r, i_z, i_n = i.split(U)                                            # each (U,)
    g_r, g_z, g_n = g.split(U)
    r = torch.sigmoid(i_r + g_r)                                          # (U,)
    z = torch.sigmoid(i_z + g_z)
    n = torch.tanh(i_n + r * g_n)                                         # reset after
    g_n_before = w.block("W_h", "n") @ (r * h) + w.block("b_h", "n")      # (U,) W_hn (r*h) + b_hn
    n_before = torch.tanh(i_n + g_n_before)                               # reset before
    return CellStep(x=x, h_prev=h, i_r=i_r, i_z=i_z, i_n=i_n, g_r=g_r, g_z=g_z, g_n=g_n,
                    a_r=i_r + g_r, a_z=i_z + g_z, r=r, z=z, n=n, h=(1 - z) * n + z * h,
                    g_n_before=g_n_before, n_before=n_before, h_before=(1 - z) * n_before + z * h)


@dataclass
class CellRun:
    """A sequence run through the cell: (T, U) float64 arrays; row t is after reading xs[t].

    ``r, z, n, h`` follow PyTorch's "reset after" cell; ``h_before`` is the paper's "reset before"
    cell run on its own state from the same h0 and inputs.
    """

    xs: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    h: np.ndarray
    h_before: np.ndarray


def run_cell(w: CellWeights, xs, h0=0.0) -> CellRun:
    """Run the inputs ``xs`` (T,) through the cell from state ``h0`` (both reset forms)."""
    xs = np.asarray(xs, dtype=np.float64).reshape(-1)                     # (T,)
    if xs.size == 0 or not np.all(np.isfinite(xs)):
        raise DataError("The input sequence must hold at least one finite number.")
    h = hb = _as_state(w, h0)
    rows = {k: [] for k in ("r", "z", "n", "h", "h_before")}
    for x in xs:
        s = gru_step(w, x, h)
        h = s.h
        hb = gru_step(w, x, hb).h_before                                  # the paper's cell, own state
        for k, v in (("r", s.r), ("z", s.z), ("n", s.n), ("h", h), ("h_before", hb)):
            rows[k].append(v.numpy())
    return CellRun(xs=xs, **{k: np.stack(v) for k, v in rows.items()})


def input_sequence(kind: str, length: int = 24, window=None) -> np.ndarray:
    """A short input sequence (T,) for the stepper (see :data:`SEQUENCES`).

    ``window`` (the scaled values of a data window) is required for kind "window" and is used
    as it is, cut to ``length``.
    """
    if kind not in SEQUENCES:
        raise DataError(f"Unknown input sequence {kind!r}: choose one of {', '.join(SEQUENCES)}.")
    T = int(length)
    if not 4 <= T <= 500:
        raise DataError(f"The sequence length must be 4 to 500 steps; got {length!r}.")
    t = np.arange(T)
    if kind == "step":
        return (t >= 3).astype(np.float64)
    if kind == "impulse":
        return (t == 3).astype(np.float64)
    if kind == "sine":
        return np.sin(2 * np.pi * t / 12)
    if window is None or len(window) == 0:
        raise DataError("No data window to step through: load data on the Data page, or pick "
                        "the step, impulse or sine sequence.")
    return np.asarray(window, dtype=np.float64).reshape(-1)[:T]


def _f(v: float, lead: bool = False) -> str:
    """A number as the equations show it: 3 decimals, negatives in parentheses unless ``lead``
    (the first term after an opening parenthesis)."""
    v = float(v)
    return f"({v:.3f})" if v < 0 and not lead else f"{v:.3f}"


def step_latex(s: CellStep, unit: int = 0) -> dict[str, str]:
    """The step's equations for one unit with its numbers filled in, as LaTeX ``aligned`` rows.

    Keys: "r", "z", "n_after" (PyTorch), "n_before" (paper), "h_torch" (z keeps), "h_tutorial"
    (z' = 1 - z writes). Each value is two rows, the formula and then ``&= numbers = result``
    (join them with ``\\\\`` inside ``\\begin{aligned}``). With U > 1 the recurrent parts
    (W h)_j are shown as one number each.
    """
    j = int(unit)
    hj = _f(s.h_prev[j])
    z, zt = float(s.z[j]), 1 - float(s.z[j])
    return {
        "r": (rf"r_{j} &= \sigma(W_{{ir}} x + b_{{ir}} + (W_{{hr}} h)_{j} + b_{{hr}}) \\ "
              rf"&= \sigma({_f(s.i_r[j], True)} + {_f(s.g_r[j])}) = \sigma({_f(s.a_r[j], True)}) = {_f(s.r[j])}"),
        "z": (rf"z_{j} &= \sigma(W_{{iz}} x + b_{{iz}} + (W_{{hz}} h)_{j} + b_{{hz}}) \\ "
              rf"&= \sigma({_f(s.i_z[j], True)} + {_f(s.g_z[j])}) = \sigma({_f(s.a_z[j], True)}) = {_f(z)}"),
        "n_after": (rf"n_{j} &= \tanh\big(W_{{in}} x + b_{{in}} + r_{j}\,(W_{{hn}} h + b_{{hn}})_{j}\big) \\ "
                    rf"&= \tanh({_f(s.i_n[j], True)} + {_f(s.r[j])} \cdot {_f(s.g_n[j])}) = {_f(s.n[j])}"),
        "n_before": (rf"n_{j} &= \tanh\big(W_{{in}} x + b_{{in}} + (W_{{hn}} (r \odot h))_{j} + b_{{hn}}\big) \\ "
                     rf"&= \tanh({_f(s.i_n[j], True)} + {_f(s.g_n_before[j])}) = {_f(s.n_before[j])}"),
        "h_torch": (rf"h'_{j} &= (1 - z_{j})\,n_{j} + z_{j}\,h_{j} \\ &= (1 - {_f(z)}) \cdot {_f(s.n[j])} + "
                    rf"{_f(z)} \cdot {hj} = {_f(s.h[j])}"),
        "h_tutorial": (rf"z'_{j} &= 1 - z_{j} = {_f(zt)} \\ h'_{j} &= (1 - z'_{j})\,h_{j} + z'_{j}\,n_{j} \\ "
                       rf"&= (1 - {_f(zt)}) \cdot {hj} + {_f(zt)} \cdot {_f(s.n[j])} = {_f(s.h[j])}"),
    }
