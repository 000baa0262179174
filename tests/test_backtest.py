"""Tests for gru_core.backtest: per-origin MAE computed by a loop here."""
import numpy as np
import pytest

from gru_core.backtest import (
    best_overall,
    interpret,
    origin_labels,
    origin_table,
    rolling_origin,
)
from gru_core.errors import DataError


def test_origins_are_one_horizon_apart_and_scores_match_a_loop():
    rng = np.random.default_rng(0)
    N, H = 23, 4
    origins = 100 + np.arange(N)
    y = rng.normal(size=(N, H))
    f = {"GRU": y + rng.normal(0, 0.5, (N, H)), "Naive": y + rng.normal(0, 1.0, (N, H)),
         "ETS": y + rng.normal(0, 0.7, (N, H))}
    bt = rolling_origin(y, f, origins, "GRU")
    assert list(bt.origins) == [100, 104, 108, 112, 116, 120]
    assert bt.n == 6
    wins = 0
    for k, i in enumerate(bt.rows):
        for name in f:
            mae = sum(abs(y[i, j] - f[name][i, j]) for j in range(H)) / H
            assert bt.per_origin[name].iloc[k] == pytest.approx(mae, rel=1e-12)
        wins += bt.per_origin["GRU"].iloc[k] < min(bt.per_origin["Naive"].iloc[k], bt.per_origin["ETS"].iloc[k])
    assert bt.wins == wins
    vals = bt.per_origin["GRU"].to_numpy()
    assert bt.summary.loc["GRU", "mean"] == pytest.approx(vals.mean())
    assert bt.summary.loc["GRU", "std"] == pytest.approx(vals.std())
    assert "of 6 origins" in bt.sentence()


def test_gaps_in_the_origins_are_respected():
    y = np.zeros((5, 3))
    bt = rolling_origin(y, {"GRU": y, "Naive": y + 1}, [0, 1, 5, 6, 7], "GRU")
    assert list(bt.origins) == [0, 5]
    assert bt.wins == 2


def test_bad_input():
    y = np.zeros((5, 3))
    with pytest.raises(DataError, match="at least one baseline"):
        rolling_origin(y, {"GRU": y}, range(5), "GRU")
    with pytest.raises(DataError, match="one origin per window"):
        rolling_origin(y, {"GRU": y, "Naive": y}, range(4), "GRU")


def _bt(model_err, base_err):
    """A backtest with H = 1 whose per-origin errors are given (truth 0)."""
    y = np.zeros((len(model_err), 1))
    return rolling_origin(y, {"GRU": np.asarray(model_err, float)[:, None],
                              "Naive": np.asarray(base_err, float)[:, None]}, range(len(model_err)), "GRU")


def test_origin_table_names_each_origins_best_baseline_and_winner():
    y = np.zeros((4, 2))
    f = {"GRU": np.array([[1, 1], [3, 3], [1, 1], [0, 2]], float),
         "Naive": np.array([[2, 2], [2, 2], [5, 5], [1, 1]], float),
         "ETS": np.array([[4, 4], [1, 1], [3, 3], [3, 3]], float)}
    bt = rolling_origin(y, f, [10, 12, 14, 16], "GRU", labels=["a", "b", "c", "d"])
    t = origin_table(bt)
    assert list(t.columns) == ["origin", "GRU MAE", "best baseline", "its MAE", "winner"]
    assert list(t["origin"]) == ["a", "b", "c", "d"]
    assert list(t["GRU MAE"]) == [1, 3, 1, 1]
    assert list(t["best baseline"]) == ["Naive", "ETS", "ETS", "Naive"]
    assert list(t["its MAE"]) == [2, 1, 3, 1]
    assert list(t["winner"]) == ["GRU", "ETS", "GRU", "Naive"]      # a tie is no win
    assert (t["winner"] == "GRU").sum() == bt.wins == 2
    assert best_overall(bt) == "Naive"                               # mean 2.5 vs ETS 2.75
    assert bt.summary.loc["ETS", "mean"] == pytest.approx(2.75) and bt.summary.loc["Naive", "mean"] == 2.5


@pytest.mark.parametrize("model_err, base_err, phrase", [
    ([1, 1, 1, 2], [2, 2, 2, 1], "wins on most origins (3 of 4)"),
    ([2, 2, 2, 1], [1, 1, 1, 2], "loses on most origins (it wins 1 of 4)"),
    ([1, 2, 1, 2], [2, 1, 2, 1], "the result is mixed (2 of 4 origins won)"),
    ([1, 2], [2, 1], "Only 2 non-overlapping origin(s)"),
])
def test_interpretation_follows_the_wins(model_err, base_err, phrase):
    bt = _bt(model_err, base_err)
    assert phrase in interpret(bt)
    if bt.n >= 3:
        below = np.mean(model_err) < np.mean(base_err)
        assert ("it is below the best baseline overall" in interpret(bt)) == below


def test_origin_labels_are_dates_or_none():
    import pandas as pd
    days = pd.date_range("1958-03-29", periods=5, freq="W-SAT")
    assert origin_labels(days, [0, 2]) == ["1958-03-29", "1958-04-12"]
    hours = pd.date_range("2020-01-01", periods=3, freq="h")
    assert origin_labels(hours, [1]) == ["2020-01-01 01:00"]
    assert origin_labels(pd.RangeIndex(5), [1, 2]) is None


def test_a_baseline_without_a_score_is_never_the_best():
    y = np.zeros((2, 1))
    f = {"GRU": np.array([[1.0], [1.0]]), "Naive": np.array([[np.nan], [2.0]]), "ETS": np.array([[3.0], [np.nan]])}
    t = origin_table(rolling_origin(y, f, [0, 1], "GRU"))
    assert list(t["best baseline"]) == ["ETS", "Naive"] and list(t["its MAE"]) == [3.0, 2.0]
