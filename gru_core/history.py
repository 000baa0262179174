"""A session's finished runs, kept side by side, and "rewind": the same run with one knob changed.

    history = RunHistory(max_runs=6)
    rec = history.add_run(run, source="sample: sunspots", tape=tape)   # a finished TrainingRun
    history.table()                        # one row per run: settings, end state, metrics
    overlay_curves([a, b])                 # their loss curves on one axis
    model_cfg, train_cfg = rewind_configs(rec, "hidden_size", 8)       # same seed, one change

A :class:`RunRecord` keeps what is needed to compare and to re-use a run: its configs, end state,
per-epoch curves, test metrics (``gru_core.evaluate``: GRU vs naive vs seasonal naive), the test
forecasts, the model bundle bytes (``gru_core.bundle.save_bundle``, so the model can be rebuilt
with ``load_bundle``), the weights as a CPU copy and (optionally) its gate tape. The dataset is
held by reference (one per data setup; not copied). The history is bounded: adding a run past
``max_runs`` drops the oldest one.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from gru_core.bundle import save_bundle
from gru_core.errors import DataError
from gru_core.evaluate import evaluate
from gru_core.model import Forecaster, ModelConfig
from gru_core.train import TrainConfig

__all__ = ["MAX_RUNS", "REWIND_KNOBS", "RunRecord", "RunHistory", "config_changes",
           "overfitting", "overlay_curves", "rewind_configs", "same_window_traces"]

MAX_RUNS = 6   # runs one session keeps by default

REWIND_KNOBS = {  # knob -> (config it belongs to, label)
    "hidden_size": ("model", "units per layer"),
    "num_layers": ("model", "layers"),
    "dropout": ("model", "dropout"),
    "lr": ("train", "learning rate"),
    "batch_size": ("train", "batch size"),
    "epochs": ("train", "epochs"),
    "patience": ("train", "early-stopping patience (0 = off)"),
    "clip_grad": ("train", "gradient clipping (0 = off)"),
    "seed": ("train", "seed"),
}
"""The settings a rewind may change (one at a time): key -> (``"model"`` | ``"train"``, label)."""


@dataclass
class RunRecord:
    """One finished run.

    Attributes
    ----------
    id : int
        1, 2, ... in the order runs were added (never reused in a session).
    label : str
        Short name ("run 3: GRU 32×1, lr 0.005").
    source : str
        Where the data came from.
    dataset : gru_core.windows.Dataset
        The data it trained on (by reference).
    model_cfg, train_cfg
        Its configs.
    state, reason : str
        End state ("finished", "early_stopped", ...) and why.
    epoch_steps, epoch_train, epoch_val : list
        Per-epoch curves (scaled-units MSE; NaN where not validated).
    best_epoch : int or None
    metrics : pandas.DataFrame
        Test metrics, rows model / naive / seasonal naive (``Evaluation.metrics``).
    forecast : np.ndarray
        (N, H) test forecasts in data units; ``actual`` the same windows' targets.
    state_dict : dict
        CPU copy of the weights.
    bundle : bytes
        The model bundle.
    tape : GateTape or None
    note : str
        What it was made for (e.g. "rewind of run 2: hidden_size 32 → 8").
    """

    id: int
    label: str
    source: str
    dataset: object
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    state: str
    reason: str
    epoch_steps: list
    epoch_train: list
    epoch_val: list
    best_epoch: int | None
    metrics: pd.DataFrame
    forecast: np.ndarray
    actual: np.ndarray
    state_dict: dict
    bundle: bytes
    tape: object = None
    note: str = ""
    setup: dict = field(default_factory=dict)

    def model(self) -> Forecaster:
        """A fresh CPU :class:`Forecaster` holding this run's weights (eval mode)."""
        m = Forecaster(self.model_cfg)
        m.load_state_dict(self.state_dict)
        return m.eval()

    def metric(self, name: str = "MAE") -> float:
        """The model's test score ``name`` (first row of :attr:`metrics`)."""
        return float(self.metrics.iloc[0][name])


