"""Train page: model and training settings, Start / Pause / Resume / Stop, and the live loss view."""
import logging

import streamlit as st

from gru_core import charts
from gru_core.errors import DataError
from gru_core.model import CELLS
from ui import data_source, runs, sidebar, state
from ui.guard import explain_missing, friendly_errors

log = logging.getLogger("gru_lab")
ss = st.session_state
END_BOX = {"finished": st.success, "early_stopped": st.success, "stopped": st.info,
           "diverged": st.warning, "failed": st.error}
END_TITLE = {"finished": "Finished", "early_stopped": "Early-stopped", "stopped": "Stopped",
             "diverged": "Diverged", "failed": "Failed"}
SLOW_S = 120.0                      # warn before a run expected to take longer than this

st.title("Train")
st.markdown(
    "Train a recurrent network on the windows defined on the Data page and watch it learn. Pick "
    "the model and training settings, press **Start training**, and follow the loss curves live: "
    "the training loss should fall, and the validation loss (data the model does not train on) "
    "tells you when it stops generalising. You can pause, resume or stop at any time and visit "
    "other pages meanwhile. When the run ends, look at its forecasts and its gates.")


def fmt_s(seconds: float | None) -> str:
    """12 s, 3 min 20 s, 1 h 05 min."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# ----------------------------------------------------------------------------- button callbacks
def on_start() -> None:
    ss["start_error"] = None
    ss["pause_requested"] = False
    try:
        runs.start()
    except DataError as exc:
        ss["start_error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 -- shown as a message, never a traceback
        log.exception("Could not start training")
        ss["start_error"] = (f"Training could not start: {type(exc).__name__}: {exc}. "
                             "Try smaller settings or the CPU device.")


def on_pause() -> None:
    if (j := runs.job()) is not None:
        j.run.pause()
        ss["pause_requested"] = True


def on_resume() -> None:
    if (j := runs.job()) is not None:
        j.run.resume()
        ss["pause_requested"] = False


def on_stop() -> None:
    if (j := runs.job()) is not None:
        j.run.stop()
        ss["pause_requested"] = False


# ----------------------------------------------------------------------------- settings
def window_line():
    """The Data page's windows (read-only here), or the reason there are none."""
    try:
        ds = data_source.current_dataset()
    except DataError as exc:
        explain_missing(f"The data is not ready for training: {exc}", "pages/data.py",
                        "Fix it on the Data page", error=True)
        return None
    st.markdown(f"**Data:** {data_source.source_label()} · lookback **L = {ds.window.lookback}**, "
                f"horizon **H = {ds.window.horizon}** · **{len(ds.train):,}** train / "
                f"**{len(ds.val):,}** validation / **{len(ds.test):,}** test windows · "
                f"{ds.scaled.shape[1]} input column(s)")
    st.page_link("pages/data.py", label="Change the data, lookback or horizon on the Data page",
                 icon=":material/table_chart:")
    return ds


def model_settings() -> None:
    state.ensure_option("cell", CELLS)
    state.fit_number("hidden_size", 1, 1024, int)
    state.fit_number("num_layers", 1, 6, int)
    state.fit_number("dropout", 0.0, 0.9, float)
    ss["bidirectional"] = bool(ss["bidirectional"])
    st.subheader("Model")
    st.segmented_control("Cell type", list(CELLS), key="cell", required=True, format_func=lambda c: CELLS[c].label,
                         width="stretch",
                         help="GRU is the subject of this app; LSTM and a plain (tanh) RNN are here for "
                              "comparison on the same data. The Gates page inspects GRUs only.")
    a, b = st.columns(2)
    a.number_input("Hidden units", min_value=1, max_value=1024, step=1, key="hidden_size",
                   help="Units per layer: the size of the hidden state h, i.e. how much the network can remember.")
    b.slider("Layers", min_value=1, max_value=6, step=1, key="num_layers",
             help="Stacked recurrent layers; layer k reads the hidden states of layer k-1.")
    st.slider("Dropout between layers", min_value=0.0, max_value=0.9, step=0.05, key="dropout",
              disabled=ss["num_layers"] < 2, format="%.2f",
              help="Randomly zeroes this share of a layer's outputs during training. PyTorch applies it "
                   "between stacked layers only, so it needs 2 or more layers.")
    st.toggle("Bidirectional", key="bidirectional",
              help="Also read each window backwards and combine both summaries.")


