"""gru_core.text.task: the language model trained by the shared TrainingRun; live samples."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gru_core.errors import DataError
from gru_core.train import TrainConfig, TrainingRun
from gru_core.text import (LiveSampler, LMTask, SampleSettings, TextConfig, compare_speed, mean_ce,
                           text_dataset)
from text_fixtures import one_torch_thread  # noqa: F401  (autouse)

TEXT = ("the time traveller smiled round at us then still smiling faintly and with his hands "
        "deep in his trouser pockets he walked slowly out of the room ") * 25
SMALL = dict(seq_len=16, batch_size=8, hidden_size=16)


def tc(**kw) -> TrainConfig:
    """A CPU run on one thread (as tests/test_train.py: the first run fixes the process's count)."""
    return TrainConfig(**(dict(lr=1e-2, epochs=1, patience=0, device="cpu", num_threads=1) | kw))


def data(**kw):
    return text_dataset(TEXT, TextConfig(**(SMALL | kw)))


def test_task_trains_with_the_shared_run_and_reports_per_character_losses():
    cfg = TextConfig(**SMALL)
    d = text_dataset(TEXT, cfg)
    task = LMTask(d, cfg, seed=0)
    run = TrainingRun.for_task(task, tc(epochs=3))
    p = run.run()
    assert p.state == "finished" and p.unit == "tokens"
    assert p.total_steps == 3 * task.steps_per_epoch()
    assert p.epoch_val[-1] < p.epoch_val[0] and math.exp(p.epoch_val[-1]) < len(d.vocab)
    # the reported validation loss is the mean cross-entropy of the kept (final) model
    assert p.epoch_val[-1] == pytest.approx(mean_ce(task.model, d.val), rel=1e-6)
    # throughput counts characters: B * T per step
    assert p.windows_per_s * p.elapsed_s == pytest.approx(p.step * 8 * 16, rel=1e-6)


def test_same_seed_same_run():
    cfg = TextConfig(**SMALL)
    d = text_dataset(TEXT, cfg)
    losses = []
    for _ in range(2):
        run = TrainingRun.for_task(LMTask(d, cfg, seed=4), tc(seed=4))
        losses.append(run.run().step_loss)
    assert losses[0] == losses[1]
    other = TrainingRun.for_task(LMTask(d, cfg, seed=5), tc(seed=5))
    assert other.run().step_loss != losses[0]


def test_sequential_loss_carries_the_state_between_batches():
    cfg = TextConfig(**SMALL)
    d = text_dataset(TEXT, cfg)
    task = LMTask(d, cfg, seed=1)
    gen = torch.Generator().manual_seed(0)
    it = task.train_batches(1, gen)
    (x1, y1), (x2, y2) = next(it), next(it)
    task.loss((x1, y1))
    got = task.loss((x2, y2))
    with torch.no_grad():                                 # independent: both batches in one pass
        logits, _ = task.model(torch.cat([x1, x2], dim=1))
    want = F.cross_entropy(logits[:, 16:].reshape(-1, len(d.vocab)), y2.reshape(-1))
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    # a new epoch starts from a zero state again
    x3, y3 = next(task.train_batches(2, torch.Generator().manual_seed(0)))
    fresh = F.cross_entropy(task.model(x3)[0].reshape(-1, len(d.vocab)), y3.reshape(-1))
    assert task.loss((x3, y3)).item() == pytest.approx(fresh.item(), rel=1e-6)


@pytest.mark.parametrize("kw", [dict(cell="lstm"), dict(cell="rnn"), dict(scratch=True),
                                dict(sampling="random", embed_dim=8, num_layers=2, dropout=0.2)])
def test_other_cells_and_options_train(kw):
    cfg = TextConfig(**(SMALL | kw))
    task = LMTask(text_dataset(TEXT, cfg), cfg, seed=0)
    p = TrainingRun.for_task(task, tc()).run()
    assert p.state == "finished", p.reason
    assert math.isfinite(p.epoch_val[-1])


def test_live_sampler_writes_samples_and_ends_on_the_budget():
    cfg = TextConfig(**SMALL)
    d = text_dataset(TEXT, cfg)
    task = LMTask(d, cfg, seed=0)
    live = LiveSampler(task.model, d.vocab, every_s=0.0, budget_s=0.3,
                       settings=SampleSettings(prefix="the time", length=20, temperature=0))
    run = TrainingRun.for_task(task, tc(epochs=10_000, eval_every_s=0.05), on_progress=live)
    live.stop = run.stop
    p = run.run()
    assert p.state == "stopped" and live.budget_hit
    assert p.elapsed_s < 30
    s = live.latest()
    assert s is not None and s.text.startswith("the time") and len(s.text) == 28
    assert [h.step for h in live.history()] == sorted(h.step for h in live.history())


def test_too_little_text_for_a_batch():
    cfg = TextConfig(seq_len=16, batch_size=8, hidden_size=8)
    d = text_dataset(TEXT, cfg)
    with pytest.raises(DataError, match="too short"):
        LMTask(d, TextConfig(seq_len=512, batch_size=512, hidden_size=8), seed=0)


def test_compare_speed_uses_the_same_weights():
    out = compare_speed(TextConfig(seq_len=8, batch_size=4, hidden_size=8), 10, repeats=1)
    assert out["nn.GRU"] > 0 and out["scratch"] > 0
    assert out["max_abs_diff"] < 1e-5
