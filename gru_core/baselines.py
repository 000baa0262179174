"""Naive baselines and the season they use: forecasts that need no learning, on the model's windows.

For a split (train / val / test) with windows starting at ``starts`` (lookback L, horizon H), the
forecast origin of window i is the last input step ``o_i = starts[i] + L - 1`` and target step j
(0-based) sits at series position ``o_i + 1 + j``. A baseline may use the series only up to ``o_i``:

    naive            y_hat[i, j] = y[o_i]                                             last value, repeated
    seasonal naive   y_hat[i, j] = y[o_i + 1 + j - m * ceil((j + 1) / m)]             season m

The season m is found from the autocorrelation of the training part (:func:`detect_season`).
"""
from __future__ import annotations

import numpy as np

from gru_core.errors import DataError

SPLITS = ("train", "val", "test")
NAIVE_LABEL = "Naive (last value)"


def seasonal_label(season: int) -> str:
    """The metrics-table row name of the seasonal-naive baseline, e.g. ``"Seasonal naive (m=12)"``."""
    return f"Seasonal naive (m={int(season)})"


def split_windows(ds, split: str):
    """The :class:`~gru_core.windows.Windows` of ``split``; a fix-it DataError for an unknown name."""
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    return getattr(ds, split)


def target_values(ds) -> np.ndarray:
    """The target column in original units, (T,) float64."""
    v = np.asarray(ds.series.values, dtype=np.float64)
    return v[:, 0] if v.ndim == 2 else v


def detect_season(values: np.ndarray, max_lag: int = 400, threshold: float = 0.3,
                  prominence: float = 0.1, relative: float = 0.8) -> int | None:
    """Season length from the autocorrelation function, or None if there is no clear one.

    The values are first detrended by removing their least-squares line (a trend would otherwise
    make the acf decay so slowly that seasonal bumps are no local maxima), then
    ``acf[k] = sum_t x_t x_{t+k} / sum_t x_t^2``. A *peak* is a lag k in
    ``2..max_lag`` (and at most len/2) that is a local maximum (``acf[k-1] < acf[k] >= acf[k+1]``),
    reaches ``threshold`` and stands at least ``prominence`` above the lowest acf value at lags
    ``1..k-1`` (so the slow wobble of a trend or random walk does not count). The season is the
    first peak that reaches ``relative`` times the highest peak: a small early bump (e.g. three
    cycles of a weaker 13-step component inside a 50-step season) is passed over, while whole
    multiples of the season (lower, as the acf decays) never win over the season itself.

    Parameters
    ----------
    values : np.ndarray
        (T,) the series to inspect -- pass the *training part* of the target only.
    max_lag : int
        Longest season considered.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = x.shape[0]
    max_lag = min(int(max_lag), n // 2)
    if max_lag < 2:
        return None
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0                # centred time
    xc = x - x.mean()
    x = xc - t * (np.dot(t, xc) / np.dot(t, t))                     # remove the least-squares line
    denom = float(np.dot(x, x))
    if denom <= 1e-12 * float(np.dot(xc, xc)) or denom == 0.0:     # constant or a straight line
        return None
    nfft = 1 << (2 * n - 1).bit_length()                           # zero padding: linear, not circular
    spec = np.fft.rfft(x, nfft)
    acf = np.fft.irfft(spec * np.conj(spec), nfft)[:max_lag + 2] / denom  # (max_lag + 2,)
    peaks = [k for k in range(2, max_lag + 1)
             if acf[k] >= threshold and acf[k] > acf[k - 1] and acf[k] >= acf[k + 1]
             and acf[k] - acf[1:k].min() >= prominence]
    if not peaks:
        return None
    top = max(acf[k] for k in peaks)
    return next(k for k in peaks if acf[k] >= relative * top)


def naive_forecast(ds, split: str) -> np.ndarray:
    """Last observed target value before each window's first target, repeated H times.

    Returns
    -------
    np.ndarray
        (N, H) float64, original units, on the same windows as the model.
    """
    w = split_windows(ds, split)
    L, H = ds.window.lookback, ds.window.horizon
    y = target_values(ds)
    last = y[w.starts + L - 1]                      # (N,) value at the forecast origin
    return np.repeat(last[:, None], H, axis=1)      # (N, H)


def seasonal_naive_forecast(ds, split: str, season: int) -> np.ndarray:
    """The value one season before each target step, using only values known at forecast time.

    Target step j (0-based) of window i is at ``t = starts[i] + L + j``; its forecast is
    ``y[t - m * ceil((j + 1) / m)]``: one season back for ``j < m``, whole seasons further back for
    ``j >= m`` so that it never reaches past the forecast origin ``starts[i] + L - 1``.

    Returns
    -------
    np.ndarray
        (N, H) float64, original units, on the same windows as the model.

    Raises
    ------
    DataError
        ``season`` < 1, or longer than the history before the split's first window.
    """
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise DataError(f"The season length must be a whole number >= 1; got {season!r}.")
    m = int(season)
    w = split_windows(ds, split)
    L, H = ds.window.lookback, ds.window.horizon
    y = target_values(ds)
    j = np.arange(H)                                              # (H,)
    back = m * ((j + m) // m)                                     # (H,) = m * ceil((j+1)/m)
    idx = w.starts[:, None] + L + j[None, :] - back[None, :]      # (N, H) source positions
    if idx.size and idx.min() < 0:
        raise DataError(f"A season of {m} steps reaches back before the start of the series for "
                        f"the first {split} windows: choose a season of at most "
                        f"{int(w.starts.min()) + L} steps, or evaluate a later split.")
    return y[idx]
