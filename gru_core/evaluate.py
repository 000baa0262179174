"""Honest evaluation: model forecasts beside naive baselines, on the same windows, in data units.

For a split (train / val / test) with windows starting at ``starts`` (lookback L, horizon H), the
forecast origin of window i is the last input step ``o_i = starts[i] + L - 1`` and target step j
(0-based) sits at series position ``o_i + 1 + j``. Every forecaster may use the series only up to
``o_i``:

    model            y_hat[i, j] = inverse(model(X[i]))[j]    unscaled, transform undone (gru_core.transforms)
    naive            y_hat[i, j] = y[o_i]                                             (gru_core.baselines)
    seasonal naive   y_hat[i, j] = y[o_i + 1 + j - m * ceil((j + 1) / m)]             season m
    ETS              fitted on the training part, filtered through o_i                (gru_core.classical)

Each forecaster is scored with every metric of ``gru_core.metrics.METRICS`` (MAE, RMSE, sMAPE %,
MASE) over all N*H values, in original units; the MASE denominator uses the TRAINING part only.
:func:`recursive_forecast` is the one-step-rollout alternative to the direct head;
:func:`forecast_future` forecasts past the end of the data; :func:`predictions_table` is the
download of every forecast.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from gru_core._dates import future_dates
from gru_core.transforms import inverse_at, inverse_windows
from gru_core.baselines import (NAIVE_LABEL, SPLITS, detect_season, naive_forecast,  # noqa: F401
                                seasonal_label, seasonal_naive_forecast, split_windows,
                                target_values)
from gru_core.classical import ets_windows
from gru_core.errors import DataError
from gru_core.metrics import METRICS, mae, mase, rmse, score, smape  # noqa: F401  (re-exported)

METRIC_COLUMNS = tuple(METRICS)          # ("MAE", "RMSE", "sMAPE %", "MASE"), the registry order


# ----------------------------------------------------------------------------- helpers

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
    metrics: pd.DataFrame              # rows: model first, then the baselines; cols: METRICS order
    mase_season: int = 1               # m of the MASE denominator
    notes: list[str] = field(default_factory=list)   # e.g. why the seasonal baseline is missing
    insample: np.ndarray | None = None  # (T_train,) training part of the target (MASE scale)
    classical: dict = field(default_factory=dict)   # row name (e.g. "ETS(A,Ad,M)") -> (N, H) forecasts

    def forecasts(self) -> dict[str, np.ndarray]:
        """Metrics-table row name -> its (N, H) forecasts, model first (same order as ``metrics``)."""
        arrays = [self.y_pred, self.naive] + ([self.seasonal] if self.seasonal is not None else [])
        arrays += list(self.classical.values())
        return dict(zip(self.metrics.index, arrays))


def evaluate(model, ds, split: str = "test", season: int | None = None,
             classical: bool = True) -> Evaluation:
    """Score ``model``, the naive baselines and ETS on the windows of ``split``.

    Parameters
    ----------
    model : Forecaster
    ds : gru_core.windows.Dataset
    split : {"train", "val", "test"}
    season : int, optional
        Season m for the seasonal-naive baseline and MASE. None: detected from the training part
        (:func:`detect_season`); 0: no seasonal baseline.
    classical : bool
        Also score the ETS rival (``gru_core.classical``; fitted on the training part, a second
        or two), as the last row.

    Returns
    -------
    Evaluation
        Metrics rows are the cell name in capitals (e.g. ``"GRU"``), ``"Naive (last value)"``,
        ``"Seasonal naive (m=12)"`` (if a season is known and fits the history) and the ETS model
        (e.g. ``"ETS(A,Ad,M)"``).
    """
    w = split_windows(ds, split)
    if len(w.starts) == 0:
        raise DataError(f"The {split} split has no windows: use a longer series or a larger "
                        f"{split} fraction.")
    L, H = ds.window.lookback, ds.window.horizon
    y = target_values(ds)
    train = y[:ds.bounds[0]]                                          # in-sample for MASE / season
    notes: list[str] = []

    target_index = w.starts[:, None] + L + np.arange(H)[None, :]     # (N, H)
    y_true = y[target_index]                                          # (N, H) original units
    p_scaled = predict(model, w.X).astype(np.float64)                 # (N, H) scaled
    y_pred = inverse_windows(p_scaled, ds, split)                    # unscaled, transform undone
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

    rows = {_model_label(model): score(y_true, y_pred, train, m),
            NAIVE_LABEL: score(y_true, naive, train, m)}
    if seasonal is not None:
        rows[seasonal_label(season)] = score(y_true, seasonal, train, m)
    extra = {}
    if classical:
        try:
            pred, fit = ets_windows(ds, split, season=int(season) if season else None)
            extra[fit.label] = pred
            rows[fit.label] = score(y_true, pred, train, m)
        except DataError as e:
            notes.append(f"ETS baseline skipped: {e}")
    metrics = pd.DataFrame.from_dict(rows, orient="index")[list(METRIC_COLUMNS)]
    return Evaluation(split=split, y_true=y_true, y_pred=y_pred, naive=naive, seasonal=seasonal,
                      season=int(season) if season else None, starts=w.starts.copy(),
                      target_index=target_index, metrics=metrics, mase_season=m, notes=notes,
                      insample=train.copy(), classical=extra)


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
    w = split_windows(ds, split)
    N, L, C = w.X.shape
    if C != 1:
        raise DataError("Recursive forecasting feeds the model's own forecasts back in, which works "
                        "only for a target-only model: with extra input columns it would need their "
                        "future values. Use the direct forecast, or train on the target alone.")
    H = ds.window.horizon
    ft = getattr(ds, "transform", None)
    if ft is not None and ft.key != "none":
        raise DataError(f"Recursive forecasting is available without a target transform only (this "
                        f"model uses {ft.key!r}). Use the direct forecast.")
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


def forecast_future(model, ds, steps: int | None = None) -> pd.DataFrame:
    """Forecast past the end of the data from its last L points (direct H-step head).

    Parameters
    ----------
    steps : int, optional
        How many future steps to return, 1..H (default H).

    Returns
    -------
    pd.DataFrame
        Index: the future dates of a dated series (see ``gru_core._dates.future_dates``: the
        frequency pandas names, else that of the regular stretches between gaps, else the median
        step) or integer positions T..T+steps-1. Columns ``step`` (1..steps) and ``forecast``
        (original units). ``attrs["note"]`` says how the dates were continued when pandas could
        not name the frequency (None otherwise).
    """
    L, H = ds.window.lookback, ds.window.horizon
    steps = H if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= H:
        raise DataError(f"The model forecasts 1 to {H} steps ahead; got steps={steps!r}. "
                        "Retrain with a longer horizon to see further.")
    T = ds.scaled.shape[0]
    x = ds.scaled[T - L:][None]                                     # (1, L, C)
    p = predict(model, x)[0].astype(np.float64)                     # (H,) scaled
    values = inverse_at(p[None], ds, [T - 1])[0][:steps]           # (steps,) data units
    index, note = None, None
    dates = getattr(ds.series, "index", None)
    if isinstance(dates, pd.DatetimeIndex):
        index, note = future_dates(dates, int(steps))
    if index is None:
        index = pd.RangeIndex(T, T + steps, name=getattr(dates, "name", None))
    out = pd.DataFrame({"step": np.arange(1, steps + 1), "forecast": values}, index=index)
    out.attrs["note"] = note
    return out


# ----------------------------------------------------------------------------- the download

def predictions_table(ev: Evaluation, ds) -> pd.DataFrame:
    """One row per (window, horizon step): where it starts, what it forecasts, actual and baselines.

    Columns: ``window_start_position`` (+ ``window_start_date``), ``horizon_step`` (1..H),
    ``target_position`` (+ ``target_date``), ``actual``, ``predicted``, ``naive`` and, when the
    evaluation has one, ``seasonal_naive`` -- all values in the data's units. Rows are window by
    window, steps 1..H within each (row ``i * H + j`` is window i, step j + 1).
    """
    N, H = ev.y_true.shape
    index = getattr(ds.series, "index", None)
    dated = isinstance(index, pd.DatetimeIndex)
    cols: dict = {"window_start_position": np.repeat(ev.starts, H)}            # (N*H,)
    if dated:
        cols["window_start_date"] = np.asarray(index)[cols["window_start_position"]]
    cols["horizon_step"] = np.tile(np.arange(1, H + 1), N)
    cols["target_position"] = ev.target_index.reshape(-1)
    if dated:
        cols["target_date"] = np.asarray(index)[cols["target_position"]]
    cols["actual"] = ev.y_true.reshape(-1)
    cols["predicted"] = ev.y_pred.reshape(-1)
    cols["naive"] = ev.naive.reshape(-1)
    if ev.seasonal is not None:
        cols["seasonal_naive"] = ev.seasonal.reshape(-1)
    for name, f in ev.classical.items():                                      # e.g. "ETS(A,Ad,M)"
        cols[name] = f.reshape(-1)
    return pd.DataFrame(cols)
