"""How far back does a trained model remember? Impulse responses and input sensitivities.

Two probes of a trained :class:`~gru_core.model.Forecaster`, both on the scaled data the model
reads:

* :func:`impulse_response` feeds a window twice, once as it is (the *baseline*: a real window or
  a flat line) and once with an impulse (one step raised by ``size``) or a step (every value from
  t0 on raised by ``size``), and returns ``|h_t - h_t^baseline|`` for every layer, timestep and
  unit. For a GRU it also returns the running product of the update gate after t0 (PyTorch
  convention, z = share of the old state kept)::

      P_t = z_{t0+1} * z_{t0+2} * ... * z_t      (P_{t0} = 1)

  the share of h_{t0} that the direct "keep" path still carries at t. The state's response can
  outlive P_t (the pulse also travels through n and other units), so both are drawn together.
  GRU states come from :func:`gru_core.gates.trace_gates` (all layers); for another cell only
  the last layer's states are available (``nn.LSTM`` / ``nn.RNN`` outputs) and P is None.

* :func:`input_sensitivity` is the *memory map* ``S[k, t] = dy_hat_k / dx_t``: the gradient of
  forecast step k (scaled target) with respect to input timestep t of one column (scaled), at
  this window. It is local: it says how the forecast would move for a small nudge of one input
  around this window, not what happens for large changes or other windows.

tests/test_memory.py checks both against finite differences and an ``nn.GRU`` run.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.gates import trace_gates
from gru_core.model import Forecaster

__all__ = ["ImpulseResponse", "impulse_response", "input_sensitivity", "memory_length",
           "PROBES"]

PROBES = {"impulse": "impulse: one step raised by the size", "step": "step: every step from t0 on raised"}


def _window(model: Forecaster, x) -> torch.Tensor:
    """``x`` as a (1, T, C) float64 tensor, checked against the model."""
    if not isinstance(model, Forecaster):
        raise DataError(f"Memory probes need a gru_core Forecaster, got {type(model).__name__}.")
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    C = model.cfg.input_size
    if x.dim() != 2 or x.shape[1] != C or x.shape[0] < 2:
        raise DataError(f"The window must be shaped (time, {C}) with at least 2 steps; got "
                        f"{tuple(x.shape)}. Pass one window, e.g. dataset.test.X[0].")
    if not torch.isfinite(x).all():
        raise DataError("The window contains NaN or infinite values.")
    return x.unsqueeze(0)  # (1, T, C)


def _f64(model: Forecaster) -> Forecaster:
    """A float64 copy in eval mode (the model itself is left as it is)."""
    return copy.deepcopy(model).double().eval()


def input_sensitivity(model: Forecaster, x, column: int = 0) -> np.ndarray:
    """The memory map: ``S[k, t] = d y_hat_k / d x[t, column]`` at the window ``x``.

    Parameters
    ----------
    model : Forecaster
    x : array-like
        (T, C) or (1, T, C) one window in scaled units.
    column : int
        Input column the derivative is taken with respect to (0 = the target).

    Returns
    -------
    np.ndarray
        (H, T) float64, scaled forecast units per scaled input unit.
    """
    xw = _window(model, x)
    if not 0 <= column < xw.shape[2]:
        raise DataError(f"Input column {column} does not exist (the model reads {xw.shape[2]}).")
    m = _f64(model)
    xw = xw.clone().requires_grad_(True)
    with torch.enable_grad():
        y = m(xw)[0]  # (H,)
        rows = [torch.autograd.grad(y[k], xw, retain_graph=k < y.shape[0] - 1)[0][0, :, column]
                for k in range(y.shape[0])]  # H x (T,)
    return torch.stack(rows).numpy()  # (H, T)


@dataclass
class ImpulseResponse:
    """The result of :func:`impulse_response`; K layers (1 for non-GRU cells), T steps, U units.

    Attributes
    ----------
    x_base, x_probe : np.ndarray
        (T, C) the baseline window and the probed one (scaled units).
    h_base, h_probe : np.ndarray
        (K, T, U) hidden states of both runs.
    response : np.ndarray
        (K, T, U) ``|h_probe - h_base|``.
    z_product : np.ndarray or None
        (K, T, U) running product of the baseline run's z after t0 (NaN before t0, 1 at t0);
        None for a non-GRU cell.
    layers : list of int
        The model layer each row k is (all layers for a GRU, the last one otherwise).
    """

    kind: str
    t0: int
    size: float
    column: int
    x_base: np.ndarray
    x_probe: np.ndarray
    h_base: np.ndarray
    h_probe: np.ndarray
    response: np.ndarray
    z_product: np.ndarray | None
    layers: list[int]


def _states(m: Forecaster, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(K, T, U) states and (K, T, U) z (GRU) or None for one (1, T, C) window."""
    if isinstance(m.rnn, nn.GRU) and not m.cfg.bidirectional:
        tr = trace_gates(m.rnn, x)
        return tr.h[:, 0], tr.z[:, 0]  # (K, T, U) each
    with torch.no_grad():
        out = m.rnn(x)[0]  # (1, T, D*U), last layer
    return out[0].unsqueeze(0), None  # (1, T, D*U)


