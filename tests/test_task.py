"""Tests for gru_core.task and the generic path TrainingRun.for_task: a tiny custom Task (a linear
model on random data) trains exactly like a hand-written loop, and pause / stop / divergence /
best weights work through it; ForecastTask's batches and validation against direct computations."""
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gru_core.data import series_from_array
from gru_core.loop import lr_at
from gru_core.model import ModelConfig, init_weights
from gru_core.task import ForecastTask, Task
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import WindowConfig, make_dataset


class LinearTask:
    """y = x @ w + noise, fitted by nn.Linear(3, 1); ``nan_from_epoch`` poisons the targets."""

    unit = "rows"

    def __init__(self, n=96, batch=16, seed=0, nan_from_epoch=None, with_val=True):
        g = torch.Generator().manual_seed(seed)
        self.X = torch.randn(n, 3, generator=g)                                    # (N, 3)
        self.Y = self.X @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(n, generator=g)  # (N,)
        self.Xv, self.Yv = self.X[: n // 4] + 0.05, self.Y[: n // 4]
        self.model = init_weights(nn.Linear(3, 1), g)
        self.batch, self.nan_from_epoch, self.with_val = batch, nan_from_epoch, with_val
        self.val_calls = 0

    def steps_per_epoch(self):
        return math.ceil(self.X.shape[0] / self.batch)

    def to_device(self, device):
        self.X, self.Y = self.X.to(device), self.Y.to(device)

    def train_batches(self, epoch, generator):
        perm = torch.randperm(self.X.shape[0], generator=generator)
        Y = self.Y if self.nan_from_epoch is None or epoch < self.nan_from_epoch else self.Y * math.nan
        for i in range(0, self.X.shape[0], self.batch):
            idx = perm[i:i + self.batch]
            yield self.X[idx], Y[idx]

    def batch_size(self, batch):
        return batch[0].shape[0]

    def loss(self, batch):
        x, y = batch
        return F.mse_loss(self.model(x).squeeze(-1), y)

    @torch.no_grad()
    def validate(self, checkpoint):
        self.val_calls += 1
        if not self.with_val:
            return None
        self.model.eval()
        checkpoint()
        return F.mse_loss(self.model(self.Xv).squeeze(-1), self.Yv).item()


def cfg(**kw):
    base = dict(lr=0.05, epochs=3, patience=0, clip_grad=1.0, device="cpu", num_threads=1, seed=3,
                schedule="constant")   # the restore-policy tests compare runs of different lengths
    base.update(kw)
    return TrainConfig(**base)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.005)
    return False


def test_linear_task_satisfies_the_protocol():
    assert isinstance(LinearTask(), Task)
    with pytest.raises(TypeError, match="not a Task"):
        TrainingRun.for_task(object(), cfg())


