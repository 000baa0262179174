"""From the current settings to gru_core objects: the table, the series, the windowed dataset,
and the model / training configurations. Pages call these; they never parse settings themselves.

Loading is cached per input with ``st.cache_data`` (each call gets its own copy); an uploaded
file's bytes are kept in session state so the data survives page changes (:func:`on_upload`).
Every function raises :class:`gru_core.DataError` with a message the page shows as it is.

Also here: what the current settings would cost -- the parameter count (:func:`n_params`), the
server's resource limits (:func:`limits`, one ``gru_core.limits.Limits`` per server process) and
the estimate checked against them (:func:`run_estimate`), and a rough training time
(:func:`estimate_seconds`, from a per-session timing, :func:`step_cost`).

:func:`source_label` is Markdown: the user's parts of it (an upload's file name) are escaped.
"""
from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.baselines import detect_season
from gru_core.data import Table, list_samples, load_sample, load_table, prepare_series, series_from_array
from gru_core.defaults import DEFAULTS
from gru_core.errors import DataError
from gru_core.generators import GENERATORS, generate
from gru_core.limits import Estimate, Limits
from gru_core.limits import n_params as count_params
from gru_core.model import ModelConfig
from gru_core.device import resolve_device
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import Dataset, SplitConfig, WindowConfig, make_dataset, split_bounds
from ui import state
from ui.safe import md

log = logging.getLogger("gru_lab")

UPLOAD_WIDGET = "upload_file"     # key of the Data page's st.file_uploader
# Training threads: leave one core to the server so the app stays responsive while training.
TRAIN_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))


@st.cache_data(show_spinner=False, max_entries=16)
def _sample_table(key: str) -> Table:
    return load_sample(key)


@st.cache_data(show_spinner=False, max_entries=4)
def _upload_table(data: bytes, name: str) -> Table:
    return load_table(data, name=name)


@st.cache_data(show_spinner=False, max_entries=16)
def _generated_table(gen: str, length: int, seed: int, params: tuple) -> Table:
    values = generate(gen, length=length, seed=seed, **dict(params))
    frame = pd.DataFrame({"value": values.astype(np.float64)})
    g = GENERATORS[gen]
    return Table(frame=frame, numeric_columns=["value"], date_column=None, missing={"value": 0},
                 duplicates=0, frequency=None,
                 notes=[f"Generated: {g.label}, {length} points, seed {seed}."])


