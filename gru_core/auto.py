"""The "auto" choice: pick the target transform and the lookback by validation error only.

Candidates are trained with the same recipe and scored by their MAE **on the validation part,
in data units** (the transform's inverse applied, so candidates with different transforms are
comparable). Two stages keep the cost down:

1. every candidate transform at the recipe's lookback:
   ``none``, ``window`` (per-window normalisation by the last value), ``window_scale`` (by the
   window's mean and spread), ``diff``, and where they apply ``log_window`` (positive training
   data) and ``seasonal_diff`` (a season found in the training part);
2. the best :data:`STAGE2_TRANSFORMS` transforms of stage 1, each at the other candidate
   lookbacks (half the lookback, and two seasons).

Stage 2 looks at more than the stage-1 winner because the ranking of transforms can change with
the lookback: a per-window normalisation reads the level and spread of its own window, so a short
window adapts quickly after a change of regime while a long one straddles the change for longer
(seen on the regime-switch generator: third at the recipe's lookback, first at half of it).

The lowest validation MAE wins. The test part is never read: before anything is fitted it is
replaced by copies of the last validation row (:func:`mask_test`), so no choice can depend on
it -- the tests poison it to prove that. The winner's weights are valid for the real series,
because the transform, the scaler and every train/validation window depend only on the data
before the test part.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gru_core.data import Series
from gru_core.defaults import DEFAULTS, Recipe
from gru_core.errors import DataError
from gru_core.evaluate import mae, predict
from gru_core.train import TrainingRun
from gru_core.transforms import TRANSFORMS, inverse_windows
from gru_core.windows import make_dataset, min_length, split_bounds

STAGE2_TRANSFORMS = 3
"""How many of stage 1's best transforms are tried again at the other lookbacks."""


@dataclass
class Fitted:
    """One trained candidate (transform, lookback) and its validation score."""

    transform: str
    lookback: int
    ds: object                 # gru_core.windows.Dataset it was trained on
    model: object              # the trained Forecaster
    progress: object           # final gru_core.train.Progress
    val_pred: np.ndarray       # (N_val, H) validation forecasts, data units
    val_true: np.ndarray       # (N_val, H)
    val_mae: float

    @property
    def best_epoch(self) -> int:
        return int(self.progress.best_epoch or self.progress.epoch or 1)


@dataclass
class AutoResult:
    """What "auto" picked, why, and every candidate it tried."""

    transform: str
    lookback: int
    best: Fitted
    table: pd.DataFrame        # one row per candidate: transform, lookback, val MAE, epochs
    reason: str
    notes: list[str] = field(default_factory=list)


def _target_windows(ds, split: str) -> np.ndarray:
    w = getattr(ds, split)
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    return y[w.starts[:, None] + ds.window.lookback + np.arange(ds.window.horizon)[None, :]]


def fit_candidate(series, recipe: Recipe, transform: str, lookback: int | None = None,
                  season: int | None = None, **train_overrides) -> Fitted:
    """Train the recipe with one transform and lookback; score it on the validation part.

    Raises
    ------
    DataError
        Bad settings, or a run that failed or diverged (with its reason).
    """
    spec = TRANSFORMS.get(transform)
    if spec is None:
        raise DataError(f"Unknown transform {transform!r}. Use one of: auto, {', '.join(TRANSFORMS)}.")
    L = int(lookback or recipe.lookback)
    ds = make_dataset(series, recipe.window(L), recipe.split(), recipe.scaler,
                      transform=transform, season=season)
    run = TrainingRun(ds, recipe.model(ds.scaled.shape[1], spec.window_norm), recipe.train(**train_overrides))
    progress = run.run()
    if progress.state in ("failed", "diverged"):
        raise DataError(f"Training with transform {transform!r}, lookback {L} did not finish: "
                        f"{progress.reason}")
    val_pred = inverse_windows(predict(run.model, ds.val.X), ds, "val")    # (N_val, H) data units
    val_true = _target_windows(ds, "val")
    return Fitted(transform, L, ds, run.model, progress, val_pred, val_true, mae(val_true, val_pred))


def mask_test(series, recipe: Recipe) -> Series:
    """A copy of ``series`` whose test part is the last validation row repeated (nothing of it kept)."""
    v = np.array(series.values, dtype=np.float32, copy=True)
    v = v.reshape(-1, 1) if v.ndim == 1 else v                            # (T, C)
    _, val_end = split_bounds(v.shape[0], recipe.split())
    v[val_end:] = v[val_end - 1]
    columns = list(getattr(series, "columns", ["value"]))
    return Series(values=v, columns=columns, index=getattr(series, "index", pd.RangeIndex(v.shape[0])),
                  target=columns[0], report=getattr(series, "report", ""))


