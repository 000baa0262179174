"""The user's training run and trained model, kept in session state across pages.

A :class:`Job` wraps a ``gru_core.train.TrainingRun`` (which trains in its own thread and never
touches Streamlit) together with the dataset and configs it was started with, so the Forecast and
Gates pages use exactly the data, scaler and weights of that run even if the user has changed
settings since. A model restored from an uploaded bundle takes the same shape.

The Train page's buttons call :func:`on_start`, :func:`on_pause`, :func:`on_resume` and
:func:`on_stop` (their ``on_click``): they only start the run or set its events, never draw.

Every run goes through the server's scheduler (``ui.server.scheduler``): ``Job.run`` is a
``gru_core.jobs.JobHandle`` with TrainingRun's interface, queued until a training slot is free
(:func:`queue_line`), held by this session's lease, and refused while the session has another
job (a sweep): the message asks to press Start again, which stops that job and starts this one.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st

from gru_core.bundle import load_bundle, save_bundle
from gru_core.data import prepare_series
from gru_core.errors import DataError
from gru_core.model import Forecaster, ModelConfig
from gru_core.jobs import ForecastSpec, JobHandle, describe_wait
from gru_core.scheduler import SessionBusy
from gru_core.train import TrainConfig
from gru_core.windows import Dataset, make_dataset
from ui import data_source, server, state


log = logging.getLogger("gru_lab")
FIRST_POINT_WAIT_S = 0.5


@dataclass
class Job:
    """One training run and everything needed to interpret its model."""

    run: JobHandle                   # the scheduler's handle (TrainingRun's interface)
    dataset: Dataset
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    source: str                      # e.g. "sample: Airline passengers"
    setup: dict = field(default_factory=dict)   # share_params() when it started
    started: float = field(default_factory=time.time)


@dataclass
class Trained:
    """A model ready for the Forecast and Gates pages."""

    model: Forecaster
    dataset: Dataset
    model_cfg: ModelConfig
    label: str                       # where the model came from, for captions
    key: str = ""                    # identifies these weights + data, for per-model caches
    train_cfg: TrainConfig | None = None


def job() -> Job | None:
    return st.session_state.get("job")


def is_running() -> bool:
    j = job()
    return bool(j and j.run.running)


def start(replace: bool = False) -> Job:
    """Submit a run of the current settings to the scheduler (it starts when a slot is free).

    Raises ``gru_core.scheduler.SessionBusy`` while this session has another job, unless
    ``replace`` (then that job is stopped); ``DataError`` for settings over a server limit.
    """
    if is_running():
        raise RuntimeError("A run is already in progress; stop it first.")
    ds = data_source.current_dataset()
    model_cfg = data_source.model_config(ds)
    train_cfg = data_source.train_config()
    run = server.scheduler().submit(server.token(), ForecastSpec(ds, model_cfg, train_cfg),
                                    label=data_source.source_label(), replace=replace)
    new = Job(run=run, dataset=ds, model_cfg=model_cfg, train_cfg=train_cfg,
              source=data_source.source_label(), setup=state.share_params())
    st.session_state["job"] = new
    st.session_state["model_source"] = "run"
    # Give the first optimiser steps a moment (at most FIRST_POINT_WAIT_S), so the page rerun that
    # follows the Start click already draws a loss point instead of waiting for the next refresh.
    deadline = time.monotonic() + FIRST_POINT_WAIT_S
    while (time.monotonic() < deadline and run.running and run.state != "queued"
           and run.snapshot().step == 0):
        time.sleep(0.02)
    return new


def queue_line(j: Job) -> str | None:
    """"Waiting for a training slot: 2nd in line, ~40 s ..." while the run is queued, else None."""
    if j.run.state != "queued":
        return None
    sched = server.scheduler()
    return (f"Waiting for a training slot: {describe_wait(j.run.position, j.run.eta_s)}. This "
            f"server trains {sched.max_running} run(s) at once; the rest wait in line, first come "
            "first served.")


def limit_rows(ds: Dataset) -> list[dict]:
    """The server's limits next to what the current settings would use (for the Train page)."""
    spec = ForecastSpec(ds, data_source.model_config(ds), data_source.train_config())
    return server.scheduler().limit_rows(spec)


