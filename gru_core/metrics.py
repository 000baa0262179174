"""The forecast-error metrics, as one registry that the evaluation, the verdict and the UI all read.

Every metric scores truth y against forecast p over all N*H values of a split, in original units:

    MAE   = mean |y - p|
    RMSE  = sqrt(mean (y - p)^2)
    sMAPE = 100 * mean( 2 |y - p| / (|y| + |p|) )      in percent, 0..200; a 0/0 term counts as 0
    MASE  = MAE / mean_t |x_t - x_{t-m}|                x = the TRAINING part of the target only

``METRICS`` maps a column name to a :class:`Metric`; its order is the column order of every
metrics table. Adding a metric is one entry here (a function with the signature
``fn(y, p, insample, season) -> float``) plus its test in ``tests/test_metrics.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from gru_core.errors import DataError

UNITS = ("data", "%", "ratio")


@dataclass(frozen=True)
class Metric:
    """One error metric: how to compute it, show it and compare it."""

    name: str                          # column name, e.g. "sMAPE %"
    fn: Callable[..., float]           # fn(y, p, insample, season) -> float; y, p (N, H) or (N,)
    fmt: str = "%.3f"                  # printf format for tables (st.column_config) and sentences
    lower_is_better: bool = True       # False for a skill score (higher = better)
    unit: str = "data"                 # "data" (the target's units), "%" or "ratio" (no unit)
    help: str = ""                     # one sentence for a column tooltip

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"Metric unit must be one of {UNITS}; got {self.unit!r}.")

    def format(self, value: float, units: str = "") -> str:
        """``value`` in the metric's format with its unit, e.g. ``"12.345 passengers"``, ``"8.10 %"``."""
        if value is None or not math.isfinite(value):
            return "n/a"
        text = self.fmt % value
        unit = {"data": units, "%": "%", "ratio": ""}[self.unit]
        return f"{text} {unit}" if unit else text

    def better(self, a: float, b: float) -> bool:
        """True if score ``a`` is strictly better than ``b`` (NaN is never better)."""
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        return a < b if self.lower_is_better else a > b


# ----------------------------------------------------------------------------- the formulas

def _pair(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if y.shape != p.shape:
        raise DataError(f"Truth and forecast must have the same shape; got {y.shape} and {p.shape}.")
    if y.size == 0:
        raise DataError("No values to score: the split has no windows.")
    return y, p


def mae(y, p) -> float:
    """Mean absolute error, ``mean |y - p|``."""
    y, p = _pair(y, p)
    return float(np.mean(np.abs(y - p)))


def rmse(y, p) -> float:
    """Root mean squared error, ``sqrt(mean (y - p)^2)``."""
    y, p = _pair(y, p)
    return float(np.sqrt(np.mean((y - p) ** 2)))


def smape(y, p) -> float:
    """Symmetric MAPE in percent, ``100 * mean(2 |y - p| / (|y| + |p|))``; a 0/0 term counts as 0."""
    y, p = _pair(y, p)
    num, den = 2.0 * np.abs(y - p), np.abs(y) + np.abs(p)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(100.0 * np.mean(terms))


def mase_scale(insample, season: int = 1) -> float:
    """The MASE denominator ``mean_t |x_t - x_{t-m}|`` over the in-sample (training) values x."""
    x = np.asarray(insample, dtype=np.float64).ravel()
    m = int(season)
    if m < 1 or x.shape[0] <= m:
        raise DataError(f"MASE needs more than {m} in-sample values for season {m}; got "
                        f"{x.shape[0]}. Use a smaller season or a longer training part.")
    return float(np.mean(np.abs(x[m:] - x[:-m])))


def mase(y, p, insample, season: int = 1) -> float:
    """Mean absolute scaled error, ``MAE(y, p) / mean_t |x_t - x_{t-m}|`` over ``insample`` x.

    ``insample`` is the training part of the target (never validation or test values); ``m`` is
    the season (1 = plain naive). NaN if the in-sample seasonal-naive error is 0 (constant data).
    """
    scale = mase_scale(insample, season)
    return mae(y, p) / scale if scale > 0 else math.nan


# ----------------------------------------------------------------------------- the registry

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("MAE", lambda y, p, insample, season: mae(y, p), "%.3f", True, "data",
           "Mean absolute error over all windows and forecast steps, in the data's units."),
    Metric("RMSE", lambda y, p, insample, season: rmse(y, p), "%.3f", True, "data",
           "Root mean squared error, in the data's units: like MAE, but large misses weigh more."),
    Metric("sMAPE %", lambda y, p, insample, season: smape(y, p), "%.2f", True, "%",
           "Symmetric mean absolute percentage error, 0-200 %: the error relative to the size "
           "of the values."),
    Metric("MASE", mase, "%.3f", True, "ratio",
           "MAE divided by the in-sample error of a (seasonal) naive forecast on the training "
           "part: below 1 = better than that."),
)}


def score(y, p, insample, season: int = 1) -> dict[str, float]:
    """Every metric of :data:`METRICS` for truth ``y`` and forecast ``p``, in registry order."""
    return {name: float(m.fn(y, p, insample, season)) for name, m in METRICS.items()}


def get_metric(name: str) -> Metric:
    """The registry entry ``name``; a :class:`DataError` naming the choices otherwise."""
    if name not in METRICS:
        raise DataError(f"Unknown metric {name!r}: choose one of {', '.join(METRICS)}.")
    return METRICS[name]
