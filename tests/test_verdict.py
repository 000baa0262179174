"""Tests for gru_core.verdict: the comparison is with the BEST baseline, overall and per step."""
import numpy as np
import pandas as pd
import pytest

from gru_core.evaluate import Evaluation
from gru_core.metrics import METRICS
from gru_core.verdict import (_ranges, best_baseline, step_scores, steps_sentence,
                              steps_where_model_wins, verdict)

COLS = list(METRICS)


def table(model, naive, seasonal=None):
    """A metrics table with the same score in every column (MAE, RMSE, sMAPE %, MASE)."""
    rows = {"GRU": [model] * 4, "Naive (last value)": [naive] * 4}
    if seasonal is not None:
        rows["Seasonal naive (m=12)"] = [seasonal] * 4
    return pd.DataFrame.from_dict(rows, orient="index", columns=COLS)


def test_beats_naive_but_loses_to_seasonal_does_not_say_beats():
    """The old verdict compared with naive only and said 'beats' here."""
    text = verdict(table(10.0, 20.0, 8.0), "MAE", "test", "passengers")
    assert "beats" not in text
    assert "does not beat the best baseline" in text and "Seasonal naive (m=12)" in text
    assert "25% higher" in text                                  # (10 - 8) / 8 = 25 %
    assert "better only than the weaker Naive (last value)" in text
    assert "10.000 passengers vs 8.000 passengers" in text


def test_beats_the_best_baseline_names_it_with_the_percentage():
    text = verdict(table(6.0, 20.0, 8.0), "MAE", "val", "kWh")
    assert text.startswith("On the validation windows the GRU **beats the best baseline**")
    assert "Seasonal naive (m=12)" in text and "25% lower" in text   # (6 - 8) / 8


def test_level_and_perfect_and_nan():
    assert "level with the best baseline" in verdict(table(8.02, 20.0, 8.0))
    assert "perfect" in verdict(table(1.0, 0.0, 3.0))
    nan = table(1.0, float("nan"), float("nan"))
    assert "cannot compare" in verdict(nan, "MASE") and best_baseline(nan, "MASE") is None
    assert best_baseline(table(1.0, 3.0, float("nan")), "MASE") == ("Naive (last value)", 3.0)


def test_verdict_uses_the_chosen_metric_and_its_unit():
    t = table(10.0, 20.0, 8.0)
    t.loc["GRU", "sMAPE %"] = 5.0                                # better on sMAPE only
    text = verdict(t, "sMAPE %", "test", "passengers")
    assert "**beats the best baseline**" in text and "5.00 % vs 8.00 %" in text
    assert "beats" not in verdict(t, "MAE")


def _evaluation(y_true, model, naive, seasonal):
    """An Evaluation whose metrics are computed here by hand (MAE = mean |y - p|)."""
    rows = {}
    for name, f in (("GRU", model), ("Naive (last value)", naive), ("Seasonal naive (m=2)", seasonal)):
        mae = np.abs(y_true - f).mean()
        rows[name] = [mae, np.sqrt(((y_true - f) ** 2).mean()), 0.0, mae]
    N, H = y_true.shape
    return Evaluation(split="test", y_true=y_true, y_pred=model, naive=naive, seasonal=seasonal,
                      season=2, starts=np.arange(N), target_index=np.zeros((N, H), int),
                      metrics=pd.DataFrame.from_dict(rows, orient="index", columns=COLS),
                      insample=np.array([0.0, 1.0, 0.0, 1.0, 0.0]))


def test_steps_where_model_wins_against_the_best_baseline_per_step():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(20, 6))
    err = np.array([0.1, 0.1, 0.1, 2.0, 2.0, 2.0])               # model good early, bad late
    model = y + err
    naive = y + np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    seasonal = y + np.array([3.0, 3.0, 3.0, 1.5, 1.5, 1.5])
    ev = _evaluation(y, model, naive, seasonal)
    # by hand: best baseline per step is naive (1.0); the model wins where its error < 1.0
    np.testing.assert_array_equal(steps_where_model_wins(ev, "MAE"), err < 1.0)
    scores = step_scores(ev, "MAE")
    np.testing.assert_allclose(scores["GRU"], np.abs(y - model).mean(axis=0))
    assert list(scores.index) == [1, 2, 3, 4, 5, 6]
    assert steps_sentence(ev, "MAE") == ("Step by step (MAE, each step against its own best "
                                         "baseline), the GRU is better at steps 1–3 and worse or "
                                         "level at steps 4–6.")
    ev_all = _evaluation(y, y + 0.1, naive, seasonal)
    assert steps_where_model_wins(ev_all, "MAE").all() and steps_sentence(ev_all, "MAE") is None
    ev_none = _evaluation(y, y + 5.0, naive, seasonal)
    assert steps_sentence(ev_none, "MAE") is None                # loses everywhere and overall


@pytest.mark.parametrize("name", list(METRICS))
def test_step_scores_for_every_metric_match_the_registry_per_column(name):
    rng = np.random.default_rng(1)
    y = rng.normal(5, 1, size=(10, 3))
    ev = _evaluation(y, y + 0.3, y + 0.5, y - 0.7)
    scores = step_scores(ev, name)
    for j in range(3):
        for row, f in ev.forecasts().items():
            assert scores.loc[j + 1, row] == pytest.approx(
                METRICS[name].fn(y[:, j], f[:, j], ev.insample, ev.mase_season))


def test_step_ranges_read_as_words():
    assert _ranges([2]) == "step 2"
    assert _ranges([1, 3, 4, 5, 12]) == "steps 1, 3–5 and 12"
    assert _ranges([1, 2]) == "steps 1–2"
