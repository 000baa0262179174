"""One server's training queue: at most N runs train at once, the rest wait in a fair FIFO queue.

Every training run the app starts -- forecasting, text, comparisons, sweep trials -- is submitted
here as a *spec* (something with ``build() -> TrainingRun``; :class:`gru_core.jobs.ForecastSpec`)
and comes back as a :class:`gru_core.jobs.JobHandle` with TrainingRun's control interface
(``snapshot / pause / resume / stop / join / running / model``) whether it is queued, training in
this process or on a Ray cluster::

    sched = Scheduler.from_env()              # GRU_LAB_MAX_RUNS, ..., GRU_LAB_RAY_ADDRESS
    job = sched.submit(token, ForecastSpec(ds, model_cfg, train_cfg))
    job.position, job.eta_s                   # 2, 40.0 -> describe_wait(...) "2nd in line, ~40 s"
    sched.renew(token)                        # the session's lease (its page polls while alive)

Rules, applied by :meth:`Scheduler.tick` (a daemon thread calls it every ``tick_s``; tests with a
fake ``clock`` call it themselves):

* **Slots**: at most ``max_running`` jobs run; the next one is the queued job whose group has had
  the fewest jobs started, ties by submission order (FIFO among single runs; one session's
  20-trial sweep does not hold back another session's single run). A paused run keeps its slot; the wall-time limit counts pauses.
* **One active job group per session**: a second :meth:`submit` while the first is queued or
  running raises :class:`SessionBusy` unless ``replace=True`` (then the first is stopped).
  A sweep is one group of many trials (:meth:`submit_group`).
* **Limits**: ``gru_core.limits.Limits`` (parameters, step work, windows x epochs, memory), any
  ``limit_check(spec)`` and the size limit ``max_work`` (parameters x training windows x epochs)
  are checked before queueing; a running job stops at
  ``wall_limit_s`` of wall time since it started.
* **Leases**: every active job of a session stops (or leaves the queue) once its session has not
  called :meth:`renew` for ``lease_s`` seconds (and ``alive(session)``, if given, says it is gone)
  -- a closed browser tab leaves no work behind.
* **Local-only specs**: a spec with ``local_only = True`` (the app's live views: a text model
  writing samples, a comparison's models, a gate tape) trains in this process even when the
  backend is Ray, in one of the same ``max_running`` slots.
* **Results**: ended jobs stay reachable (for a reload) as long as they are among the
  ``keep_results`` most recently used, used within ``result_ttl_s`` and within
  ``max_result_bytes`` in total; an evicted job drops its model and data (``job.evicted``).
"""
from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable

from gru_core.errors import DataError
from gru_core.jobs import (QUEUED, ForecastSpec, JobHandle, LocalBackend, TaskSpec,
                           describe_wait, run_estimate, spec_cost, spec_work)
from gru_core.scheduler_config import ENV, RAY_ENV, SchedulerConfig

__all__ = ["ENV", "RAY_ENV", "ForecastSpec", "JobHandle", "LocalBackend", "QueueFull", "Scheduler",
           "SchedulerConfig", "SessionBusy", "TaskSpec", "describe_wait"]

log = logging.getLogger("gru_lab")
class SessionBusy(DataError):
    """The session already has a queued or running job (stop it, or submit with replace=True)."""


class QueueFull(DataError):
    """The server's queue holds ``max_queue`` waiting jobs."""


