"""Tests for gru_core.loop's policies: LossBuffer (batched read-back, first non-finite),
EarlyStopping (best, stale count, patience), WeightKeeper (which weights a run keeps), the
dropout detector and the learning-rate schedule, each against values written out by hand in the
test."""
import math

import pytest
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.loop import (EarlyStopping, LossBuffer, WeightKeeper, copy_state, diverged_reason,
                           lr_at, uses_global_rng)
from gru_core.model import Forecaster, ModelConfig
from gru_core.train import TrainConfig


def t(x):
    return torch.tensor(x)


# ----------------------------------------------------------------------------- LossBuffer

def test_loss_buffer_reads_every_k_steps():
    buf = LossBuffer(every=3)
    assert buf.flush() == ([], None)
    assert buf.add(1, 8, t(0.5), t(2.0)) is False
    assert buf.add(2, 8, t(0.25), t(1.5)) is False
    assert buf.add(3, 4, t(0.125), t(1.0)) is True            # full: a flush is due
    good, bad = buf.flush()
    assert good == [(1, 8, 0.5, 2.0), (2, 8, 0.25, 1.5), (3, 4, 0.125, 1.0)] and bad is None
    assert len(buf) == 0 and buf.flush() == ([], None)


def test_loss_buffer_single_step_and_mixed_dtypes():
    buf = LossBuffer(every=1)
    assert buf.add(7, 2, t(0.75), torch.tensor(3.0, dtype=torch.float64)) is True
    assert buf.flush() == ([(7, 2, 0.75, 3.0)], None)
    buf = LossBuffer(every=0)                                  # at least 1
    assert buf.every == 1


@pytest.mark.parametrize("poison", [math.nan, math.inf, -math.inf])
def test_loss_buffer_stops_at_the_first_non_finite(poison):
    buf = LossBuffer(every=10)
    for s, v in enumerate([0.5, 0.4, poison, 0.3, math.nan], start=1):
        buf.add(s, 1, t(v), t(1.0))
    good, bad = buf.flush()
    assert [g[0] for g in good] == [1, 2] and bad[0] == 3
    assert (math.isnan(bad[1]) if math.isnan(poison) else bad[1] == poison)
    assert len(buf) == 0


# ----------------------------------------------------------------------------- EarlyStopping

def test_early_stopping_counts_stale_epochs():
    es = EarlyStopping(patience=2)
    assert es.best == math.inf and es.best_epoch is None and not es.should_stop
    assert es.update(1, 1.0) and es.update(2, 0.5)
    assert not es.update(3, 0.5)                               # equal is not better
    assert es.stale == 1 and not es.should_stop
    assert not es.update(4, None) and es.stale == 1            # not validated: no change
    assert not es.update(5, 0.9) and es.should_stop
    assert es.best == 0.5 and es.best_epoch == 2
    assert es.update(6, 0.1) and es.stale == 0 and not es.should_stop


def test_early_stopping_off_never_stops():
    es = EarlyStopping(patience=0)
    es.update(1, 0.1)
    for e in range(2, 20):
        es.update(e, 1.0)
    assert es.stale == 18 and not es.should_stop and es.best_epoch == 1


# ----------------------------------------------------------------------------- WeightKeeper

def set_weight(model, value):
    with torch.no_grad():
        model.weight.fill_(value)


def test_keeper_best_weights_when_early_stopping_is_on():
    m = nn.Linear(2, 1)
    keeper = WeightKeeper(m, keep_best=True)
    set_weight(m, 1.0); keeper.epoch_end(1, improved=True)
    set_weight(m, 2.0); keeper.epoch_end(2, improved=False)
    set_weight(m, 3.0)                                         # mid-epoch, then the run ends
    assert keeper.restore(diverged=False) == "best"
    assert torch.all(m.weight == 1.0) and keeper.best_epoch == 1
    set_weight(m, 9.0)
    assert keeper.restore(diverged=True) == "best" and torch.all(m.weight == 1.0)
    set_weight(m, 5.0)
    assert torch.all(keeper.best["weight"] == 1.0)             # the kept copy is independent


