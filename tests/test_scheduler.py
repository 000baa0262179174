"""The scheduler's rules with fake jobs and a fake clock (fast), then real TrainingRuns through it:
the same loss curve alone and beside three others, and lease expiry ending a real thread."""
import gc
import weakref

import numpy as np
import pytest

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.jobs import ForecastSpec, describe_wait
from gru_core.limits import n_params
from gru_core.model import Forecaster, ModelConfig
from gru_core.progress import Progress
from gru_core.scheduler import QueueFull, Scheduler, SchedulerConfig, SessionBusy
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class Model:
    """Stands in for a trained model (weakref-able, so a test can see it freed)."""


class FakeRun:
    """A run the test ends by hand; records the calls the scheduler makes."""

    def __init__(self, eta_s=None):
        self.state, self.reason, self.calls, self.model, self.eta_s = "idle", "", [], Model(), eta_s

    def start(self):
        self.calls.append("start")
        self.state = "running"

    def pause(self):
        self.calls.append("pause")

    def resume(self):
        self.calls.append("resume")

    def stop(self):
        self.calls.append("stop")
        if self.state == "running":
            self.state, self.reason = "stopped", "Stopped by the user during epoch 1 after 3 steps."

    def finish(self):
        self.state, self.reason = "finished", "Finished all 5 epochs (10 steps)."

    @property
    def running(self):
        return self.state in ("running", "paused")

    def snapshot(self):
        return Progress(state=self.state, reason=self.reason, epochs=5, step=3, total_steps=10,
                        eta_s=self.eta_s)


class FakeSpec:
    def __init__(self, work=None, nbytes=0, eta_s=None, fail=False):
        self._work, self._nbytes, self.eta_s, self.fail, self.run = work, nbytes, eta_s, fail, None

    def build(self):
        if self.fail:
            raise MemoryError("no room for this model")
        self.run = FakeRun(self.eta_s)
        return self.run

    def work(self):
        return self._work

    def nbytes(self):
        return self._nbytes


def make(clock=None, **cfg):
    cfg.setdefault("max_running", 1)
    return Scheduler(SchedulerConfig(**cfg), clock=clock or Clock(), autostart=False)


# ----------------------------------------------------------------------------- queue and slots
def test_at_most_n_run_and_the_next_starts_when_one_ends():
    s = make(max_running=2)
    specs = [FakeSpec() for _ in range(3)]
    jobs = [s.submit(f"s{i}", spec) for i, spec in enumerate(specs)]
    assert [j.state for j in jobs] == ["running", "running", "queued"]
    assert jobs[2].position == 1 and specs[2].run is None          # not even built while queued
    specs[0].run.finish()
    s.tick()
    assert [j.state for j in jobs] == ["finished", "running", "running"]
    assert jobs[0].running is False and jobs[2].position is None


def test_fair_order_puts_a_waiting_session_before_a_sweeps_other_trials():
    s = make(max_running=1)
    sweep = s.submit_group("A", [FakeSpec() for _ in range(3)], label="sweep")
    single = s.submit("B", FakeSpec())
    assert sweep[0].state == "running"
    assert (single.position, sweep[1].position, sweep[2].position) == (1, 2, 3)
    sweep[0].run.finish()
    s.tick()
    assert single.state == "running" and sweep[1].position == 1


def test_fifo_among_sessions_with_nothing_running():
    s = make(max_running=1)
    first = s.submit("A", FakeSpec())
    waiting = [s.submit(name, FakeSpec()) for name in "BCD"]
    assert first.state == "running"
    assert [j.position for j in waiting] == [1, 2, 3]


def test_positions_and_eta_from_running_eta_and_measured_rate():
    s = make(max_running=1, rate=1.0)                   # 1 work unit per second
    s.submit("A", FakeSpec(work=5, eta_s=30.0))          # running, 30 s left
    b = s.submit("B", FakeSpec(work=10))                 # starts in 30 s, runs ~10 s
    c = s.submit("C", FakeSpec(work=10))
    assert (b.position, b.eta_s) == (1, 30.0)
    assert (c.position, c.eta_s) == (2, 40.0)
    assert describe_wait(c.position, c.eta_s) == "2nd in line, ~40 s"