def training_settings(devices: list[str]) -> None:
    state.fit_number("lr", 1e-5, 1.0, float)
    state.fit_number("batch_size", 1, 4096, int)
    state.fit_number("epochs", 1, 5000, int)
    state.fit_number("clip_grad", 0.0, 100.0, float)
    state.fit_number("patience", 0, 1000, int)
    state.fit_number("seed", 0, 2**31 - 1, int)
    state.ensure_option("device", devices, fallback="auto")
    st.subheader("Training")
    a, b = st.columns(2)
    a.number_input("Learning rate", min_value=1e-5, max_value=1.0, step=5e-4, format="%.4f", key="lr",
                   help="Step size of the Adam optimiser. Typical: 0.001 to 0.01; too high and the loss "
                        "jumps or diverges.")
    b.number_input("Batch (windows)", min_value=1, max_value=4096, step=1, key="batch_size",
                   help="Batch size: windows per optimiser step.")
    a.number_input("Epochs", min_value=1, max_value=5000, step=1, key="epochs",
                   help="Passes over all training windows.")
    b.number_input("Patience (epochs)", min_value=0, max_value=1000, step=1, key="patience",
                   help="Early stopping: stop after this many epochs without a better validation loss and "
                        "keep the best weights; 0 turns early stopping off.")
    a.number_input("Max grad norm", min_value=0.0, max_value=100.0, step=0.5, format="%.1f",
                   key="clip_grad", help="Gradient clipping: rescale the gradient when its norm exceeds this; "
                                         "0 turns clipping off.")
    b.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="seed",
                   help="Seeds the initial weights and the shuffling: the same seed gives the same run.")
    st.segmented_control(
        "Device", devices, key="device", required=True,
        format_func=lambda d: f"auto ({_auto_device()})" if d == "auto" else d.upper(), width="stretch",
        help="Where the model trains. 'auto' picks a CUDA GPU, else an Apple GPU (MPS), else the CPU. "
             "Only devices found on this machine are offered.")


def _auto_device() -> str:
    return str(sidebar.devices().get("auto", "cpu")).upper()


def devices_found() -> list[str]:
    rep = sidebar.devices()
    return ["auto", "cpu"] + (["cuda"] if rep.get("cuda") else []) + (["mps"] if rep.get("mps") else [])