class Scheduler:
    """The queue, slots, leases and kept results of one server (see the module docstring).

    Parameters
    ----------
    config : SchedulerConfig, optional
    backend : object, optional
        ``launch(spec) -> run`` (started) and ``slots() -> int | None``; default
        :class:`gru_core.jobs.LocalBackend` (threads in this process).
    clock : callable
        Seconds (``time.monotonic``); tests pass a fake one and call :meth:`tick`.
    limits : gru_core.limits.Limits, optional
        The server's model limits (parameters, step work, windows x epochs, memory), checked for
        every forecaster spec before it is queued and listed by :meth:`limit_rows`.
    limit_check : callable, optional
        Any further ``limit_check(spec)`` that raises :class:`DataError` for a job too big.
    alive : callable, optional
        ``alive(session) -> bool``, asked before a lapsed lease is expired: True (e.g. the
        session's browser tab is still connected) renews it instead.
    autostart : bool
        Run :meth:`tick` every ``tick_s`` in a daemon thread.
    """

    def __init__(self, config: SchedulerConfig | None = None, *, backend=None,
                 clock: Callable[[], float] = time.monotonic,
                 limits=None, limit_check: Callable[[object], None] | None = None,
                 alive: Callable[[str], bool] | None = None,
                 autostart: bool = True, tick_s: float = 0.2):
        self.config = config if config is not None else SchedulerConfig()
        self.backend = backend if backend is not None else LocalBackend()
        self._local = self.backend if isinstance(self.backend, LocalBackend) else LocalBackend()
        slots = self.backend.slots() if self.config.max_running <= 0 else None
        self.max_running = int(slots or self.config.resolved_max_running())
        self.limits, self.limit_check, self.alive = limits, limit_check, alive
        self.clock, self.tick_s = clock, tick_s
        self.rate = float(self.config.rate)
        self._lock = threading.RLock()
        self._tick_lock = threading.Lock()
        self._seq = 0
        self._queue: list[JobHandle] = []                   # submission order
        self._running: list[JobHandle] = []
        self._done: OrderedDict[int, JobHandle] = OrderedDict()   # least recently used first
        self._leases: dict[str, float] = {}                # session -> expiry time
        self._started: dict[int, int] = {}                 # active group -> jobs started
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if autostart:
            self._thread = threading.Thread(target=self._monitor, name="gru-lab-scheduler",
                                            daemon=True)
            self._thread.start()

    @classmethod
    def from_env(cls, environ=None, path: str | Path | None = None, *, fix_threads: bool = True,
                 **kwargs) -> "Scheduler":
        """The server's scheduler, configured by :meth:`SchedulerConfig.load`.

        With ``GRU_LAB_RAY_ADDRESS`` (``auto`` or ``ray://host:port``) set, jobs run as Ray actors
        (``gru_core.ray_backend``, imported only then). Locally, ``fix_threads`` fixes the
        process's training thread count (:func:`gru_core.train.train_threads`, unless already
        fixed or ``GRU_LAB_TRAIN_THREADS`` is set) to cores // max_running, at least 1, so N
        concurrent runs do not oversubscribe the cores -- and every run uses the same count,
        however many others are going.
        """
        env = os.environ if environ is None else environ
        address = str(env.get(RAY_ENV, "")).strip()
        if address and "backend" not in kwargs:
            from gru_core.ray_backend import RayBackend

            kwargs["backend"] = RayBackend(address)
        if "limits" not in kwargs:
            from gru_core.limits import Limits

            kwargs["limits"] = Limits.from_env(env)
        sched = cls(SchedulerConfig.load(env, path), **kwargs)
        if fix_threads and isinstance(sched.backend, LocalBackend):
            from gru_core.train import train_threads

            train_threads(max((os.cpu_count() or 1) // sched.max_running, 1))
        return sched

    @property
    def monitored(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- submitting

    def submit(self, session: str, spec, *, label: str = "", replace: bool = False) -> JobHandle:
        """Queue one job for ``session`` (see :meth:`submit_group`)."""
        return self.submit_group(session, [spec], label=label, replace=replace)[0]

    def submit_group(self, session: str, specs: Iterable, *, label: str = "",
                     replace: bool = False) -> list[JobHandle]:
        """Queue the jobs of one group (e.g. a sweep's trials) for ``session``; renews its lease.

        Raises
        ------
        SessionBusy
            The session has an active job and ``replace`` is False.
        QueueFull
            The queue has no room for the group.
        DataError
            A spec over a limit (``limit_check`` or ``max_work``).
        """
        specs = list(specs)
        if not specs:
            raise DataError("Nothing to run: the group has no jobs. Choose at least one setting.")
        for spec in specs:
            self.check(spec)
        with self._lock:
            active = self.session_jobs(session)
            if active and not replace:
                what = describe_wait(active[0].position, active[0].eta_s) \
                    if active[0].state == QUEUED else active[0].state
                raise SessionBusy(f"This session already has a run going ({what}). Stop it "
                                  "first, or start again to stop it and start this one.")
            waiting = sum(h.session != session for h in self._queue)
            if waiting + len(specs) > self.config.max_queue:
                raise QueueFull(f"The server's queue is full ({waiting} runs waiting, at most "
                                f"{self.config.max_queue}). Try again in a few minutes, or ask "
                                "for a smaller sweep.")
            for h in active:
                self._stop_locked(h, "Stopped: this session started another run.")
            group = self._seq + 1
            handles = []
            for i, spec in enumerate(specs):
                self._seq += 1
                handles.append(JobHandle(self, self._seq, session, group, spec,
                                         label=f"{label} #{i + 1}" if len(specs) > 1 else label,
                                         submitted=self.clock()))
            self._queue.extend(handles)
            self._leases[session] = self.clock() + self.config.lease_s
        self.tick()
        return handles

    def check(self, spec) -> None:
        """Raise :class:`DataError` if ``spec`` is over a limit of this server."""
        est = run_estimate(self.limits, spec)
        if est is not None and not est.ok:
            raise DataError(f"This run is too big for this server: {'; '.join(est.problems())}.")
        if self.limit_check is not None:
            self.limit_check(spec)
        work = spec_work(spec)
        if work is not None and work > self.config.max_work:
            raise DataError(
                f"This run is too big for this server: parameters x training windows x epochs = "
                f"{work:.3g}, over the limit of {self.config.max_work:.3g}. Lower the epochs, the "
                "hidden units or layers, or use a larger stride on the Data page.")

    def limit_rows(self, spec) -> list[dict]:
        """What the Train page states before Start: each limit, this run's value, and whether it fits."""
        work, lim = spec_work(spec), run_estimate(self.limits, spec)
        est = self.estimate_s(spec, capped=False)
        rows = [{"limit": "size (parameters × training windows × epochs)",
                 "this run": "—" if work is None else f"{work:.3g}",
                 "server limit": f"{self.config.max_work:.3g}",
                 "within": work is None or work <= self.config.max_work},
                {"limit": "wall time per run (pauses count)", "this run": f"~{est:.0f} s (estimate)",
                 "server limit": f"{self.config.wall_limit_s:.0f} s",
                 "within": est <= self.config.wall_limit_s}]
        return rows + [{"limit": r["what"], "this run": r["estimate"], "server limit": r["limit"],
                        "within": r["within"]} for r in (lim.rows() if lim is not None else [])]

    # ---- sessions

    def renew(self, session: str) -> None:
        """Extend the lease of ``session``'s jobs by ``lease_s`` from now."""
        with self._lock:
            if self.session_jobs(session):
                self._leases[session] = self.clock() + self.config.lease_s

    def session_jobs(self, session: str) -> list[JobHandle]:
        """The session's queued and running jobs, oldest first."""
        with self._lock:
            return [h for h in self._running + self._queue if h.session == session]

    def stop_session(self, session: str, why: str = "Stopped.") -> None:
        with self._lock:
            for h in self.session_jobs(session):
                self._stop_locked(h, why)

    def stats(self) -> dict:
        """Counts for a status line or a benchmark: running, queued, kept, kept_bytes, slots."""
        with self._lock:
            return {"running": len(self._running), "queued": len(self._queue),
                    "kept": len(self._done), "kept_bytes": sum(h.nbytes for h in self._done.values()),
                    "slots": self.max_running, "rate": self.rate}

    # ---- estimates

    def estimate_s(self, spec, capped: bool = True) -> float:
        """Expected run time of ``spec`` at the measured speed (``capped``: at most the wall-time
        limit, where the scheduler stops it), and at most the spec's own time budget
        (``spec.budget_s``, e.g. the Text page's time limit), if it has one."""
        cost = spec_cost(spec)
        guess = cost / self.rate if cost is not None else 60.0
        budget = getattr(spec, "budget_s", None)
        if budget is not None:
            guess = min(guess, float(budget))
        return min(guess, self.config.wall_limit_s) if capped else guess

    def _remaining_s(self, h: JobHandle, now: float) -> float:
        p = h.peek()
        left = p.eta_s if p is not None and p.eta_s is not None else \
            self.estimate_s(h.spec) - (now - (h.started_at or now))
        return max(min(left, self.config.wall_limit_s - (now - (h.started_at or now))), 0.0)

    def _order(self) -> list[JobHandle]:
        """Queued jobs in the order they will start: the job whose group (session) has had the
        fewest jobs started so far goes first, ties by submission order."""
        started = dict(self._started)
        waiting, order = list(self._queue), []
        while waiting:
            nxt = min(waiting, key=lambda h: (started.get(h.group, 0), h.job_id))
            waiting.remove(nxt)
            order.append(nxt)
            started[nxt.group] = started.get(nxt.group, 0) + 1
        return order

    def _plan(self, now: float) -> None:
        """Queue position (1-based) and seconds until start of every queued job."""
        free = [self._remaining_s(h, now) for h in self._running]
        free += [0.0] * max(self.max_running - len(free), 0)
        heapq.heapify(free)
        for i, h in enumerate(self._order()):
            t = heapq.heappop(free) if free else 0.0
            h.position, h.eta_s = i + 1, t
            heapq.heappush(free, t + self.estimate_s(h.spec))
        for h in self._running:
            h.position, h.eta_s = None, self._remaining_s(h, now)

    # ---- the rules

    def tick(self) -> None:
        """Apply the rules once: end, stop, expire, start, evict, re-plan."""
        with self._tick_lock:
            now = self.clock()
            with self._lock:
                for h in list(self._running):
                    if not h.run_running():
                        self._running.remove(h)
                        self._ended_locked(h, now)
                    elif now - h.started_at > self.config.wall_limit_s:
                        self._stop_locked(h, f"Stopped: the wall-time limit of "
                                             f"{self.config.wall_limit_s:.0f} s was reached.")
                for session, expiry in list(self._leases.items()):
                    if now > expiry and self.alive is not None and self.alive(session):
                        self._leases[session] = now + self.config.lease_s
                    elif now > expiry:
                        del self._leases[session]
                        for h in self.session_jobs(session):
                            self._stop_locked(h, f"Stopped: the session that started it was "
                                                 f"gone for more than {self.config.lease_s:.0f} s.")
                start = []
                for h in self._order()[:max(self.max_running - len(self._running), 0)]:
                    self._queue.remove(h)
                    self._running.append(h)
                    self._started[h.group] = self._started.get(h.group, 0) + 1
                    h.started_at = now
                    start.append(h)
            for h in start:                      # building a model may take a while: no lock
                h.launch(self._local if getattr(h.spec, "local_only", False) else self.backend)
            with self._lock:
                self._evict(now)
                self._plan(now)

    def _stop_locked(self, h: JobHandle, why: str) -> None:
        if h in self._queue:
            self._queue.remove(h)
            h.cancel(why)
            self._ended_locked(h, self.clock())
        else:
            h.request_stop(why)

    def _ended_locked(self, h: JobHandle, now: float) -> None:
        h.finish(now)
        cost, p = spec_cost(h.spec), h.peek()
        if cost is not None and p is not None and p.step > 0 and p.elapsed_s > 1.0:
            measured = cost * p.step / max(p.total_steps, 1) / p.elapsed_s
            self.rate = 0.5 * self.rate + 0.5 * measured
        self._done[h.job_id] = h
        if not any(j.group == h.group for j in self._running + self._queue):
            self._started.pop(h.group, None)
        if not any(j.session == h.session for j in self._running + self._queue):
            self._leases.pop(h.session, None)

    def touch(self, h: JobHandle) -> None:
        """Mark an ended job as just used (LRU)."""
        with self._lock:
            if h.job_id in self._done:
                self._done.move_to_end(h.job_id)
                h.used_at = self.clock()

    def _evict(self, now: float) -> None:
        cfg, total = self.config, sum(h.nbytes for h in self._done.values())
        while self._done:
            oldest = next(iter(self._done.values()))
            if (len(self._done) <= cfg.keep_results and total <= cfg.max_result_bytes
                    and now - oldest.used_at <= cfg.result_ttl_s):
                break
            del self._done[oldest.job_id]
            total -= oldest.nbytes
            oldest.release()

    def _monitor(self) -> None:
        while not self._closed.wait(self.tick_s):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 -- the queue must keep going
                log.exception("scheduler tick failed")

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job and the monitor thread (tests, server exit)."""
        with self._lock:
            for h in list(self._running) + list(self._queue):
                self._stop_locked(h, "Stopped: the server is shutting down.")
        self._closed.set()
        for h in list(self._running):
            h.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self.tick()