def on_upload() -> None:
    """``on_change`` of the Data page's file uploader: keep a good file, explain a bad one.

    Runs before the script (so the sidebar already names the new file). A good file's bytes and
    name go to ``upload_bytes`` / ``upload_name`` and survive page changes; a bad file leaves
    them as they were and records ``upload_error = (file_id, message)`` for the page to show.
    Clearing the uploader keeps the loaded file.
    """
    ss = st.session_state
    f = ss.get(UPLOAD_WIDGET)
    if f is None:
        return
    try:
        data = f.getvalue()
        _upload_table(data, f.name)
    except DataError as exc:
        ss["upload_error"] = (f.file_id, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 -- never a traceback for a file
        log.exception("Unexpected error while reading the upload %r", f.name)
        ss["upload_error"] = (f.file_id, f"{f.name!r} could not be read ({type(exc).__name__}: {exc}). "
                                         "Save it as a plain CSV text file and upload it again.")
        return
    ss["upload_bytes"], ss["upload_name"] = data, f.name
    ss["upload_error"] = None
    ss["source"] = "upload"


def source_label() -> str:
    """One line naming the current data source, for captions: Markdown, with the sample's title
    and an upload's file name escaped (``ui.safe.md``), so it can go into any caption as it is."""
    ss = st.session_state
    if ss["source"] == "sample":
        info = list_samples().get(ss["sample"])
        return f"sample: {md(info.title if info else ss['sample'])}"
    if ss["source"] == "generator":
        return f"generator: {GENERATORS[ss['gen']].label} (seed {ss['gen_seed']})"
    return f"upload: {md(ss.get('upload_name') or 'no file yet')}"


def current_table() -> Table:
    """The table chosen by the data settings."""
    ss = st.session_state
    if ss["source"] == "sample":
        samples = list_samples()
        if ss["sample"] not in samples:
            raise DataError(f"Unknown sample dataset {ss['sample']!r}: pick one of "
                            f"{', '.join(samples)} on the Data page.")
        return _sample_table(ss["sample"])
    if ss["source"] == "generator":
        gen = ss["gen"]
        params = tuple(sorted(state.gen_params(gen).items()))
        return _generated_table(gen, int(ss["gen_length"]), int(ss["gen_seed"]), params)
    if ss["source"] == "upload":
        data = ss.get("upload_bytes")
        if not data:
            raise DataError("No file uploaded yet: upload a CSV on the Data page, or pick a sample "
                            "dataset or a generator there.")
        return _upload_table(data, ss.get("upload_name") or "upload.csv")
    raise DataError(f"Unknown data source {ss['source']!r}: choose sample, generator or upload.")


def default_target(table: Table) -> str:
    """The target a source suggests: the sample's declared target, else the first numeric column."""
    ss = st.session_state
    if ss["source"] == "sample":
        info = list_samples().get(ss["sample"])
        if info and info.target in table.numeric_columns:
            return info.target
    return table.numeric_columns[0]


def target_and_inputs(table: Table) -> tuple[str, list[str]]:
    """The chosen target (falling back to the default) and the valid chosen input columns."""
    ss = st.session_state
    target = ss["target"] if ss["target"] in table.numeric_columns else default_target(table)
    inputs = [c for c in ss["inputs"] if c in table.numeric_columns and c != target]
    return target, inputs


def current_series():
    """The chosen target (plus input columns) with missing values handled."""
    table = current_table()
    target, inputs = target_and_inputs(table)
    return prepare_series(table, target, inputs, missing=st.session_state["missing"])


def window_config() -> WindowConfig:
    ss = st.session_state
    return WindowConfig(lookback=int(ss["lookback"]), horizon=int(ss["horizon"]), stride=int(ss["stride"]))


def split_config() -> SplitConfig:
    ss = st.session_state
    train, val = float(ss["train_frac"]), float(ss["val_frac"])
    return SplitConfig(train=train, val=val, test=round(1.0 - train - val, 6))


def concrete_transform() -> str:
    """The transform setting as a TRANSFORMS key: "auto" is "none" until Start chooses one."""
    key = st.session_state.get("transform", "none")
    return "none" if key == "auto" else key


def train_season(series, split: SplitConfig | None = None) -> int | None:
    """Season m of the target found on the training part only (``detect_season``), or None."""
    values = np.asarray(series.values, dtype=np.float64)
    values = values.reshape(-1, 1) if values.ndim == 1 else values            # (T, C)
    train_end, _ = split_bounds(values.shape[0], split or split_config())
    return detect_season(values[:train_end, 0])


def current_dataset(transform: str | None = None, lookback: int | None = None) -> Dataset:
    """Windows, split, transform and scaler for the current settings (cheap: windows are views).

    ``transform`` / ``lookback`` override the settings (the "auto" job uses its winner's);
    the "auto" setting itself gives the untransformed windows (the choice is made at Start).
    """
    series = current_series()
    key = transform or concrete_transform()
    window = window_config()
    if lookback is not None:
        window = WindowConfig(lookback=int(lookback), horizon=window.horizon, stride=window.stride)
    season = train_season(series) if key == "seasonal_diff" else None
    return make_dataset(series, window, split_config(), scaler=st.session_state["scaler"],
                        transform=key, season=season)


def model_config(ds: Dataset) -> ModelConfig:
    """The model for ``ds``; ``window_norm`` follows the dataset's transform (per-window ones)."""
    ss = st.session_state
    ft = getattr(ds, "transform", None)
    return ModelConfig(input_size=ds.scaled.shape[1], hidden_size=int(ss["hidden_size"]),
                       num_layers=int(ss["num_layers"]), dropout=float(ss["dropout"]),
                       bidirectional=bool(ss["bidirectional"]), horizon=ds.window.horizon,
                       cell=ss["cell"], window_norm=ft.window_norm if ft is not None else "none")


def recipe():
    """The current settings as a ``gru_core.defaults.Recipe`` (what ``gru_core.auto.choose`` reads)."""
    ss = st.session_state
    return DEFAULTS.replace(
        lookback=int(ss["lookback"]), horizon=int(ss["horizon"]), stride=int(ss["stride"]),
        train_frac=float(ss["train_frac"]), val_frac=float(ss["val_frac"]), scaler=ss["scaler"],
        transform=ss.get("transform", "auto"), cell=ss["cell"], hidden_size=int(ss["hidden_size"]),
        num_layers=int(ss["num_layers"]), dropout=float(ss["dropout"]), lr=float(ss["lr"]),
        batch_size=int(ss["batch_size"]), epochs=int(ss["epochs"]), clip_grad=float(ss["clip_grad"]),
        patience=int(ss["patience"]), seed=int(ss["seed"]), device=ss["device"],
        num_threads=TRAIN_THREADS)


def train_config() -> TrainConfig:
    ss = st.session_state
    return TrainConfig(lr=float(ss["lr"]), batch_size=int(ss["batch_size"]), epochs=int(ss["epochs"]),
                       clip_grad=float(ss["clip_grad"]), patience=int(ss["patience"]),
                       seed=int(ss["seed"]), device=ss["device"], num_threads=TRAIN_THREADS)


def n_params(cfg: ModelConfig) -> int:
    """Trainable parameters of the model ``cfg`` describes (counted, nothing is built)."""
    return count_params(cfg)


@st.cache_resource(show_spinner=False)
def limits() -> Limits:
    """The server's resource limits: ``Limits.from_env()`` (``GRU_LAB_MAX_*``), once per process."""
    return Limits.from_env()


def _run_size(ds: Dataset, tc: TrainConfig) -> dict:
    """The run's sizes the limits look at; a batch never holds more than the training windows."""
    tc = tc.plan(len(ds.train))                                # the auto batch made concrete
    return dict(lookback=ds.window.lookback, batch_size=min(tc.batch_size, max(len(ds.train), 1)),
                n_windows=len(ds.train), epochs=tc.epochs)


def run_estimate(ds: Dataset, cfg: ModelConfig, tc: TrainConfig) -> Estimate:
    """What training ``cfg`` on ``ds`` with ``tc`` would cost, next to the server's :func:`limits`."""
    return limits().estimate(cfg, **_run_size(ds, tc))


def check_run(ds: Dataset, cfg: ModelConfig, tc: TrainConfig) -> Estimate:
    """:func:`run_estimate`, raising ``DataError`` (naming the setting to lower) past a limit."""
    return limits().check(cfg, **_run_size(ds, tc), what="This training run")


def check_model(cfg: ModelConfig, ds: Dataset, what: str = "This model") -> Estimate:
    """Check a model that is only run, not trained (the Gates page's untrained GRU), against the
    limits before it is built: its parameters, and one window of the lookback at a time."""
    return limits().check(cfg, lookback=ds.window.lookback, batch_size=1, what=what)


# ------------------------------------------------------------------ how long will training take
def flops_per_window(cfg: ModelConfig, lookback: int) -> float:
    """See :meth:`gru_core.model.ModelConfig.flops_per_window` (the cell registry's cost)."""
    return cfg.flops_per_window(lookback)


def _time_run(cfg: ModelConfig, lookback: int, batch: int, steps: int, device: str) -> float:
    """Seconds per step of a real one-epoch :class:`TrainingRun` of ``steps`` steps on a sine wave
    (so the timing includes everything a step costs: batch gather, clipping, bookkeeping)."""
    n_train = steps * batch
    T = int((n_train + lookback + cfg.horizon) / 0.8) + 2 * cfg.horizon + 2
    values = np.sin(np.arange(T, dtype=np.float64) / 5.0)                  # (T,)
    ds = make_dataset(series_from_array(values), WindowConfig(lookback, cfg.horizon),
                      SplitConfig(0.8, 0.1, 0.1))
    tc = TrainConfig(epochs=1, batch_size=batch, patience=0, device=device, num_threads=TRAIN_THREADS)
    p = TrainingRun(ds, cfg, tc).run()
    return p.elapsed_s / max(p.step, 1)


_TINY = ModelConfig(input_size=1, hidden_size=8, num_layers=1, horizon=4)
_SHORT = (_TINY, 8, 8, 24)                                                  # cfg, L, B, steps
_LONG = (_TINY, 64, 8, 12)
_LARGE = (ModelConfig(input_size=1, hidden_size=96, num_layers=1, horizon=12), 48, 64, 6)


_COST_TTL_S = 300.0                # re-measure the cost model at most every 5 minutes per device
_cost_lock = threading.Lock()
_step_costs: dict[str, tuple[float, tuple[float, float, float]]] = {}    # device -> (when, model)


def step_cost(device: str) -> tuple[float, float, float]:
    """Cost model of one training step on ``device``: (fixed s, s per timestep, s per flop).

    t_step = fixed + per_timestep * L + per_flop * flops(step). Measured by three tiny real
    training runs (well under a second on a quiet CPU): a tiny model with a short and a long
    lookback gives the fixed and per-timestep costs (overheads that dominate small models), a
    larger model the cost per floating-point operation. The model belongs to the machine, not to
    a session: it is measured once per server process and device and renewed every
    ``_COST_TTL_S`` seconds; while one session renews it, the others use the previous one, so a
    class opening the Train page at once does not run the measurement per visitor.
    """
    now = time.monotonic()
    cached = _step_costs.get(device)
    if cached is not None and now - cached[0] < _COST_TTL_S:
        return cached[1]
    if not _cost_lock.acquire(blocking=cached is None):
        return cached[1]                                                    # someone is renewing it
    try:
        cached = _step_costs.get(device)
        if cached is not None and time.monotonic() - cached[0] < _COST_TTL_S:
            return cached[1]
        _time_run(_TINY, 8, 8, 2, device)                                   # warm-up: lazy init, caches
        t_short, t_long, t_large = (_time_run(*ref, device) for ref in (_SHORT, _LONG, _LARGE))
        per_timestep = max(t_long - t_short, 0.0) / (_LONG[1] - _SHORT[1])
        fixed = max(t_short - per_timestep * _SHORT[1], 0.0)
        f_large = 3 * _LARGE[2] * flops_per_window(_LARGE[0], _LARGE[1])    # fwd + bwd ~ 3x fwd
        per_flop = max(t_large - fixed - per_timestep * _LARGE[1], 1e-9) / f_large
        model = (fixed, per_timestep, per_flop)
        _step_costs[device] = (time.monotonic(), model)
        return model
    finally:
        _cost_lock.release()


def estimate_seconds(ds: Dataset, cfg: ModelConfig, tc: TrainConfig) -> tuple[float, str]:
    """Rough training time for these settings, and the device it assumes.

    seconds = epochs * (steps per epoch * step time + validation time), with the step time from
    the measured cost model of :func:`step_cost`. Early stopping can only make it shorter.
    """
    device = resolve_device(tc.device)
    fixed, per_timestep, per_flop = step_cost(device.type)
    L = ds.window.lookback
    n_train, n_val = len(ds.train), len(ds.val)
    tc = tc.plan(n_train)                                      # the batch this data gets
    steps = -(-n_train // tc.batch_size)
    f_window = flops_per_window(cfg, L)
    sweeps = L * cfg.num_layers * cfg.num_directions          # recurrent steps per window
    t_step = fixed + per_timestep * sweeps + per_flop * 3 * min(tc.batch_size, n_train) * f_window
    t_val = -(-n_val // 1024) * (fixed + per_timestep * sweeps) / 3 + per_flop * n_val * f_window
    return tc.epochs * (steps * t_step + t_val), str(device)
