"""Tests for gru_core.train: configs and devices, a full run's record, determinism, early stopping,
divergence, failures, pause / resume / stop from another thread, and runs whose numbers depend
only on their own config and seed (concurrent runs, global reseeds, the fixed thread count)."""
import math
import threading
import time

import numpy as np
import pytest
import torch

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.model import ModelConfig
from gru_core.train import Progress, TrainConfig, TrainingRun, train_threads
from gru_core.windows import WindowConfig, make_dataset

MODEL = ModelConfig(hidden_size=8, num_layers=1, horizon=4)


def tiny_dataset(n=300, seed=0):
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 20) + 0.1 * np.random.default_rng(seed).standard_normal(n)
    return make_dataset(series_from_array(y), WindowConfig(16, 4))


def cfg(**kw):
    # constant rate: several tests compare a run's epoch k with a separate run of k epochs, which
    # the warm-up + cosine schedule (planned over all epochs) would make differ on purpose
    base = dict(lr=1e-2, batch_size=32, epochs=2, patience=0, device="cpu", num_threads=1,
                schedule="constant")
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
        time.sleep(0.01)
    return False


def holds(pred, seconds):
    """True if ``pred()`` stays true on every poll for ``seconds`` (polled, not slept through)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not pred():
            return False
        time.sleep(0.01)
    return pred()


@pytest.fixture(scope="module")
def ds():
    return tiny_dataset()


# ----------------------------------------------------------------------------- configs, devices

@pytest.mark.parametrize("bad", [dict(lr=0), dict(lr=float("nan")), dict(batch_size=-1),
                                 dict(epochs=0), dict(clip_grad=-1), dict(patience=-1),
                                 dict(device="tpu"), dict(num_threads=0), dict(eval_every_s=0)])
def test_train_config_rejects_bad_values(bad):
    with pytest.raises(DataError):
        TrainConfig(**bad).validate()


def test_mismatched_model_config(ds):
    with pytest.raises(DataError, match="input column"):
        TrainingRun(ds, ModelConfig(input_size=2, hidden_size=8, horizon=4), cfg())
    with pytest.raises(DataError, match="horizon"):
        TrainingRun(ds, ModelConfig(hidden_size=8, horizon=5), cfg())


# ----------------------------------------------------------------------------- a whole run

def test_run_records_progress(ds):
    seen = []
    run = TrainingRun(ds, MODEL, cfg(eval_every_s=1e-3), on_progress=seen.append)
    assert run.snapshot().state == "idle"
    p = run.run()
    n_batches = math.ceil(len(ds.train) / 32)
    assert p.state == "finished" and "Finished all 2 epochs" in p.reason
    assert p.step == p.total_steps == 2 * n_batches
    assert p.steps == list(range(1, p.total_steps + 1)) and len(p.step_loss) == p.total_steps
    assert p.epoch == 2 and p.epoch_steps == [n_batches, 2 * n_batches]
    assert len(p.epoch_train) == len(p.epoch_val) == 2
    assert all(math.isfinite(v) for v in p.step_loss + p.epoch_val)
    assert p.val_loss == p.epoch_val[-1] and p.best_val == min(p.epoch_val)
    assert p.grad_norm > 0 and p.windows_per_s > 0 and p.elapsed_s > 0 and p.eta_s == 0
    assert p.device == "cpu" and not run.running
    # the callback got copies, and the final one is the end state
    assert seen and seen[-1].state == "finished" and all(isinstance(s, Progress) for s in seen)
    snap = run.snapshot()
    snap.step_loss.clear()
    assert len(run.snapshot().step_loss) == p.total_steps
    with pytest.raises(DataError, match="already been started"):
        run.run()


def test_same_seed_same_curve(ds):
    a, b = TrainingRun(ds, MODEL, cfg()), TrainingRun(ds, MODEL, cfg())
    pa, pb = a.run(), b.run()
    assert pa.step_loss == pb.step_loss and pa.epoch_val == pb.epoch_val
    assert same_weights(weights(a.model), weights(b.model))
    pc = TrainingRun(ds, MODEL, cfg(seed=1)).run()
    assert pc.step_loss != pa.step_loss


def test_batched_loss_reads_give_the_same_history(ds):
    """The accelerator path (losses read back every k steps) records exactly the same history."""
    ref = TrainingRun(ds, MODEL, cfg()).run()
    run = TrainingRun(ds, MODEL, cfg())
    run._sync_every = 5
    p = run.run()
    assert p.step_loss == ref.step_loss and p.steps == ref.steps and p.grad_norm == ref.grad_norm
    bad = tiny_dataset()
    bad.scaled[: bad.bounds[0]: 8, 0] = float("nan")
    run = TrainingRun(bad, MODEL, cfg())
    run._sync_every = 5
    p = run.run()
    assert p.state == "diverged" and "NaN at step 1" in p.reason and p.step_loss == []


def test_clipping_off_still_reports_grad_norm(ds):
    p = TrainingRun(ds, MODEL, cfg(clip_grad=0, epochs=1)).run()
    assert p.state == "finished" and p.grad_norm is not None and p.grad_norm > 0


def test_early_stopping_restores_best_weights(ds, monkeypatch):
    scripted = iter([1.0, 0.5, 0.7, 0.8, 0.9, 1.0])       # best at epoch 2, then no improvement
    run = TrainingRun(ds, MODEL, cfg(epochs=6, patience=2))
    monkeypatch.setattr(run.task, "validate", lambda checkpoint: next(scripted))
    p = run.run()
    assert p.state == "early_stopped" and p.epoch == 4
    assert p.best_epoch == 2 and p.best_val == 0.5 and "epoch 2" in p.reason
    ref = TrainingRun(ds, MODEL, cfg(epochs=2))                # same seed: weights after epoch 2
    ref.run()
    assert same_weights(weights(run.model), weights(ref.model))


def test_nan_loss_diverges_and_keeps_initial_weights():
    ds = tiny_dataset()
    ds.scaled[: ds.bounds[0]: 8, 0] = float("nan")           # every training window sees a NaN
    run = TrainingRun(ds, MODEL, cfg())
    initial = weights(run.model)
    p = run.run()
    assert p.state == "diverged"
    assert "NaN at step 1" in p.reason and "learning rate" in p.reason
    assert "initial weights" in p.reason and p.step_loss == []
    assert same_weights(weights(run.model), initial)


def test_divergence_in_second_epoch_keeps_last_epoch_weights():
    ds = tiny_dataset()

    def poison(p):                                            # after epoch 1: break the data
        if p.epoch == 1 and p.state == "running":
            ds.scaled[: ds.bounds[0]: 8, 0] = float("nan")

    run = TrainingRun(ds, MODEL, cfg(eval_every_s=1e9), on_progress=poison)
    p = run.run()
    assert p.state == "diverged" and f"NaN at step {p.epoch_steps[0] + 1}" in p.reason
    assert "end of epoch 1" in p.reason
    assert all(np.isfinite(v.numpy()).all() for v in run.model.state_dict().values())
    ref = TrainingRun(tiny_dataset(), MODEL, cfg(epochs=1))
    ref.run()
    assert same_weights(weights(run.model), weights(ref.model))


def test_unexpected_error_fails_the_run(ds):
    def boom(p):
        raise RuntimeError("boom")

    run = TrainingRun(ds, MODEL, cfg(), on_progress=boom)
    p = run.run()
    assert p.state == "failed" and "boom" in p.reason and isinstance(run.exception, RuntimeError)

    run = TrainingRun(ds, MODEL, cfg(), on_progress=boom)
    run.start()
    assert run.join(timeout=10)
    assert run.snapshot().state == "failed" and "RuntimeError: boom" in run.snapshot().reason


# ----------------------------------------------------------------------------- threads

@pytest.fixture(scope="module")
def long_ds():
    return tiny_dataset(n=2000)


def long_cfg():
    return cfg(batch_size=8, epochs=200)                      # far more work than the test waits for


def test_background_run_pause_resume_stop(long_ds):
    run = TrainingRun(long_ds, MODEL, long_cfg())
    run.start()
    assert run.running
    assert wait_for(lambda: run.snapshot().step >= 3)
    run.pause()
    assert wait_for(lambda: run.snapshot().state == "paused")
    s1 = run.snapshot()
    assert holds(lambda: run.snapshot().step == s1.step, seconds=0.5)  # no step while paused
    s2 = run.snapshot()
    assert s2.state == "paused" and s2.step == s1.step         # no step while paused
    assert s2.elapsed_s - s1.elapsed_s < 0.05                  # paused time is not counted
    run.resume()
    assert wait_for(lambda: run.snapshot().step > s2.step)
    t0 = time.monotonic()
    run.stop()
    assert run.join(timeout=5.0), "stop must end the run within a step or two"
    assert time.monotonic() - t0 < 1.0
    p = run.snapshot()
    assert p.state == "stopped" and "Stopped by the user" in p.reason and not run.running
    assert p.step < p.total_steps and len(p.step_loss) == p.step


def test_stop_while_paused(long_ds):
    run = TrainingRun(long_ds, MODEL, long_cfg())
    run.start()
    assert wait_for(lambda: run.snapshot().step >= 1)
    run.pause()
    assert wait_for(lambda: run.snapshot().state == "paused")
    run.stop()
    assert run.join(timeout=10.0)
    assert run.snapshot().state == "stopped"


def test_snapshot_is_safe_while_running(long_ds):
    run = TrainingRun(long_ds, MODEL, long_cfg())
    run.start()
    try:
        seen = 0
        deadline = time.monotonic() + 120                        # a deadline, not a timing target
        while seen < 20 and time.monotonic() < deadline:        # consistent, copied lists
            p = run.snapshot()
            assert len(p.steps) == len(p.step_loss) <= p.step
            seen = p.step
        assert seen >= 20, "the run made fewer than 20 steps in 120 s"
    finally:
        run.stop()
        assert run.join(timeout=10.0)


# ----------------------------------------------------------------------------- seeds and threads

DROPOUT = ModelConfig(hidden_size=8, num_layers=2, dropout=0.3, horizon=4)


def result(run):
    p = run.snapshot()
    return p.step_loss, p.epoch_val, weights(run.model)


def same_result(a, b):
    return a[0] == b[0] and a[1] == b[1] and same_weights(a[2], b[2])


@pytest.mark.parametrize("model_cfg", [MODEL, DROPOUT], ids=["no-dropout", "dropout"])
def test_concurrent_runs_match_the_same_runs_alone(ds, model_cfg):
    """Initial weights, shuffling and dropout masks belong to each run: two runs training at the
    same time in two threads give bit-identical curves and weights to each run alone."""
    alone = []
    for seed in (0, 1):
        run = TrainingRun(ds, model_cfg, cfg(seed=seed))
        assert run.run().state == "finished"
        alone.append(result(run))
    assert not same_result(alone[0], alone[1])
    together = [TrainingRun(ds, model_cfg, cfg(seed=seed)) for seed in (0, 1)]
    for run in together:
        run.start()
    assert all(run.join(timeout=60) for run in together)
    assert all(run.snapshot().state == "finished" for run in together)
    assert same_result(result(together[0]), alone[0])
    assert same_result(result(together[1]), alone[1])


def test_reseeding_the_global_rng_from_another_thread_changes_nothing(ds):
    ref = TrainingRun(ds, MODEL, cfg())
    ref.run()
    run = TrainingRun(ds, MODEL, cfg())
    reseeds, stop = [0], threading.Event()

    def meddle():                                              # someone else's code
        while not stop.is_set():
            torch.manual_seed(reseeds[0])
            torch.rand(64)
            reseeds[0] += 1

    other = threading.Thread(target=meddle, daemon=True)
    other.start()
    try:
        run.start()
        assert run.join(timeout=60)
    finally:
        stop.set()
        other.join(timeout=5)
    assert reseeds[0] > 0 and same_result(result(run), result(ref))


def test_dropout_run_ignores_global_reseeds_between_steps(ds):
    ref = TrainingRun(ds, DROPOUT, cfg())
    ref.run()

    def reseed(p):                                             # every step, in the training thread
        torch.manual_seed(p.step)

    run = TrainingRun(ds, DROPOUT, cfg(eval_every_s=1e-9), on_progress=reseed)
    state = torch.get_rng_state()
    run.run()
    assert same_result(result(run), result(ref))
    torch.set_rng_state(state)
    before = torch.get_rng_state()
    TrainingRun(ds, DROPOUT, cfg()).run()                      # the global RNG is left as it was
    assert torch.equal(torch.get_rng_state(), before)


def test_dropout_is_applied_and_seeded(ds):
    a, b = TrainingRun(ds, DROPOUT, cfg()), TrainingRun(ds, DROPOUT, cfg(seed=1))
    a.run(), b.run()
    no_drop = TrainingRun(ds, ModelConfig(hidden_size=8, num_layers=2, horizon=4), cfg())
    no_drop.run()
    assert a.snapshot().step_loss[0] != no_drop.snapshot().step_loss[0]  # same init, masks differ
    assert a.snapshot().step_loss != b.snapshot().step_loss


def test_initial_weights_come_from_the_seed_only(ds):
    torch.manual_seed(123)
    a = weights(TrainingRun(ds, MODEL, cfg(seed=4)).model)
    torch.manual_seed(456)
    b = weights(TrainingRun(ds, MODEL, cfg(seed=4)).model)
    c = weights(TrainingRun(ds, MODEL, cfg(seed=5)).model)
    assert same_weights(a, b) and not same_weights(a, c)


def test_thread_count_is_fixed_for_the_process(ds):
    fixed = train_threads()
    assert torch.get_num_threads() == fixed
    p = TrainingRun(ds, MODEL, cfg(epochs=1, num_threads=fixed + 2)).run()
    assert p.threads == fixed and torch.get_num_threads() == fixed  # neither changed nor restored
    assert train_threads(fixed + 5) == fixed


def test_default_recipe_schedules_the_rate_per_step(long_ds, monkeypatch):
    """TrainConfig's defaults: the scheduled run equals a constant-rate loop fed lr_at's rates."""
    from gru_core.loop import lr_at
    tc = TrainConfig(epochs=3, patience=0, device="cpu", num_threads=1, warmup_steps=4)
    assert tc.schedule == "warmup_cosine"
    seen = []

    class Spy(torch.optim.Adam):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    p = TrainingRun(long_ds, MODEL, tc).run()
    assert p.total_steps >= 16         # so the warm-up is the configured 4 steps
    assert p.state == "finished" and len(seen) == p.total_steps
    assert seen == [lr_at(k, p.total_steps, tc) for k in range(p.total_steps)]
    assert seen[0] == pytest.approx(tc.lr / 4) and seen[3] == pytest.approx(tc.lr)
    assert seen[-1] == pytest.approx(tc.lr * tc.min_lr_frac)
