"""What the scheduler queues and hands back: job specs, the :class:`JobHandle`, the local backend.

A *spec* describes a run without building it (it waits in the queue as configs and data, not as a
model)::

    spec = ForecastSpec(dataset, model_cfg, train_cfg)   # or TaskSpec(make_task, train_cfg)
    spec.build()        # -> TrainingRun (not started); picklable, so a Ray worker can build it
    spec.work()         # parameters x training windows x epochs: the size limit
    spec.cost()         # expected compute (gru_core.limits step-work units): the run-time estimate
    spec.nbytes()       # rough memory of the finished result (weights + data)

A :class:`JobHandle` has TrainingRun's control interface (``snapshot / pause / resume / stop /
join / running / model``) in every phase: queued (``snapshot().state == "queued"``; ``position``
and ``eta_s`` say when it starts), running on a backend (a TrainingRun in this process, or
``gru_core.ray_backend.RayRun``), ended (the final :class:`Progress` is kept), and evicted from
the kept results (``model`` is None, ``evicted`` is True). Only the scheduler moves a handle
between phases; the methods here never block on the scheduler's lock for long.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Callable

from gru_core.limits import STEP_OVERHEAD, n_params
from gru_core.model import ModelConfig
from gru_core.progress import Progress
from gru_core.train import TrainConfig, TrainingRun

QUEUED = "queued"
ACTIVE = ("queued", "running", "paused")
LIST_ITEM_BYTES = 32          # one float in a Python list: the pointer and the float object


@dataclass
class ForecastSpec:
    """A forecaster run: ``TrainingRun(dataset, model_cfg, train_cfg)`` once it leaves the queue."""

    dataset: object                  # gru_core.windows.Dataset
    model_cfg: ModelConfig
    train_cfg: TrainConfig

    def build(self) -> TrainingRun:
        return TrainingRun(self.dataset, self.model_cfg, self.train_cfg)

    def params(self) -> int:
        return n_params(self.model_cfg)

    def work(self) -> float:
        """Parameters x training windows x epochs."""
        return float(self.params()) * len(self.dataset.train) * self.train_cfg.epochs

    def cost(self) -> float:
        """Expected compute of the whole run, in ``gru_core.limits`` step-work units: optimiser
        steps x lookback x (parameters x batch + per-timestep overhead x layers x directions)."""
        cfg, B = self.model_cfg, self.train_cfg.plan(len(self.dataset.train)).batch_size
        steps = -(-len(self.dataset.train) // B) * self.train_cfg.epochs
        per_step = self.dataset.window.lookback * (
            float(self.params()) * B + STEP_OVERHEAD * cfg.num_layers * cfg.num_directions)
        return steps * per_step

    def nbytes(self) -> int:
        """Weights (float32) plus the series and its scaled copy."""
        values = getattr(self.dataset.series, "values", None)
        data = self.dataset.scaled.numel() * 4 + (getattr(values, "nbytes", 0) or 0)
        return 4 * self.params() + int(data)


@dataclass
class TaskSpec:
    """Any :class:`gru_core.task.Task`: ``TrainingRun.for_task(make_task(), train_cfg)``."""

    make_task: Callable[[], object]  # builds the task (model + data) when the job starts
    train_cfg: TrainConfig
    work_units: float | None = None  # its size, if known (for the limit and the ETA)
    size_bytes: int = 0              # memory of its result, if known

    def build(self) -> TrainingRun:
        return TrainingRun.for_task(self.make_task(), self.train_cfg)

    def work(self) -> float | None:
        return self.work_units

    def nbytes(self) -> int:
        return self.size_bytes


def run_estimate(limits, spec):
    """``limits.estimate(...)`` (a :class:`gru_core.limits.Limits`) of a forecaster spec's run;
    None for a spec without ``model_cfg`` and ``dataset``."""
    cfg, ds = getattr(spec, "model_cfg", None), getattr(spec, "dataset", None)
    if limits is None or cfg is None or ds is None:
        return None
    return limits.estimate(cfg, lookback=ds.window.lookback,
                           batch_size=spec.train_cfg.plan(len(ds.train)).batch_size,
                           n_windows=len(ds.train), epochs=spec.train_cfg.epochs)


def spec_work(spec) -> float | None:
    """``spec.work()`` if the spec has it (None otherwise)."""
    fn = getattr(spec, "work", None)
    value = fn() if callable(fn) else None
    return None if value is None else float(value)


def spec_cost(spec) -> float | None:
    """``spec.cost()`` (expected compute, for run-time estimates) if the spec has it, else its
    :func:`spec_work`."""
    fn = getattr(spec, "cost", None)
    value = fn() if callable(fn) else None
    return spec_work(spec) if value is None else float(value)


def build_run(spec):
    """The (unstarted) run of ``spec``: ``spec.build()``, or ``spec()`` for a plain callable."""
    return spec.build() if hasattr(spec, "build") else spec()


class LocalBackend:
    """Runs each job as a :class:`TrainingRun` thread in this process."""

    name = "local"

    def launch(self, spec):
        run = build_run(spec)
        run.start()
        return run

    def slots(self) -> int | None:
        return None          # the scheduler's default: the core count


def describe_wait(position: int | None, eta_s: float | None) -> str:
    """``"2nd in line, ~40 s"`` for a queued job (``"starting"`` at position None)."""
    if position is None:
        return "starting"
    suffix = "th" if 10 <= position % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
    if eta_s is None:
        return f"{position}{suffix} in line"
    if eta_s < 60:
        when = f"~{max(5, int(round(eta_s / 5.0)) * 5)} s"
    else:
        when = f"~{int(round(eta_s / 60.0))} min"
    return f"{position}{suffix} in line, {when}"


class JobHandle:
    """One submitted job (see the module docstring). Made by ``Scheduler.submit``.

    Attributes
    ----------
    job_id, session, group : int, str, int
    spec : object
        What was submitted (None once evicted).
    label : str
    position : int or None
        1-based place in the queue while queued (the next to start is 1).
    eta_s : float or None
        Queued: seconds until it is expected to start; running: seconds left.
    submitted_at, started_at, ended_at : float or None
        Scheduler clock times.
    nbytes : int
        Estimated memory of the ended result (counted against the kept-results bound).
    evicted : bool
        The scheduler dropped the result (model and data) to stay within its bounds.
    """

    def __init__(self, scheduler, job_id: int, session: str, group: int, spec, *, label: str,
                 submitted: float):
        self._sched = scheduler
        self.job_id, self.session, self.group, self.spec, self.label = job_id, session, group, spec, label
        self.position: int | None = None
        self.eta_s: float | None = None
        self.submitted_at, self.started_at = submitted, None
        self.ended_at: float | None = None
        self.used_at = submitted
        self.nbytes = 0
        self.evicted = False
        self.exception: BaseException | None = None
        self._lock = threading.Lock()
        self._run = None
        self._final: Progress | None = None
        self._why: str | None = None           # why the scheduler stopped it
        self._stop_wanted = self._pause_wanted = False
        self._ended = threading.Event()
        cfg = getattr(spec, "train_cfg", None)
        self._epochs = int(getattr(cfg, "epochs", 0) or 0)

    def __repr__(self) -> str:
        return f"JobHandle(#{self.job_id}, {self.label!r}, {self.state})"

    # ---- what the scheduler calls

    def launch(self, backend) -> None:
        """Build and start the run on ``backend``; a failure ends the job "failed"."""
        try:
            run = backend.launch(self.spec)
        except Exception as exc:  # noqa: BLE001 -- a job that cannot start fails, the queue goes on
            self.exception = exc
            with self._lock:
                self._final = Progress(state="failed", epochs=self._epochs,
                                       reason=f"The run could not start: {exc}")
            return
        with self._lock:
            self._run = run
            stop, pause = self._stop_wanted, self._pause_wanted
        if stop:
            run.stop()
        elif pause:
            run.pause()

    def run_running(self) -> bool:
        with self._lock:
            run = self._run
        return run is not None and run.running

    def cancel(self, why: str) -> None:
        """End a job that never left the queue."""
        with self._lock:
            self._final = Progress(state="stopped", epochs=self._epochs, reason=why)

    def request_stop(self, why: str | None) -> None:
        with self._lock:
            if why and self._why is None:
                self._why = why
            self._stop_wanted = True
            run = self._run
        if run is not None:
            run.stop()

    def finish(self, now: float) -> None:
        """The run has ended: keep its final progress and size."""
        with self._lock:
            if self._final is None and self._run is not None:
                self._final = self._override(self._run.snapshot())
                self.exception = self.exception or getattr(self._run, "exception", None)
            if self._final is None:
                self._final = Progress(state="stopped", epochs=self._epochs, reason="Stopped.")
            p = self._final
            lists = len(p.steps) + len(p.step_loss) + 3 * len(p.epoch_val)
            fn = getattr(self.spec, "nbytes", None)
            self.nbytes = (int(fn()) if callable(fn) and self._run is not None else 0) \
                + LIST_ITEM_BYTES * lists
            self.ended_at = self.used_at = now
        self._ended.set()

    def release(self) -> None:
        """Drop the model and data (evicted from the kept results)."""
        with self._lock:
            self._run, self.spec, self.evicted = None, None, True
            if self._final is not None:
                self._final = dataclasses.replace(
                    self._final, reason=(self._final.reason + " The trained model was then removed "
                                         "from the server to free memory.").strip())

    def _override(self, p: Progress) -> Progress:
        if self._why and p.state == "stopped":
            reason = p.reason.replace("Stopped by the user", self._why.rstrip("."), 1) \
                if p.reason.startswith("Stopped by the user") else f"{self._why} {p.reason}".strip()
            return dataclasses.replace(p, reason=reason)
        return p

    # ---- TrainingRun's interface

    @property
    def state(self) -> str:
        return self.peek().state

    @property
    def running(self) -> bool:
        """True while queued, running or paused."""
        with self._lock:
            final, run = self._final, self._run
        if final is not None:
            return False
        return run is None or run.running

    def peek(self) -> Progress:
        """Like :meth:`snapshot` without counting as a use of the kept result."""
        with self._lock:
            final, run = self._final, self._run
        if final is not None:
            return final
        if run is None:
            return Progress(state=QUEUED, epochs=self._epochs)
        p = run.snapshot()
        return self._override(p) if p.done else p

    def snapshot(self) -> Progress:
        """The job's :class:`Progress` (a copy); state "queued" while it waits."""
        p = self.peek()
        if p is self._final:
            self._sched.touch(self)
            p = dataclasses.replace(p, steps=p.steps.copy(), step_loss=p.step_loss.copy(),
                                    epoch_steps=p.epoch_steps.copy(),
                                    epoch_train=p.epoch_train.copy(), epoch_val=p.epoch_val.copy())
        return p

    def pause(self) -> None:
        with self._lock:
            self._pause_wanted, run = True, self._run
        if run is not None:
            run.pause()

    def resume(self) -> None:
        with self._lock:
            self._pause_wanted, run = False, self._run
        if run is not None:
            run.resume()

    def stop(self) -> None:
        """Stop the run at its next batch (or take it out of the queue)."""
        with self._sched._lock:
            self._sched._stop_locked(self, "Cancelled before it started." if self._run is None
                                     else None)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has ended (queue time included); True if it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ended.wait(0.05):
            if not self._sched.monitored:
                self._sched.tick()
            if deadline is not None and time.monotonic() >= deadline:
                return self._ended.is_set()
        return True

    def renew(self) -> None:
        """Renew the lease of this job's session."""
        self._sched.renew(self.session)

    @property
    def run(self):
        """The backend's run object (None while queued or once evicted)."""
        return self._run

    @property
    def model(self):
        """The trained model once the run has one (None while queued or once evicted)."""
        with self._lock:
            run = self._run
        if run is None:
            return None
        self._sched.touch(self)
        return run.model
