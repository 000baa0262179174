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

import dataclasses
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st

from gru_core import auto
from gru_core.bundle import load_bundle, save_bundle
from gru_core.data import prepare_series
from gru_core.errors import DataError
from gru_core.model import Forecaster, ModelConfig
from gru_core.jobs import ForecastSpec, JobHandle
from gru_core.progress import Progress
from gru_core.scheduler import SessionBusy
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import Dataset, make_dataset, split_bounds
from ui import data_source, server, state
from ui.safe import md


log = logging.getLogger("gru_lab")
FIRST_POINT_WAIT_S = 0.5


@dataclass
class Job:
    """One training run and everything needed to interpret its model."""

    run: JobHandle                   # the scheduler's handle (TrainingRun's interface)
    dataset: Dataset
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    source: str                      # e.g. "sample: Airline passengers" (Markdown, user parts escaped)
    setup: dict = field(default_factory=dict)   # share_params() when it started
    started: float = field(default_factory=time.time)
    tape: Any = None                 # gru_core.tape.GateTape of the probe window (GRUs), or None


@dataclass
class Trained:
    """A model ready for the Forecast and Gates pages."""

    model: Forecaster
    dataset: Dataset
    model_cfg: ModelConfig
    label: str                       # where the model came from, for captions (Markdown, user parts escaped)
    key: str = ""                    # identifies these weights + data, for per-model caches
    train_cfg: TrainConfig | None = None
    auto: Any = None                 # gru_core.auto.AutoResult when "auto" chose transform/lookback


def job() -> Job | None:
    return st.session_state.get("job")


def is_running() -> bool:
    j = job()
    return bool(j and j.run.running)


class _Stopped(Exception):
    """Raised inside ``auto.choose`` (from its progress callback) when the user pressed Stop."""


