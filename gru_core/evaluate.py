"""Honest evaluation: model forecasts beside naive baselines, on the same windows, in data units.

For a split (train / val / test) with windows starting at ``starts`` (lookback L, horizon H), the
forecast origin of window i is the last input step ``o_i = starts[i] + L - 1`` and target step j
(0-based) sits at series position ``o_i + 1 + j``. Every forecaster below may use the series only
up to ``o_i``:

    model            y_hat[i, j] = inverse_scale(model(X[i]))[j]                     direct H-step
    naive            y_hat[i, j] = y[o_i]                                             last value, repeated
    seasonal naive   y_hat[i, j] = y[o_i + 1 + j - m * ceil((j + 1) / m)]             season m

Metrics (y true, p predicted, over all N*H values, original units):

    MAE   = mean |y - p|
    RMSE  = sqrt(mean (y - p)^2)
    sMAPE = 100 * mean( 2 |y - p| / (|y| + |p|) )      in percent, 0..200; a 0/0 term counts as 0
    MASE  = MAE / mean_t |y_t - y_{t-m}|                the denominator over the TRAINING part only

The season m is found from the autocorrelation of the training part (:func:`detect_season`)
unless given. :func:`recursive_forecast` is the one-step-rollout alternative to the direct head;
:func:`forecast_future` forecasts past the end of the data.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from gru_core.errors import DataError

SPLITS = ("train", "val", "test")
METRIC_COLUMNS = ("MAE", "RMSE", "sMAPE %", "MASE")
NAIVE_LABEL = "Naive (last value)"


# ----------------------------------------------------------------------------- helpers

def _split_windows(ds, split: str):
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}: choose one of {', '.join(SPLITS)}.")
    return getattr(ds, split)


def _target(ds) -> np.ndarray:
    """The target column in original units, (T,) float64."""
    v = np.asarray(ds.series.values, dtype=np.float64)
    return v[:, 0] if v.ndim == 2 else v


def _model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _model_label(model) -> str:
    cell = getattr(getattr(model, "cfg", None), "cell", None)
    return cell.upper() if isinstance(cell, str) else "Model"


# ----------------------------------------------------------------------------- predictions

@torch.no_grad()
def predict(model: torch.nn.Module, X: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Forecast every window, in batches, in eval mode (the model's mode is restored after).

    Parameters
    ----------
    model : Forecaster
    X : torch.Tensor
        (N, L, C) windows in scaled units (a strided view is fine; only a batch is copied at a time).
    batch_size : int
        Windows per forward pass.

    Returns
    -------
    np.ndarray
        (N, H) float32 forecasts in scaled units.
    """
    was_training = model.training
    model.eval()
    dev = _model_device(model)
    try:
        outs = [model(X[i:i + batch_size].to(dev)).float().cpu()  # (b, H)
                for i in range(0, X.shape[0], batch_size)]
    finally:
        model.train(was_training)
    if not outs:
        horizon = getattr(getattr(model, "cfg", None), "horizon", 0)
        return np.zeros((0, horizon), dtype=np.float32)
    return torch.cat(outs).numpy()  # (N, H)


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
    w = _split_windows(ds, split)
    L, H = ds.window.lookback, ds.window.horizon
    y = _target(ds)
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
    w = _split_windows(ds, split)
    L, H = ds.window.lookback, ds.window.horizon
    y = _target(ds)
    j = np.arange(H)                                              # (H,)
    back = m * ((j + m) // m)                                     # (H,) = m * ceil((j+1)/m)
    idx = w.starts[:, None] + L + j[None, :] - back[None, :]      # (N, H) source positions
    if idx.size and idx.min() < 0:
        raise DataError(f"A season of {m} steps reaches back before the start of the series for "
                        f"the first {split} windows: choose a season of at most "
                        f"{int(w.starts.min()) + L} steps, or evaluate a later split.")
    return y[idx]


# ----------------------------------------------------------------------------- metrics

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


def mase(y, p, insample, season: int = 1) -> float:
    """Mean absolute scaled error, ``MAE(y, p) / mean_t |x_t - x_{t-m}|`` over ``insample`` x.

    ``insample`` is the training part of the target (never validation or test values); ``m`` is
    the season (1 = plain naive). NaN if the in-sample seasonal-naive error is 0 (constant data).
    """
    x = np.asarray(insample, dtype=np.float64).ravel()
    m = int(season)
    if m < 1 or x.shape[0] <= m:
        raise DataError(f"MASE needs more than {m} in-sample values for season {m}; got "
                        f"{x.shape[0]}. Use a smaller season or a longer training part.")
    scale = float(np.mean(np.abs(x[m:] - x[:-m])))
    return mae(y, p) / scale if scale > 0 else math.nan


# ----------------------------------------------------------------------------- evaluation

@dataclass
class Evaluation:
    """A model and its baselines scored on one split, everything in original units."""

    split: str
    y_true: np.ndarray                 # (N, H) actual target values
    y_pred: np.ndarray                 # (N, H) model forecasts
    naive: np.ndarray                  # (N, H) last-value baseline
    seasonal: np.ndarray | None        # (N, H) seasonal-naive baseline, None without a season
    season: int | None                 # season m used by the seasonal baseline
    starts: np.ndarray                 # (N,) first input step of each window
    target_index: np.ndarray           # (N, H) series positions of the targets
    metrics: pd.DataFrame              # rows: model / naive / seasonal naive; cols MAE RMSE sMAPE % MASE
    mase_season: int = 1               # m of the MASE denominator
    notes: list[str] = field(default_factory=list)   # e.g. why the seasonal baseline is missing


def _metric_row(y, p, insample, m) -> dict[str, float]:
    return {"MAE": mae(y, p), "RMSE": rmse(y, p), "sMAPE %": smape(y, p),
            "MASE": mase(y, p, insample, m)}


def evaluate(model, ds, split: str = "test", season: int | None = None) -> Evaluation:
    """Score ``model`` and the naive baselines on the windows of ``split``.

    Parameters
    ----------
    model : Forecaster
    ds : gru_core.windows.Dataset
    split : {"train", "val", "test"}
    season : int, optional
        Season m for the seasonal-naive baseline and MASE. None: detected from the training part
        (:func:`detect_season`); 0: no seasonal baseline.

    Returns
    -------
    Evaluation
        Metrics rows are the cell name in capitals (e.g. ``"GRU"``), ``"Naive (last value)"`` and
        ``"Seasonal naive (m=12)"`` (if a season is known and fits the history).
    """
    w = _split_windows(ds, split)
    if len(w.starts) == 0:
        raise DataError(f"The {split} split has no windows: use a longer series or a larger "
                        f"{split} fraction.")
    L, H = ds.window.lookback, ds.window.horizon
    y = _target(ds)
    train = y[:ds.bounds[0]]                                          # in-sample for MASE / season
    notes: list[str] = []

    target_index = w.starts[:, None] + L + np.arange(H)[None, :]     # (N, H)
    y_true = y[target_index]                                          # (N, H) original units
    p_scaled = predict(model, w.X).astype(np.float64)                 # (N, H) scaled
    y_pred = np.asarray(ds.scaler.inverse_target(p_scaled), dtype=np.float64)
    naive = naive_forecast(ds, split)

    if season is None:
        season = detect_season(train)
        if season is None:
            notes.append("No clear season in the training data: no seasonal-naive baseline.")
    elif season == 0:
        season = None
    elif isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 0:
        raise DataError(f"season must be a whole number >= 0 (0 = none); got {season!r}.")
    seasonal = None
    if season is not None:
        try:
            seasonal = seasonal_naive_forecast(ds, split, int(season))
        except DataError as e:
            notes.append(f"Seasonal-naive baseline skipped: {e}")
    m = int(season) if season else 1
    if train.shape[0] <= m:
        notes.append(f"The training part is too short for a season-{m} MASE scale: used m=1.")
        m = 1

    rows = {_model_label(model): _metric_row(y_true, y_pred, train, m),
            NAIVE_LABEL: _metric_row(y_true, naive, train, m)}
    if seasonal is not None:
        rows[f"Seasonal naive (m={int(season)})"] = _metric_row(y_true, seasonal, train, m)
    metrics = pd.DataFrame.from_dict(rows, orient="index")[list(METRIC_COLUMNS)]
    return Evaluation(split=split, y_true=y_true, y_pred=y_pred, naive=naive, seasonal=seasonal,
                      season=int(season) if season else None, starts=w.starts.copy(),
                      target_index=target_index, metrics=metrics, mase_season=m, notes=notes)


@torch.no_grad()
def recursive_forecast(model, ds, split: str = "test", batch_size: int = 1024) -> np.ndarray:
    """One-step rollout: use only step 1 of each forecast and feed it back as the next input.

    ``x <- [x[1:], y_hat_1]`` repeated H times, so step j+1 is forecast from the model's own
    earlier forecasts. Only for a **univariate** model (input_size 1): with extra input columns
    the rollout would need their *future* values, which a real forecaster does not have.

    Returns
    -------
    np.ndarray
        (N, H) float64 forecasts in original units, on the same windows as :func:`evaluate`.

    Raises
    ------
    DataError
        For a dataset with input columns besides the target.
    """
    w = _split_windows(ds, split)
    N, L, C = w.X.shape
    if C != 1:
        raise DataError("Recursive forecasting feeds the model's own forecasts back in, which works "
                        "only for a target-only model: with extra input columns it would need their "
                        "future values. Use the direct forecast, or train on the target alone.")
    H = ds.window.horizon
    was_training = model.training
    model.eval()
    dev = _model_device(model)
    out = np.zeros((N, H), dtype=np.float64)
    try:
        for i in range(0, N, batch_size):
            x = w.X[i:i + batch_size].to(dev).contiguous()      # (b, L, 1)
            for j in range(H):
                step1 = model(x)[:, :1]                         # (b, 1): first forecast step only
                out[i:i + x.shape[0], j] = step1[:, 0].double().cpu().numpy()
                x = torch.cat([x[:, 1:], step1[:, :, None]], dim=1)  # -> (b, L, 1)
    finally:
        model.train(was_training)
    return np.asarray(ds.scaler.inverse_target(out), dtype=np.float64)


def _future_index(index, T: int, steps: int) -> pd.Index:
    """Dates continued at the inferred frequency for a DatetimeIndex, else positions T, T+1, ..."""
    name = getattr(index, "name", None)
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 3:
        freq = index.freq
        if freq is None:
            try:
                with warnings.catch_warnings():   # pandas 3 warns that infer_freq's type will change
                    warnings.simplefilter("ignore")
                    freq = pd.infer_freq(index)
            except (TypeError, ValueError):
                freq = None
        if freq is not None:
            return pd.date_range(index[-1], periods=steps + 1, freq=freq, name=name)[1:]
    return pd.RangeIndex(T, T + steps, name=name)


def forecast_future(model, ds, steps: int | None = None) -> pd.DataFrame:
    """Forecast past the end of the data from its last L points (direct H-step head).

    Parameters
    ----------
    steps : int, optional
        How many future steps to return, 1..H (default H).

    Returns
    -------
    pd.DataFrame
        Index: the future dates (continued at ``pd.infer_freq`` of a DatetimeIndex) or integer
        positions T..T+steps-1. Columns ``step`` (1..steps) and ``forecast`` (original units).
    """
    L, H = ds.window.lookback, ds.window.horizon
    steps = H if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= H:
        raise DataError(f"The model forecasts 1 to {H} steps ahead; got steps={steps!r}. "
                        "Retrain with a longer horizon to see further.")
    T = ds.scaled.shape[0]
    x = ds.scaled[T - L:][None]                                     # (1, L, C)
    p = predict(model, x)[0].astype(np.float64)                     # (H,) scaled
    values = np.asarray(ds.scaler.inverse_target(p), dtype=np.float64)[:steps]
    index = _future_index(getattr(ds.series, "index", None), T, int(steps))
    return pd.DataFrame({"step": np.arange(1, steps + 1), "forecast": values}, index=index)
