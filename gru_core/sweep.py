"""Hyperparameter sweeps: a grid or random search over the forecaster's settings, run through the
scheduler, chosen by validation error only; the chosen config's test error is computed after.

    space = SweepSpace(hidden_size=[16, 32], lookback=[12, 24], seed=[0, 1])
    base = SweepBase(series, WindowConfig(24, 6), SplitConfig(), "standard", model_cfg, train_cfg)
    sweep = Sweep(base, grid(space))                # or random_search(space, n=6, seed=0)
    sweep.submit(scheduler, token)                  # one job group: queued locally, parallel on Ray
    sweep.results()                                 # live table, one row per trial
    best = sweep.best()                             # lowest validation error among ended trials
    sweep.test_metrics(best)                        # only now: the chosen config on the test windows

Swept keys (:data:`SWEEP_KEYS`): ``hidden_size``, ``num_layers``, ``lookback``, ``lr``, ``seed``
and ``transform`` (a target transform of ``gru_core.transforms``, when that module exists and
``make_dataset`` takes ``transform``; otherwise only ``"none"`` is accepted). The validation error
is measured in the data's own units (``gru_core.evaluate`` on the validation windows), so trials
with different lookbacks and transforms are compared on the same scale.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import itertools
import math
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gru_core.errors import DataError
from gru_core.evaluate import evaluate
from gru_core.jobs import ForecastSpec, describe_wait
from gru_core.metrics import METRICS
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig
from gru_core.windows import SplitConfig, WindowConfig, make_dataset

SWEEP_KEYS = ("hidden_size", "num_layers", "lookback", "lr", "transform", "seed")
GOOD_STATES = ("finished", "early_stopped", "stopped")   # ended with trained weights to score
MAX_TRIALS = 200


def transforms_available() -> list[str]:
    """Transform keys a sweep may use: ``["none"]`` plus ``gru_core.transforms``' if present."""
    if importlib.util.find_spec("gru_core.transforms") is None or \
            "transform" not in inspect.signature(make_dataset).parameters:
        return ["none"]
    from gru_core.transforms import TRANSFORMS
    return list(TRANSFORMS)


@dataclass
class SweepSpace:
    """The values tried for each swept setting (every list non-empty)."""

    hidden_size: list[int] = field(default_factory=lambda: [16, 32])   # units per layer
    num_layers: list[int] = field(default_factory=lambda: [1])         # stacked layers
    lookback: list[int] = field(default_factory=lambda: [24])          # input window L
    lr: list[float] = field(default_factory=lambda: [5e-3])            # Adam learning rate
    transform: list[str] = field(default_factory=lambda: ["none"])     # target transform key
    seed: list[int] = field(default_factory=lambda: [0])               # init + shuffling seed

    def validate(self) -> "SweepSpace":
        allowed = transforms_available()
        for key in SWEEP_KEYS:
            values = getattr(self, key)
            if not isinstance(values, (list, tuple)) or not values:
                raise DataError(f"Sweep setting {key!r} needs at least one value; got {values!r}.")
        bad = [t for t in self.transform if t not in allowed]
        if bad:
            raise DataError(f"Unknown transform(s) {', '.join(map(repr, bad))}: this version "
                            f"offers {', '.join(allowed)}.")
        if self.size() > MAX_TRIALS:
            raise DataError(f"The grid has {self.size()} combinations, more than {MAX_TRIALS}: "
                            "use fewer values, or a random search with fewer trials.")
        return self

    def size(self) -> int:
        return math.prod(len(getattr(self, k)) for k in SWEEP_KEYS)


def grid(space: SweepSpace) -> list[dict]:
    """Every combination, in :data:`SWEEP_KEYS` order (the last key varies fastest)."""
    space.validate()
    return [dict(zip(SWEEP_KEYS, combo))
            for combo in itertools.product(*(getattr(space, k) for k in SWEEP_KEYS))]


