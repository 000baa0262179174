"""The Compare page's job: one ``TrainingRun`` per cell, submitted to the server's scheduler.

"One after another" is ONE queue entry (:class:`SequenceSpec`: the cells in turn in one training
slot, :class:`SequenceRun`); "all at once" is a group of one entry per cell (:class:`CellSpec`),
each started when a slot is free. The runs are built at Start, so their initial weights are kept
for the gradient plot. The clipping experiment is one more entry (:class:`ClipSpec`). Plain
Python: no ``st.*``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from gru_core.errors import DataError
from gru_core.gradients import clipping_experiment
from gru_core.jobs import ForecastSpec, JobHandle
from gru_core.limits import STEP_OVERHEAD, n_params
from gru_core.model import Forecaster, ModelConfig
from gru_core.train import Progress, TrainConfig, TrainingRun
from gru_core.windows import Dataset


@dataclass
class CellSpec(ForecastSpec):
    """One cell's run, built at Start (its initial weights are kept), queued as it is. Local only:
    the page reads its model."""

    run: TrainingRun | None = None
    local_only = True

    def build(self) -> TrainingRun:
        return self.run


@dataclass
class SequenceSpec:
    """Every cell's run one after another, as ONE queue entry (one training slot); its size and
    cost are the sum of the runs'."""

    cells: list
    local_only = True

    def build(self) -> SequenceRun:
        return SequenceRun([c.run for c in self.cells])

    def work(self) -> float:
        return sum(c.work() for c in self.cells)

    def cost(self) -> float:
        return sum(c.cost() for c in self.cells)

    def nbytes(self) -> int:
        return sum(c.nbytes() for c in self.cells)

    @property
    def train_cfg(self) -> TrainConfig:
        return self.cells[0].train_cfg


class _InThread:
    """Runs ``self._main`` in one daemon thread (``start``) and waits for it (``join``), as
    ``TrainingRun`` does; :class:`SequenceRun` and :class:`ClipRun` share it."""

    THREAD_NAME = "gru-lab-job"
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=self.THREAD_NAME, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running


class SequenceRun(_InThread):
    """TrainingRun's interface over several runs trained in turn in one thread. Its progress sums
    the runs' steps and time; the page reads each run's own progress."""

    THREAD_NAME = "gru-lab-compare"

    def __init__(self, runs: list[TrainingRun]):
        self.runs = runs
        self._stop, self._paused = threading.Event(), False
        self.model = None

    def _main(self) -> None:
        for r in self.runs:
            if self._stop.is_set():
                break
            if self._paused:
                r.pause()
            r.run()

    def pause(self) -> None:
        self._paused = True
        for r in self.runs:
            r.pause()

    def resume(self) -> None:
        self._paused = False
        for r in self.runs:
            r.resume()

    def stop(self) -> None:
        self._stop.set()
        for r in self.runs:
            r.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Progress:
        snaps = [r.snapshot() for r in self.runs]
        if self.running:
            state = "paused" if any(p.state == "paused" for p in snaps) else "running"
        else:
            ended = [p for p in snaps if p.done]
            state = next((p.state for p in ended if p.state in ("failed", "stopped")), None) or \
                ("finished" if len(ended) == len(snaps) else "stopped")
        eta = [p.eta_s for p in snaps if p.eta_s is not None and not p.done]
        return Progress(state=state, reason="; ".join(p.reason for p in snaps if p.reason),
                        epochs=max(p.epochs for p in snaps), step=sum(p.step for p in snaps),
                        total_steps=sum(p.total_steps for p in snaps),
                        elapsed_s=sum(p.elapsed_s for p in snaps),
                        eta_s=eta[0] if eta else None)