def cost_line(ds) -> None:
    """Parameter count and time estimate of the model the current settings would build."""
    cfg = data_source.model_config(ds)
    tc = data_source.train_config()
    tc.validate()
    n = data_source.n_params(cfg)
    seconds, device = data_source.estimate_seconds(ds, cfg, tc)
    steps = -(-len(ds.train) // tc.batch_size)
    m = st.columns(4)
    m[0].metric("Parameters", f"{n:,}", help="Trainable weights and biases of the model these settings build.")
    m[1].metric("Steps per epoch", f"{steps:,}",
                help=f"{len(ds.train):,} training windows / batch size {tc.batch_size}.")
    m[2].metric("Estimated time", f"≈ {fmt_s(seconds)}",
                help=f"All {tc.epochs} epochs on {device.upper()}. Three tiny training runs, timed once per "
                     "session, give the cost of a step; it is scaled to these settings by the number of "
                     "recurrent steps and floating-point operations. A rough guide (often within a factor "
                     "of 2; a busy machine is slower); early stopping can end sooner.")
    m[3].metric("Device", device.upper(), help=sidebar.device_summary())
    if seconds > SLOW_S:
        st.warning(f"These settings will take about **{fmt_s(seconds)}** on {device.upper()} "
                   f"({tc.epochs} epochs × {len(ds.train):,} windows, {n:,} parameters). For a quicker "
                   "run use fewer epochs, a smaller hidden size or fewer layers, a shorter lookback, or a "
                   "larger batch.", icon=":material/schedule:")


def controls(ds) -> None:
    """Start / Pause / Resume / Stop. The callbacks only call the run's methods."""
    running = runs.is_running()
    j = runs.job()
    paused = running and (ss.get("pause_requested") or j.run.snapshot().state == "paused")
    with st.container(horizontal=True, gap="small"):
        st.button("Start training", key="btn_start", type="primary", icon=":material/play_arrow:",
                  on_click=on_start, disabled=running or ds is None)
        st.button("Pause", key="btn_pause", icon=":material/pause:", on_click=on_pause,
                  disabled=not running or paused)
        st.button("Resume", key="btn_resume", icon=":material/resume:", on_click=on_resume,
                  disabled=not paused)
        st.button("Stop", key="btn_stop", icon=":material/stop:", on_click=on_stop, disabled=not running)
    if ss.get("start_error"):
        st.error(ss["start_error"], icon=":material/error:")


# ----------------------------------------------------------------------------- live view
def progress_block(j, p) -> None:
    frac = min(p.step / p.total_steps, 1.0) if p.total_steps else 0.0
    st.progress(frac, text=f"Epoch {p.epoch}/{p.epochs} · step {p.step:,}/{p.total_steps:,} · "
                           f"ETA {fmt_s(p.eta_s) if not p.done else '—'} · "
                           f"{p.windows_per_s:,.0f} windows/s · elapsed {fmt_s(p.elapsed_s)} · "
                           f"{p.device.upper()}")
    m = st.columns(4)
    f = lambda v: "—" if v is None else f"{v:.4g}"   # noqa: E731
    m[0].metric("Train loss", f(p.train_loss), help="The last step's training loss: mean squared error "
                                                      "in scaled units.")
    m[1].metric("Val loss", f(p.val_loss), help="The last epoch's validation loss: mean squared error on "
                                                "the validation windows, scaled units.")
    m[2].metric("Best val" + (f" (ep. {p.best_epoch})" if p.best_epoch else ""), f(p.best_val),
                help="Lowest validation loss so far, and its epoch.")
    m[3].metric("Grad norm", f(p.grad_norm), help="Size of the last step's gradient, before clipping.")


def end_block(p) -> None:
    END_BOX.get(p.state, st.info)(f"**{END_TITLE.get(p.state, p.state)}.** {p.reason}")
    if p.step > 0:
        st.markdown("Next: see how this model forecasts the test part, and what its gates do.")
        a, b, _ = st.columns([1, 1, 3])
        with a:
            st.page_link("pages/forecast.py", label="Forecast", icon=":material/query_stats:")
        with b:
            st.page_link("pages/gates.py", label="Gates", icon=":material/tune:")


def live_view(running: bool) -> None:
    """The run as it is now; polls every 0.5 s while it is going (unless the view is paused)."""
    frozen = running and ss.get("live_paused", False)

    @st.fragment(run_every=0.5 if running and not frozen else None)
    def view() -> None:
        j = runs.job()
        if j is None:
            st.info("No training run yet: check the settings above and press **Start training**. "
                    "The loss curves appear here as the model learns.", icon=":material/info:")
            return
        p = j.run.snapshot()
        if running and p.done and ss.get("_ended_rerun") != j.started:
            ss["_ended_rerun"] = j.started           # once: leave the running state
            st.rerun()
        cfg, tc = j.model_cfg, j.train_cfg
        st.caption(f"**This run:** {cfg.cell.upper()}, hidden {cfg.hidden_size} × {cfg.num_layers} layer(s)"
                   f"{', bidirectional' if cfg.bidirectional else ''}, lr {tc.lr:g}, batch {tc.batch_size}, "
                   f"{tc.epochs} epochs, on {j.source}.")
        if p.state == "paused":
            st.info("Paused. Press **Resume** to continue or **Stop** to keep the model as it is.",
                    icon=":material/pause:")
        if p.done:
            end_block(p)
        progress_block(j, p)
        log_y = st.toggle("Log-scale loss axis", key="loss_log")
        fig = charts.loss_figure(p.steps, p.step_loss, p.epoch_steps, p.epoch_train, p.epoch_val,
                                 log_y=log_y, best_epoch=p.best_epoch,
                                 title="Loss while training (lower is better)")
        st.plotly_chart(fig, key="loss_chart")

    view()


ds = None
left, right = st.columns([1, 2.1], gap="large")
with left, friendly_errors("reading the settings"):
    model_settings()
    training_settings(devices_found())

with right:
    with friendly_errors("setting up training"):
        ds = window_line()
        if ds is not None:
            with st.spinner("Timing a few training steps on this machine (once per session) ..."):
                cost_line(ds)
    with friendly_errors("controlling the run"):
        controls(ds)
    with friendly_errors("showing the training run"):
        running = runs.is_running()
        if running:
            st.info("A run is in progress: it keeps the settings it started with. Changes to the settings "
                    "apply to the next run.", icon=":material/info:")
            st.toggle("Pause live view", key="live_paused",
                      help="Freeze the charts so you can zoom and hover; training goes on. Every live redraw "
                           "resets the zoom.")
        live_view(running)