def paused() -> bool:
    """A run is going and paused (or a pause was just asked for and not yet reached)."""
    j = job()
    return bool(j and j.run.running and (st.session_state.get("pause_requested")
                                         or j.run.snapshot().state == "paused"))


# ------------------------------------------------------------- the Train page's button callbacks
def on_start() -> None:
    """Start a run from the current settings; a failure becomes ``start_error`` (a message)."""
    ss = st.session_state
    ss["start_error"] = None
    ss["pause_requested"] = False
    replace, ss["start_busy"] = bool(ss.get("start_busy")), False
    try:
        start(replace=replace)
    except SessionBusy as exc:       # a sweep is going: a second Start stops it
        ss["start_error"], ss["start_busy"] = str(exc), True
    except DataError as exc:
        ss["start_error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 -- shown as a message, never a traceback
        log.exception("Could not start training")
        ss["start_error"] = (f"Training could not start: {type(exc).__name__}: {exc}. "
                             "Try smaller settings or the CPU device.")


def on_pause() -> None:
    if (j := job()) is not None:
        j.run.pause()
        st.session_state["pause_requested"] = True


def on_resume() -> None:
    if (j := job()) is not None:
        j.run.resume()
        st.session_state["pause_requested"] = False


def on_stop() -> None:
    if (j := job()) is not None:
        j.run.stop()
        st.session_state["pause_requested"] = False


def trained() -> Trained | None:
    """The model the Forecast and Gates pages show: the latest finished run or uploaded bundle."""
    ss = st.session_state
    if ss.get("model_source") == "bundle" and ss.get("bundle_trained") is not None:
        return ss["bundle_trained"]
    j = job()
    if j is None or j.run.running or j.run.model is None:   # None: queued, or freed (evicted)
        return None
    p = j.run.snapshot()
    if p.step == 0:
        return None
    return Trained(model=j.run.model, dataset=j.dataset, model_cfg=j.model_cfg,
                   label=f"{j.model_cfg.cell.upper()} run on {j.source} ({p.state}, epoch {p.epoch})",
                   key=f"run:{id(j.run)}:{j.started}", train_cfg=j.train_cfg)


# ------------------------------------------------------------------------------ model bundles
def bundle_bytes(t: Trained) -> bytes:
    """The model bundle of ``t`` (weights, configs, scaler, columns) as bytes for a download.

    Cached per model (saving hashes every weight), so redrawing a page does not re-serialise it.
    """
    j = job()
    progress = j.run.snapshot() if (j is not None and t.key.startswith("run:")) else None
    return model_cache(t, "bundle", lambda: save_bundle(t.model, t.dataset, t.train_cfg, progress))


def bundle_file_name(t: Trained) -> str:
    """``gru_lab_<cell>_<target>.pt`` with the target reduced to safe file-name characters."""
    target = str(getattr(t.dataset.series, "target", "series"))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in target).strip("_") or "series"
    return f"gru_lab_{t.model_cfg.cell}_{safe[:40]}.pt"


def restore_bundle(data: bytes, name: str = "bundle.pt") -> Trained:
    """Load an uploaded bundle and apply it to the current data; make it the shown model.

    The bundle's own scaler and window are used on the current table; the current split settings
    decide which windows are validation and test. Nothing in session state changes unless the
    whole restore succeeds, so a bad file never loses the current model.

    Raises
    ------
    gru_core.BundleError
        The file is not a loadable GRU Lab bundle (message says why and what to do).
    gru_core.DataError
        The current data lacks the bundle's columns or is too short for its window.
    """
    b = load_bundle(data)
    table = data_source.current_table()
    missing = [c for c in b.columns if c not in table.numeric_columns]
    if missing:
        raise DataError(
            f"This bundle was trained on the column(s) {', '.join(map(repr, b.columns))} (target "
            f"{b.target!r}), but the current data has no {', '.join(map(repr, missing))} (it has "
            f"{', '.join(map(repr, table.numeric_columns[:8]))}"
            f"{' ...' if len(table.numeric_columns) > 8 else ''}). Load the data the model was "
            "trained on (same column names) on the Data page, then upload the bundle again.")
    series = prepare_series(table, b.target, b.columns[1:], missing=st.session_state["missing"])
    ds = make_dataset(series, b.window, data_source.split_config(), scaler=b.scaler)
    digest = hashlib.sha256(data).hexdigest()[:12]
    t = Trained(model=b.model.eval(), dataset=ds, model_cfg=b.model_cfg,
                label=f"{b.model_cfg.cell.upper()} from bundle {name} applied to "
                      f"{data_source.source_label()}",
                key=f"bundle:{digest}:{id(ds)}", train_cfg=b.train_cfg)
    st.session_state["bundle_trained"] = t
    st.session_state["model_source"] = "bundle"
    return t


