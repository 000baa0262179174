"""Sweeps: grid and random search against nested loops written here, trial settings, and a small
real sweep whose selection (validation error) and test score are recomputed by hand."""
import numpy as np
import pytest
import torch

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.model import ModelConfig
from gru_core.scheduler import Scheduler, SchedulerConfig
from gru_core.sweep import (SWEEP_KEYS, Sweep, SweepBase, SweepSpace, grid, random_search,
                            transforms_available, trial_spec)
from gru_core.train import TrainConfig
from gru_core.windows import SplitConfig, WindowConfig


def small_base(epochs=2):
    t = np.arange(260, dtype=np.float32)
    values = 10 + 3 * np.sin(2 * np.pi * t / 20) + 0.2 * np.cos(t / 3)
    return SweepBase(series_from_array(values), WindowConfig(lookback=12, horizon=3),
                     SplitConfig(0.7, 0.15, 0.15), "standard",
                     ModelConfig(hidden_size=8, num_layers=1, horizon=3),
                     TrainConfig(epochs=epochs, batch_size=32, patience=0, device="cpu",
                                 num_threads=1))


def test_grid_is_every_combination_in_key_order():
    space = SweepSpace(hidden_size=[4, 8], num_layers=[1, 2], lookback=[6], lr=[1e-3, 1e-2],
                       transform=["none"], seed=[0, 1, 2])
    expected = []
    for h in [4, 8]:
        for k in [1, 2]:
            for lr in [1e-3, 1e-2]:
                for seed in [0, 1, 2]:
                    expected.append({"hidden_size": h, "num_layers": k, "lookback": 6, "lr": lr,
                                     "transform": "none", "seed": seed})
    assert grid(space) == expected and space.size() == 24
    assert list(expected[0]) == list(SWEEP_KEYS)


def test_random_search_draws_distinct_grid_points_reproducibly():
    space = SweepSpace(hidden_size=[4, 8, 16], lookback=[6, 12], seed=[0, 1])
    full = grid(space)
    a, b = random_search(space, 5, seed=3), random_search(space, 5, seed=3)
    assert a == b and len(a) == 5
    assert all(t in full for t in a)
    assert len({tuple(t.values()) for t in a}) == 5
    assert random_search(space, 5, seed=4) != a
    assert sorted(map(str, random_search(space, 100))) == sorted(map(str, full))


@pytest.mark.parametrize("space, match", [
    (SweepSpace(hidden_size=[]), "at least one value"),
    (SweepSpace(transform=["no_such_transform"]), "Unknown transform"),
    (SweepSpace(hidden_size=list(range(1, 30)), seed=list(range(10))), "more than 200"),
])
def test_bad_spaces_say_what_to_change(space, match):
    with pytest.raises(DataError, match=match):
        grid(space)


def test_none_is_always_a_transform():
    assert transforms_available()[0] == "none"


def test_a_trial_gets_its_own_lookback_model_and_training_settings():
    base = small_base()
    spec = trial_spec(base, {"hidden_size": 5, "num_layers": 2, "lookback": 7, "lr": 0.02,
                             "transform": "none", "seed": 9})
    assert spec.dataset.train.X.shape[1] == 7 and spec.dataset.window.lookback == 7
    assert (spec.model_cfg.hidden_size, spec.model_cfg.num_layers) == (5, 2)
    assert (spec.train_cfg.lr, spec.train_cfg.seed, spec.train_cfg.epochs) == (0.02, 9, 2)
    assert base.window.lookback == 12 and base.model_cfg.hidden_size == 8   # base untouched


def _rmse_by_hand(model, ds, split):
    w = getattr(ds, split)
    with torch.no_grad():
        pred = model(w.X).double().numpy()                                     # (N, H) scaled
    pred = pred * ds.scaler.scale[0] + ds.scaler.center[0]
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    idx = w.starts[:, None] + ds.window.lookback + np.arange(ds.window.horizon)[None, :]
    return float(np.sqrt(np.mean((pred - y[idx]) ** 2)))


def test_a_sweep_selects_by_validation_error_and_scores_the_choice_on_test_after():
    space = SweepSpace(hidden_size=[4, 8], lookback=[6, 12], seed=[0])
    sweep = Sweep(small_base(), grid(space))
    sched = Scheduler(SchedulerConfig(max_running=2), tick_s=0.05)
    try:
        jobs = sweep.submit(sched, "student")
        table = sweep.results()
        assert len(table) == 4 and set(SWEEP_KEYS) <= set(table.columns)
        assert all(j.join(120) for j in jobs) and sweep.done
        val = [_rmse_by_hand(j.model, s.dataset, "val") for j, s in zip(jobs, sweep.specs)]
        table = sweep.results()
        np.testing.assert_allclose(table["val RMSE"].to_numpy(float), val, rtol=1e-5)
        assert sweep.best() == int(np.argmin(val))
        test = sweep.test_metrics(sweep.best())
        best = sweep.best()
        assert test.iloc[0]["RMSE"] == pytest.approx(
            _rmse_by_hand(jobs[best].model, sweep.specs[best].dataset, "test"), rel=1e-5)
    finally:
        sched.shutdown()


def test_one_sweep_per_session_and_stopping_it_cancels_waiting_trials():
    sweep = Sweep(small_base(epochs=500), grid(SweepSpace(hidden_size=[4, 5, 6])))
    sched = Scheduler(SchedulerConfig(max_running=1), autostart=False)
    jobs = sweep.submit(sched, "s")
    assert [j.state for j in jobs] == ["running", "queued", "queued"]
    assert "queued · 1st in line" in sweep.results()["state"][1]
    with pytest.raises(DataError, match="already has a run going"):
        Sweep(small_base(), grid(SweepSpace())).submit(sched, "s")
    sweep.stop()
    assert all(j.join(60) for j in jobs) and sweep.done
    assert [j.state for j in jobs] == ["stopped"] * 3 and sweep.best() in (None, 0)
