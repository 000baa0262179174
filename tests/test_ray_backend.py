"""The Ray backend against a local Ray started here (``ray.init(num_cpus=2)``): the same sweep gives
the same loss curves, weights, validation errors and choice as the local backend, and pause /
resume / stop reach the actor. Skipped only when Ray is not installed (CI installs it)."""
import time

import pytest
import torch

ray = pytest.importorskip("ray", reason="Ray is not installed: "
                                        "python -m pip install -r requirements-ray.txt")

from gru_core.ray_backend import RayBackend, RayRun, runtime_env  # noqa: E402
from gru_core.scheduler import Scheduler, SchedulerConfig  # noqa: E402
from gru_core.sweep import Sweep, SweepSpace, grid  # noqa: E402
from gru_core.train import train_threads  # noqa: E402
from tests.test_sweep import small_base  # noqa: E402

# Ray's workers start slowly on a busy 2-core machine: generous deadlines, no fixed sleeps.
DEADLINE_S = 300
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_scheduler():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env=runtime_env())
    sched = Scheduler(SchedulerConfig(lease_s=3600), backend=RayBackend(None, threads=train_threads()),
                      tick_s=0.05)
    yield sched
    sched.shutdown()
    ray.shutdown()


def wait_for(cond, what):
    deadline = time.monotonic() + DEADLINE_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_sweep_on_ray_gives_the_local_backends_numbers(ray_scheduler):
    space = SweepSpace(hidden_size=[4, 6], lookback=[8], seed=[3])
    local = Scheduler(SchedulerConfig(max_running=2), tick_s=0.05)
    try:
        here = Sweep(small_base(), grid(space))
        here.submit(local, "teacher")
        assert all(j.join(120) for j in here.jobs)
    finally:
        local.shutdown()
    there = Sweep(small_base(), grid(space))
    jobs = there.submit(ray_scheduler, "teacher")
    assert ray_scheduler.max_running == 2 // train_threads() or ray_scheduler.max_running == 1
    assert all(j.join(DEADLINE_S) for j in jobs)
    for a, b in zip(here.jobs, jobs):
        pa, pb = a.snapshot(), b.snapshot()
        assert isinstance(b.run, RayRun) and pb.state == pa.state == "finished"
        assert pb.step_loss == pa.step_loss and pb.epoch_val == pa.epoch_val
        assert pb.threads == pa.threads
        for (ka, wa), (kb, wb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
            assert ka == kb and torch.equal(wa, wb)
    assert there.results()["val RMSE"].tolist() == here.results()["val RMSE"].tolist()
    assert there.best() == here.best()


def test_pause_resume_and_stop_reach_the_actor(ray_scheduler):
    base = small_base(epochs=100_000)
    spec = Sweep(base, grid(SweepSpace(hidden_size=[4]))).specs[0]
    job = ray_scheduler.submit("lecture", spec)
    wait_for(lambda: job.snapshot().step > 0, "the first step on Ray")
    job.pause()
    wait_for(lambda: job.snapshot().state == "paused", "the pause")
    frozen = job.snapshot().step
    job.resume()
    wait_for(lambda: job.snapshot().step > frozen, "steps after resume")
    job.stop()
    assert job.join(DEADLINE_S)
    p = job.snapshot()
    assert p.state == "stopped" and 0 < p.step < p.total_steps
    assert job.model is not None                        # the stopped run's weights came back
    assert ray_scheduler.stats()["running"] == 0


def test_from_env_picks_ray_with_an_address(ray_scheduler):
    sched = Scheduler.from_env({"GRU_LAB_RAY_ADDRESS": "auto"}, autostart=False)
    assert sched.backend.name == "ray" and sched.max_running >= 1
