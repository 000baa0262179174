"""Tests for gru_core.backtest: per-origin MAE computed by a loop here."""
import numpy as np
import pytest

from gru_core.backtest import rolling_origin
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