@pytest.mark.parametrize("pos, eta, text", [(1, 12.0, "1st in line, ~10 s"),
                                            (3, 0.0, "3rd in line, ~5 s"),
                                            (11, 600.0, "11th in line, ~10 min"),
                                            (22, None, "22nd in line"), (None, 5.0, "starting")])
def test_describe_wait(pos, eta, text):
    assert describe_wait(pos, eta) == text


# ----------------------------------------------------------------------------- one job per session
def test_a_second_start_in_the_same_session_is_refused_then_replaces_the_first():
    s = make(max_running=1)
    first = s.submit("A", FakeSpec())
    spec = FakeSpec()
    with pytest.raises(SessionBusy, match="already has a run going"):
        s.submit("A", spec)
    second = s.submit("A", spec, replace=True)
    assert "stop" in first.run.calls
    assert first.snapshot().reason.startswith("Stopped: this session started another run")
    s.tick()
    assert second.state == "running"


def test_replacing_a_queued_job_cancels_it():
    s = make(max_running=1)
    s.submit("A", FakeSpec())
    queued = s.submit("B", FakeSpec())
    s.submit("B", FakeSpec(), replace=True)
    assert queued.state == "stopped" and not queued.running and queued.run is None
    assert queued.snapshot().reason == "Stopped: this session started another run."


def test_stop_and_pause_while_queued():
    s = make(max_running=1)
    blocker = s.submit("A", FakeSpec())
    spec_b, spec_c = FakeSpec(), FakeSpec()
    b, c = s.submit("B", spec_b), s.submit("C", spec_c)
    b.stop()
    assert b.state == "stopped" and b.snapshot().reason == "Cancelled before it started."
    c.pause()
    blocker.run.finish()
    s.tick()
    assert spec_b.run is None and spec_c.run.calls == ["start", "pause"]


# ----------------------------------------------------------------------------- limits
def test_size_limit_and_limit_check_refuse_before_queueing():
    s = make(max_work=100)
    with pytest.raises(DataError, match="too big for this server"):
        s.submit("A", FakeSpec(work=101))
    assert s.stats()["queued"] == 0 and s.stats()["running"] == 0

    def refuse(spec):
        raise DataError("over the parameter limit")
    s2 = Scheduler(SchedulerConfig(max_running=1), clock=Clock(), autostart=False, limit_check=refuse)
    with pytest.raises(DataError, match="parameter limit"):
        s2.submit("A", FakeSpec())


def test_limit_rows_state_the_limits_for_a_run():
    s = make(max_work=1000, wall_limit_s=60, rate=10.0)
    rows = s.limit_rows(FakeSpec(work=2000))              # 2000 units at 10 per s: 200 s
    assert rows[0]["this run"] == "2e+03" and rows[0]["within"] is False
    assert rows[1]["server limit"] == "60 s" and rows[1]["this run"] == "~200 s (estimate)"
    assert rows[1]["within"] is False and s.estimate_s(FakeSpec(work=2000)) == 60.0


def test_queue_full():
    s = make(max_running=1, max_queue=2)
    s.submit("A", FakeSpec())
    s.submit("B", FakeSpec())
    s.submit("C", FakeSpec())
    with pytest.raises(QueueFull, match="queue is full"):
        s.submit("D", FakeSpec())


def test_wall_time_limit_stops_a_running_job():
    clock = Clock()
    s = make(clock, wall_limit_s=10)
    job = s.submit("A", FakeSpec())
    clock.t += 5
    s.renew("A")
    s.tick()
    assert job.state == "running"
    clock.t += 6
    s.tick()
    assert job.state == "stopped"
    assert job.snapshot().reason == ("Stopped: the wall-time limit of 10 s was reached during "
                                     "epoch 1 after 3 steps.")


def test_a_build_failure_fails_that_job_and_the_queue_goes_on():
    s = make(max_running=1)
    bad = s.submit("A", FakeSpec(fail=True))
    good = s.submit("B", FakeSpec())
    s.tick()
    assert bad.state == "failed" and "no room for this model" in bad.snapshot().reason
    assert good.state == "running"


