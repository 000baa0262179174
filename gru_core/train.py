"""Live-capable trainer: a run object that trains a model -- the :class:`Forecaster` or any
:class:`gru_core.task.Task` -- in a thread and can be watched.

    run = TrainingRun(dataset, model_cfg, train_cfg, on_progress=None)   # a ForecastTask
    run = TrainingRun.for_task(task, train_cfg, on_progress=None)       # any Task
    run.start()                      # background daemon thread; returns at once
    run.snapshot()                   # -> Progress, a consistent copy taken under a lock
    run.pause(); run.resume(); run.stop(); run.join()
    run.run()                        # the same work, synchronously in the calling thread

The trainer knows nothing about the UI (minGPT style): it publishes a :class:`Progress` that a
page polls with :meth:`TrainingRun.snapshot`, and optionally calls ``on_progress(progress)`` from
the training thread (at most every ``eval_every_s`` seconds, at every epoch end and once at the
end). Control is two ``threading.Event`` flags checked *between batches*: ``stop`` ends the run
within one batch (also while paused); ``pause`` clears the "go" event, on which the thread then
blocks (no busy waiting). On CUDA/MPS the losses are read back every 16 steps (each read waits for
the device); on the CPU every step. The loop itself, the kept weights (best / last good epoch /
at the end) and early stopping are in ``gru_core.loop``; timing in ``gru_core.progress``.

Reproducibility: a run's numbers depend only on its config, its seed and the thread count.

* Seeds belong to the run: initial weights from :func:`gru_core.model.init_weights` with a
  ``torch.Generator`` seeded by ``seed``, shuffling from another; torch's global RNG is neither
  seeded nor read. Dropout (in ``nn.GRU`` it can only draw from the global RNG) runs each training
  forward under ``gru_core.task.GLOBAL_RNG_LOCK`` with the global generator re-seeded from the run
  and restored afterwards. Cost: concurrent dropout runs take turns for their forward passes;
  runs without dropout never take the lock. Code elsewhere that draws from the global RNG in
  another thread *during* such a forward without the lock can still change that step's mask. On
  CUDA, cuDNN keeps its own dropout state: dropout runs on CUDA are not reproducible.
* Threads: ``torch.set_num_threads`` is process-global, so no run changes it mid-flight: the
  process's first run fixes the count once (:func:`train_threads`: ``GRU_LAB_TRAIN_THREADS`` if
  set, else that run's ``num_threads``); later runs use it whatever their ``num_threads``, and
  ``Progress.threads`` records it. A shared link (same data, configs, seed) reproduces a run bit
  for bit on the same machine and torch build given the same thread count, also while other runs
  train concurrently.
"""
from __future__ import annotations

import dataclasses
import math
import os
import threading
from dataclasses import dataclass
from typing import Callable

import torch

from gru_core.device import DEVICES, resolve_device
from gru_core.errors import DataError
from gru_core.loop import SCHEDULES, EpochLoop, Stopped, uses_global_rng
from gru_core.model import ModelConfig
from gru_core.progress import END_STATES, Progress, RunClock
from gru_core.task import ForecastTask, Task

__all__ = ["END_STATES", "THREADS_ENV", "Progress", "TrainConfig", "TrainingRun", "train_threads"]

THREADS_ENV = "GRU_LAB_TRAIN_THREADS"
DENSE_LOSS = ("auto", "on", "off")
SMALL_BATCH, LARGE_BATCH = 64, 128   # what batch_size=0 picks (TrainConfig.plan)
LARGE_DATA = 4096                    # training windows from which it picks the large plan


