"""Tests for gru_core.metrics: every registry entry against its formula written out here by hand."""
import math

import numpy as np
import pytest

from gru_core.errors import DataError
from gru_core.metrics import METRICS, Metric, get_metric, mae, mase, score, smape


# Independent references: plain Python loops over the flattened values, no shared helpers.
def ref_mae(y, p, insample, m):
    return sum(abs(a - b) for a, b in zip(y, p)) / len(y)


def ref_rmse(y, p, insample, m):
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p)) / len(y))


def ref_smape(y, p, insample, m):
    terms = [0.0 if abs(a) + abs(b) == 0 else 2 * abs(a - b) / (abs(a) + abs(b)) for a, b in zip(y, p)]
    return 100 * sum(terms) / len(terms)


def ref_mase(y, p, insample, m):
    scale = sum(abs(insample[t] - insample[t - m]) for t in range(m, len(insample))) / (len(insample) - m)
    return ref_mae(y, p, insample, m) / scale


REFERENCE = {"MAE": ref_mae, "RMSE": ref_rmse, "sMAPE %": ref_smape, "MASE": ref_mase}


def test_every_metric_has_a_reference_here():
    """Adding a metric to the registry without its reference formula here fails this test."""
    assert set(METRICS) == set(REFERENCE)


def _case(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, size=(7, 5))                # (N, H)
    p = y + rng.normal(0, 1, size=(7, 5))
    insample = np.cumsum(rng.normal(0, 1, size=60)) + 10
    return y, p, insample


@pytest.mark.parametrize("name", list(METRICS))
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("season", [1, 4])
def test_metric_matches_hand_formula(name, seed, season):
    y, p, insample = _case(seed)
    got = METRICS[name].fn(y, p, insample, season)
    want = REFERENCE[name](y.ravel().tolist(), p.ravel().tolist(), insample.tolist(), season)
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("name", list(METRICS))
def test_metric_is_zero_for_a_perfect_forecast_and_positive_otherwise(name):
    y, p, insample = _case(3)
    m = METRICS[name]
    assert m.fn(y, y.copy(), insample, 1) == pytest.approx(0.0, abs=1e-12)
    assert m.fn(y, p, insample, 1) > 0
    assert m.lower_is_better                          # all four are errors


@pytest.mark.parametrize("name", list(METRICS))
def test_metric_entry_is_complete(name):
    m = METRICS[name]
    assert m.name == name and m.help and m.unit in ("data", "%", "ratio")
    assert m.fmt % 1.5                                 # a printf format st.column_config accepts
    assert m.format(float("nan")) == "n/a"


def test_units_of_the_entries():
    assert [METRICS[n].unit for n in METRICS] == ["data", "data", "%", "ratio"]
    assert METRICS["MAE"].format(2.0, "passengers") == "2.000 passengers"
    assert METRICS["sMAPE %"].format(8.1, "passengers") == "8.10 %"
    assert METRICS["MASE"].format(0.5, "passengers") == "0.500"


def test_score_is_every_metric_in_registry_order():
    y, p, insample = _case(4)
    s = score(y, p, insample, 2)
    assert list(s) == list(METRICS)
    for name, value in s.items():
        assert value == pytest.approx(REFERENCE[name](y.ravel().tolist(), p.ravel().tolist(),
                                                      insample.tolist(), 2))


def test_edge_cases_by_hand():
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0              # 0/0 counts as 0
    assert smape([0.0], [1.0]) == pytest.approx(200.0)
    assert math.isnan(mase([1.0], [2.0], [2.0, 2.0, 2.0], 1))  # constant in-sample: 0/0
    with pytest.raises(DataError, match="same shape"):
        mae([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match="no windows"):
        mae([], [])
    with pytest.raises(DataError, match="in-sample"):
        mase([1.0], [1.0], [1.0, 2.0], season=2)
    with pytest.raises(DataError, match="MAE, RMSE"):
        get_metric("MAPE")
    with pytest.raises(ValueError, match="unit"):
        Metric("x", mae, unit="furlongs")


def test_better_respects_direction():
    skill = Metric("skill", lambda y, p, i, m: 0.0, lower_is_better=False, unit="ratio")
    assert skill.better(0.9, 0.5) and not skill.better(0.5, 0.9)
    assert METRICS["MAE"].better(0.5, 0.9) and not METRICS["MAE"].better(float("nan"), 0.9)