def test_keeper_last_good_epoch_after_divergence():
    m = nn.Linear(2, 1)
    initial = copy_state(m)
    keeper = WeightKeeper(m, keep_best=False)
    set_weight(m, math.nan)                                    # diverged in the first epoch
    assert keeper.restore(diverged=True) == "last_good" and keeper.last_good_epoch == 0
    assert torch.equal(m.weight, initial["weight"])
    set_weight(m, 4.0); keeper.epoch_end(1, improved=True)     # improved, but keep_best is off
    set_weight(m, math.nan)
    assert keeper.best is None and keeper.restore(diverged=True) == "last_good"
    assert torch.all(m.weight == 4.0) and keeper.last_good_epoch == 1


def test_keeper_end_weights_otherwise():
    m = nn.Linear(2, 1)
    keeper = WeightKeeper(m, keep_best=True)                  # on, but nothing validated better
    set_weight(m, 2.0); keeper.epoch_end(1, improved=False)
    set_weight(m, 7.0)
    assert keeper.restore(diverged=False) == "end" and torch.all(m.weight == 7.0)


# ----------------------------------------------------------------------------- misc

def test_uses_global_rng_detects_active_dropout():
    assert not uses_global_rng(Forecaster(ModelConfig(hidden_size=4, num_layers=2, horizon=1)))
    assert not uses_global_rng(Forecaster(ModelConfig(hidden_size=4, num_layers=1, dropout=0.5,
                                                      horizon=1)))   # nn.GRU ignores it: 1 layer
    assert uses_global_rng(Forecaster(ModelConfig(hidden_size=4, num_layers=2, dropout=0.5,
                                                  horizon=1)))
    assert uses_global_rng(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)))
    assert not uses_global_rng(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.0)))


def test_diverged_reason_names_the_fix():
    on = diverged_reason(TrainConfig(lr=0.5, clip_grad=2.0), "training loss", "NaN at step 3")
    assert on.startswith("The training loss became NaN at step 3.")
    assert "lower learning rate (now 0.5)" in on and "clip_grad now 2" in on
    off = diverged_reason(TrainConfig(lr=0.5, clip_grad=0), "validation loss", "x")
    assert "turn on gradient clipping (clip_grad = 1)" in off


# ----------------------------------------------------------------------------- lr_at

def test_lr_schedule_warmup_then_cosine_by_hand():
    cfg = TrainConfig(lr=0.01, schedule="warmup_cosine", warmup_steps=4, min_lr_frac=0.1)
    total = 21                                      # warm-up 4 = min(4, 21 // 4); cosine steps 4..20
    assert [lr_at(k, total, cfg) for k in range(4)] == pytest.approx([0.0025, 0.005, 0.0075, 0.01])
    assert lr_at(4, total, cfg) == pytest.approx(0.01)                      # peak after warm-up
    assert lr_at(12, total, cfg) == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))  # half-way: cos = 0
    assert lr_at(20, total, cfg) == pytest.approx(0.001)                    # last planned step
    assert lr_at(500, total, cfg) == pytest.approx(0.001)                   # past the plan: floor
    after = [lr_at(k, total, cfg) for k in range(4, 21)]
    assert all(a >= b for a, b in zip(after, after[1:]))


def test_lr_schedule_short_and_long_runs_and_constant():
    cfg = TrainConfig(lr=0.01, schedule="warmup_cosine", warmup_steps=20, min_lr_frac=0.05)
    assert lr_at(0, 1, cfg) == pytest.approx(0.01)          # a 1-step run: no warm-up, the peak
    assert lr_at(0, 8, cfg) == pytest.approx(0.005)         # warm-up capped at 8 // 4 = 2 steps
    long = 5000 * 10                                        # 5000 epochs: the peak for a long time
    assert lr_at(20, long, cfg) == pytest.approx(0.01) and lr_at(500, long, cfg) > 0.0099
    flat = TrainConfig(lr=0.003, schedule="constant")
    assert {lr_at(k, 100, flat) for k in (0, 50, 99, 1000)} == {0.003}


@pytest.mark.parametrize("bad", [dict(schedule="step"), dict(warmup_steps=-1),
                                 dict(warmup_steps=1.5), dict(min_lr_frac=1.5)])
def test_train_config_rejects_bad_schedules(bad):
    with pytest.raises(DataError):
        TrainConfig(**bad).validate()