# ----------------------------------------------------------------------------- leases
def test_jobs_of_a_session_that_stops_renewing_end_and_others_go_on():
    clock = Clock()
    s = make(clock, max_running=1, lease_s=60)
    gone = s.submit("gone", FakeSpec())
    alive = s.submit("alive", FakeSpec())
    clock.t += 50
    s.renew("alive")
    s.renew("gone")
    clock.t += 55                                       # gone renewed at +50: lease to +110
    s.tick()
    assert gone.state == "running"
    clock.t += 6                                        # +111: gone's lease has lapsed
    s.renew("alive")
    s.tick()
    assert gone.state == "stopped" and "gone for more than 60 s" in gone.snapshot().reason
    s.tick()
    assert alive.state == "running"


def test_a_queued_job_of_a_gone_session_leaves_the_queue():
    clock = Clock()
    s = make(clock, max_running=1, lease_s=60)
    s.submit("alive", FakeSpec())
    queued = s.submit("gone", FakeSpec())
    clock.t += 61
    s.renew("alive")
    s.tick()
    assert queued.state == "stopped" and s.stats()["queued"] == 0
    assert "gone for more than 60 s" in queued.snapshot().reason


# ----------------------------------------------------------------------------- kept results (LRU)
def _finished(s, session, nbytes=0):
    spec = FakeSpec(nbytes=nbytes)
    job = s.submit(session, spec)
    spec.run.finish()
    s.tick()
    return job


def test_lru_keeps_the_most_recently_used_results_and_frees_the_rest():
    s = make(keep_results=2)
    a = _finished(s, "A")
    model = weakref.ref(a.run.model)
    b = _finished(s, "B")
    a.snapshot()                                       # A used: B is now the least recent
    c = _finished(s, "C")
    assert b.evicted and b.model is None and b.run is None
    assert not a.evicted and not c.evicted and a.run is not None   # (.run does not count as a use)
    d = _finished(s, "D")
    assert a.evicted and not c.evicted and not d.evicted
    assert "removed from the server" in a.snapshot().reason
    gc.collect()
    assert model() is None                             # nothing else holds the evicted model


def test_results_expire_after_their_ttl_and_total_bytes_are_bounded():
    clock = Clock()
    s = make(clock, result_ttl_s=100, max_result_bytes=250)
    a = _finished(s, "A", nbytes=100)
    clock.t += 50
    b = _finished(s, "B", nbytes=100)
    c = _finished(s, "C", nbytes=100)                 # 300 bytes > 250: A (least recent) goes
    assert a.evicted and not b.evicted and not c.evicted
    clock.t += 101
    s.tick()
    assert b.evicted and c.evicted and s.stats()["kept"] == 0


# ----------------------------------------------------------------------------- configuration
def test_config_from_file_then_environment(tmp_path):
    path = tmp_path / "gru_lab.toml"
    path.write_text("[scheduler]\nmax_running = 3\nwall_limit_s = 120\n")
    cfg = SchedulerConfig.load({"GRU_LAB_MAX_RUNS": "5", "GRU_LAB_LEASE_S": "30"}, path)
    assert (cfg.max_running, cfg.wall_limit_s, cfg.lease_s) == (5, 120.0, 30.0)
    assert SchedulerConfig.load({}).resolved_max_running() >= 1
    with pytest.raises(DataError, match="GRU_LAB_MAX_RUNS"):
        SchedulerConfig.load({"GRU_LAB_MAX_RUNS": "many"})


def test_from_env_uses_the_local_backend_without_ray_address():
    s = Scheduler.from_env({"GRU_LAB_MAX_RUNS": "3"}, fix_threads=False, autostart=False)
    assert s.max_running == 3 and s.backend.name == "local"


# ----------------------------------------------------------------------------- real runs
@pytest.fixture(scope="module")
def small_ds():
    t = np.arange(300, dtype=np.float32)
    values = np.sin(2 * np.pi * t / 25) + 0.1 * np.cos(t / 7)
    return make_dataset(series_from_array(values), WindowConfig(lookback=12, horizon=3),
                        SplitConfig(0.7, 0.15, 0.15))


def _spec(ds, seed):
    return ForecastSpec(ds, ModelConfig(hidden_size=8, num_layers=1, horizon=3),
                        TrainConfig(epochs=2, batch_size=32, patience=0, seed=seed, device="cpu",
                                    num_threads=1))


