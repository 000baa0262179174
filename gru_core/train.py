"""Live-capable trainer: a run object that trains a :class:`Forecaster` and can be watched.

    run = TrainingRun(dataset, model_cfg, train_cfg, on_progress=None)
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
the device); on the CPU every step.

One step is the minimal hand-written loop, nothing more::

    idx = perm[i:i+B]                          # shuffled with a seeded torch.Generator
    xb, yb = X[idx], Y[idx]                    # (B, L, C), (B, H): copies just this batch
    loss = mse(model(xb), yb)                  # scaled units
    loss.backward(); g = clip_grad_norm_(...)  # g is the pre-clipping gradient norm
    opt.step()                                 # Adam(lr)

Weights kept after the run (cheap: weights are copied only at epoch ends):

* early stopping on (``patience > 0``) and at least one validated epoch: the best-validation weights,
  whatever the end state ("finished", "stopped", "early_stopped" or "diverged");
* otherwise, after divergence: the weights at the end of the last completed epoch (the initial
  weights if it diverged in the first epoch) -- not the weights of the very last finite step;
* otherwise: the weights at the moment the run ended.

Threads: ``torch.set_num_threads(num_threads)`` is applied for the run and the previous value is
restored afterwards. The setting is *process-global*: it also applies to every other torch
computation in the process while the run lasts (two concurrent runs share it).
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from gru_core.device import DEVICES, resolve_device
from gru_core.errors import DataError
from gru_core.model import Forecaster, ModelConfig

END_STATES = ("finished", "stopped", "early_stopped", "diverged", "failed")


@dataclass
class TrainConfig:
    """How to train.

    Parameters
    ----------
    lr : float
        Adam learning rate.
    batch_size : int
        Windows per minibatch B (the last batch of an epoch may be smaller).
    epochs : int
        Passes over the training windows.
    clip_grad : float
        Clip the global gradient L2 norm to this value; 0 turns clipping off (the norm is still
        measured and reported).
    patience : int
        Early stopping: stop after this many epochs without a lower validation loss and restore
        the best weights; 0 turns it off.
    seed : int
        Seeds weight initialisation (``torch.manual_seed``) and shuffling (a ``torch.Generator``).
    device : str
        ``"auto"`` (CUDA, else MPS, else CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.
    num_threads : int
        CPU threads for torch during the run (process-global, see the module docstring).
    eval_every_s : float
        Call ``on_progress`` at most this often (seconds) during an epoch; it is also called at
        every epoch end and when the run ends.
    """

    lr: float = 1e-3            # Adam learning rate
    batch_size: int = 64        # windows per minibatch
    epochs: int = 30            # passes over the training windows
    clip_grad: float = 1.0      # max global grad norm; 0 = off
    patience: int = 5           # early-stopping patience in epochs; 0 = off
    seed: int = 0               # init + shuffling seed
    device: str = "auto"        # "auto" | "cpu" | "cuda" | "mps"
    num_threads: int = 2        # torch CPU threads during the run (process-global)
    eval_every_s: float = 0.5   # on_progress cadence in seconds

    def validate(self) -> "TrainConfig":
        """Raise :class:`DataError` for settings that cannot train."""
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise DataError(f"Learning rate must be a number in (0, 10]; got {self.lr!r}. "
                            "Typical values are 1e-4 to 1e-2.")
        for name, lo, hi in (("batch_size", 1, 1_000_000), ("epochs", 1, 100_000),
                             ("patience", 0, 100_000), ("num_threads", 1, 1024)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise DataError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.")
        if not (isinstance(self.clip_grad, (int, float)) and math.isfinite(self.clip_grad)
                and self.clip_grad >= 0):
            raise DataError(f"clip_grad must be a number >= 0 (0 turns clipping off); "
                            f"got {self.clip_grad!r}.")
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


# ----------------------------------------------------------------------------- progress

@dataclass
class Progress:
    """A consistent snapshot of a run, safe to read from another thread (it is a copy).

    Losses are mean squared errors in *scaled* units. ``epoch_val`` holds NaN for an epoch whose
    validation was skipped (no validation windows, or the run was stopped during validation).
    """

    state: str = "idle"               # idle running paused finished stopped early_stopped diverged failed
    reason: str = ""                  # why it ended, human readable ("" while running)
    epoch: int = 0                    # completed epochs
    epochs: int = 0                   # planned epochs
    step: int = 0                     # optimiser steps taken
    total_steps: int = 0              # planned steps = epochs * ceil(N_train / B)
    train_loss: float | None = None   # last step's loss
    val_loss: float | None = None     # last epoch's validation loss
    best_val: float | None = None     # lowest validation loss so far
    best_epoch: int | None = None     # epoch (1-based) of best_val
    grad_norm: float | None = None    # last step's global gradient norm (before clipping)
    windows_per_s: float = 0.0        # training windows per second of run time (incl. validation)
    elapsed_s: float = 0.0            # run time, paused time excluded
    eta_s: float | None = None        # estimated seconds left at the current pace
    device: str = "cpu"
    steps: list[int] = field(default_factory=list)          # step numbers (1-based)
    step_loss: list[float] = field(default_factory=list)   # per-step training loss
    epoch_steps: list[int] = field(default_factory=list)    # step count at each epoch end
    epoch_train: list[float] = field(default_factory=list)  # mean step loss per epoch
    epoch_val: list[float] = field(default_factory=list)    # validation loss per epoch

    @property
    def done(self) -> bool:
        """True once the run has reached an end state."""
        return self.state in END_STATES


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the weights (on the model's device)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _on_device(t: torch.Tensor, device: torch.device, cache: dict) -> torch.Tensor:
    """The same strided view, but on ``device``: copies the underlying storage (the scaled series)
    once per run, not the overlapping windows. On the tensor's own device returns ``t`` (no copy)."""
    if t.device == device:
        return t
    key = t.untyped_storage().data_ptr()
    if key not in cache:
        flat = torch.empty(0, dtype=t.dtype, device=t.device).set_(t.untyped_storage())  # (S,)
        cache[key] = flat.to(device)
    return cache[key].as_strided(t.size(), t.stride(), t.storage_offset())


class _Stopped(Exception):
    """Internal: the user pressed stop."""


# ----------------------------------------------------------------------------- the run

class TrainingRun:
    """Train a fresh :class:`Forecaster` on ``dataset`` -- in a thread (:meth:`start`) or here
    (:meth:`run`) -- while publishing :class:`Progress`.

    Parameters
    ----------
    dataset : gru_core.windows.Dataset
        Windows in scaled units; ``dataset.train`` is trained on, ``dataset.val`` drives early
        stopping. The test part is never touched.
    model_cfg : ModelConfig
        Shape of the network; ``input_size`` must equal the dataset's columns and ``horizon`` its
        horizon.
    train_cfg : TrainConfig
        Optimiser, epochs, early stopping, device and threads.
    on_progress : callable, optional
        ``on_progress(progress)`` called *from the training thread* with a copied
        :class:`Progress`. It must not call Streamlit. An exception it raises fails the run.

    Attributes
    ----------
    model : Forecaster
        Built (seeded) on construction; after the run holds the weights described in the module
        docstring. Do not use it while the run is going.
    exception : BaseException or None
        The unexpected exception that made the run "failed", if any.
    """

    def __init__(self, dataset, model_cfg: ModelConfig, train_cfg: TrainConfig | None = None,
                 on_progress: Callable[[Progress], None] | None = None):
        self.dataset = dataset
        self.model_cfg = model_cfg.validate()
        self.cfg = (train_cfg if train_cfg is not None else TrainConfig()).validate()
        self.on_progress = on_progress
        self.device = resolve_device(self.cfg.device)
        n_train, _, n_cols = dataset.train.X.shape  # N, L, C
        horizon = dataset.train.Y.shape[1]           # H
        if n_train == 0:
            raise DataError("There are no training windows: use a longer series, a shorter "
                            "lookback/horizon or a larger training fraction.")
        if model_cfg.input_size != n_cols:
            raise DataError(f"The model expects {model_cfg.input_size} input column(s) but the data "
                            f"has {n_cols}: set input_size to {n_cols}.")
        if model_cfg.horizon != horizon:
            raise DataError(f"The model forecasts {model_cfg.horizon} step(s) but the windows have a "
                            f"horizon of {horizon}: use the same horizon for both.")
        with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the global RNG
            torch.manual_seed(self.cfg.seed)
            self.model = Forecaster(model_cfg)
        self.model.to(self.device)
        self.exception: BaseException | None = None

        self._steps_per_epoch = math.ceil(n_train / self.cfg.batch_size)
        # read losses back to the host every k steps: each read waits for an accelerator to finish
        self._sync_every = 1 if self.device.type == "cpu" else 16
        self._lock = threading.Lock()
        self._go = threading.Event()      # set = may run; cleared by pause()
        self._go.set()
        self._stop = threading.Event()    # set = stop at the next batch boundary
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._claimed = False
        self._t0: float | None = None     # perf_counter at start
        self._t_end: float | None = None  # perf_counter at the end
        self._paused_total = 0.0
        self._pause_started: float | None = None
        self._windows = 0                 # training windows processed
        self._p = Progress(state="idle", epochs=self.cfg.epochs,
                           total_steps=self.cfg.epochs * self._steps_per_epoch,
                           device=str(self.device))

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
            p = self._p
            if self._t0 is not None:
                now = self._t_end if self._t_end is not None else time.perf_counter()
                paused = self._paused_total
                if self._pause_started is not None:
                    paused += now - self._pause_started
                elapsed = max(now - self._t0 - paused, 0.0)
                wps = self._windows / elapsed if elapsed > 0 else 0.0
                if p.state in END_STATES:
                    eta = 0.0
                elif p.step > 0:
                    eta = elapsed / p.step * max(p.total_steps - p.step, 0)
                else:
                    eta = None
            else:
                elapsed, wps, eta = 0.0, 0.0, None
            return dataclasses.replace(
                p, elapsed_s=elapsed, windows_per_s=wps, eta_s=eta,
                steps=p.steps.copy(), step_loss=p.step_loss.copy(),
                epoch_steps=p.epoch_steps.copy(), epoch_train=p.epoch_train.copy(),
                epoch_val=p.epoch_val.copy())

    # ---- the training thread

    def _claim(self) -> None:
        with self._lock:
            if self._claimed:
                raise DataError("This run has already been started: create a new TrainingRun "
                                "to train again.")
            self._claimed = True
            self._p.state = "running"
            self._t0 = time.perf_counter()

    def _publish(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.snapshot())

    def _finish(self, state: str, reason: str) -> None:
        with self._lock:
            if self._pause_started is not None:
                self._paused_total += time.perf_counter() - self._pause_started
                self._pause_started = None
            self._t_end = time.perf_counter()
            self._p.state, self._p.reason = state, reason
        self._done.set()

    def _main(self) -> None:
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(self.cfg.num_threads)  # process-global, restored below
        try:
            state, reason = self._train()
            self._finish(state, reason)
        except Exception as exc:  # never let an error vanish inside the thread
            self.exception = exc
            self._finish("failed", f"Training failed with an unexpected error: "
                                   f"{type(exc).__name__}: {exc}")
        finally:
            torch.set_num_threads(prev_threads)
        try:
            self._publish()
        except Exception as exc:  # a failing callback at the very end: record it, keep the state
            self.exception = self.exception or exc

    def _checkpoint(self) -> None:
        """Between batches: block while paused, raise :class:`_Stopped` on stop."""
        if not self._go.is_set() and not self._stop.is_set():
            with self._lock:
                self._pause_started = time.perf_counter()
                self._p.state = "paused"
            self._publish()
            self._go.wait()  # blocks without spinning; stop() sets it too
            with self._lock:
                self._paused_total += time.perf_counter() - self._pause_started
                self._pause_started = None
                self._p.state = "running"
        if self._stop.is_set():
            raise _Stopped

    @torch.no_grad()
    def _validate(self, X: torch.Tensor, Y: torch.Tensor, batch_size: int = 1024) -> float | None:
        """Mean squared error over all validation windows (scaled units); None if there are none."""
        n = X.shape[0]
        if n == 0:
            return None
        self.model.eval()
        total = 0.0                                  # float64 on the host (MPS has no float64)
        for i in range(0, n, batch_size):
            self._checkpoint()
            pred = self.model(X[i:i + batch_size])  # (b, H)
            total += F.mse_loss(pred, Y[i:i + batch_size], reduction="sum").item()
        return total / Y.numel()

    def _diverged_reason(self, what: str, where: str) -> str:
        hint = ("use a lower learning rate (now {lr:g}) or stronger gradient clipping "
                "(clip_grad now {clip:g})" if self.cfg.clip_grad > 0 else
                "use a lower learning rate (now {lr:g}) or turn on gradient clipping (clip_grad = 1)")
        return (f"The {what} became {where}. Training diverged; "
                + hint.format(lr=self.cfg.lr, clip=self.cfg.clip_grad) + ".")

    def _train(self) -> tuple[str, str]:
        """The loop. Returns (end state, reason); restores the kept weights."""
        cfg, model, dev = self.cfg, self.model, self.device
        ds = self.dataset
        torch.manual_seed(cfg.seed)                    # dropout and anything else random
        gen = torch.Generator().manual_seed(cfg.seed)  # shuffling
        cache: dict = {}
        X = _on_device(ds.train.X, dev, cache)         # (N, L, C) strided view
        Y = _on_device(ds.train.Y, dev, cache)         # (N, H)
        Xv, Yv = _on_device(ds.val.X, dev, cache), _on_device(ds.val.Y, dev, cache)
        N, B = X.shape[0], cfg.batch_size
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=cfg.lr)
        sync_every = self._sync_every
        p, lock = self._p, self._lock

        last_good = _copy_state(model)                 # weights at the last epoch end
        best_state: dict[str, torch.Tensor] | None = None
        best_val, stale = math.inf, 0
        pending: list[tuple[int, int, torch.Tensor, torch.Tensor]] = []  # step, b, loss, grad norm
        epoch_losses: list[float] = []
        step, last_pub = 0, time.perf_counter()
        state, reason = "finished", ""

        def flush() -> tuple[int, float] | None:
            """Move pending losses to the history; returns (step, loss) of the first non-finite
            loss, if any (later steps are dropped)."""
            if not pending:
                return None
            if len(pending) == 1:
                vals = [(pending[0][2].item(), pending[0][3].item())]
            else:  # one device->host transfer for k steps
                vals = torch.stack([torch.stack((l, g.to(l.dtype))) for *_, l, g in pending]).tolist()
            bad = None
            with lock:
                for (s, b, _, _), (loss_v, g_v) in zip(pending, vals):
                    if not math.isfinite(loss_v):
                        bad = (s, loss_v)
                        break
                    p.steps.append(s)
                    p.step_loss.append(loss_v)
                    p.step, p.train_loss, p.grad_norm = s, loss_v, g_v
                    self._windows += b
                    epoch_losses.append(loss_v)
            pending.clear()
            return bad

        try:
            for epoch in range(1, cfg.epochs + 1):
                # 1. one pass over the shuffled training windows
                perm = torch.randperm(N, generator=gen)
                if dev.type != "cpu":
                    perm = perm.to(dev)
                model.train()
                epoch_losses.clear()
                for i in range(0, N, B):
                    self._checkpoint()
                    idx = perm[i:i + B]
                    xb, yb = X[idx], Y[idx]            # (b, L, C), (b, H): copies just the batch
                    opt.zero_grad(set_to_none=True)
                    loss = F.mse_loss(model(xb), yb)   # scaled units
                    loss.backward()
                    if cfg.clip_grad > 0:
                        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
                    else:
                        gnorm = torch.nn.utils.get_total_norm([q.grad for q in params
                                                               if q.grad is not None])
                    opt.step()
                    step += 1
                    pending.append((step, xb.shape[0], loss.detach(), gnorm.detach()))
                    if len(pending) >= sync_every:
                        bad = flush()
                        if bad is not None:
                            return self._end_diverged(bad, best_state, last_good)
                    if self.on_progress is not None:
                        now = time.perf_counter()
                        if now - last_pub >= cfg.eval_every_s:
                            last_pub = now
                            self._publish()
                bad = flush()
                if bad is not None:
                    return self._end_diverged(bad, best_state, last_good)

                # 2. validation (eval mode, no grad) and the epoch's record
                val = self._validate(Xv, Yv)
                if val is not None and not math.isfinite(val):
                    return self._end_diverged(None, best_state, last_good, epoch=epoch)
                last_good = _copy_state(model)
                improved = val is not None and val < best_val
                with lock:
                    p.epoch = epoch
                    p.epoch_steps.append(step)
                    p.epoch_train.append(sum(epoch_losses) / max(len(epoch_losses), 1))
                    p.epoch_val.append(val if val is not None else math.nan)
                    p.val_loss = val
                    if improved:
                        p.best_val, p.best_epoch = val, epoch
                if improved:
                    best_val, stale = val, 0
                    if cfg.patience > 0:
                        best_state = last_good         # shared, never modified in place
                elif val is not None:
                    stale += 1
                last_pub = time.perf_counter()
                self._publish()

                # 3. early stopping
                if cfg.patience > 0 and val is not None and stale >= cfg.patience:
                    state = "early_stopped"
                    reason = (f"Early stopping: the validation loss did not improve for "
                              f"{cfg.patience} epoch(s) after epoch {p.best_epoch} "
                              f"(best {best_val:.4g}); restored the weights of epoch {p.best_epoch}.")
                    break
            else:
                reason = f"Finished all {cfg.epochs} epochs ({step} steps)."
                if best_state is not None and p.best_epoch != cfg.epochs:
                    reason += f" Restored the best weights, from epoch {p.best_epoch}."
        except _Stopped:
            bad = flush()
            if bad is not None:
                return self._end_diverged(bad, best_state, last_good)
            state = "stopped"
            reason = f"Stopped by the user during epoch {p.epoch + 1} after {step} steps."
            if best_state is not None:
                reason += f" Restored the best weights, from epoch {p.best_epoch}."
        if best_state is not None:
            model.load_state_dict(best_state)
        return state, reason

    def _end_diverged(self, bad: tuple[int, float] | None, best_state, last_good,
                      epoch: int | None = None) -> tuple[str, str]:
        """Restore best (early stopping on) or last-epoch weights after a non-finite loss."""
        if bad is not None:
            bad_step, value = bad
            with self._lock:
                self._p.step = bad_step
            word = "NaN" if math.isnan(value) else "infinite"
            reason = self._diverged_reason("training loss", f"{word} at step {bad_step}")
        else:
            reason = self._diverged_reason("validation loss", f"NaN or infinite in epoch {epoch}")
        if best_state is not None:
            self.model.load_state_dict(best_state)
            reason += f" Kept the best weights, from epoch {self._p.best_epoch}."
        else:
            self.model.load_state_dict(last_good)
            done = self._p.epoch
            reason += (f" Kept the weights from the end of epoch {done}." if done else
                       " Kept the initial weights (it diverged in the first epoch).")
        return "diverged", reason
