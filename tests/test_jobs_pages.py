"""The pages' job specs without Streamlit: the Text spec's size and cost from its settings (checked
against a model built here), the Compare page's one-entry sequence of runs, the polling cadence,
local-only specs on a non-local backend, and a text run whose session is gone being stopped."""
from __future__ import annotations

import dataclasses

import pytest

from gru_core.data import series_from_array
from gru_core.generators import generate
from gru_core.limits import STEP_OVERHEAD
from gru_core.model import CELLS, ModelConfig
from gru_core.scheduler import Scheduler, SchedulerConfig
from gru_core.text import LiveSampler, LMTask, TextConfig, text_dataset
from gru_core.text.lm import CharLM
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from test_scheduler import Clock, FakeSpec
from ui import server
from ui.views.compare_job import CellSpec, CompareJob, SequenceRun, SequenceSpec
from ui.views.text_job import TextSpec, text_params

TEXT = "the time traveller for so it will be convenient to speak of him was expounding " * 60


@pytest.mark.parametrize("cell, embed, layers, scratch", [
    ("gru", 0, 1, False), ("lstm", 16, 2, False), ("rnn", 0, 3, False), ("gru", 8, 2, True)])
def test_text_params_count_the_model_without_building_it(cell, embed, layers, scratch):
    cfg = TextConfig(vocab="all", hidden_size=24, num_layers=layers, cell=cell, embed_dim=embed,
                     scratch=scratch)
    assert text_params(cfg, 41) == CharLM(cfg, 41).n_params()


def _text_spec(budget=None, epochs=3):
    cfg = TextConfig(seq_len=8, batch_size=4, hidden_size=8)
    tc = TrainConfig(epochs=epochs, patience=0, device="cpu", num_threads=1)
    data = text_dataset(TEXT, cfg)
    task = LMTask(data, cfg, seed=0)
    live = LiveSampler(task.model, data.vocab, every_s=60.0, budget_s=budget)
    return TextSpec(cfg, tc, data.train.numel(), len(data.vocab), budget, task=task, live=live)


def test_text_spec_size_and_cost_follow_the_run_it_builds():
    spec = _text_spec()
    run = spec.build()
    steps = run.snapshot().total_steps // spec.train_cfg.epochs            # what the run plans
    assert spec.steps_per_epoch() == steps == spec.task.steps_per_epoch()
    params = spec.task.model.n_params()
    assert spec.work() == params * steps * 4 * 3                       # params x sequences x epochs
    assert spec.cost() == steps * 3 * 8 * (params * 4 + STEP_OVERHEAD * 1)
    assert spec.live.stop == run.stop                                  # the budget can end it


def test_the_time_budget_caps_the_run_time_estimate():
    sched = Scheduler(SchedulerConfig(max_running=1, rate=1.0), autostart=False)
    assert sched.estimate_s(_text_spec(budget=7.0)) == 7.0
    assert sched.estimate_s(_text_spec(budget=None)) == sched.config.wall_limit_s


def test_a_text_run_of_a_gone_session_is_stopped_and_a_queued_one_leaves_the_queue():
    clock = Clock()
    sched = Scheduler(SchedulerConfig(max_running=1, lease_s=30), clock=clock, autostart=False)
    first = sched.submit("tab-a", _text_spec(epochs=500))
    second = sched.submit("tab-b", _text_spec(epochs=500))
    assert first.state == "running" and second.state == "queued"
    clock.t += 20
    sched.renew("tab-a")                       # tab a still there, tab b silent
    clock.t += 20
    sched.tick()
    assert second.state == "stopped" and "gone" in second.peek().reason
    assert first.running
    clock.t += 31
    sched.tick()
    assert first.join(timeout=60) and first.state == "stopped"
    assert "gone for more than 30 s" in first.peek().reason


def _ds():
    y = generate("echo", length=300, seed=0, delay=5, pulse_rate=1.0)
    return make_dataset(series_from_array(y), WindowConfig(8, 1), SplitConfig(0.7, 0.15, 0.15))


def _configs():
    base = ModelConfig(input_size=1, hidden_size=4, num_layers=1, horizon=1)
    return {c: dataclasses.replace(base, cell=c) for c in CELLS}