class AutoRun:
    """The "auto" transform as a run: ``gru_core.auto.choose`` and then the winner trained live.

    Both happen in ONE background thread (never in a script run, never calling ``st.*``). It
    offers the members of :class:`gru_core.train.TrainingRun` the pages use (start, pause,
    resume, stop, running, snapshot, model), so the Train page polls it the same way. While
    candidates are trained, :attr:`status` reads "choosing ...: candidate k of n"; after the
    choice, the job's ``dataset`` / ``model_cfg`` become the winner's and a fresh
    :class:`TrainingRun` trains it with the live loss curves (same recipe and seed as the
    candidate, so it ends where the candidate did). Pause and Stop act at the next candidate
    boundary while choosing.
    """

    def __init__(self, job: "Job", series, recipe, season, model_cfg: ModelConfig,
                 train_cfg: TrainConfig, tape_window: int = 0):
        self.job, self.series, self.recipe, self.season = job, series, recipe, season
        self.tape_window = tape_window
        self._model_cfg, self._train_cfg = model_cfg, train_cfg
        masked = auto.mask_test(series, recipe)
        T = masked.values.shape[0]
        train_end, _ = split_bounds(T, recipe.split())
        self.n = auto.n_candidates(len(auto.candidate_transforms(masked.values[:train_end, 0], season)),
                                   len(auto.candidate_lookbacks(recipe.lookback, season, T, recipe)))
        self.done_candidates = 0
        self.result = None              # AutoResult once chosen
        self.inner: TrainingRun | None = None
        self._lock = threading.Lock()
        self._go, self._stop = threading.Event(), threading.Event()
        self._go.set()
        self._ended: Progress | None = None
        self._thread: threading.Thread | None = None
        self.exception: BaseException | None = None

    @property
    def status(self) -> str:
        """What the run is doing, one line (empty once the winner trains)."""
        with self._lock:
            if self.inner is not None or self._ended is not None:
                return ""
            return ("choosing the transform and lookback on validation data: candidate "
                    f"{min(self.done_candidates + 1, self.n)} of {self.n}")

    @property
    def model(self):
        return self.inner.model if self.inner is not None else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="gru-lab-auto", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def pause(self) -> None:
        self._go.clear()
        if self.inner is not None:
            self.inner.pause()

    def resume(self) -> None:
        self._go.set()
        if self.inner is not None:
            self.inner.resume()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()
        if self.inner is not None:
            self.inner.stop()

    @property
    def running(self) -> bool:
        with self._lock:
            if self._ended is not None:
                return False
            inner = self.inner
        return True if inner is None else inner.running

    def snapshot(self) -> Progress:
        with self._lock:
            if self._ended is not None:
                return dataclasses.replace(self._ended)
            inner = self.inner
        if inner is not None:
            return inner.snapshot()
        return Progress(state="running" if self._go.is_set() else "paused",
                        epochs=self._train_cfg.epochs, device=str(self._train_cfg.device))

    def _on_candidate(self, fitted) -> None:           # in the worker thread
        with self._lock:
            self.done_candidates += 1
        self._go.wait()
        if self._stop.is_set():
            raise _Stopped()

    def _end(self, state: str, reason: str) -> None:
        with self._lock:
            self._ended = Progress(state=state, reason=reason, epochs=self._train_cfg.epochs)

    def _main(self) -> None:
        try:
            result = auto.choose(self.series, self.recipe, self.season, on_candidate=self._on_candidate)
        except _Stopped:
            self._end("stopped", "Stopped while choosing the transform; no model was kept.")
            return
        except DataError as exc:
            self._end("failed", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 -- never let an error vanish inside the thread
            self.exception = exc
            self._end("failed", f"Choosing the transform failed: {type(exc).__name__}: {exc}")
            return
        ds = result.best.ds
        cfg = dataclasses.replace(self._model_cfg, window_norm=ds.transform.window_norm
                                  if ds.transform is not None else "none")
        try:
            inner = TrainingRun(ds, cfg, self._train_cfg)
        except DataError as exc:
            self._end("failed", str(exc))
            return
        self.job.dataset, self.job.model_cfg = ds, cfg
        self.job.tape = attach_tape(inner, ds, self.tape_window)
        with self._lock:
            self.result, self.inner = result, inner
        if self._stop.is_set():
            inner.stop()
        if not self._go.is_set():
            inner.pause()
        inner.run()


@dataclass
class LiveSpec(ForecastSpec):
    """The Train page's run as the scheduler builds it when a slot is free: a plain forecaster run
    with the gate tape attached, or an :class:`AutoRun` (transform "auto"). Costs, limits and
    memory come from :class:`gru_core.jobs.ForecastSpec`. Local backend only (it holds the job)."""

    job: Any = None
    tape_window: int = 0
    auto: tuple | None = None        # (series, recipe, season) for the "auto" transform

    def build(self):
        if self.auto is not None:
            series, recipe, season = self.auto
            return AutoRun(self.job, series, recipe, season, self.model_cfg, self.train_cfg,
                           tape_window=self.tape_window)
        run = TrainingRun(self.dataset, self.model_cfg, self.train_cfg)
        self.job.tape = attach_tape(run, self.dataset, self.tape_window)
        return run


def start(replace: bool = False) -> Job:
    """Submit a run of the current settings to the server's scheduler (it starts when a slot is
    free); raises ``gru_core.scheduler.SessionBusy`` while this session has another job, unless
    ``replace`` (then that job is stopped).


    The settings are checked against the server's limits first (``DataError`` past any of them),
    so a share link or a stale Start button cannot start a run the Train page would refuse. With
    the transform on "auto" the job is an :class:`AutoRun`: the choice is made in the background
    thread, then the winner trains live (with the gate tape attached to it).
    """
    if is_running():
        raise RuntimeError("A run is already in progress; stop it first.")
    ds = data_source.current_dataset()
    model_cfg = data_source.model_config(ds)
    train_cfg = data_source.train_config()
    data_source.check_run(ds, model_cfg, train_cfg)
    new = Job(run=None, dataset=ds, model_cfg=model_cfg, train_cfg=train_cfg,
              source=data_source.source_label(), setup=state.share_params())
    auto = None
    if st.session_state.get("transform") == "auto":
        auto = (ds.series, data_source.recipe(), data_source.train_season(ds.series))
    spec = (ForecastSpec(ds, model_cfg, train_cfg) if server.uses_ray() else
            LiveSpec(ds, model_cfg, train_cfg, job=new, tape_window=_lab_window(), auto=auto))
    run = server.scheduler().submit(server.token(), spec, label=data_source.source_label(),
                                    replace=replace)
    new.run = run
    st.session_state["job"] = new
    st.session_state["model_source"] = "run"
    # Give the first optimiser steps a moment (at most FIRST_POINT_WAIT_S), so the page rerun that
    # follows the Start click already draws a loss point instead of waiting for the next refresh.
    deadline = time.monotonic() + FIRST_POINT_WAIT_S
    while (time.monotonic() < deadline and run.running and run.state != "queued"
           and run.snapshot().step == 0):
        time.sleep(0.02)
    return new


def _lab_window() -> int:
    """The Lab page's probe window (a test-window index; 0 until the Lab page picks one)."""
    try:
        return int(st.session_state.get("lab_window", 0))
    except (TypeError, ValueError):
        return 0


def attach_tape(run: TrainingRun, ds: Dataset, window: int):
    """A gate tape on test window ``window`` (clamped), recording at every epoch end of ``run``;
    None for a non-GRU cell or data without test windows. No Streamlit: AutoRun calls it from its
    worker thread for the winner's run."""
    from gru_core.tape import GateTape

    if run.model_cfg.cell != "gru" or len(ds.test.starts) == 0:
        return None
    i = min(max(window, 0), len(ds.test.starts) - 1)
    tape = GateTape(ds.test.X[i], label=f"test window {i}")
    tape.record(0, run.model)
    run.on_epoch_end = tape.record
    return tape


def history():
    """The session's finished runs (``gru_core.history.RunHistory``), shown on the Runs page."""
    from gru_core.history import RunHistory

    return st.session_state.setdefault("runs_history", RunHistory())


def auto_run(j: Job | None) -> "AutoRun | None":
    """The :class:`AutoRun` behind a job (transform "auto"), or None: its ``status`` line while
    choosing and its ``result`` (the pick and why) after."""
    if j is None:
        return None
    run = j.run.run if isinstance(j.run, JobHandle) else j.run
    return run if isinstance(run, AutoRun) else None


def remember_finished() -> None:
    """Add the job's run to the history once it has ended (called whenever its model is read)."""
    j = job()
    if j is None or j.run.running or j.run.snapshot().step == 0:
        return
    key = f"run:{id(j.run)}:{j.started}"
    h = history()
    run = j.run.run if isinstance(j.run, JobHandle) else j.run   # the scheduler's handle -> its run
    if isinstance(run, AutoRun):
        run = run.inner                                           # -> the winner's TrainingRun
    if key not in h.keys and run is not None:
        try:
            h.add_run(run, source=j.source, key=key, setup=j.setup, tape=j.tape)
        except DataError as exc:   # e.g. nothing to score: keep the app going, try once only
            h.keys.add(key)
            log.warning("Run not added to the history: %s", exc)


def queue_line(j: Job) -> str | None:
    """"Waiting for a training slot: 2nd in line, ~40 s ..." while the run is queued, else None."""
    return server.wait_line(j.run)


LIVE_POLL_S = 0.5            # the Train page's live view while the run trains


def live_every(live: bool) -> float | None:
    """The Train page's live-view refresh: none unless ``live`` (a run going, view not frozen);
    every 2 s while the run waits in the queue (nothing there changes faster), else 0.5 s."""
    j = job()
    return server.poll_s([j.run], LIVE_POLL_S) if live and j is not None else None


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
                   key=f"run:{id(j.run)}:{j.started}", train_cfg=j.train_cfg,
                   auto=a.result if (a := auto_run(j)) is not None else None)


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
    b = load_bundle(data, limits=data_source.limits())
    table = data_source.current_table()
    missing = [c for c in b.columns if c not in table.numeric_columns]
    if missing:
        raise DataError(                    # quotes file contents: shown through ui.safe.md
            f"This bundle was trained on the column(s) {', '.join(map(repr, b.columns))} (target "
            f"{b.target!r}), but the current data has no {', '.join(map(repr, missing))} (it has "
            f"{', '.join(map(repr, table.numeric_columns[:8]))}"
            f"{' ...' if len(table.numeric_columns) > 8 else ''}). Load the data the model was "
            "trained on (same column names) on the Data page, then upload the bundle again.")
    series = prepare_series(table, b.target, b.columns[1:], missing=st.session_state["missing"])
    ds = make_dataset(series, b.window, data_source.split_config(), scaler=b.scaler,
                      transform=b.transform)
    digest = hashlib.sha256(data).hexdigest()[:12]
    t = Trained(model=b.model.eval(), dataset=ds, model_cfg=b.model_cfg,
                label=f"{b.model_cfg.cell.upper()} from bundle {md(name)} applied to "
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
    data_source.check_model(cfg, ds, what="The untrained GRU of these settings")
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
