"""Tests for gru_core.auto: the choice reads validation only, never the test part."""
import numpy as np
import pytest

from gru_core.auto import (
    STAGE2_TRANSFORMS,
    candidate_transforms,
    choose,
    fit_candidate,
    mask_test,
    n_candidates,
)
from gru_core.data import series_from_array
from gru_core.defaults import Recipe
from gru_core.windows import split_bounds

TINY = Recipe(lookback=12, horizon=3, hidden_size=4, epochs=2, patience=0, batch_size=64, num_threads=1)


def rising(T=160, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    return 20 + 0.3 * t + 4 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, T)


def test_poisoning_the_test_part_changes_nothing():
    y = rising()
    _, val_end = split_bounds(len(y), TINY.split())
    poisoned = y.copy()
    poisoned[val_end:] = np.random.default_rng(9).permutation(poisoned[val_end:]) * 50 - 3000
    kw = dict(season=12, transforms=["none", "window", "diff"], lookbacks=[6])
    a = choose(series_from_array(y), TINY, **kw)
    b = choose(series_from_array(poisoned), TINY, **kw)
    assert (a.transform, a.lookback) == (b.transform, b.lookback)
    np.testing.assert_array_equal(a.table["val MAE"].to_numpy(), b.table["val MAE"].to_numpy())
    assert "test part was not read" in a.reason
    # the returned dataset is the real series again (its test windows hold the real values)
    np.testing.assert_array_equal(b.best.ds.series.values[val_end:, 0], poisoned[val_end:].astype(np.float32))


def test_the_lowest_validation_mae_wins_and_is_computed_in_data_units():
    y = rising()
    res = choose(series_from_array(y), TINY, season=12, transforms=["none", "diff"], lookbacks=[])
    assert res.table["val MAE"].iloc[0] == res.best.val_mae == res.table["val MAE"].min()
    assert len(res.table) == 2
    best = res.best
    L, H = best.lookback, TINY.horizon
    y32 = y.astype(np.float32).astype(np.float64)
    total, count = 0.0, 0
    for i, s in enumerate(best.ds.val.starts):
        for j in range(H):
            total += abs(y32[s + L + j] - best.val_pred[i, j])
            count += 1
    assert best.val_mae == pytest.approx(total / count, rel=1e-9)


def test_mask_test_keeps_everything_before_the_test_part():
    y = rising()
    _, val_end = split_bounds(len(y), TINY.split())
    m = mask_test(series_from_array(y), TINY)
    np.testing.assert_array_equal(m.values[:val_end, 0], y[:val_end].astype(np.float32))
    assert np.all(m.values[val_end:, 0] == np.float32(y[val_end - 1]))


def test_candidates_come_from_the_training_part():
    assert candidate_transforms(np.array([1.0, 2.0]), 12) == ["none", "window", "window_scale", "diff",
                                                              "log_window", "seasonal_diff"]
    assert candidate_transforms(np.array([-1.0, 2.0]), None) == ["none", "window", "window_scale", "diff"]


def test_stage_two_tries_the_best_stage_one_transforms_at_the_other_lookbacks():
    keys = ["none", "window", "window_scale", "diff"]
    res = choose(series_from_array(rising()), TINY, season=12, transforms=keys, lookbacks=[6, 24])
    assert STAGE2_TRANSFORMS == 3 and len(res.table) == n_candidates(4, 2) == 4 + 3 * 2
    stage1 = res.table[res.table["lookback"] == TINY.lookback].sort_values("val MAE", kind="stable")
    leads = list(stage1["transform"])[:3]
    for L in (6, 24):
        assert sorted(res.table[res.table["lookback"] == L]["transform"]) == sorted(leads)
    assert res.best.val_mae == res.table["val MAE"].min()
    assert n_candidates(2, 2) == 2 + 2 * 2                # fewer transforms than STAGE2_TRANSFORMS


def test_window_scale_trains_a_mean_and_spread_normalised_model():
    f = fit_candidate(series_from_array(rising()), TINY, "window_scale")
    assert f.model.cfg.window_norm == "meanstd"
    assert np.all(np.isfinite(f.val_pred)) and f.val_pred.shape == f.val_true.shape


def test_window_transform_trains_a_window_norm_model():
    f = fit_candidate(series_from_array(rising()), TINY, "window")
    assert f.model.cfg.window_norm == "last"
    assert f.val_pred.shape == f.val_true.shape


def test_multivariate_inputs_keep_working():
    y = rising()
    x = 5 + 0.1 * np.arange(len(y))                                   # a trending, positive input
    res = choose(series_from_array(np.stack([y, x], axis=1), ["y", "x"]), TINY, season=12,
                 transforms=["log_window", "diff"], lookbacks=[])
    assert res.best.ds.scaled.shape[1] == 2 and res.best.model.cfg.input_size == 2
    assert res.best.val_pred.shape == res.best.val_true.shape
