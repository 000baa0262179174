"""The scheduler's second backend: each job trains as a Ray actor, on this machine or a cluster.

Imported only when ``GRU_LAB_RAY_ADDRESS`` is set (``Scheduler.from_env``) or by a caller that
asks for it; nothing else in GRU Lab imports Ray::

    backend = RayBackend("auto")              # or "ray://head:10001"; None = the running ray.init
    sched = Scheduler(backend=backend)        # max_running = the cluster's CPUs / threads per job
    job = sched.submit(token, ForecastSpec(ds, model_cfg, train_cfg))   # same JobHandle as locally

:class:`RunActor` builds the spec's :class:`gru_core.train.TrainingRun` inside the actor and
exposes ``start / pause / resume / stop / snapshot / state_dict`` as actor methods. The driver side,
:class:`RayRun`, has TrainingRun's interface without ever blocking a page: ``snapshot()`` returns
the latest progress the actor has sent and asks for the next one (``ray.wait(timeout=0)``). When
the run has ended it fetches the final weights (``state_dict``), loads them into a local model
(``model``), and kills the actor, so the cluster's CPU is free before the scheduler starts the
next job (``running`` stays True until then).

Same numbers as the local backend: the actor's process fixes its training thread count to the
driver's (``GRU_LAB_TRAIN_THREADS`` in the actor's environment, default
``gru_core.train.train_threads()``), and a run's numbers depend only on its config, seed and
thread count (see ``gru_core.train``). The package ``gru_core`` travels to the cluster with the
job (:func:`runtime_env`, given to ``ray.init``); the cluster's Python needs the project's
requirements (``pip install -r requirements-ray.txt``).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import ray
import torch

import gru_core
from gru_core.jobs import build_run
from gru_core.model import Forecaster
from gru_core.progress import Progress
from gru_core.train import THREADS_ENV, train_threads

PACKAGE_DIR = str(Path(gru_core.__file__).resolve().parent)


def runtime_env() -> dict:
    """The job-level runtime environment that ships ``gru_core`` to the workers (for ``ray.init``)."""
    return {"py_modules": [PACKAGE_DIR]}


class RunActor:
    """Lives in a Ray worker process: one spec's TrainingRun (see the module docstring)."""

    def __init__(self, spec, threads: int):
        os.environ[THREADS_ENV] = str(threads)   # read by the process's first train_threads()
        self.run = build_run(spec)

    def start(self) -> None:
        self.run.start()

    def pause(self) -> None:
        self.run.pause()

    def resume(self) -> None:
        self.run.resume()

    def stop(self) -> None:
        self.run.stop()

    def snapshot(self) -> Progress:
        return self.run.snapshot()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The trained weights, on the CPU (call after the run has ended)."""
        self.run.join()
        return {k: v.detach().cpu().clone() for k, v in self.run.model.state_dict().items()}


_RemoteActor = ray.remote(RunActor)


def local_model(spec) -> torch.nn.Module:
    """An untrained model of the spec's shape on the CPU, for the fetched weights."""
    cfg = getattr(spec, "model_cfg", None)
    if cfg is not None:
        return Forecaster(cfg)
    return build_run(spec).model     # a generic task: build it here (its data too) for the shape


class RayRun:
    """The driver's view of one :class:`RunActor` (TrainingRun's interface; never blocks long)."""

    def __init__(self, actor, spec):
        self._actor, self._spec = actor, spec
        self._lock = threading.Lock()
        epochs = getattr(getattr(spec, "train_cfg", None), "epochs", 0)
        self._last = Progress(state="running", epochs=epochs, device="ray")
        self._pending = None
        self._weights_ref = None
        self._weights: dict | None = None
        self._model = None
        self.exception: BaseException | None = None

    def _poll(self) -> None:
        """Take an arrived snapshot and ask for the next; after the end, collect the weights and
        kill the actor (``_actor`` None = all done)."""
        if self._actor is None:
            return
        if self._pending is not None and ray.wait([self._pending], timeout=0)[0]:
            try:
                self._last = ray.get(self._pending)
            except Exception as exc:  # noqa: BLE001 -- a dead actor ends the run "failed"
                self.exception = exc
                self._last = Progress(state="failed", epochs=self._last.epochs,
                                      step=self._last.step, device="ray",
                                      reason=f"The Ray worker failed: {type(exc).__name__}: {exc}")
            self._pending = None
        if not self._last.done:
            if self._pending is None:
                self._pending = self._actor.snapshot.remote()
            return
        if self.exception is None and self._weights is None:
            if self._weights_ref is None:
                self._weights_ref = self._actor.state_dict.remote()
            if not ray.wait([self._weights_ref], timeout=0)[0]:
                return
            try:
                self._weights = ray.get(self._weights_ref)
            except Exception as exc:  # noqa: BLE001
                self.exception = exc
        ray.kill(self._actor)
        self._actor = None

    # ---- TrainingRun's interface

    def start(self) -> None:
        self._actor.start.remote()
        with self._lock:
            self._pending = self._actor.snapshot.remote()   # actor calls run in submission order

    def _call(self, name: str) -> None:
        with self._lock:
            actor = self._actor
        if actor is not None:
            getattr(actor, name).remote()

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def stop(self) -> None:
        self._call("stop")

    def snapshot(self) -> Progress:
        with self._lock:
            self._poll()
            return self._last

    @property
    def running(self) -> bool:
        """True until the run has ended *and* its weights are here (or it failed)."""
        with self._lock:
            self._poll()
            return self._actor is not None

    def join(self, timeout: float | None = None) -> bool:

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    @property
    def model(self):
        """The trained model (CPU) once the weights have arrived, else None."""
        with self._lock:
            if self._model is None and self._weights is not None:
                model = local_model(self._spec)
                model.load_state_dict(self._weights)
                self._model = model.eval()
            return self._model


class RayBackend:
    """Launch scheduler jobs as Ray actors.

    Parameters
    ----------
    address : str or None
        ``"auto"``, ``"ray://host:port"``, or None for a local Ray; used only if ``ray.init`` has
        not been called yet (then with :func:`runtime_env`). A caller that calls ``ray.init``
        itself passes ``runtime_env=runtime_env()`` (or has ``gru_core`` installed on the workers).
    threads : int, optional
        Training threads per job (and the CPUs each actor asks for); default this process's
        :func:`gru_core.train.train_threads`, so jobs give the numbers a local run gives.
    """

    name = "ray"

    def __init__(self, address: str | None = "auto", threads: int | None = None):
        if not ray.is_initialized():
            ray.init(address=None if address in (None, "", "local") else address,
                     include_dashboard=False, log_to_driver=False,
                     runtime_env=runtime_env())
        self.threads = int(threads if threads is not None else train_threads())

    def slots(self) -> int:
        """Jobs the cluster can run at once: its CPUs / threads per job."""
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(cpus // self.threads, 1)

    def launch(self, spec) -> RayRun:
        actor = _RemoteActor.options(
            num_cpus=self.threads,
            runtime_env={"env_vars": {THREADS_ENV: str(self.threads)}}).remote(spec, self.threads)
        run = RayRun(actor, spec)
        run.start()
        return run
