"""One default forecasting run, end to end: what the command line prints and the benchmark scores.

    run_forecast(series, recipe)
      1. season m from the training part (autocorrelation), unless given
      2. transform + lookback: the recipe's, or "auto" (gru_core.auto, validation only)
      3. GRU forecasts on the validation and test windows, in data units (transform inverted)
      4. baselines on the same windows: naive, seasonal naive (m), ETS (gru_core.classical)
      5. metrics on the test part; the verdict against the BEST baseline, overall and per step
      6. split-conformal intervals from validation residuals, with their test coverage
      7. rolling-origin backtest over the test part
      8. optionally: refit on all data (train + validation + test, the validated run's best
         epoch count, no early stopping) and forecast the H steps past the end, with intervals

Everything a score is computed from uses the data up to each window's own origin; nothing is
fitted on the test part.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from gru_core.auto import AutoResult, Fitted, choose, fit_candidate
from gru_core.backtest import Backtest, origin_labels, rolling_origin
from gru_core.classical import ets_forecast, ets_future, fit_ets
from gru_core.defaults import DEFAULTS, Recipe
from gru_core.errors import DataError
from gru_core.evaluate import (NAIVE_LABEL, detect_season, forecast_future, mae, mase, naive_forecast,
                               predict, rmse, seasonal_naive_forecast, smape)
from gru_core.intervals import LEVELS, Band, conformal_bands
from gru_core.train import TrainingRun
from gru_core.transforms import TRANSFORMS, inverse_at, inverse_windows
from gru_core.windows import Windows, make_dataset, split_bounds

METRICS = {"MAE": mae, "RMSE": rmse, "sMAPE %": smape}


@dataclass
class ForecastRun:
    """The result of :func:`run_forecast` (all forecasts in data units)."""

    recipe: Recipe
    season: int | None
    transform: str
    lookback: int
    auto: AutoResult | None
    fitted: Fitted
    ets_label: str
    y_test: np.ndarray                     # (N, H)
    test: dict[str, np.ndarray]            # name -> (N, H) forecasts on the test windows
    metrics: pd.DataFrame                  # rows: model + baselines; MAE RMSE sMAPE % MASE, MAE / best
    best_baseline: str
    verdict: str
    per_step: pd.DataFrame                 # MAE per horizon step (rows: forecasters)
    bands: list[Band]
    backtest: Backtest
    future: pd.DataFrame | None = None     # refit-on-all forecast past the end, with bands
    notes: list[str] = field(default_factory=list)

    @property
    def model_label(self) -> str:
        return self.recipe.cell.upper()

    @property
    def ratio(self) -> float:
        """Model test MAE / best baseline's test MAE."""
        return float(self.metrics.loc[self.model_label, "MAE"] / self.metrics.loc[self.best_baseline, "MAE"])


def _baselines(ds, split: str, season: int | None, ets_fit, notes: list[str]) -> dict[str, np.ndarray]:
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    out = {NAIVE_LABEL: naive_forecast(ds, split)}
    if season:
        try:
            out[f"Seasonal naive (m={season})"] = seasonal_naive_forecast(ds, split, season)
        except DataError as e:
            notes.append(f"Seasonal-naive baseline skipped: {e}")
    if ets_fit is not None:
        origins = getattr(ds, split).starts + ds.window.lookback - 1
        out[ets_fit.label] = ets_forecast(ets_fit, y, origins, ds.window.horizon)
    return out


def verdict(metrics: pd.DataFrame, per_step: pd.DataFrame, model: str, metric: str = "MAE") -> tuple[str, str]:
    """(best baseline, sentence) comparing the model with the best baseline on ``metric``."""
    base = metrics.drop(index=model)
    best = str(base[metric].idxmin())
    m, b = float(metrics.loc[model, metric]), float(base.loc[best, metric])
    ratio = m / b if b > 0 else math.inf
    word = "helps" if m < b else "does not help"
    text = (f"The {model} {word}: test {metric} {m:.4g} vs {b:.4g} for the best baseline, {best} "
            f"(ratio {ratio:.2f}; below 1 = the {model} is better).")
    steps = per_step.drop(index=model).min(axis=0)
    better = [int(j) for j in per_step.columns if per_step.loc[model, j] < steps[j]]
    if better and len(better) < per_step.shape[1]:
        text += (f" Per horizon step the verdict differs: better than every baseline at step(s) "
                 f"{', '.join(map(str, better))} of {per_step.shape[1]}.")
    return best, text


def refit_all(series, recipe: Recipe, fitted: Fitted, season: int | None):
    """Retrain the chosen setup on ALL windows (train + validation + test), best-epoch count, no early stop.

    Returns (model, dataset) where the dataset's transform and scaler are fitted on all the data.
    """
    full = make_dataset(series, fitted.ds.window, recipe.split(), recipe.scaler, transform=fitted.transform,
                        season=season)                    # scaler refitted below on everything
    skip = full.transform.lag
    values = full.transform.apply(series.values) if full.transform.key != "none" else \
        np.asarray(series.values, dtype=np.float64)       # (T, C)
    full.scaler.fit(values[skip:])
    full.scaled = torch.from_numpy(full.scaler.transform(values.astype(np.float32)))
    L, H, S = full.window.lookback, full.window.horizon, full.window.stride
    T = full.scaled.shape[0]
    N = (T - L - H - skip) // S + 1
    X = full.scaled[skip: skip + (N - 1) * S + L].unfold(0, L, S).permute(0, 2, 1)     # (N, L, C)
    Y = full.scaled[skip + L: skip + L + (N - 1) * S + H, 0].unfold(0, H, S)          # (N, H)
    full.train = Windows(X=X, Y=Y, starts=skip + S * np.arange(N, dtype=np.int64))
    full.val = Windows(X=X[:0], Y=Y[:0], starts=np.zeros(0, dtype=np.int64))
    spec = TRANSFORMS[fitted.transform]
    run = TrainingRun(full, recipe.model(full.scaled.shape[1], spec.window_norm),
                      recipe.train(epochs=fitted.best_epoch, patience=0))
    progress = run.run()
    if progress.state != "finished":
        raise DataError(f"The refit on all data did not finish: {progress.reason}")
    return run.model, full


