"""What a training run publishes: the :class:`Progress` snapshot and the :class:`RunClock` behind
its timing fields.

    clock = RunClock(); clock.start()
    clock.pause(); clock.resume()          # paused time is not run time
    clock.elapsed()                        # seconds of run time, pauses excluded
    clock.throughput(items)                # items / run time (0 before any run time)
    clock.eta(step, total_steps)           # seconds left at the current pace (None before a step)
    clock.stop()                           # freezes elapsed() at the end of the run

Neither class is thread-safe on its own: :class:`gru_core.train.TrainingRun` reads and writes both
under its lock and hands out copies.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

END_STATES = ("finished", "stopped", "early_stopped", "diverged", "failed")


@dataclass
class Progress:
    """A consistent snapshot of a run, safe to read from another thread (it is a copy).

    Losses are whatever the task's ``loss`` returns (for the forecaster: mean squared errors in
    *scaled* units). ``epoch_val`` holds NaN for an epoch whose validation was skipped (no
    validation data, or the run was stopped during validation).
    """

    state: str = "idle"               # idle running paused finished stopped early_stopped diverged failed
    reason: str = ""                  # why it ended, human readable ("" while running)
    epoch: int = 0                    # completed epochs
    epochs: int = 0                   # planned epochs
    step: int = 0                     # optimiser steps taken
    total_steps: int = 0              # planned steps = epochs * steps per epoch
    train_loss: float | None = None   # last step's loss
    val_loss: float | None = None     # last epoch's validation loss
    best_val: float | None = None     # lowest validation loss so far
    best_epoch: int | None = None     # epoch (1-based) of best_val
    grad_norm: float | None = None    # last step's global gradient norm (before clipping)
    windows_per_s: float = 0.0        # throughput: `unit`s per second of run time (incl. validation)
    elapsed_s: float = 0.0            # run time, paused time excluded
    eta_s: float | None = None        # estimated seconds left at the current pace
    device: str = "cpu"
    steps: list[int] = field(default_factory=list)          # step numbers (1-based)
    step_loss: list[float] = field(default_factory=list)   # per-step training loss
    epoch_steps: list[int] = field(default_factory=list)    # step count at each epoch end
    epoch_train: list[float] = field(default_factory=list)  # mean step loss per epoch
    epoch_val: list[float] = field(default_factory=list)    # validation loss per epoch
    unit: str = "windows"             # what windows_per_s counts ("windows", "tokens", ...)
    threads: int = 0                  # torch intra-op CPU threads the run used (0 before it starts)

    @property
    def done(self) -> bool:
        """True once the run has reached an end state."""
        return self.state in END_STATES


class RunClock:
    """Run time of a job that can be paused: wall-clock time since :meth:`start`, minus pauses.

    Parameters
    ----------
    now : callable, optional
        The time source in seconds (``time.perf_counter``); tests pass a fake one.
    """

    def __init__(self, now: Callable[[], float] = time.perf_counter):
        self._now = now
        self._t0: float | None = None             # start time
        self._t_end: float | None = None          # end time (stop)
        self._paused_total = 0.0                  # seconds of completed pauses
        self._pause_started: float | None = None  # start of the pause in progress

    @property
    def started(self) -> bool:
        return self._t0 is not None

    @property
    def paused(self) -> bool:
        return self._pause_started is not None

    def start(self) -> None:
        """Start counting (once)."""
        if self._t0 is None:
            self._t0 = self._now()

    def pause(self) -> None:
        """Stop counting until :meth:`resume` (a second pause is ignored)."""
        if self._pause_started is None and self._t_end is None:
            self._pause_started = self._now()

    def resume(self) -> None:
        """Count again after :meth:`pause` (ignored when not paused)."""
        if self._pause_started is not None:
            self._paused_total += self._now() - self._pause_started
            self._pause_started = None

    def stop(self) -> None:
        """End of the run: close any pause and freeze :meth:`elapsed`."""
        if self._t_end is None:
            self.resume()
            self._t_end = self._now()

    def elapsed(self) -> float:
        """Seconds of run time so far (0 before :meth:`start`), paused time excluded."""
        if self._t0 is None:
            return 0.0
        now = self._t_end if self._t_end is not None else self._now()
        paused = self._paused_total
        if self._pause_started is not None:
            paused += now - self._pause_started
        return max(now - self._t0 - paused, 0.0)

    def throughput(self, items: int) -> float:
        """``items`` per second of run time; 0 while no run time has passed."""
        elapsed = self.elapsed()
        return items / elapsed if elapsed > 0 else 0.0

    def eta(self, step: int, total_steps: int) -> float | None:
        """Seconds left if the remaining steps go at the pace so far; None before the first step,
        0 once the run has stopped."""
        if self._t_end is not None:
            return 0.0
        if step <= 0:
            return None
        return self.elapsed() / step * max(total_steps - step, 0)