def _label(rid: int, mc: ModelConfig, tc: TrainConfig) -> str:
    return (f"run {rid}: {mc.cell.upper()} {mc.hidden_size}×{mc.num_layers}, lr {tc.lr:g}, "
            f"seed {tc.seed}")


class RunHistory:
    """Bounded list of :class:`RunRecord`, oldest first; thread-safe.

    Parameters
    ----------
    max_runs : int
        Runs kept; adding one more drops the oldest.
    """

    def __init__(self, max_runs: int = MAX_RUNS):
        if not isinstance(max_runs, int) or max_runs < 1:
            raise DataError(f"max_runs must be a whole number of at least 1; got {max_runs!r}.")
        self.max_runs = max_runs
        self._runs: list[RunRecord] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.keys: set = set()   # caller-chosen keys of runs already added (see add_run)

    def add_run(self, run, source: str = "", tape=None, note: str = "", key=None,
                setup: dict | None = None) -> RunRecord:
        """Record a finished :class:`gru_core.train.TrainingRun` (evaluates it on the test part).

        ``key`` (optional) marks the run as added, so a caller can add each run once
        (``key in history.keys``).
        """
        if run.running:
            raise DataError("This run is still training: add it to the history when it ends.")
        p = run.snapshot()
        if p.step == 0:
            raise DataError("This run never took a training step, so there is nothing to keep.")
        ds, mc, tc = run.dataset, run.model_cfg, run.cfg
        model = run.model
        ev = evaluate(model, ds, "test")
        with self._lock:
            rid = next(self._ids)
        rec = RunRecord(
            id=rid, label=_label(rid, mc, tc), source=source, dataset=ds, model_cfg=mc,
            train_cfg=tc, state=p.state, reason=p.reason, epoch_steps=list(p.epoch_steps),
            epoch_train=list(p.epoch_train), epoch_val=list(p.epoch_val),
            best_epoch=p.best_epoch, metrics=ev.metrics, forecast=ev.y_pred, actual=ev.y_true,
            state_dict={k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
            bundle=save_bundle(model, ds, tc), tape=tape, note=note, setup=dict(setup or {}))
        with self._lock:
            self._runs.append(rec)
            del self._runs[:-self.max_runs]
            if key is not None:
                self.keys.add(key)
        return rec

    def runs(self) -> list[RunRecord]:
        with self._lock:
            return list(self._runs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def get(self, rid: int) -> RunRecord:
        for r in self.runs():
            if r.id == rid:
                return r
        raise DataError(f"Run {rid} is not in the history (kept: "
                        f"{', '.join(str(r.id) for r in self.runs()) or 'none'}); the history "
                        f"keeps the last {self.max_runs} runs.")

    def table(self, metric: str = "MAE") -> pd.DataFrame:
        """One row per run: id, settings, epochs run, best epoch, end state, test scores."""
        rows = []
        for r in self.runs():
            base = r.metrics.iloc[1:][metric].min() if len(r.metrics) > 1 else math.nan
            rows.append({
                "run": r.id, "units": r.model_cfg.hidden_size, "layers": r.model_cfg.num_layers,
                "lr": r.train_cfg.lr, "batch": r.train_cfg.batch_size, "seed": r.train_cfg.seed,
                "epochs run": len(r.epoch_train), "best epoch": r.best_epoch, "end": r.state,
                f"test {metric}": r.metric(metric), f"best baseline {metric}": float(base),
                "note": r.note or r.source})
        return pd.DataFrame(rows)


def config_changes(a: RunRecord, b: RunRecord) -> dict[str, tuple]:
    """Settings that differ between two runs: name -> (value in a, value in b)."""
    out = {}
    for ca, cb in ((a.model_cfg, b.model_cfg), (a.train_cfg, b.train_cfg)):
        for f in dataclasses.fields(ca):
            va, vb = getattr(ca, f.name), getattr(cb, f.name)
            if va != vb:
                out[f.name] = (va, vb)
    if a.dataset is not b.dataset:
        out["data"] = (a.source, b.source)
    return out


def overlay_curves(records) -> pd.DataFrame:
    """Long table of the runs' per-epoch curves: run, epoch, kind ("train" | "validation"), loss."""
    rows = []
    for r in records:
        for kind, vals in (("train", r.epoch_train), ("validation", r.epoch_val)):
            rows += [{"run": r.id, "epoch": e, "kind": kind, "loss": float(v)}
                     for e, v in enumerate(vals, start=1)]
    return pd.DataFrame(rows, columns=["run", "epoch", "kind", "loss"])


def rewind_configs(rec: RunRecord, knob: str, value) -> tuple[ModelConfig, TrainConfig]:
    """``rec``'s configs with one setting changed; the seed (and all else) stays unless it is the knob.

    Raises
    ------
    DataError
        Unknown knob, or a value the configs refuse (their own fix-it message).
    """
    if knob not in REWIND_KNOBS:
        raise DataError(f"Cannot rewind with {knob!r} changed: choose one of "
                        f"{', '.join(REWIND_KNOBS)}.")
    where, _ = REWIND_KNOBS[knob]
    cast = type(getattr(rec.model_cfg if where == "model" else rec.train_cfg, knob))
    try:
        value = cast(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{knob} needs a {cast.__name__}; got {value!r}.") from exc
    mc, tc = rec.model_cfg, rec.train_cfg
    if where == "model":
        mc = dataclasses.replace(mc, **{knob: value}).validate()
    else:
        tc = dataclasses.replace(tc, **{knob: value}).validate()
    return mc, tc


@torch.no_grad()
def same_window_traces(records, split: str = "test", i: int = 0) -> dict:
    """Gate traces of window ``i`` for each run (GRUs on the same data only): id -> GateTrace."""
    from gru_core.gates import trace_gates

    out = {}
    for r in records:
        if r.model_cfg.cell != "gru":
            continue
        X = getattr(r.dataset, split).X
        if not 0 <= i < X.shape[0]:
            raise DataError(f"Window {i} does not exist for run {r.id}: its {split} part has "
                            f"{X.shape[0]} windows.")
        out[r.id] = trace_gates(r.model().rnn, X[i:i + 1])
    return out


def overfitting(epoch_train, epoch_val, patience: int, state: str = "running",
                rise: float = 0.01) -> str | None:
    """A plain-words note when the validation loss rises while the training loss falls.

    Fires when at least two epochs have passed since the best validation epoch b, the latest
    validation loss is more than ``rise`` (relative) above the best, and the latest training loss
    is below epoch b's. Returns None otherwise.

    Parameters
    ----------
    epoch_train, epoch_val : sequence of float
        Per-epoch mean training loss and validation loss (NaN = not validated).
    patience : int
        The run's early-stopping patience (0 = off), to say what early stopping did or will do.
    state : str
        The run's state ("running", "early_stopped", "finished", ...).
    """
    va = np.asarray(epoch_val, dtype=np.float64)
    tr = np.asarray(epoch_train, dtype=np.float64)
    if va.size < 3 or not np.isfinite(va).any():
        return None
    b = int(np.nanargmin(va))
    last = va.size - 1
    if last - b < 2 or not np.isfinite(va[last]) or va[last] <= va[b] * (1 + rise) or tr[last] >= tr[b]:
        return None
    e = b + 1  # 1-based epoch
    msg = (f"**Overfitting:** since epoch {e} the validation loss rose from {va[b]:.4g} to "
           f"{va[last]:.4g} while the training loss fell from {tr[b]:.4g} to {tr[last]:.4g}: the "
           "model is learning the training windows by heart, not the pattern. ")
    if patience <= 0:
        return msg + (f"Early stopping is off (patience 0), so the model kept is the last epoch's; "
                      f"turn it on to keep epoch {e}'s weights.")
    if state == "running" or state == "paused":
        return msg + (f"Early stopping (patience {patience}) ends the run after {patience} epochs "
                      f"without a new best and keeps the weights of the best epoch.")
    return msg + f"Early stopping kept the weights of epoch {e}, the best on validation."