def impulse_response(model: Forecaster, x_base, t0: int, size: float = 1.0,
                     kind: str = "impulse", column: int = 0) -> ImpulseResponse:
    """Run ``x_base`` with and without a probe at ``t0`` and compare the hidden states.

    Parameters
    ----------
    model : Forecaster
    x_base : array-like
        (T, C) baseline window in scaled units (a real window, or e.g. ``np.zeros((T, C))``).
    t0 : int
        Timestep of the impulse, or the first raised step.
    size : float
        How much the probed column is raised (scaled units; 1 = one training standard deviation
        with the standard scaler).
    kind : str
        "impulse" or "step" (see :data:`PROBES`).
    column : int
        The input column probed (0 = the target).
    """
    if kind not in PROBES:
        raise DataError(f"Unknown probe {kind!r}: choose one of {', '.join(PROBES)}.")
    xb = _window(model, x_base)
    T = xb.shape[1]
    if not 0 <= int(t0) < T:
        raise DataError(f"t0 = {t0} is outside the window (0 to {T - 1}); pick a step inside it.")
    if not 0 <= column < xb.shape[2]:
        raise DataError(f"Input column {column} does not exist (the model reads {xb.shape[2]}).")
    if not (np.isfinite(size) and size != 0):
        raise DataError(f"The probe size must be a non-zero number; got {size!r}.")
    t0 = int(t0)
    xp = xb.clone()
    if kind == "impulse":
        xp[0, t0, column] += size
    else:
        xp[0, t0:, column] += size
    m = _f64(model)
    hb, zb = _states(m, xb)
    hp, _ = _states(m, xp)
    zprod = None
    if zb is not None:
        zprod = torch.full_like(zb, float("nan"))  # (K, T, U)
        zprod[:, t0] = 1.0
        if t0 + 1 < T:
            zprod[:, t0 + 1:] = torch.cumprod(zb[:, t0 + 1:], dim=1)  # prod_{s=t0+1..t} z_s
        zprod = zprod.numpy()
    K = hb.shape[0]
    return ImpulseResponse(kind=kind, t0=t0, size=float(size), column=column,
                           x_base=xb[0].numpy(), x_probe=xp[0].numpy(), h_base=hb.numpy(),
                           h_probe=hp.numpy(), response=(hp - hb).abs().numpy(), z_product=zprod,
                           layers=list(range(K)) if zb is not None else [m.cfg.num_layers - 1])


def memory_length(values: np.ndarray, t0: int, fraction: float = 0.1) -> np.ndarray:
    """Steps after ``t0`` until a decaying curve stays below ``fraction`` of its peak.

    Parameters
    ----------
    values : np.ndarray
        (..., T) non-negative curves (an impulse response or a z product) per unit.

    Returns
    -------
    np.ndarray
        (...) int: the last t >= t0 with ``values[t] >= fraction * max`` minus t0 (0 if the curve
        is 0 everywhere after t0). A curve still above the threshold at the end gives T-1-t0: at
        least that long.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64)[..., t0:])  # (..., T - t0)
    peak = v.max(axis=-1, keepdims=True)
    above = (v >= fraction * peak) & (peak > 0)
    idx = np.arange(v.shape[-1])
    return np.where(above, idx, 0).max(axis=-1)
