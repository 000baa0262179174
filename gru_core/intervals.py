"""Prediction intervals by split conformal prediction, per horizon step, and their coverage.

From the validation part (never the test part) take the absolute residuals of each horizon step j,
``r_ij = |y_ij - p_ij|`` over the n validation windows, and their conformal quantile

    q_j(level) = the k-th smallest r_1j .. r_nj,   k = ceil((n + 1) * level)     (inf if k > n)

The interval for a new forecast p at step j is ``[p - q_j, p + q_j]``. If validation and test
errors are exchangeable, it holds the truth with probability >= level (Vovk et al.; Lei et al.
2018). Two honest caveats: validation windows overlap (neighbouring residuals are correlated, so
coverage holds on average, not per window), and the validation part also chose the stopping
epoch and the transform, which can make its residuals slightly optimistic. The empirical
coverage on the test part is reported beside the nominal level for exactly that reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gru_core.errors import DataError

LEVELS = (0.8, 0.95)   # nominal coverage of the bands drawn and reported


def conformal_quantiles(y_val, p_val, level: float) -> np.ndarray:
    """Per-step conformal half-widths q_j from validation truth and forecasts (N, H) -> (H,)."""
    y, p = np.asarray(y_val, dtype=np.float64), np.asarray(p_val, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2 or y.shape[0] == 0:
        raise DataError(f"Conformal intervals need validation truth and forecasts of the same (N, H) "
                        f"shape with N >= 1; got {y.shape} and {p.shape}.")
    if not 0.0 < level < 1.0:
        raise DataError(f"The interval level must be between 0 and 1 (e.g. 0.8); got {level!r}.")
    n = y.shape[0]
    k = math.ceil((n + 1) * level)                                   # rank of the quantile
    r = np.sort(np.abs(y - p), axis=0)                               # (N, H) ascending per step
    if k > n:
        return np.full(y.shape[1], np.inf)
    return r[k - 1]                                                  # (H,)


@dataclass
class Band:
    """One prediction interval: nominal level, half-widths per step, bounds and test coverage."""

    level: float               # nominal coverage, e.g. 0.8
    q: np.ndarray              # (H,) half-width per horizon step (data units)
    lower: np.ndarray          # (N, H)
    upper: np.ndarray          # (N, H)
    coverage: float | None     # share of test values inside, over all N*H (None without truth)
    coverage_per_step: np.ndarray | None   # (H,)


def coverage(y, lower, upper) -> tuple[float, np.ndarray]:
    """(overall, per step) share of y inside [lower, upper], bounds included."""
    y = np.asarray(y, dtype=np.float64)
    inside = (y >= lower) & (y <= upper)                             # (N, H)
    return float(inside.mean()), inside.mean(axis=0)


def conformal_bands(y_val, p_val, p_new, y_new=None, levels=LEVELS) -> list[Band]:
    """Bands around forecasts ``p_new`` (N, H) (or (H,)), with coverage if ``y_new`` is given."""
    p = np.asarray(p_new, dtype=np.float64)
    bands = []
    for level in levels:
        q = conformal_quantiles(y_val, p_val, level)                 # (H,)
        lo, hi = p - q, p + q
        cov, per = coverage(y_new, lo, hi) if y_new is not None else (None, None)
        bands.append(Band(level=float(level), q=q, lower=lo, upper=hi, coverage=cov,
                          coverage_per_step=per))
    return bands


COVERAGE_SLACK = 0.05   # a band within 5 points of its level (plus sampling noise) "covers as stated"


def coverage_note(bands: list[Band], n_windows: int) -> str | None:
    """One honest sentence when a band's empirical coverage misses its level, else None.

    A band "covers as stated" when its coverage lies within ``COVERAGE_SLACK`` plus two binomial
    standard errors over ``n_windows`` (overlapping windows are correlated, so the count of windows
    -- not of values -- is the sample size) of the nominal level. Below that the bands are too
    narrow on this part: its errors are larger than the validation part's (a change in the series
    after validation, or a model that extrapolates worse there); above it they are wider than needed.
    """
    short, wide = [], []
    for b in bands:
        if b.coverage is None or not np.all(np.isfinite(b.q)):
            continue
        tol = COVERAGE_SLACK + 2.0 * math.sqrt(b.level * (1.0 - b.level) / max(n_windows, 1))
        text = f"the {b.level:.0%} band held {b.coverage:.0%}"
        if b.coverage < b.level - tol:
            short.append(text)
        elif b.coverage > b.level + tol:
            wide.append(text)
    if short:
        return ("The bands are too narrow here: " + " and ".join(short) + ". This part's errors "
                "are larger than the validation part's (the series changed after validation, or the "
                "model extrapolates worse here), so read them as optimistic.")
    if wide:
        return ("The bands are wider than needed here: " + " and ".join(wide) + " (this part "
                "is easier than the validation part).")
    return None
