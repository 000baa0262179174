"""The verdict: does the model beat the BEST baseline, on one metric, overall and step by step?

A model that beats the last-value forecast but loses to the seasonal one has learnt less than a
lookup one season back; the verdict therefore always compares with the best baseline row of the
metrics table on the chosen metric (lowest, or highest where ``lower_is_better`` is False):

    change = 100 * (model - best) / |best|            in percent of the best baseline's score

"beats" needs a change of more than ``LEVEL_PCT`` in the metric's good direction, "does not beat"
more than ``LEVEL_PCT`` the other way; anything closer is "level". The per-step helpers compare
horizon step j alone (column j of every forecast) with the best baseline at that step.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gru_core.metrics import get_metric

LEVEL_PCT = 0.5                                  # |change| at or below this percent is "level"
SPLIT_NAMES = {"test": "test", "val": "validation", "train": "training"}


def best_baseline(metrics: pd.DataFrame, metric: str = "MAE") -> tuple[str, float] | None:
    """``(row name, score)`` of the best baseline on ``metric``; None if no baseline has a score.

    The model is the first row of ``metrics`` (as :func:`gru_core.evaluate.evaluate` builds it);
    every other row is a baseline. NaN scores (e.g. MASE on constant data) are passed over.
    """
    m = get_metric(metric)
    scores = metrics[metric].iloc[1:].astype(float).dropna()
    if scores.empty:
        return None
    name = scores.idxmin() if m.lower_is_better else scores.idxmax()
    return str(name), float(scores[name])


def _change_pct(model: float, best: float) -> float:
    """Percent change of the model's score relative to the best baseline's."""
    return (model - best) / abs(best) * 100.0


def verdict(metrics: pd.DataFrame, metric: str = "MAE", split: str = "test", units: str = "") -> str:
    """One Markdown sentence: does the model beat the best baseline on ``metric``, and by how much.

    Parameters
    ----------
    metrics : pd.DataFrame
        ``Evaluation.metrics``: the model's row first, then the baselines; a column per metric.
    metric : str
        A key of ``gru_core.metrics.METRICS``.
    split : str
        The windows scored ("test", "val", "train"), named in the sentence.
    units : str
        The target's units (shown after scores of metrics in data units).
    """
    m = get_metric(metric)
    model_row = str(metrics.index[0])
    model = float(metrics.loc[model_row, metric])
    where = f"On the {SPLIT_NAMES.get(split, split)} windows"
    best = best_baseline(metrics, metric)
    if best is None or not math.isfinite(model):
        return (f"{where} {metric} cannot compare the {model_row} with the baselines (no finite "
                f"scores: {m.help}); compare them on MAE instead.")
    name, base = best
    if base == 0 and m.lower_is_better:
        return (f"{where} the best baseline, {name}, is perfect ({metric} 0), so no model can do "
                f"better; the {model_row}'s {metric} is {m.format(model, units)}.")
    change = _change_pct(model, base)
    good = -change if m.lower_is_better else change              # > 0: the model is better
    lower = "lower" if change < 0 else "higher"
    scores = f"{m.format(model, units)} vs {m.format(base, units)}"
    if good > LEVEL_PCT:
        how = (f"**beats the best baseline**, {name}: its {metric} is {abs(change):.0f}% {lower} "
               f"({scores})")
    elif good < -LEVEL_PCT:
        how = (f"**does not beat the best baseline**, {name}: its {metric} is {abs(change):.0f}% "
               f"{lower} ({scores})")
        weaker = [str(r) for r in metrics.index[1:]
                  if r != name and m.better(model, float(metrics.loc[r, metric]))]
        if weaker:
            how += f"; it is better only than the weaker {' and '.join(weaker)}"
    else:
        how = (f"is **level with the best baseline**, {name} ({metric} within {LEVEL_PCT:g}%: "
               f"{scores})")
    return f"{where} the {model_row} {how}."


def step_scores(ev, metric: str = "MAE") -> pd.DataFrame:
    """Every forecaster's ``metric`` at each horizon step alone: rows steps 1..H, columns as
    ``ev.metrics``'s rows (model first)."""
    m = get_metric(metric)
    insample = ev.insample if ev.insample is not None else ev.y_true.ravel()
    H = ev.y_true.shape[1]
    cols = {name: [m.fn(ev.y_true[:, j], f[:, j], insample, ev.mase_season) for j in range(H)]
            for name, f in ev.forecasts().items()}
    return pd.DataFrame(cols, index=pd.RangeIndex(1, H + 1, name="step"))


def steps_where_model_wins(ev, metric: str = "MAE") -> np.ndarray:
    """(H,) bool: True at horizon step j+1 where the model's ``metric`` is strictly better than
    the best baseline's at that step (NaN scores never win)."""
    m = get_metric(metric)
    table = step_scores(ev, metric)
    model, baselines = table.iloc[:, 0].to_numpy(float), table.iloc[:, 1:].to_numpy(float)
    with np.errstate(all="ignore"):
        best = np.nanmin(baselines, axis=1) if m.lower_is_better else np.nanmax(baselines, axis=1)
    return np.array([m.better(a, b) for a, b in zip(model, best)], dtype=bool)


def _ranges(steps) -> str:
    """[1, 2, 3, 5, 7, 8] -> "steps 1–3, 5 and 7–8"; [4] -> "step 4"."""
    parts, steps = [], list(steps)
    i = 0
    while i < len(steps):
        j = i
        while j + 1 < len(steps) and steps[j + 1] == steps[j] + 1:
            j += 1
        parts.append(str(steps[i]) if i == j else f"{steps[i]}–{steps[j]}")
        i = j + 1
    word = "step" if len(steps) == 1 else "steps"
    return f"{word} {parts[0]}" if len(parts) == 1 else f"{word} " + ", ".join(parts[:-1]) + " and " + parts[-1]


def steps_sentence(ev, metric: str = "MAE") -> str | None:
    """Where the per-step picture differs from the overall one, say so, e.g. "better than the best
    baseline at steps 1–3, worse or level at steps 4–6"; None when the model wins at every step,
    or loses at every step and overall."""
    wins = steps_where_model_wins(ev, metric)
    H = wins.shape[0]
    if wins.all() or H < 2:
        return None
    best = best_baseline(ev.metrics, metric)
    m = get_metric(metric)
    overall = best is not None and m.better(float(ev.metrics.iloc[0][metric]), best[1])
    if not wins.any():
        if not overall:
            return None
        return (f"Step by step ({metric}, each step against its own best baseline), the "
                f"{ev.metrics.index[0]} is worse or level at every step: it wins overall only "
                "because no single baseline is best at all steps.")
    steps = np.arange(1, H + 1)
    return (f"Step by step ({metric}, each step against its own best baseline), the "
            f"{ev.metrics.index[0]} is better at {_ranges(steps[wins])} and worse or level at "
            f"{_ranges(steps[~wins])}.")
