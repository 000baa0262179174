"""What a training run trains: the :class:`Task` interface, the forecaster's :class:`ForecastTask`,
and the process-wide lock that guards torch's global RNG.

A task owns a model and its data and answers five questions for the generic epoch loop
(``gru_core.loop``): how many steps an epoch has, which batches to train on (shuffled with the
run's own ``torch.Generator``), how many items a batch counts for throughput, the scalar loss of a
batch, and the mean validation loss. Everything else -- optimiser, clipping, divergence, early
stopping, kept weights, pause/stop, progress -- is the run's (``gru_core.train.TrainingRun``)::

    run = TrainingRun.for_task(MyTask(...), TrainConfig(epochs=5))

Global RNG: torch's default generators are process-wide. Code that must draw from them (building
a module with its default init; dropout, which only draws from them) holds :data:`GLOBAL_RNG_LOCK`
and restores the state afterwards (:func:`seeded_global_rng`), so concurrent runs cannot see each
other's draws.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from gru_core.errors import DataError
from gru_core.model import Forecaster, ModelConfig, init_weights

GLOBAL_RNG_LOCK = threading.RLock()
"""Held by every GRU Lab code path that draws from (or seeds) torch's global RNG."""


@runtime_checkable
class Task(Protocol):
    """What :meth:`gru_core.train.TrainingRun.for_task` trains.

    Attributes
    ----------
    model : torch.nn.Module
        Built (seeded) by the task; the run moves it to the device and keeps the weights of its
        restore policy in it.
    unit : str
        What throughput counts: "windows", "tokens", ... (``Progress.unit``).
    """

    model: torch.nn.Module
    unit: str

    def steps_per_epoch(self) -> int:
        """Optimiser steps in one epoch (= batches :meth:`train_batches` yields)."""
        ...

    def to_device(self, device: torch.device) -> None:
        """Move the data the task holds to ``device`` (called once, at the start of the run)."""
        ...

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[Any]:
        """The batches of epoch ``epoch`` (1-based), shuffled with ``generator`` only."""
        ...

    def batch_size(self, batch) -> int:
        """Items in ``batch`` counted for throughput."""
        ...

    def loss(self, batch) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Scalar training loss of ``batch`` (the model is in train mode), or ``(objective,
        shown)``: the run minimises ``objective`` and records ``shown``."""
        ...

    def validate(self, checkpoint: Callable[[], None]) -> float | None:
        """Mean validation loss (eval mode, no grad), calling ``checkpoint()`` between chunks so
        the run can pause or stop; None when there is no validation data."""
        ...


@contextmanager
def seeded_global_rng(device: torch.device, seed: int | None = None):
    """Hold :data:`GLOBAL_RNG_LOCK`, optionally seed torch's default generator(s) for ``device``
    (the CPU one, plus the CUDA one on CUDA) with ``seed``, and restore their states on exit.

    Code in other threads that draws from the global RNG *without* the lock can still interleave
    with the draws made inside.
    """
    with GLOBAL_RNG_LOCK:
        gens = [torch.random.default_generator]
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            gens.append(torch.cuda.default_generators[index])
        states = [g.get_state() for g in gens]
        try:
            if seed is not None:
                for g in gens:
                    g.manual_seed(seed)
            yield
        finally:
            for g, state in zip(gens, states):
                g.set_state(state)


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


class ForecastTask:
    """Train a fresh :class:`Forecaster` on a windowed dataset with the mean squared error.

    Parameters
    ----------
    dataset : gru_core.windows.Dataset
        Windows in scaled units; ``dataset.train`` is trained on, ``dataset.val`` validates. The
        test part is never touched.
    model_cfg : ModelConfig
        ``input_size`` must equal the dataset's columns and ``horizon`` its horizon.
    generator_seed : int
        Seeds the weight initialisation (:func:`gru_core.model.init_weights` with a
        ``torch.Generator``); shuffling uses the generator the run passes to :meth:`train_batches`.
    batch_size : int
        Windows per minibatch B (the last batch of an epoch may be smaller).
    dense : bool
        Also train the head on the states of the window's second half (see :meth:`loss`). Only a
        one-directional model with a lookback of 2 or more uses it; otherwise it is off.
    """

    unit = "windows"

    def __init__(self, dataset, model_cfg: ModelConfig, generator_seed: int, batch_size: int = 64,
                 dense: bool = False):
        self.dataset = dataset
        self.model_cfg = model_cfg.validate()
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
        self.B = batch_size
        with seeded_global_rng(torch.device("cpu")):  # nn's default init draws (then discarded)
            self.model = Forecaster(model_cfg)
        init_weights(self.model, torch.Generator().manual_seed(generator_seed))
        L = dataset.train.X.shape[1]
        self.dense_from = L // 2                      # first position the dense loss reads
        self.dense = bool(dense) and not model_cfg.bidirectional and L >= 2
        self._device = torch.device("cpu")
        self._X, self._Y = dataset.train.X, dataset.train.Y  # (N, L, C), (N, H) strided views
        self._Xv, self._Yv = dataset.val.X, dataset.val.Y    # (Nv, L, C), (Nv, H)

    def steps_per_epoch(self) -> int:
        return -(-self._X.shape[0] // self.B)  # ceil(N / B)

    def to_device(self, device: torch.device) -> None:
        cache: dict = {}
        ds = self.dataset
        self._X, self._Y = _on_device(ds.train.X, device, cache), _on_device(ds.train.Y, device, cache)
        self._Xv, self._Yv = _on_device(ds.val.X, device, cache), _on_device(ds.val.Y, device, cache)
        self._device = device

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple]:
        X, Y, B = self._X, self._Y, self.B
        N = X.shape[0]
        perm = torch.randperm(N, generator=generator)  # (N,) on the CPU
        if self._device.type != "cpu":
            perm = perm.to(self._device)
        for i in range(0, N, B):
            idx = perm[i:i + B]
            yield X[idx], Y[idx]                       # (b, L, C), (b, H): copies just this batch

    def batch_size(self, batch) -> int:
        return batch[0].shape[0]

    def loss(self, batch) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The forecast's mean squared error on ``batch`` (scaled units).

        Dense (``dense=True``): returns ``(objective, forecast MSE)``. The run minimises the mean
        over positions t = L//2 .. L-1 of ``MSE(head(h_t), z[t+1 : t+1+H])``, where z is the
        window's own target column followed by its H targets: the state after every step of the
        window's second half is also asked for the H values that follow it, all of them inside
        the training window (t = L-1 is the forecast itself). The model is the same and its
        forecast is still ``head(h_L)``; the run shows (and early stopping reads) the forecast MSE.
        """
        xb, yb = batch
        if not self.dense:
            return F.mse_loss(self.model(xb), yb)      # scaled units
        H, t0 = yb.shape[1], self.dense_from
        pred = self.model.forecast_each_step(xb, t0)   # (B, L-t0, H)
        z = torch.cat([xb[:, :, 0], yb], dim=1)        # (B, L+H): target column, then targets
        target = z.unfold(1, H, 1)[:, t0 + 1:]         # (B, L-t0, H): z[t+1 : t+1+H]
        return F.mse_loss(pred, target), F.mse_loss(pred[:, -1], yb)   # the last = model(xb)

    @torch.no_grad()
    def validate(self, checkpoint: Callable[[], None], batch_size: int = 1024) -> float | None:
        """Mean squared error over all validation windows (scaled units); None if there are none."""
        X, Y = self._Xv, self._Yv
        n = X.shape[0]
        if n == 0:
            return None
        self.model.eval()
        total = 0.0                                    # float64 on the host (MPS has no float64)
        for i in range(0, n, batch_size):
            checkpoint()
            pred = self.model(X[i:i + batch_size])     # (b, H)
            total += F.mse_loss(pred, Y[i:i + batch_size], reduction="sum").item()
        return total / Y.numel()