def candidate_transforms(y_train, season: int | None) -> list[str]:
    """The transforms "auto" tries, decided from the training part of the target only."""
    keys = ["none", "window", "window_scale", "diff"]
    if np.min(y_train) > 0:
        keys.append("log_window")
    if season:
        keys.append("seasonal_diff")
    return keys


def candidate_lookbacks(lookback: int, season: int | None, T: int, recipe: Recipe) -> list[int]:
    """The other lookbacks of stage 2 (feasible for a series of length T), without ``lookback``."""
    out = {max(2, lookback // 2)}
    if season and 2 * season <= 4 * lookback:
        out.add(2 * season)
    return sorted(L for L in out if L != lookback and min_length(recipe.window(L), recipe.split()) <= T)


def n_candidates(n_transforms: int, n_lookbacks: int) -> int:
    """How many candidates :func:`choose` trains (if none fails): stage 1 plus stage 2."""
    return n_transforms + min(STAGE2_TRANSFORMS, n_transforms) * n_lookbacks


def choose(series, recipe: Recipe = DEFAULTS, season: int | None = None,
           transforms: list[str] | None = None, lookbacks: list[int] | None = None,
           on_candidate=None) -> AutoResult:
    """Pick transform and lookback by validation MAE (see the module docstring).

    Parameters
    ----------
    series : gru_core.data.Series
    recipe : Recipe
        Everything but transform and lookback is kept.
    season : int, optional
        Season m from the training part (``detect_season``), for ``seasonal_diff`` and lookback 2m.
    transforms, lookbacks : list, optional
        Override the candidates (stage 1 transforms; stage 2 lookbacks).
    on_candidate : callable, optional
        Called with each :class:`Fitted` as it finishes (for progress reports).
    """
    masked = mask_test(series, recipe)
    T = masked.values.shape[0]
    train_end, _ = split_bounds(T, recipe.split())
    y_train = masked.values[:train_end, 0]
    keys = transforms or candidate_transforms(y_train, season)
    fitted: list[Fitted] = []
    notes: list[str] = []

    def attempt(key, L):
        try:
            f = fit_candidate(masked, recipe, key, L, season)
        except DataError as e:
            notes.append(f"Skipped transform {key!r} with lookback {L}: {e}")
            return None
        fitted.append(f)
        if on_candidate is not None:
            on_candidate(f)
        return f

    for key in keys:                                                       # stage 1
        attempt(key, recipe.lookback)
    if not fitted:
        raise DataError("No candidate of 'auto' could be trained: " + " ".join(notes))
    leads = sorted(fitted, key=lambda f: f.val_mae)[:STAGE2_TRANSFORMS]   # stable: ties keep order
    others = lookbacks if lookbacks is not None else candidate_lookbacks(recipe.lookback, season, T, recipe)
    for lead in leads:                                                     # stage 2
        for L in others:
            attempt(lead.transform, L)
    best = min(fitted, key=lambda f: f.val_mae)

    table = pd.DataFrame([{"transform": f.transform, "lookback": f.lookback, "val MAE": f.val_mae,
                           "best epoch": f.best_epoch} for f in fitted])
    table = table.sort_values("val MAE", kind="stable").reset_index(drop=True)
    none = [f for f in fitted if f.transform == "none" and f.lookback == recipe.lookback]
    reason = (f"auto picked transform '{best.transform}' with lookback {best.lookback}: the lowest "
              f"validation MAE ({best.val_mae:.4g}) of {len(fitted)} candidates")
    if len(table) > 1:
        runner = table.iloc[1]
        reason += f"; next best '{runner['transform']}' (lookback {runner['lookback']}) {runner['val MAE']:.4g}"
    if none and best is not none[0]:
        reason += f"; no transform: {none[0].val_mae:.4g}"
    reason += ". Chosen on the validation part only; the test part was not read."
    # the winner was trained on the masked copy: rebuild its dataset on the real series
    best.ds = make_dataset(series, best.ds.window, best.ds.split, best.ds.scaler,
                           transform=best.ds.transform)
    return AutoResult(transform=best.transform, lookback=best.lookback, best=best, table=table,
                      reason=reason, notes=notes)