@pytest.mark.parametrize("schedule", ["constant", "warmup_cosine"])
def test_generic_run_equals_a_hand_written_loop(schedule):
    """Reference: Adam + clip_grad_norm_ + the same seeded shuffling, written out here; the
    learning rate from torch's own schedulers (warm-up 4 = min(10, 18 // 4) steps, then cosine
    from 0.05 to 0.2 * 0.05 at the 18th and last step)."""
    task = LinearTask()
    run = TrainingRun.for_task(task, cfg(schedule=schedule, warmup_steps=10, min_lr_frac=0.2))
    assert run.dataset is None and run.model_cfg is None and run.model is task.model
    ref_task = LinearTask()
    model, gen = ref_task.model, torch.Generator().manual_seed(3)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    if schedule == "warmup_cosine":
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, end_factor=1.0,
                                              total_iters=3),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=13, eta_min=0.2 * 0.05)],
            milestones=[4])
    else:
        sched = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    ref_losses, ref_val, ref_lrs = [], [], []
    for _ in range(3):
        perm = torch.randperm(96, generator=gen)
        for i in range(0, 96, 16):
            idx = perm[i:i + 16]
            opt.zero_grad()
            loss = ((model(ref_task.X[idx])[:, 0] - ref_task.Y[idx]) ** 2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            ref_lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
            ref_losses.append(loss.item())
        with torch.no_grad():
            ref_val.append(((model(ref_task.Xv)[:, 0] - ref_task.Yv) ** 2).mean().item())

    p = run.run()
    assert p.state == "finished" and p.unit == "rows" and p.threads >= 1
    assert p.step == p.total_steps == 18 and p.epoch_steps == [6, 12, 18]
    lrs = [lr_at(k, 18, run.cfg) for k in range(18)]
    assert lrs == pytest.approx(ref_lrs, rel=1e-9)
    if schedule == "warmup_cosine":
        assert ref_lrs[:5] == pytest.approx([0.0125, 0.025, 0.0375, 0.05, 0.05])
        assert ref_lrs[-1] == pytest.approx(0.01)
    if schedule == "constant":   # bit for bit; with a schedule the rates may differ in the last bit
        assert p.step_loss == ref_losses and p.epoch_val == ref_val
    assert p.step_loss == pytest.approx(ref_losses, rel=1e-5, abs=1e-8)
    assert p.epoch_val == pytest.approx(ref_val, rel=1e-5, abs=1e-8)
    assert p.epoch_train == pytest.approx([np.mean(ref_losses[i:i + 6]) for i in (0, 6, 12)])
    a, b = weights(task.model), weights(model)
    assert same_weights(a, b) if schedule == "constant" else all(
        torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)
    assert p.windows_per_s > 0 and p.best_val == min(ref_val)


def test_generic_pause_resume_stop():
    run = TrainingRun.for_task(LinearTask(n=512, batch=2), cfg(epochs=100_000))
    run.start()
    assert wait_for(lambda: run.snapshot().step >= 3)
    run.pause()
    assert wait_for(lambda: run.snapshot().state == "paused")
    s1 = run.snapshot()
    assert not wait_for(lambda: run.snapshot().step != s1.step, timeout=0.3)  # none while paused
    run.resume()
    assert wait_for(lambda: run.snapshot().step > s1.step)
    run.stop()
    assert run.join(timeout=2.0)
    p = run.snapshot()
    assert p.state == "stopped" and "Stopped by the user" in p.reason
    assert len(p.step_loss) == p.step < p.total_steps and p.unit == "rows"


def test_generic_divergence_keeps_last_epoch_weights():
    task = LinearTask(nan_from_epoch=2)
    p = TrainingRun.for_task(task, cfg()).run()
    assert p.state == "diverged" and "NaN at step 7" in p.reason and "end of epoch 1" in p.reason
    ref = LinearTask()
    TrainingRun.for_task(ref, cfg(epochs=1)).run()
    assert same_weights(weights(task.model), weights(ref.model))


def test_generic_early_stopping_restores_best_weights(monkeypatch):
    task = LinearTask()
    scripted = iter([1.0, 0.5, 0.7, 0.8, 0.9])
    monkeypatch.setattr(task, "validate", lambda checkpoint: next(scripted))
    p = TrainingRun.for_task(task, cfg(epochs=5, patience=2)).run()
    assert p.state == "early_stopped" and p.epoch == 4 and p.best_epoch == 2 and p.best_val == 0.5
    ref = LinearTask()
    TrainingRun.for_task(ref, cfg(epochs=2)).run()
    assert same_weights(weights(task.model), weights(ref.model))


def test_no_validation_data_records_nan_and_keeps_end_weights():
    task = LinearTask(with_val=False)
    p = TrainingRun.for_task(task, cfg(patience=1)).run()
    assert p.state == "finished" and task.val_calls == 3
    assert all(math.isnan(v) for v in p.epoch_val) and p.best_val is None and p.val_loss is None


# ----------------------------------------------------------------------------- ForecastTask

def test_forecast_task_batches_and_validation():
    y = np.sin(np.arange(200) / 3.0)
    ds = make_dataset(series_from_array(y), WindowConfig(8, 2))
    task = ForecastTask(ds, ModelConfig(hidden_size=4, num_layers=1, horizon=2), generator_seed=0,
                        batch_size=32)
    n = len(ds.train)
    assert task.steps_per_epoch() == math.ceil(n / 32) and task.unit == "windows"
    gen = torch.Generator().manual_seed(5)
    batches = list(task.train_batches(1, gen))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(5))
    xs = torch.cat([b[0] for b in batches])
    assert torch.equal(xs, ds.train.X[perm]) and [task.batch_size(b) for b in batches][0] == 32
    with torch.no_grad():                                  # validation = MSE over every window
        expected = ((task.model(ds.val.X) - ds.val.Y) ** 2).mean().item()
    calls = []
    assert task.validate(lambda: calls.append(1)) == pytest.approx(expected, rel=1e-5)
    assert calls and not task.model.training


# ----------------------------------------------------------------------------- init_weights

@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_init_weights_uses_default_bounds_and_only_the_generator(cell):
    """Bounds as nn's defaults: 1/sqrt(U) for the recurrent layers, 1/sqrt(fan_in) for the head;
    the values come from the generator alone and the global RNG is left untouched."""
    from gru_core.model import Forecaster
    cfg_ = ModelConfig(hidden_size=64, num_layers=2, horizon=3, cell=cell)
    m = Forecaster(cfg_)
    default = weights(m)
    state = torch.get_rng_state()
    init_weights(m, torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)
    for name, p in m.named_parameters():
        bound = 1 / math.sqrt(64)                              # head fan_in = 64 as well
        assert not torch.equal(p, default[name])
        assert p.abs().max() <= bound
        if p.numel() >= 100:
            assert p.abs().max() > 0.9 * bound
        if p.numel() > 1000:                                   # U(-b, b) has variance b^2 / 3
            assert p.var().item() == pytest.approx(bound ** 2 / 3, rel=0.1)
    again = init_weights(Forecaster(cfg_), torch.Generator().manual_seed(1))
    other = init_weights(Forecaster(cfg_), torch.Generator().manual_seed(2))
    assert same_weights(weights(again), weights(m)) and not same_weights(weights(other), weights(m))


def test_init_weights_linear_bound_and_unknown_modules():
    lin = init_weights(nn.Linear(9, 200), torch.Generator().manual_seed(0))
    assert lin.weight.abs().max() <= 1 / 3 and lin.weight.var().item() == pytest.approx(1 / 27, rel=0.1)
    emb = init_weights(nn.Embedding(50, 40, padding_idx=0), torch.Generator().manual_seed(0))
    assert torch.all(emb.weight[0] == 0) and emb.weight[1:].std().item() == pytest.approx(1, rel=0.1)
    with pytest.raises(TypeError, match="Conv1d"):
        init_weights(nn.Sequential(nn.Conv1d(1, 1, 3)), torch.Generator())
