"""The epoch loop that trains any :class:`gru_core.task.Task`, and its three small policies.

One step is the minimal hand-written loop, nothing more::

    loss = task.loss(batch)                    # batch from task.train_batches(epoch, generator);
                                               # (objective, shown): minimise one, record the other
    loss.backward(); g = clip_grad_norm_(...)  # g is the pre-clipping gradient norm
    opt.step()                                 # Adam, rate lr_at(step) set before the step

* :func:`lr_at` is the per-step learning-rate schedule (linear warm-up, then cosine decay over
  the planned steps; or constant). It depends only on the step number and the plan, so pause/resume
  and early stopping (which only ends the run sooner) leave it unchanged.
* :class:`LossBuffer` keeps the step losses on the device and reads them back every k steps in one
  transfer (each read waits for an accelerator); it reports the first non-finite loss.
* :class:`EarlyStopping` tracks the best validation loss, its epoch and the stale-epoch count.
* :class:`WeightKeeper` is the restore policy. Weights kept after the run (copied only at epoch
  ends):

  - early stopping on (``patience > 0``) and at least one validated epoch: the best-validation
    weights, whatever the end state ("finished", "stopped", "early_stopped" or "diverged");
  - otherwise, after divergence: the weights at the end of the last completed epoch (the initial
    weights if it diverged in the first epoch) -- not the weights of the very last finite step;
  - otherwise: the weights at the moment the run ended.

Randomness: shuffling uses the run's ``torch.Generator``. A model with active dropout draws from
torch's *global* RNG inside its forward pass, so for such a model each forward runs under
:func:`gru_core.task.seeded_global_rng` with a per-step seed from the run: concurrent dropout runs
take turns for their forward passes (backward and optimiser steps still overlap).
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable

import torch

from gru_core.progress import Progress
from gru_core.task import Task, seeded_global_rng


SCHEDULES = ("warmup_cosine", "constant")
"""``TrainConfig.schedule`` values (see :func:`lr_at`)."""


def lr_at(step: int, total: int, cfg) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of a run planned for ``total`` steps.

    ``"constant"``: ``cfg.lr``. ``"warmup_cosine"``: with ``w = min(cfg.warmup_steps, total // 4)``,
    ``lr * (step + 1) / w`` for ``step < w``, then
    ``lr * (f + (1 - f) * (1 + cos(pi * p)) / 2)`` with ``p = (step - w) / max(total - 1 - w, 1)``
    (clipped to [0, 1]) and ``f = cfg.min_lr_frac``: the peak right after the warm-up, ``f * lr``
    at the last planned step.
    """
    lr = float(cfg.lr)
    if cfg.schedule == "constant":
        return lr
    warm = min(int(cfg.warmup_steps), int(total) // 4)
    if step < warm:
        return lr * (step + 1) / warm
    frac = min(max((step - warm) / max(total - 1 - warm, 1), 0.0), 1.0)
    floor = float(cfg.min_lr_frac)
    return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * frac)))


class Stopped(Exception):
    """Raised by the run's checkpoint when the user pressed stop."""


def copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the weights (on the model's device)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def uses_global_rng(model: torch.nn.Module) -> bool:
    """True if the model's training-mode forward draws from torch's global RNG (active dropout)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0:
            return True
        if isinstance(m, torch.nn.RNNBase) and m.dropout > 0 and m.num_layers > 1:
            return True
    return False


class LossBuffer:
    """Step losses and gradient norms waiting on the device, read back every ``every`` steps.

    Parameters
    ----------
    every : int
        :meth:`add` returns True once this many steps are pending (1 on the CPU: read every step).
    """

    def __init__(self, every: int):
        self.every = max(int(every), 1)
        self._pending: list[tuple[int, int, torch.Tensor, torch.Tensor]] = []  # step, items, loss, g

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, step: int, items: int, loss: torch.Tensor, grad_norm: torch.Tensor) -> bool:
        """Keep one step's detached scalar loss and grad norm; True when a flush is due."""
        self._pending.append((step, items, loss, grad_norm))
        return len(self._pending) >= self.every

    def flush(self) -> tuple[list[tuple[int, int, float, float]], tuple[int, float] | None]:
        """Read the pending values back (one device->host transfer for k steps) and empty the buffer.

        Returns
        -------
        good : list of (step, items, loss, grad_norm)
            The steps before the first non-finite loss, in order.
        bad : (step, loss) or None
            The first step whose loss is NaN or infinite (later steps are dropped).
        """
        pending = self._pending
        if not pending:
            return [], None
        if len(pending) == 1:
            vals = [(pending[0][2].item(), pending[0][3].item())]
        else:
            vals = torch.stack([torch.stack((l, g.to(l.dtype))) for *_, l, g in pending]).tolist()
        good, bad = [], None
        for (s, b, _, _), (loss_v, g_v) in zip(pending, vals):
            if not math.isfinite(loss_v):
                bad = (s, loss_v)
                break
            good.append((s, b, loss_v, g_v))
        self._pending = []
        return good, bad


class EarlyStopping:
    """Best validation loss so far and how many validated epochs have passed without beating it.

    Parameters
    ----------
    patience : int
        :attr:`should_stop` after this many validated epochs without a lower loss; 0 = never.
    """

    def __init__(self, patience: int):
        self.patience = patience
        self.best = math.inf
        self.best_epoch: int | None = None
        self.stale = 0

    def update(self, epoch: int, val: float | None) -> bool:
        """Record epoch ``epoch``'s validation loss (None = not validated: no change);
        returns True if it is a new best."""
        if val is None:
            return False
        if val < self.best:
            self.best, self.best_epoch, self.stale = val, epoch, 0
            return True
        self.stale += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.stale >= self.patience


class WeightKeeper:
    """The restore policy of the module docstring, for one model.

    Parameters
    ----------
    model : torch.nn.Module
        The weights at construction are the "last good" weights until the first epoch ends.
    keep_best : bool
        Keep (and finally restore) the best-validation weights (early stopping on).
    """

    def __init__(self, model: torch.nn.Module, keep_best: bool):
        self.model, self.keep_best = model, keep_best
        self.last_good = copy_state(model)
        self.last_good_epoch = 0
        self.best: dict[str, torch.Tensor] | None = None
        self.best_epoch: int | None = None

    def epoch_end(self, epoch: int, improved: bool) -> None:
        """Copy the weights at the end of a completed (finite) epoch."""
        self.last_good, self.last_good_epoch = copy_state(self.model), epoch
        if improved and self.keep_best:
            self.best, self.best_epoch = self.last_good, epoch  # shared, never modified in place

    def restore(self, diverged: bool) -> str:
        """Load the kept weights; returns which: "best", "last_good" or "end" (left as they are)."""
        if self.best is not None:
            self.model.load_state_dict(self.best)
            return "best"
        if diverged:
            self.model.load_state_dict(self.last_good)
            return "last_good"
        return "end"


class EpochLoop:
    """Run the epochs of one task, writing into ``progress`` under ``lock``.

    ``task``'s model and data are already on ``device``; ``cfg`` (a TrainConfig) gives lr and its
    schedule, epochs, clip_grad, patience and eval_every_s. ``checkpoint()`` is called between
    batches (blocks while paused, raises :class:`Stopped`); ``publish()`` (None: off) hands a
    snapshot to the run's ``on_progress`` at most every ``eval_every_s`` and at every epoch end.
    ``generator`` shuffles; losses are read back every ``sync_every`` steps; ``dropout_seed`` is the base of the per-step
    global-RNG seeds for a model that draws from it (None for one that does not). :attr:`items`
    counts the training items processed (read it under ``lock``). ``on_epoch_end(epoch, model)``
    (None: off) is called after each completed epoch's validation and record.
    """

    def __init__(self, task: Task, cfg, progress: Progress, lock: threading.Lock, *,
                 checkpoint: Callable[[], None], publish: Callable[[], None] | None,
                 generator: torch.Generator, sync_every: int, dropout_seed: int | None,
                 device: torch.device,
                 on_epoch_end: Callable[[int, torch.nn.Module], None] | None = None):
        self.task, self.cfg, self.p, self.lock = task, cfg, progress, lock
        self.on_epoch_end = on_epoch_end
        self.checkpoint, self.publish = checkpoint, publish
        self.generator, self.sync_every = generator, sync_every
        self.dropout_seed, self.device = dropout_seed, device
        self.items = 0                    # training items processed (read under lock)
        self.keeper: WeightKeeper | None = None

    def _record(self, buf: LossBuffer, epoch_losses: list[float]) -> tuple[int, float] | None:
        """Flush ``buf`` into the progress record; returns the first non-finite (step, loss)."""
        good, bad = buf.flush()
        p = self.p
        with self.lock:
            for s, b, loss_v, g_v in good:
                p.steps.append(s)
                p.step_loss.append(loss_v)
                p.step, p.train_loss, p.grad_norm = s, loss_v, g_v
                self.items += b
                epoch_losses.append(loss_v)
        return bad

    def run(self) -> tuple[str, str]:
        """Train. Returns (end state, reason); the model holds the kept weights."""
        task, cfg, p, lock = self.task, self.cfg, self.p, self.lock
        model = task.model
        params = [q for q in model.parameters() if q.requires_grad]
        opt = torch.optim.Adam(params, lr=lr_at(0, 1, cfg))
        group = opt.param_groups[0]
        total = cfg.epochs * int(task.steps_per_epoch())     # planned optimiser steps
        constant = cfg.schedule == "constant"
        buf = LossBuffer(self.sync_every)
        stopper = EarlyStopping(cfg.patience)
        keeper = self.keeper = WeightKeeper(model, keep_best=cfg.patience > 0)
        epoch_losses: list[float] = []
        step, last_pub = 0, time.perf_counter()
        dropout_seed, dev = self.dropout_seed, self.device
        state, reason = "finished", ""
        try:
            for epoch in range(1, cfg.epochs + 1):
                # 1. one pass over the task's shuffled training batches
                model.train()
                epoch_losses.clear()
                for batch in task.train_batches(epoch, self.generator):
                    self.checkpoint()
                    opt.zero_grad(set_to_none=True)
                    if not constant:
                        group["lr"] = lr_at(step, total, cfg)
                    if dropout_seed is None:
                        loss = task.loss(batch)
                    else:
                        with seeded_global_rng(dev, dropout_seed + step):
                            loss = task.loss(batch)
                    if isinstance(loss, tuple):          # (objective, the loss to show)
                        loss, shown = loss
                    else:
                        shown = loss
                    loss.backward()
                    if cfg.clip_grad > 0:
                        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
                    else:
                        gnorm = torch.nn.utils.get_total_norm([q.grad for q in params
                                                               if q.grad is not None])
                    opt.step()
                    step += 1
                    if buf.add(step, task.batch_size(batch), shown.detach(), gnorm.detach()):
                        bad = self._record(buf, epoch_losses)
                        if bad is not None:
                            return self._diverged(bad)
                    if self.publish is not None:
                        now = time.perf_counter()
                        if now - last_pub >= cfg.eval_every_s:
                            last_pub = now
                            self.publish()
                bad = self._record(buf, epoch_losses)
                if bad is not None:
                    return self._diverged(bad)

                # 2. validation (eval mode, no grad) and the epoch's record
                val = task.validate(self.checkpoint)
                if val is not None and not math.isfinite(val):
                    return self._diverged(None, epoch=epoch)
                improved = stopper.update(epoch, val)
                keeper.epoch_end(epoch, improved)
                with lock:
                    p.epoch = epoch
                    p.epoch_steps.append(step)
                    p.epoch_train.append(sum(epoch_losses) / max(len(epoch_losses), 1))
                    p.epoch_val.append(val if val is not None else math.nan)
                    p.val_loss = val
                    if improved:
                        p.best_val, p.best_epoch = val, epoch
                if self.on_epoch_end is not None:   # e.g. a gate tape; outside the step loop
                    self.on_epoch_end(epoch, model)
                last_pub = time.perf_counter()
                if self.publish is not None:
                    self.publish()

                # 3. early stopping
                if stopper.should_stop:
                    state = "early_stopped"
                    reason = (f"Early stopping: the validation loss did not improve for "
                              f"{cfg.patience} epoch(s) after epoch {stopper.best_epoch} "
                              f"(best {stopper.best:.4g}); restored the weights of epoch "
                              f"{stopper.best_epoch}.")
                    break
            else:
                reason = f"Finished all {cfg.epochs} epochs ({step} steps)."
                if keeper.best is not None and keeper.best_epoch != cfg.epochs:
                    reason += f" Restored the best weights, from epoch {keeper.best_epoch}."
        except Stopped:
            bad = self._record(buf, epoch_losses)
            if bad is not None:
                return self._diverged(bad)
            state = "stopped"
            reason = f"Stopped by the user during epoch {p.epoch + 1} after {step} steps."
            if keeper.best is not None:
                reason += f" Restored the best weights, from epoch {keeper.best_epoch}."
        keeper.restore(diverged=False)
        return state, reason

    def _diverged(self, bad: tuple[int, float] | None, epoch: int | None = None) -> tuple[str, str]:
        """End state after a non-finite training loss (``bad``) or validation loss (``epoch``)."""
        if bad is not None:
            bad_step, value = bad
            with self.lock:
                self.p.step = bad_step
            word = "NaN" if math.isnan(value) else "infinite"
            reason = diverged_reason(self.cfg, "training loss", f"{word} at step {bad_step}")
        else:
            reason = diverged_reason(self.cfg, "validation loss", f"NaN or infinite in epoch {epoch}")
        kept = self.keeper.restore(diverged=True)
        if kept == "best":
            reason += f" Kept the best weights, from epoch {self.keeper.best_epoch}."
        else:
            done = self.keeper.last_good_epoch
            reason += (f" Kept the weights from the end of epoch {done}." if done else
                       " Kept the initial weights (it diverged in the first epoch).")
        return "diverged", reason


def diverged_reason(cfg, what: str, where: str) -> str:
    """The fix-it message for a non-finite loss."""
    hint = ("use a lower learning rate (now {lr:g}) or stronger gradient clipping "
            "(clip_grad now {clip:g})" if cfg.clip_grad > 0 else
            "use a lower learning rate (now {lr:g}) or turn on gradient clipping (clip_grad = 1)")
    return (f"The {what} became {where}. Training diverged; "
            + hint.format(lr=cfg.lr, clip=cfg.clip_grad) + ".")