@dataclass
class TrainConfig:
    """How to train.

    Parameters
    ----------
    lr : float
        Adam's peak learning rate (see ``schedule``).
    schedule : str
        ``"warmup_cosine"``: per optimiser step, a linear warm-up from ``lr / warmup_steps`` to
        ``lr`` over the first ``warmup_steps`` steps (at most a quarter of the planned steps), then
        a cosine decay to ``min_lr_frac * lr`` at the last planned step (``epochs`` x steps per
        epoch). The rate depends only on the step number, so early stopping (which just ends the
        run sooner), pause/resume and any epochs count behave the same. ``"constant"``: ``lr``
        at every step (the plain Adam loop).
    warmup_steps : int
        Warm-up length in optimiser steps for ``"warmup_cosine"`` (0 = none).
    min_lr_frac : float
        The rate at the last planned step as a fraction of ``lr`` (``"warmup_cosine"`` only).
    batch_size : int
        Windows per minibatch B (the last batch of an epoch may be smaller). Used by the forecaster
        (:class:`ForecastTask`); a custom task batches its own data. 0 = auto (:meth:`plan`): 64,
        or -- from :data:`LARGE_DATA` training windows on -- 128 with twice ``lr`` (the learning
        rate scaled with the batch) and the dense loss.
    dense_loss : str
        ``"on"``: the forecaster's head is also trained on the states of each window's second
        half, each asked for the H values that follow it
        (:meth:`gru_core.task.ForecastTask.loss`); the model and its forecast are unchanged, the
        loss shown is the forecast's. ``"off"``: the forecast's loss only. ``"auto"``: on for the
        large-data plan of ``batch_size=0``, else off.
    epochs : int
        Passes over the training windows.
    clip_grad : float
        Clip the global gradient L2 norm to this value; 0 turns clipping off (the norm is still
        measured and reported).
    patience : int
        Early stopping: stop after this many epochs without a lower validation loss and restore
        the best weights; 0 turns it off.
    seed : int
        Seeds weight initialisation, shuffling and dropout, each through the run's own
        ``torch.Generator`` (never torch's global seed; see the module docstring).
    device : str
        ``"auto"`` (CUDA, else MPS, else CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.
    num_threads : int
        CPU threads for torch. Only the process's first run applies it (unless
        ``GRU_LAB_TRAIN_THREADS`` is set): the count is then fixed for every later run
        (:func:`train_threads`); ``Progress.threads`` reports the count a run used.
    eval_every_s : float
        Call ``on_progress`` at most this often (seconds) during an epoch; it is also called at
        every epoch end and when the run ends.
    """

    lr: float = 5e-3            # Adam peak learning rate (see schedule)
    batch_size: int = 0         # windows per minibatch; 0 = auto (see plan)
    schedule: str = "warmup_cosine"  # per-step lr: "warmup_cosine" | "constant"
    warmup_steps: int = 20      # linear warm-up steps (capped at a quarter of the run)
    min_lr_frac: float = 0.05   # cosine floor, as a fraction of lr
    dense_loss: str = "auto"    # "auto" | "on" | "off" (see plan)
    epochs: int = 30            # passes over the training windows
    clip_grad: float = 1.0      # max global grad norm; 0 = off
    patience: int = 5           # early-stopping patience in epochs; 0 = off
    seed: int = 0               # init + shuffling + dropout seed
    device: str = "auto"        # "auto" | "cpu" | "cuda" | "mps"
    num_threads: int = 2        # CPU threads; the first run fixes them for the process
    eval_every_s: float = 0.5   # on_progress cadence in seconds

    def validate(self) -> "TrainConfig":
        """Raise :class:`DataError` for settings that cannot train."""
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise DataError(f"Learning rate must be a number in (0, 10]; got {self.lr!r}. "
                            "Typical values are 1e-4 to 1e-2.")
        for name, lo, hi in (("batch_size", 0, 1_000_000), ("epochs", 1, 100_000),
                             ("patience", 0, 100_000), ("num_threads", 1, 1024)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise DataError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.")
        if not (isinstance(self.clip_grad, (int, float)) and math.isfinite(self.clip_grad)
                and self.clip_grad >= 0):
            raise DataError(f"clip_grad must be a number >= 0 (0 turns clipping off); "
                            f"got {self.clip_grad!r}.")
        if self.schedule not in SCHEDULES:
            raise DataError(f"Unknown schedule {self.schedule!r}: choose one of "
                            f"{', '.join(SCHEDULES)}.")
        if (isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int)
                or not 0 <= self.warmup_steps <= 10_000_000):
            raise DataError(f"warmup_steps must be a whole number from 0 to 10000000; "
                            f"got {self.warmup_steps!r}.")
        if not (isinstance(self.min_lr_frac, (int, float)) and 0 <= self.min_lr_frac <= 1):
            raise DataError(f"min_lr_frac must be a number in [0, 1]; got {self.min_lr_frac!r}.")
        if self.dense_loss not in DENSE_LOSS:
            raise DataError(f"dense_loss must be one of {', '.join(DENSE_LOSS)}; "
                            f"got {self.dense_loss!r}.")
        if not (isinstance(self.eval_every_s, (int, float)) and self.eval_every_s > 0):
            raise DataError(f"eval_every_s must be a positive number of seconds; "
                            f"got {self.eval_every_s!r}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise DataError(f"seed must be a whole number; got {self.seed!r}.")
        if self.device not in DEVICES:
            raise DataError(f"Unknown device {self.device!r}: choose one of {', '.join(DEVICES)}.")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def plan(self, n_windows: int) -> "TrainConfig":
        """The settings a forecaster run on ``n_windows`` training windows uses: ``batch_size``
        and ``dense_loss`` made concrete, ``lr`` doubled where the auto batch is the large one.

        ``batch_size=0`` (auto): below :data:`LARGE_DATA` windows batch 64 at ``lr``; from there
        batch 128 at ``2 * lr`` (as many windows per second as the CPU kernel gives -- an epoch at
        64 costs ~1.3x one at 128 -- with the rate scaled like the batch) and, under
        ``dense_loss="auto"``, the dense loss. A given batch keeps ``lr``; ``"auto"`` is then off.
        Measured in bench/bench_ttq.py (large) and bench/bench_recipe.py (the bundled samples).
        """
        large = self.batch_size == 0 and n_windows >= LARGE_DATA
        batch = self.batch_size or (LARGE_BATCH if large else SMALL_BATCH)
        dense = self.dense_loss == "on" or (self.dense_loss == "auto" and large)
        lr = self.lr * LARGE_BATCH / SMALL_BATCH if large else self.lr
        return dataclasses.replace(self, batch_size=batch, lr=lr, dense_loss="on" if dense else "off")


# ----------------------------------------------------------------------------- threads

_threads_lock = threading.Lock()
_threads: int | None = None


def train_threads(requested: int | None = None) -> int:
    """The fixed process-wide intra-op thread count for training, set on the first call.

    ``GRU_LAB_TRAIN_THREADS`` (a whole number from 1 to 1024) if set, else ``requested`` (the
    first run's ``num_threads``), else ``TrainConfig``'s default. The first call applies it with
    ``torch.set_num_threads``; later calls return it unchanged, and no run restores the old value.
    """
    global _threads
    with _threads_lock:
        if _threads is None:
            raw = os.environ.get(THREADS_ENV, "").strip()
            if raw:
                if not raw.isdigit() or not 1 <= int(raw) <= 1024:
                    raise DataError(f"{THREADS_ENV} must be a whole number from 1 to 1024; got "
                                    f"{raw!r}. Unset it to use the first run's num_threads.")
                n = int(raw)
            else:
                n = requested if requested is not None else TrainConfig.num_threads
            torch.set_num_threads(n)
            _threads = n
        return _threads


# ----------------------------------------------------------------------------- the run

class TrainingRun:
    """Train a task -- in a thread (:meth:`start`) or here (:meth:`run`) -- while publishing
    :class:`Progress`. ``TrainingRun(dataset, model_cfg, ...)`` trains a fresh
    :class:`Forecaster` (a :class:`ForecastTask`); :meth:`for_task` trains any :class:`Task`.

    Parameters
    ----------
    dataset : gru_core.windows.Dataset
        Windows in scaled units; ``dataset.train`` is trained on, ``dataset.val`` drives early
        stopping. The test part is never touched.
    model_cfg : ModelConfig
        Shape of the network; ``input_size`` must equal the dataset's columns and ``horizon`` its
        horizon.
    train_cfg : TrainConfig
        Optimiser, epochs, early stopping, device and seed.
    on_progress : callable, optional
        ``on_progress(progress)`` called *from the training thread* with a copied
        :class:`Progress`. It must not call Streamlit. An exception it raises fails the run.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, model)`` called *from the training thread* after each completed
        epoch's validation and record (not after a diverged one); for
        recorders such as :class:`gru_core.tape.GateTape`. Also settable as the attribute
        ``on_epoch_end`` before :meth:`start`. Its time counts in the run's clock. An exception it
        raises fails the run.

    Attributes
    ----------
    task : Task
        What is trained; ``model`` is ``task.model``, built (seeded) on construction, after the run
        holding the weights described in ``gru_core.loop`` (do not use it while the run is going).
    dataset, model_cfg, cfg, device
        As given (for :meth:`for_task`: the task's ``dataset`` / ``model_cfg`` or None).
    exception : BaseException or None
        The unexpected exception that made the run "failed", if any.
    """

    def __init__(self, dataset, model_cfg: ModelConfig, train_cfg: TrainConfig | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_epoch_end: Callable[[int, torch.nn.Module], None] | None = None):
        cfg = (train_cfg if train_cfg is not None else TrainConfig()).validate()
        resolve_device(cfg.device)  # an unavailable device fails before the model is built
        cfg = cfg.plan(len(dataset.train))      # concrete batch, rate and loss for this data
        task = ForecastTask(dataset, model_cfg, generator_seed=cfg.seed, batch_size=cfg.batch_size,
                            dense=cfg.dense_loss == "on")
        self._setup(task, cfg, on_progress)
        self.on_epoch_end = on_epoch_end
        self.dataset, self.model_cfg = dataset, task.model_cfg

    @classmethod
    def for_task(cls, task: Task, train_cfg: TrainConfig | None = None,
                 on_progress: Callable[[Progress], None] | None = None) -> "TrainingRun":
        """A run that trains ``task`` (see :class:`gru_core.task.Task`) with ``train_cfg``'s lr,
        epochs, clipping, patience, device, seed (shuffling, dropout) and cadence."""
        if not isinstance(task, Task):  # has every member of the protocol
            raise TypeError(f"{type(task).__name__} is not a Task: it lacks members of "
                            "gru_core.task.Task (model, unit, steps_per_epoch, ...).")
        run = cls.__new__(cls)
        run._setup(task, (train_cfg if train_cfg is not None else TrainConfig()).validate(),
                   on_progress)
        run.dataset = getattr(task, "dataset", None)
        run.model_cfg = getattr(task, "model_cfg", None)
        return run

    def _setup(self, task: Task, cfg: TrainConfig, on_progress) -> None:
        self.task, self.cfg, self.on_progress = task, cfg, on_progress
        self.on_epoch_end = None  # on_epoch_end(epoch, model) in the training thread (e.g. a GateTape)
        self.device = resolve_device(cfg.device)
        self.model = task.model
        self.model.to(self.device)
        self.exception: BaseException | None = None
        steps = int(task.steps_per_epoch())
        if steps < 1:
            raise DataError(f"The task has {steps} training steps per epoch: it needs training "
                            "data for at least one batch.")
        # read losses back to the host every k steps: each read waits for an accelerator to finish
        self._sync_every = 1 if self.device.type == "cpu" else 16
        self._lock = threading.Lock()
        self._go = threading.Event()      # set = may run; cleared by pause()
        self._go.set()
        self._stop = threading.Event()    # set = stop at the next batch boundary
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._claimed = False
        self._clock = RunClock()
        self._loop: EpochLoop | None = None
        self._p = Progress(state="idle", epochs=cfg.epochs, total_steps=cfg.epochs * steps,
                           device=str(self.device), unit=str(task.unit))

    # ---- control (any thread)

    def start(self) -> None:
        """Train in a background daemon thread; returns immediately."""
        self._claim()
        self._thread = threading.Thread(target=self._main, name="gru-lab-training", daemon=True)
        self._thread.start()

    def run(self) -> Progress:
        """Train synchronously in the calling thread; returns the final :class:`Progress`.

        An unexpected exception does not propagate: the run ends "failed" (see ``exception``).
        """
        self._claim()
        self._main()
        return self.snapshot()

    def pause(self) -> None:
        """Pause at the next batch boundary (the thread blocks; paused time is not counted)."""
        self._go.clear()

    def resume(self) -> None:
        """Continue a paused run."""
        self._go.set()

    def stop(self) -> None:
        """End the run at the next batch boundary, also when paused."""
        self._stop.set()
        self._go.set()  # wake a paused thread so it can see the stop

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; returns True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return self._done.is_set()

    @property
    def running(self) -> bool:
        """True from :meth:`start` until an end state is reached (paused counts as running)."""
        with self._lock:
            return self._p.state in ("running", "paused")

    def snapshot(self) -> Progress:
        """A copy of the current :class:`Progress`, taken under the lock."""
        with self._lock:
            p, clock = self._p, self._clock
            items = self._loop.items if self._loop is not None else 0
            eta = clock.eta(p.step, p.total_steps) if clock.started else None
            return dataclasses.replace(
                p, elapsed_s=clock.elapsed(), windows_per_s=clock.throughput(items), eta_s=eta,
                steps=p.steps.copy(), step_loss=p.step_loss.copy(),
                epoch_steps=p.epoch_steps.copy(), epoch_train=p.epoch_train.copy(),
                epoch_val=p.epoch_val.copy())

    # ---- the training thread

    def _claim(self) -> None:
        threads = train_threads(self.cfg.num_threads)  # fixed once per process; never restored
        with self._lock:
            if self._claimed:
                raise DataError("This run has already been started: create a new TrainingRun "
                                "to train again.")
            self._claimed = True
            self._p.state = "running"
            self._p.threads = threads
            self._clock.start()

    def _publish(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.snapshot())

    def _finish(self, state: str, reason: str) -> None:
        with self._lock:
            self._clock.stop()
            self._p.state, self._p.reason = state, reason
        self._done.set()

    def _main(self) -> None:
        try:
            state, reason = self._train()
            self._finish(state, reason)
        except Exception as exc:  # never let an error vanish inside the thread
            self.exception = exc
            self._finish("failed", f"Training failed with an unexpected error: "
                                   f"{type(exc).__name__}: {exc}")
        try:
            self._publish()
        except Exception as exc:  # a failing callback at the very end: record it, keep the state
            self.exception = self.exception or exc

    def _train(self) -> tuple[str, str]:
        """Move the task's data, then run the epoch loop with the run's own generators."""
        cfg = self.cfg
        self.task.to_device(self.device)
        shuffle = torch.Generator().manual_seed(cfg.seed)
        dropout_seed = None
        if uses_global_rng(self.model):
            seeds = torch.Generator().manual_seed(cfg.seed + 1)
            dropout_seed = int(torch.randint(0, 2 ** 62, (1,), generator=seeds))
        loop = EpochLoop(self.task, cfg, self._p, self._lock, checkpoint=self._checkpoint,
                         publish=self._publish if self.on_progress is not None else None,
                         generator=shuffle, sync_every=self._sync_every,
                         dropout_seed=dropout_seed, device=self.device,
                         on_epoch_end=self.on_epoch_end)
        with self._lock:
            self._loop = loop
        return loop.run()

    def _checkpoint(self) -> None:
        """Between batches: block while paused, raise :class:`Stopped` on stop."""
        if not self._go.is_set() and not self._stop.is_set():
            with self._lock:
                self._clock.pause()
                self._p.state = "paused"
            self._publish()
            self._go.wait()  # blocks without spinning; stop() sets it too
            with self._lock:
                self._clock.resume()
                self._p.state = "running"
        if self._stop.is_set():
            raise Stopped
