"""Run history: records hold what the run computed (checked against the model itself, a hand MAE
and the loaded bundle), the bound drops the oldest, a rewind with the same seed reproduces a run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gru_core.bundle import load_bundle
from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.history import (RunHistory, config_changes, overlay_curves, rewind_configs,
                              same_window_traces)
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset


@pytest.fixture(scope="module")
def ds():
    t = np.arange(240, dtype=float)
    return make_dataset(series_from_array(10 * np.sin(t / 5) + 20), WindowConfig(10, 2),
                        SplitConfig(0.7, 0.15, 0.15))


MC = ModelConfig(hidden_size=5, num_layers=1, horizon=2)
TC = TrainConfig(epochs=2, batch_size=32, lr=0.01, patience=0, device="cpu", seed=1)


def _run(ds, mc=MC, tc=TC):
    run = TrainingRun(ds, mc, tc)
    run.run()
    return run


@pytest.fixture(scope="module")
def two(ds):
    h = RunHistory(max_runs=2)
    a = h.add_run(_run(ds), source="sine", key="a")
    b = h.add_run(_run(ds, ModelConfig(hidden_size=3, num_layers=1, horizon=2)), source="sine")
    return h, a, b


def test_record_holds_the_runs_numbers(ds, two):
    h, a, _ = two
    model = a.model()
    with torch.no_grad():
        direct = ds.scaler.inverse_target(model(ds.test.X).numpy())     # (N, H) data units
    np.testing.assert_allclose(a.forecast, direct, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(a.actual, ds.scaler.inverse_target(ds.test.Y.numpy()), rtol=1e-6)
    assert a.metric("MAE") == pytest.approx(np.abs(a.actual - a.forecast).mean(), rel=1e-5)
    b_model = load_bundle(a.bundle).model.eval()
    with torch.no_grad():
        torch.testing.assert_close(b_model(ds.test.X), model(ds.test.X))
    assert len(a.epoch_train) == 2 and a.state == "finished" and "a" in h.keys
    row = h.table().iloc[0]
    assert row["run"] == 1 and row["units"] == 5 and row["test MAE"] == pytest.approx(a.metric())


def test_bound_drops_the_oldest(ds, two):
    h, a, b = two
    c = h.add_run(_run(ds), source="sine")
    assert [r.id for r in h.runs()] == [b.id, c.id] == [2, 3]
    with pytest.raises(DataError, match="not in the history"):
        h.get(a.id)


def test_changes_overlay_and_same_window(ds, two):
    _, a, b = two
    assert config_changes(a, b) == {"hidden_size": (5, 3)}
    table = overlay_curves([a, b])
    assert len(table) == 2 * 2 * 2
    got = table[(table.run == b.id) & (table.kind == "validation")].loss.to_numpy()
    np.testing.assert_allclose(got, b.epoch_val)
    traces = same_window_traces([a, b], "test", 3)
    for r in (a, b):
        out, _ = r.model().rnn(ds.test.X[3:4])
        torch.testing.assert_close(traces[r.id].output, out, rtol=0, atol=1e-5)


def test_rewind_changes_one_knob_and_keeps_the_seed(ds, two):
    _, a, _ = two
    mc, tc = rewind_configs(a, "lr", "0.02")
    assert tc.lr == 0.02 and tc.seed == a.train_cfg.seed and mc == a.model_cfg
    mc, tc = rewind_configs(a, "hidden_size", 7)
    assert mc.hidden_size == 7 and tc == a.train_cfg
    same = _run(ds, *rewind_configs(a, "epochs", 2))            # nothing changed: a replay
    assert same.snapshot().epoch_train == a.epoch_train        # bit for bit, same seed
    with pytest.raises(DataError, match="choose one of"):
        rewind_configs(a, "colour", 1)
    with pytest.raises(DataError, match="hidden_size must be"):
        rewind_configs(a, "hidden_size", 0)


def test_refuses_running_or_empty_runs(ds):
    h = RunHistory()
    with pytest.raises(DataError, match="never took a training step"):
        h.add_run(TrainingRun(ds, MC, TC))
    with pytest.raises(DataError, match="at least 1"):
        RunHistory(0)


def test_overfitting_note_by_hand():
    from gru_core.history import overfitting

    tr = [1.0, 0.6, 0.4, 0.3, 0.2]
    va = [1.0, 0.5, 0.55, 0.6, 0.7]           # best at epoch 2, then rising
    note = overfitting(tr, va, patience=0, state="finished")
    assert "since epoch 2" in note and "0.5 to 0.7" in note and "patience 0" in note
    assert "kept the weights of epoch 2" in overfitting(tr, va, 3, "early_stopped")
    assert overfitting(tr, [1.0, 0.5, 0.45, 0.44, 0.43], 3) is None         # still improving
    assert overfitting(tr, [1.0, 0.5, 0.55], 3) is None                     # only 1 epoch since
    assert overfitting([1, 0.6, 0.7, 0.8, 0.9], va, 3) is None              # train rising too