def use_run() -> None:
    """Show the latest training run's model again instead of a restored bundle."""
    st.session_state["model_source"] = "run"


# ------------------------------------------------------------------------- per-model caches
_CACHE = "_model_cache"


def model_cache(t: Trained, name: str, fn: Callable[[], Any], keep: int = 12,
                bucket: str = "data") -> Any:
    """``fn()`` computed once per model (``t.key``) and ``name``, kept in session state.

    Evaluations, traces and bundle bytes depend only on the model's weights and its dataset, so
    pages redraw from the cache when only display options change. Entries of other models are
    dropped; each ``bucket`` (e.g. "data" for traces and evaluations, "fig" for built figures)
    keeps at most ``keep`` entries, oldest out first, so many figures never push out a trace.
    """
    buckets: dict = st.session_state.setdefault(_CACHE, {})
    cache: dict = buckets.setdefault(bucket, {})
    for k in [k for k in cache if k[0] != t.key]:
        del cache[k]
    key = (t.key, name)
    if key not in cache:
        while len(cache) >= keep:
            del cache[next(iter(cache))]
        cache[key] = fn()
    return cache[key]


# ------------------------------------------------------------------- reading a model's results
def positions_to_axis(ds: Dataset, positions):
    """Series positions -> the values to put on a time axis: dates if the data has them."""
    import numpy as np

    index = getattr(ds.series, "index", None)
    pos = np.asarray(positions)
    if index is None:
        return pos
    return np.asarray(index)[pos]


def time_label(ds: Dataset, position: int) -> str:
    """A readable name for one series position: its date ("1958-02-01", with the time if it has
    one) or "step 123" for data without dates."""
    import pandas as pd

    index = getattr(ds.series, "index", None)
    if isinstance(index, pd.DatetimeIndex):
        ts = index[int(position)]
        return ts.strftime("%Y-%m-%d %H:%M") if (ts.hour or ts.minute) else ts.strftime("%Y-%m-%d")
    return f"step {int(position)}"


def has_dates(ds: Dataset) -> bool:
    import pandas as pd

    return isinstance(getattr(ds.series, "index", None), pd.DatetimeIndex)


# ------------------------------------------------------------------ an untrained GRU, for teaching
def untrained_gru() -> Trained:
    """A GRU with random (initial) weights for the current settings and data, cell forced to GRU.

    For the Gates page before anything is trained: the same shape the Train page would build, with
    the weights ``nn.GRU`` starts from (seeded by the settings' seed). Kept in session state until
    the settings or data change.
    """
    import dataclasses

    import torch

    ds = data_source.current_dataset()
    cfg = dataclasses.replace(data_source.model_config(ds), cell="gru")
    seed = int(st.session_state.get("seed", 0))
    sig = (data_source.source_label(), tuple(sorted(state.share_params().items())),
           tuple(ds.scaled.shape))
    held = st.session_state.get("_untrained_gru")
    if held is not None and held[0] == sig:
        return held[1]
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = Forecaster(cfg).eval()
    finally:
        torch.random.set_rng_state(gen_state)
    t = Trained(model=model, dataset=ds, model_cfg=cfg,
                label=f"untrained (random weights) GRU, {cfg.num_layers} layer(s) × "
                      f"{cfg.hidden_size} units, seed {seed}, on {data_source.source_label()}",
                key=f"untrained:{hash(sig)}:{seed}")
    st.session_state["_untrained_gru"] = (sig, t)
    return t