def test_a_run_alone_and_beside_three_others_gives_the_same_loss_curve(small_ds):
    alone = _spec(small_ds, seed=7).build().run()     # headless, nothing else going
    s = Scheduler(SchedulerConfig(max_running=4), tick_s=0.05)
    try:
        jobs = [s.submit(f"s{seed}", _spec(small_ds, seed)) for seed in (7, 1, 2, 3)]
        assert sum(j.state == "running" for j in jobs) == 4
        assert all(j.join(120) for j in jobs)
        crowd = jobs[0].snapshot()
        assert crowd.state == "finished" and crowd.step == alone.step > 0
        assert crowd.step_loss == alone.step_loss and crowd.epoch_val == alone.epoch_val
        assert jobs[1].snapshot().step_loss != crowd.step_loss       # other seeds, other curves
    finally:
        s.shutdown()


def test_an_abandoned_real_run_is_stopped_and_its_thread_ends(small_ds):
    clock = Clock()
    s = Scheduler(SchedulerConfig(max_running=1, lease_s=60), clock=clock, autostart=False)
    spec = _spec(small_ds, 0)
    spec.train_cfg.epochs = 100_000
    job = s.submit("tab", spec)
    run = job.run
    assert isinstance(run, TrainingRun) and run.running
    clock.t += 61
    s.tick()
    assert run.join(30) and not run.running
    s.tick()
    p = job.snapshot()
    assert p.state == "stopped" and p.step < p.total_steps
    assert p.reason.startswith("Stopped: the session that started it was gone for more than 60 s")
    assert s.stats()["running"] == 0


def test_nothing_of_ray_is_imported_without_an_address():
    import subprocess
    import sys

    code = ("import sys, gru_core, gru_core.scheduler, gru_core.sweep, gru_core.session_store\n"
            "s = gru_core.scheduler.Scheduler.from_env({}, fix_threads=False, autostart=False)\n"
            "assert s.backend.name == 'local'\n"
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_servers_model_limits_refuse_a_huge_forecaster_before_it_is_built(small_ds):
    from gru_core.limits import Limits

    s = Scheduler(SchedulerConfig(max_running=1), autostart=False, limits=Limits(max_params=1000))
    big = ForecastSpec(small_ds, ModelConfig(hidden_size=64, horizon=3), TrainConfig(epochs=1))
    with pytest.raises(DataError, match="parameters, over the limit of 1,000"):
        s.submit("A", big)
    assert s.stats()["queued"] == s.stats()["running"] == 0
    rows = s.limit_rows(big)
    assert [r["limit"] for r in rows[:2]] == ["size (parameters × training windows × epochs)",
                                              "wall time per run (pauses count)"]
    params = next(r for r in rows if r["limit"] == "parameters")
    assert params["this run"] == f"{n_params(big.model_cfg):,}" and params["within"] is False


def test_cost_is_steps_times_lookback_times_parameters_batch_and_overhead(small_ds):
    spec = ForecastSpec(small_ds, ModelConfig(hidden_size=5, num_layers=2, horizon=3),
                        TrainConfig(epochs=4, batch_size=16))
    P = sum(p.numel() for p in Forecaster(spec.model_cfg).parameters())
    steps = int(np.ceil(len(small_ds.train) / 16)) * 4
    assert spec.cost() == pytest.approx(steps * 12 * (P * 16 + 750_000 * 2 * 1))
    assert spec.work() == P * len(small_ds.train) * 4


def test_a_connected_session_keeps_its_lease_without_renewing_and_loses_it_once_gone():
    clock, connected = Clock(), {"tab": True}
    s = Scheduler(SchedulerConfig(max_running=1, lease_s=60), clock=clock, autostart=False,
                  alive=lambda session: connected.get(session, False))
    job = s.submit("tab", FakeSpec())
    clock.t += 61
    s.tick()
    assert job.state == "running"                       # lapsed, but the tab is connected
    connected["tab"] = False
    clock.t += 59
    s.tick()
    assert job.state == "running"                       # renewed at +61: good until +121
    clock.t += 2
    s.tick()
    assert job.state == "stopped"
