"""The forecaster's dense loss (TrainConfig.dense_loss, ForecastTask.loss) and the auto batch plan
(TrainConfig.plan), checked against independent computations: targets read from the scaled series
by index (not by the task's unfold), states from nn.GRU run on each prefix of the window, the
squared errors summed in a Python loop; gradients against finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.model import ModelConfig
from gru_core.task import ForecastTask
from gru_core.train import LARGE_DATA, TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset


def dataset(n=240, L=10, H=3, columns=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 17) + 0.1 * rng.standard_normal(n)
    values = np.column_stack([y] + [np.cos(t / (3 + k)) for k in range(columns - 1)])
    return make_dataset(series_from_array(values, [f"c{k}" for k in range(columns)]),
                        WindowConfig(lookback=L, horizon=H), SplitConfig(0.7, 0.15, 0.15))


def model_cfg(ds, **kw):
    return ModelConfig(input_size=ds.train.X.shape[2], hidden_size=5, num_layers=2,
                       horizon=ds.train.Y.shape[1], **kw)


def first_batch(task):
    return next(task.train_batches(1, torch.Generator().manual_seed(3)))


def naive_losses(task, ds, idx):
    """(mean over windows, positions t = L//2..L-1 and steps of the squared error of head(h_t)
    against the next H target values; the forecast MSE), by index into the scaled series."""
    m, L, H = task.model, ds.train.X.shape[1], ds.train.Y.shape[1]
    scaled = ds.scaled[:, 0].double()                               # (T,) the target, scaled
    dense, fc, n_dense = 0.0, 0.0, 0
    for i in idx.tolist():
        s = int(ds.train.starts[i])
        xn, shift, scale = m.normalise(ds.scaled[s:s + L].unsqueeze(0))   # (1, L, C)
        for t in range(L // 2, L):
            h_t = m.rnn(xn[:, :t + 1])[0][0, -1]                     # state after inputs 0..t
            pred = (m.head(h_t) * scale[0] + shift[0]).double()
            err = float(((pred - scaled[s + t + 1:s + t + 1 + H]) ** 2).sum())
            dense, n_dense = dense + err, n_dense + H
        fc += err                                                    # t = L-1: the forecast
    return dense / n_dense, fc / (len(idx) * H)


@pytest.mark.parametrize("window_norm", ["none", "last", "meanstd"])
@pytest.mark.parametrize("columns", [1, 2])
def test_objective_matches_a_loop_over_prefixes(window_norm, columns):
    ds = dataset(columns=columns)
    task = ForecastTask(ds, model_cfg(ds, window_norm=window_norm), generator_seed=1, batch_size=8,
                        dense=True)
    perm = torch.randperm(ds.train.X.shape[0], generator=torch.Generator().manual_seed(3))
    xb, yb = first_batch(task)
    obj, shown = (t.detach() for t in task.loss((xb, yb)))
    with torch.no_grad():
        want_obj, want_fc = naive_losses(task, ds, perm[:8])
        assert float(shown) == pytest.approx(float(F.mse_loss(task.model(xb), yb)), abs=1e-6)
    assert float(shown) == pytest.approx(want_fc, rel=1e-5, abs=1e-6)
    assert float(obj) == pytest.approx(want_obj, rel=1e-5, abs=1e-6)


def test_gradient_of_the_objective_matches_finite_differences():
    ds = dataset(n=120, L=6, H=2)
    task = ForecastTask(ds, model_cfg(ds), generator_seed=2, batch_size=4, dense=True)
    task.model.double()
    xb, yb = (t.double() for t in first_batch(task))
    task.loss((xb, yb))[0].backward()
    for p in (task.model.rnn.weight_ih_l0, task.model.rnn.weight_hh_l1, task.model.head.bias):
        flat, grad = p.data.view(-1), p.grad.view(-1)
        for k in (0, flat.numel() // 2, flat.numel() - 1):
            old = float(flat[k])
            with torch.no_grad():
                flat[k] = old + 1e-6
                up = float(task.loss((xb, yb))[0])
                flat[k] = old - 1e-6
                down = float(task.loss((xb, yb))[0])
                flat[k] = old
            assert float(grad[k]) == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-7)


@pytest.mark.parametrize("kw,L", [({"bidirectional": True}, 10), ({}, 1)])
def test_off_where_it_would_read_the_future_or_has_no_position(kw, L):
    ds = dataset(L=L)
    task = ForecastTask(ds, model_cfg(ds, **kw), generator_seed=0, dense=True)
    assert task.dense is False
    assert isinstance(task.loss(first_batch(task)), torch.Tensor)  # the plain forecast MSE


def test_a_dense_run_shows_the_forecast_loss():
    ds = dataset()
    cfg = TrainConfig(epochs=2, batch_size=16, patience=0, dense_loss="on", device="cpu", seed=5)
    run = TrainingRun(ds, model_cfg(ds), cfg)
    shown: list[float] = []
    original = run.task.loss
    run.task.loss = lambda batch: (lambda r: (shown.append(float(r[1].detach())), r)[1])(original(batch))
    p = run.run()
    assert p.state == "finished" and run.task.dense
    assert len(shown) == len(p.step_loss) > 0
    assert p.step_loss == pytest.approx(shown, rel=1e-6)         # the forecast MSE, not the objective


def test_plan_of_the_auto_batch():
    auto = TrainConfig()
    assert auto.batch_size == 0 and auto.dense_loss == "auto"
    small, large = auto.plan(LARGE_DATA - 1), auto.plan(LARGE_DATA)
    assert (small.batch_size, small.lr, small.dense_loss) == (64, auto.lr, "off")
    assert (large.batch_size, large.lr, large.dense_loss) == (128, 2 * auto.lr, "on")
    given = TrainConfig(batch_size=32, lr=1e-3)
    assert given.plan(10 ** 6) == TrainConfig(batch_size=32, lr=1e-3, dense_loss="off")
    assert TrainConfig(batch_size=32, dense_loss="on").plan(10).dense_loss == "on"
    assert large.plan(LARGE_DATA) == large                        # a plan is already concrete


def test_a_run_uses_the_plan():
    ds = dataset()
    run = TrainingRun(ds, model_cfg(ds), TrainConfig(epochs=1, device="cpu"))
    assert run.cfg.batch_size == 64 and run.task.B == 64 and run.task.dense is False
    assert run.task.steps_per_epoch() == -(-len(ds.train) // 64)


@pytest.mark.parametrize("bad", ["yes", None, True])
def test_rejects_bad_dense_loss(bad):
    with pytest.raises(DataError, match="dense_loss"):
        TrainConfig(dense_loss=bad).validate()


@pytest.mark.parametrize("window_norm", ["none", "last", "meanstd"])
def test_forecast_each_step_ends_with_the_forecast(window_norm):
    ds = dataset(columns=2)
    task = ForecastTask(ds, model_cfg(ds, window_norm=window_norm), generator_seed=6)
    x = ds.train.X[:5]
    with torch.no_grad():
        each = task.model.forecast_each_step(x, 3)                  # (5, L - 3, H)
        assert each.shape == (5, x.shape[1] - 3, ds.train.Y.shape[1])
        assert torch.allclose(each[:, -1], task.model(x), atol=1e-6)


def test_forecast_each_step_refuses_a_bidirectional_model():
    ds = dataset()
    task = ForecastTask(ds, model_cfg(ds, bidirectional=True), generator_seed=0)
    with pytest.raises(ValueError, match="one-directional"):
        task.model.forecast_each_step(ds.train.X[:2], 1)
