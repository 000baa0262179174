"""Rolling-origin backtest over the test part: the score per forecast origin and its spread.

One test score averages many windows, but it can still be decided by one lucky stretch. Here
the test windows are taken at origins one horizon apart, ``o_k = o_0 + k*H`` (k = 0, 1, ...), so
the K forecasts do not overlap and each covers H new steps; every forecaster (the GRU and each
baseline) is scored on each origin separately::

    MAE_k(f) = mean_j |y[o_k + 1 + j] - f_k[j]|          j = 0 .. H-1

and the summary gives the mean, standard deviation, min and max over the K origins and on how
many origins the model beat the best baseline *of that origin*. The model is not refitted per
origin: its weights and every baseline's parameters come from the training part only, and each
forecast uses the series up to its own origin -- a fixed-parameter rolling origin.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gru_core.errors import DataError


@dataclass
class Backtest:
    """Per-origin scores and their spread."""

    origins: np.ndarray        # (K,) forecast origins (series positions)
    rows: np.ndarray           # (K,) which window of the split each origin is
    per_origin: pd.DataFrame   # index: origin label; columns: one MAE per forecaster
    summary: pd.DataFrame      # index: forecaster; columns mean, std, min, max, wins
    model: str                 # the column holding the model's scores
    wins: int                  # origins where the model beat every baseline
    n: int                     # K

    def sentence(self) -> str:
        """One plain sentence for a report."""
        m = self.summary.loc[self.model]
        return (f"Rolling origin over the test part: {self.n} non-overlapping forecasts. {self.model} "
                f"MAE {m['mean']:.4g} +/- {m['std']:.4g} (min {m['min']:.4g}, max {m['max']:.4g}); it beat "
                f"the best baseline on {self.wins} of {self.n} origins.")


def rolling_origin(y_true, forecasts: dict, origins, model: str, labels=None) -> Backtest:
    """Score every forecaster on origins one horizon apart (see the module docstring).

    Parameters
    ----------
    y_true : array (N, H)
        Truth of every window of the split.
    forecasts : dict name -> array (N, H)
        The model's and every baseline's forecasts on the same windows (data units).
    origins : array (N,)
        Forecast origin of each window, ascending.
    model : str
        The key of ``forecasts`` that is the model; all others are baselines.
    labels : sequence, optional
        (N,) labels for the origins (e.g. dates); default the positions.
    """
    y = np.asarray(y_true, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0:
        raise DataError(f"The backtest needs truth of shape (N, H) with N >= 1; got {y.shape}.")
    if model not in forecasts or len(forecasts) < 2:
        raise DataError(f"The backtest needs the model {model!r} and at least one baseline; got "
                        f"{', '.join(forecasts) or 'nothing'}.")
    N, H = y.shape
    o = np.asarray(origins, dtype=np.int64).ravel()
    if o.shape[0] != N:
        raise DataError(f"{N} windows but {o.shape[0]} origins: give one origin per window.")
    rows, next_origin = [], None                                      # first window, then H apart
    for i in range(N):
        if next_origin is None or o[i] >= next_origin:
            rows.append(i)
            next_origin = o[i] + H
    rows = np.asarray(rows, dtype=np.int64)                           # (K,)
    scores = {name: np.abs(y[rows] - np.asarray(f, dtype=np.float64)[rows]).mean(axis=1)
              for name, f in forecasts.items()}                       # name -> (K,)
    lab = o[rows] if labels is None else np.asarray(labels)[rows]
    per = pd.DataFrame(scores, index=pd.Index(lab, name="origin"))
    baselines = [n for n in forecasts if n != model]
    best_base = per[baselines].min(axis=1)
    wins = int((per[model] < best_base).sum())
    summary = pd.DataFrame({"mean": per.mean(), "std": per.std(ddof=0), "min": per.min(), "max": per.max(),
                            "wins": [wins if n == model else int((per[n] < per.drop(columns=n).min(axis=1)).sum())
                                     for n in per.columns]})
    return Backtest(origins=o[rows], rows=rows, per_origin=per, summary=summary, model=model,
                    wins=wins, n=int(rows.shape[0]))


def origin_labels(index, origins) -> list[str] | None:
    """Readable labels for origin positions: dates ("1958-03-29", with the time if it has one) for a
    DatetimeIndex, else None (the positions are the labels)."""
    if not isinstance(index, pd.DatetimeIndex):
        return None
    stamps = index[np.asarray(origins, dtype=np.int64)]
    timed = bool(np.any((stamps.hour != 0) | (stamps.minute != 0)))
    return list(stamps.strftime("%Y-%m-%d %H:%M" if timed else "%Y-%m-%d"))


def origin_table(bt: Backtest) -> pd.DataFrame:
    """One row per origin: its label, the model's MAE, the best baseline *of that origin* (name and
    MAE) and the winner -- the table the Forecast page shows (``wins`` counts the model's rows)."""
    per = bt.per_origin
    base = per.drop(columns=bt.model)                                 # (K, n_baselines)
    best_name, best_mae = base.fillna(np.inf).idxmin(axis=1), base.min(axis=1)   # NaN scores never best
    model = per[bt.model]
    return pd.DataFrame({
        "origin": per.index.to_numpy(),
        f"{bt.model} MAE": model.to_numpy(),
        "best baseline": best_name.to_numpy(),
        "its MAE": best_mae.to_numpy(),
        "winner": np.where(model < best_mae, bt.model, best_name).astype(object),
    })


def best_overall(bt: Backtest) -> str:
    """The baseline with the lowest mean MAE over the origins."""
    return str(bt.summary.drop(index=bt.model)["mean"].idxmin())


def interpret(bt: Backtest) -> str:
    """One sentence saying what the spread over origins means for the verdict."""
    m, name = bt.summary.loc[bt.model], bt.model
    b = best_overall(bt)
    lower = m["mean"] < bt.summary.loc[b, "mean"]
    if bt.n < 3:
        return (f"Only {bt.n} non-overlapping origin(s) fit in these windows: too few to tell a "
                "consistent result from one lucky stretch; use a longer series or a larger test part.")
    if bt.wins * 3 >= bt.n * 2:
        how = (f"the {name} wins on most origins ({bt.wins} of {bt.n}), so its score is not the "
               "result of one lucky stretch")
    elif bt.wins * 3 <= bt.n:
        how = (f"the {name} loses on most origins (it wins {bt.wins} of {bt.n}), so the baselines "
               "are better here, not just on one unlucky stretch")
    else:
        how = (f"the result is mixed ({bt.wins} of {bt.n} origins won), so which stretch is tested "
               "decides the verdict")
    tail = (f"; on the mean over origins it is {'below' if lower else 'above'} the best baseline "
            f"overall, {b} ({m['mean']:.4g} vs {bt.summary.loc[b, 'mean']:.4g})")
    return f"Across origins {how}{tail}."