def random_search(space: SweepSpace, n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct combinations drawn uniformly from the grid (all of it if ``n`` >= its size)."""
    combos = grid(space)
    if not isinstance(n, int) or n < 1:
        raise DataError(f"A random search needs at least 1 trial; got {n!r}.")
    pick = np.random.default_rng(seed).permutation(len(combos))[:n]
    return [combos[i] for i in sorted(pick)]


@dataclass
class SweepBase:
    """Everything a sweep does not vary: the data, the window and split, and the other settings."""

    series: object                      # gru_core.data.Series
    window: WindowConfig                # lookback replaced per trial
    split: SplitConfig
    scaler: str                         # "standard" | "minmax" | "none"
    model_cfg: ModelConfig              # hidden_size, num_layers replaced per trial
    train_cfg: TrainConfig              # lr, seed replaced per trial


def trial_spec(base: SweepBase, params: dict) -> ForecastSpec:
    """The scheduler spec of one trial: its dataset built here (lookback, transform), its configs."""
    extra = {}
    model_cfg = dataclasses.replace(base.model_cfg, hidden_size=int(params["hidden_size"]),
                                    num_layers=int(params["num_layers"]))
    if params.get("transform", "none") != "none":
        from gru_core.transforms import TRANSFORMS      # present: SweepSpace.validate checked
        extra["transform"] = params["transform"]
        norm = TRANSFORMS[params["transform"]].window_norm
        if norm != "none" and hasattr(model_cfg, "window_norm"):
            model_cfg = dataclasses.replace(model_cfg, window_norm=norm)
    window = dataclasses.replace(base.window, lookback=int(params["lookback"]))
    ds = make_dataset(base.series, window, base.split, base.scaler, **extra)
    train_cfg = dataclasses.replace(base.train_cfg, lr=float(params["lr"]), seed=int(params["seed"]))
    return ForecastSpec(ds, model_cfg, train_cfg)


class Sweep:
    """The trials of one sweep, their jobs and their scores (see the module docstring).

    Parameters
    ----------
    base : SweepBase
    trials : list of dict
        From :func:`grid` or :func:`random_search`.
    metric : str
        The validation error that selects: a column of ``gru_core.metrics.METRICS`` ("RMSE").
    """

    def __init__(self, base: SweepBase, trials: list[dict], metric: str = "RMSE"):
        if metric not in METRICS:
            raise DataError(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}.")
        if not trials:
            raise DataError("The sweep has no trials: give every setting at least one value.")
        self.base, self.trials, self.metric = base, [dict(t) for t in trials], metric
        self.specs = [trial_spec(base, p) for p in self.trials]
        self.jobs: list = []
        self._scores: dict[int, float] = {}            # trial index -> validation error
        self._lock = threading.Lock()

    def submit(self, scheduler, session: str, *, replace: bool = False) -> list:
        """Queue every trial as one job group of ``session``."""
        self.jobs = scheduler.submit_group(session, self.specs, label="sweep trial",
                                           replace=replace)
        return self.jobs

    @property
    def done(self) -> bool:
        return bool(self.jobs) and not any(j.running for j in self.jobs)

    def stop(self) -> None:
        for job in self.jobs:
            job.stop()

    def score(self, i: int) -> float | None:
        """Trial ``i``'s validation error in the data's units (None until it has ended with a model)."""
        with self._lock:
            if i in self._scores:
                return self._scores[i]
        if not self.jobs or self.jobs[i].running or self.jobs[i].state not in GOOD_STATES:
            return None
        if self.jobs[i].snapshot().step == 0 or self.jobs[i].model is None:
            return None
        value = float(evaluate(self.jobs[i].model, self.specs[i].dataset, "val", season=0)
                      .metrics.iloc[0][self.metric])
        with self._lock:
            self._scores[i] = value
        return value

    def results(self) -> pd.DataFrame:
        """One row per trial: its settings, state, epochs, validation error, run time."""
        rows = []
        for i, params in enumerate(self.trials):
            job = self.jobs[i] if self.jobs else None
            p = job.snapshot() if job is not None else None
            state = "not submitted" if p is None else p.state
            if p is not None and p.state == "queued":
                state = "queued · " + describe_wait(job.position, job.eta_s)
            rows.append({"trial": i + 1, **params, "state": state,
                         "epochs": None if p is None else p.epoch,
                         f"val {self.metric}": self.score(i),
                         "best val loss (scaled)": None if p is None else p.best_val,
                         "run time (s)": None if p is None else round(p.elapsed_s, 1)})
        return pd.DataFrame(rows)

    def best(self) -> int | None:
        """Index of the ended trial with the lowest validation error (None before any)."""
        scores = [(s, i) for i in range(len(self.trials))
                  if (s := self.score(i)) is not None and math.isfinite(s)]
        return min(scores)[1] if scores else None

    def test_metrics(self, i: int) -> pd.DataFrame:
        """Trial ``i`` (the chosen one) and the baselines on the *test* windows, data units."""
        model = self.jobs[i].model if self.jobs else None
        if model is None:
            raise DataError("That trial has no trained model (it has not ended, or the server "
                            "removed it to free memory): run the sweep again.")
        return evaluate(model, self.specs[i].dataset, "test").metrics