class CompareJob:
    """Train one model per cell on the same dataset, split, seed and budget, through the server's
    scheduler (:meth:`submit`).

    Parameters
    ----------
    dataset : Dataset
    configs : dict
        cell key -> ModelConfig (same data shape; hidden size may differ for equal parameters).
    train_cfg : TrainConfig
        Shared optimiser, epochs, batch and seed (so every cell sees the same batches).
    mode : str
        "sequential": ONE queue entry that trains the cells in turn in one slot; "parallel": a
        group of one queue entry per cell, each started when a slot is free (all at once if the
        server has the slots).
    """

    def __init__(self, dataset: Dataset, configs: dict[str, ModelConfig], train_cfg: TrainConfig,
                 mode: str = "sequential", source: str = ""):
        self.dataset, self.configs, self.train_cfg = dataset, configs, train_cfg
        self.mode, self.source = mode, source
        self.runs = {c: TrainingRun(dataset, cfg, train_cfg) for c, cfg in configs.items()}
        self.initial = {c: {k: v.detach().clone() for k, v in r.model.state_dict().items()}
                        for c, r in self.runs.items()}
        self.handles: dict[str, JobHandle] = {}     # cell -> its queue entry (shared: sequential)
        self._final: dict[str, Progress] | None = None   # the last progress, once evicted
        self.started = time.time()
        self.cache: dict = {}                       # results computed once the runs have ended

    def specs(self) -> list:
        """What :meth:`submit` queues (see the class docstring)."""
        cells = [CellSpec(self.dataset, self.configs[c], self.train_cfg, run=r)
                 for c, r in self.runs.items()]
        return [SequenceSpec(cells)] if self.mode == "sequential" else cells

    def submit(self, submit_group) -> None:
        """Queue the runs: ``submit_group(specs) -> handles`` (``Scheduler.submit_group`` for this
        session, or ``ui.server.submit``)."""
        hs = list(submit_group(self.specs()))
        self.handles = {c: hs[0] if self.mode == "sequential" else hs[i]
                        for i, c in enumerate(self.runs)}

    @property
    def jobs(self) -> list[JobHandle]:
        """The distinct queue entries, in order."""
        return list(dict.fromkeys(self.handles.values()))

    def stop(self) -> None:
        for h in self.jobs:
            h.stop()

    def join(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        for h in self.jobs:
            h.join(None if end is None else max(0.0, end - time.monotonic()))
        return not self.running

    @property
    def evicted(self) -> bool:
        """The scheduler dropped (a part of) the result to stay within its memory bound: the job
        then lets go of its models too, keeping only each cell's last progress."""
        if self._final is None and any(h.evicted for h in self.jobs):
            self._final = self.snapshots()
            self.runs = {c: None for c in self.runs}
            self.initial, self.cache = {}, {}
        return self._final is not None

    def snapshots(self) -> dict[str, Progress]:
        """Each cell's progress; "queued" while its entry waits, and the entry's end (e.g. "stopped:
        the session was gone") for a cell that never trained."""
        if self._final is not None:
            return dict(self._final)
        out = {}
        for c, r in self.runs.items():
            p, h = r.snapshot(), self.handles.get(c)
            if h is not None and p.state == "idle":
                hp = h.peek()
                p = hp if hp.state == "queued" or hp.done else Progress(
                    state="waiting", epochs=self.train_cfg.epochs,
                    reason="waiting for the cell before it")
            out[c] = p
        return out

    @property
    def running(self) -> bool:
        return any(h.running for h in self.jobs)

    def queued(self) -> JobHandle | None:
        """The first entry still waiting in the queue, if every entry is waiting (else None)."""
        jobs = self.jobs
        return jobs[0] if jobs and all(h.state == "queued" for h in jobs) else None

    def initial_model(self, cell: str) -> Forecaster:
        m = Forecaster(self.configs[cell])
        m.load_state_dict(self.initial[cell])
        return m.eval()


@dataclass
class ClipSpec:
    """The clipping experiment (``gru_core.gradients.clipping_experiment``: the same plain RNN
    trained twice with SGD, without and with clipping) as one queue entry. Local only."""

    X: object                         # (N, L, C) scaled training windows
    Y: object                         # (N, H)
    cfg: ModelConfig
    lr: float
    gain: float
    clip: float
    steps: int
    seed: int
    batch: int = 32
    local_only = True

    def build(self) -> "ClipRun":
        return ClipRun(self)

    def params(self) -> int:
        return n_params(self.cfg)

    def work(self) -> float:
        """Parameters x windows x passes, as a forecaster run: two runs of ``steps`` batches."""
        return float(self.params()) * 2 * self.steps * min(self.batch, self.X.shape[0])

    def cost(self) -> float:
        B = min(self.batch, self.X.shape[0])
        return 2 * self.steps * self.X.shape[1] * (float(self.params()) * B + STEP_OVERHEAD)

    def nbytes(self) -> int:
        return 16 * 2 * self.steps


class ClipRun(_InThread):
    """TrainingRun's interface over one :func:`clipping_experiment` call in its own thread; its
    ``result`` is (without clipping, with clipping) once it has finished. The experiment is short
    (a fixed number of steps of a 16-unit RNN) and cannot be interrupted: a stop discards it."""

    THREAD_NAME = "gru-lab-clip"

    def __init__(self, spec: ClipSpec):
        self.spec, self.model = spec, None
        self.result = None
        self._state, self._reason = "idle", ""
        self._stop = threading.Event()
        self.exception: BaseException | None = None

    def start(self) -> None:
        self._state = "running"
        super().start()

    def _main(self) -> None:
        s = self.spec
        try:
            result = clipping_experiment(s.X, s.Y, s.cfg, lr=s.lr, gain=s.gain, clip=s.clip,
                                         steps=s.steps, batch=s.batch, seed=s.seed)
        except DataError as exc:
            self._state, self._reason = "failed", str(exc)
            return
        except Exception as exc:  # noqa: BLE001 -- never let an error vanish inside the thread
            self.exception = exc
            self._state, self._reason = "failed", f"The experiment failed: {type(exc).__name__}: {exc}"
            return
        if self._stop.is_set():
            self._state, self._reason = "stopped", "Stopped by the user."
        else:
            self.result = result
            self._state, self._reason = "finished", f"Both runs of {s.steps} steps done."

    def pause(self) -> None:
        """Not supported: the experiment is a few seconds long."""

    def resume(self) -> None:
        """Not supported (see :meth:`pause`)."""

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._state == "running"

    def snapshot(self) -> Progress:
        total = 2 * self.spec.steps
        done = self._state == "finished"
        return Progress(state=self._state, reason=self._reason, epochs=1, epoch=int(done),
                        step=total if done else 0, total_steps=total)