def test_sequence_spec_sums_its_cells_and_its_run_trains_them_in_turn():
    ds, tc = _ds(), TrainConfig(epochs=1, batch_size=32, patience=0, device="cpu", num_threads=1)
    cells = [CellSpec(ds, cfg, tc, run=TrainingRun(ds, cfg, tc)) for cfg in _configs().values()]
    spec = SequenceSpec(cells)
    assert spec.work() == sum(c.work() for c in cells) and spec.cost() == sum(c.cost() for c in cells)
    run = spec.build()
    assert isinstance(run, SequenceRun)
    run.start()
    assert run.join(timeout=120)
    snaps = [c.run.snapshot() for c in cells]
    assert [p.state for p in snaps] == ["finished"] * len(cells)
    p = run.snapshot()
    assert p.state == "finished" and p.step == sum(s.step for s in snaps)
    assert p.total_steps == sum(s.total_steps for s in snaps)


def test_stopping_a_sequence_leaves_the_cells_after_it_untrained():
    ds, tc = _ds(), TrainConfig(epochs=50, batch_size=32, patience=0, device="cpu", num_threads=1)
    job = CompareJob(ds, _configs(), tc, "sequential")
    sched = Scheduler(SchedulerConfig(max_running=1), autostart=False)
    job.submit(lambda specs: sched.submit_group("s", specs))
    job.stop()
    assert job.join(timeout=60)
    states = {c: p.state for c, p in job.snapshots().items()}
    assert all(s == "stopped" for s in states.values()), states
    assert sum(r.snapshot().step for r in job.runs.values()) < 50 * len(job.runs)


class _Handle:
    def __init__(self, state):
        self.state, self.running = state, state in ("queued", "running", "paused")


def test_views_poll_slowly_while_queued_and_not_at_all_once_ended():
    q, r, done = _Handle("queued"), _Handle("running"), _Handle("finished")
    assert server.poll_s([q], 0.5) == server.QUEUED_POLL_S == 2.0
    assert server.poll_s([q, r], 0.5) == 0.5                 # one of a group trains
    assert server.poll_s([done, q], 1.0) == 2.0
    assert server.poll_s([done], 0.5) is None and server.poll_s([], 0.5) is None


class _RemoteBackend:
    """A non-local backend that must never see a local-only spec."""

    name = "remote"

    def __init__(self):
        self.launched = []

    def launch(self, spec):
        self.launched.append(spec)
        return spec.build()

    def slots(self):
        return 2


def test_local_only_specs_train_in_this_process_whatever_the_backend():
    remote = _RemoteBackend()
    sched = Scheduler(SchedulerConfig(), backend=remote, clock=Clock(), autostart=False)
    plain, local = FakeSpec(), FakeSpec()
    local.local_only = True
    sched.submit("a", plain)
    sched.submit("b", local)
    assert remote.launched == [plain]
    assert local.run is not None and local.run.state == "running"     # launched locally


def test_an_evicted_text_result_lets_go_of_its_model():
    from ui.views.text_job import TextJob, weights_stable

    sched = Scheduler(SchedulerConfig(max_running=1, keep_results=0), autostart=False)
    spec = _text_spec(epochs=1)
    h = sched.submit("s", spec)
    j = TextJob(run=h, task=spec.task, data=None, cfg=spec.cfg, train_cfg=spec.train_cfg,
                live=spec.live, source="test", budget_s=None)
    assert h.join(timeout=60)
    sched.tick()                                         # keep_results=0: dropped at once
    assert h.evicted and j.model is None and not weights_stable(j)
    assert j.task is None and j.live.model is None
    assert "removed from the server" in h.snapshot().reason


def test_an_evicted_comparison_keeps_only_its_last_progress():
    ds, tc = _ds(), TrainConfig(epochs=1, batch_size=32, patience=0, device="cpu", num_threads=1)
    job = CompareJob(ds, _configs(), tc, "parallel")
    sched = Scheduler(SchedulerConfig(max_running=3, keep_results=0), autostart=False)
    job.submit(lambda specs: sched.submit_group("s", specs))
    assert job.join(timeout=120)
    sched.tick()
    assert job.evicted
    assert {p.state for p in job.snapshots().values()} == {"finished"}
    assert all(r is None for r in job.runs.values())