def run_forecast(series, recipe: Recipe = DEFAULTS, season: int | None = None, future: bool = False,
                 levels=LEVELS, on_candidate=None, lookbacks=None) -> ForecastRun:
    """The default forecasting run (module docstring).

    ``season=0`` means none; ``lookbacks=[]`` keeps "auto" at the recipe's lookback (stage 2 off).
    """
    notes: list[str] = []
    T = np.asarray(series.values).shape[0]
    train_end, val_end = split_bounds(T, recipe.split())
    y = np.asarray(series.values, dtype=np.float64).reshape(T, -1)[:, 0]
    if season is None:
        season = detect_season(y[:train_end])
    season = int(season) if season else None

    auto = None
    if recipe.transform == "auto":
        auto = choose(series, recipe, season, lookbacks=lookbacks, on_candidate=on_candidate)
        fitted = auto.best
        notes += auto.notes
    else:
        fitted = fit_candidate(series, recipe, recipe.transform, recipe.lookback, season)
    ds = fitted.ds

    try:
        ets_fit = fit_ets(y[:train_end], season)
    except DataError as e:
        ets_fit = None
        notes.append(f"ETS baseline skipped: {e}")
    model_label = recipe.cell.upper()
    w = ds.test
    idx = w.starts[:, None] + ds.window.lookback + np.arange(ds.window.horizon)[None, :]
    y_test = y[idx]                                                        # (N, H)
    test = {model_label: inverse_windows(predict(fitted.model, w.X), ds, "test")}
    test.update(_baselines(ds, "test", season, ets_fit, notes))

    m = season if season and train_end > season else 1
    rows = {name: {**{k: f(y_test, p) for k, f in METRICS.items()}, "MASE": mase(y_test, p, y[:train_end], m)}
            for name, p in test.items()}
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    per_step = pd.DataFrame({name: np.abs(y_test - p).mean(axis=0) for name, p in test.items()},
                            index=pd.RangeIndex(1, ds.window.horizon + 1, name="step")).T
    best, text = verdict(metrics, per_step, model_label)
    metrics["MAE / best baseline"] = metrics["MAE"] / metrics.loc[best, "MAE"]

    bands = conformal_bands(fitted.val_true, fitted.val_pred, test[model_label], y_test, levels)
    n_val = fitted.val_true.shape[0]
    for b in bands:
        if not np.all(np.isfinite(b.q)):
            need = math.ceil(b.level / (1.0 - b.level))
            notes.append(f"The {b.level:.0%} interval is unbounded: it needs at least {need} validation "
                         f"windows and there are {n_val}. Use a larger validation fraction or a longer series.")
    origins = w.starts + ds.window.lookback - 1
    index = getattr(series, "index", None)
    labels = origin_labels(index, origins) if index is not None and len(index) == T else None
    bt = rolling_origin(y_test, test, origins, model_label, labels)

    out = ForecastRun(recipe=recipe, season=season, transform=fitted.transform, lookback=fitted.lookback,
                      auto=auto, fitted=fitted, ets_label=ets_fit.label if ets_fit else "",
                      y_test=y_test, test=test, metrics=metrics, best_baseline=best, verdict=text,
                      per_step=per_step, bands=bands, backtest=bt, notes=notes)
    if future:
        out.future = forecast_past_end(series, recipe, fitted, season, bands, ets_fit)
    return out


def forecast_past_end(series, recipe: Recipe, fitted: Fitted, season, bands, ets_fit=None) -> pd.DataFrame:
    """Refit on all data and forecast the H steps past the end, with the validated bands' widths."""
    model, full = refit_all(series, recipe, fitted, season)
    frame = forecast_future(model, full)                                   # index: future dates / steps
    T = full.scaled.shape[0]
    pred = predict(model, full.scaled[T - fitted.lookback:][None])         # (1, H) scaled
    values = inverse_at(pred, full, [T - 1])[0]                            # (H,) data units
    frame["forecast"] = values
    for b in bands:
        pct = int(round(b.level * 100))
        frame[f"lower {pct}%"] = values - b.q
        frame[f"upper {pct}%"] = values + b.q
    if ets_fit is not None:                                                # ETS refitted on all data too
        y = np.asarray(series.values, dtype=np.float64).reshape(T, -1)[:, 0]
        ets_all = fit_ets(y, season)
        frame[ets_all.label] = ets_future(ets_all, y, recipe.horizon)
    frame.attrs["label"] = (f"Refit on all data ({T} points, {fitted.best_epoch} epochs as in the "
                            f"validated run, transform '{fitted.transform}', lookback {fitted.lookback})")
    return frame
