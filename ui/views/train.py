"""What the Train page draws: the data line, the cost of the chosen model, the run buttons and
the live view of the run. The page (``pages/train.py``) lays out the inputs and calls these; the
buttons' callbacks are ``ui.runs.on_start`` / ``on_pause`` / ``on_resume`` / ``on_stop``."""
from __future__ import annotations

import streamlit as st

from gru_core import charts
from gru_core.errors import DataError
from ui import data_source, runs, sidebar, state
from ui.guard import explain_missing

END_BOX = {"finished": st.success, "early_stopped": st.success, "stopped": st.info,
           "diverged": st.warning, "failed": st.error}
END_TITLE = {"finished": "Finished", "early_stopped": "Early-stopped", "stopped": "Stopped",
             "diverged": "Diverged", "failed": "Failed"}
SLOW_S = 120.0                      # warn before a run expected to take longer than this
ss = st.session_state


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


def fmt_rough_s(seconds: float) -> str:
    """A rough duration that fits a metric: 12 s, 7 min, 1.6 h."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def fmt_count(n: int) -> str:
    """A count that fits a metric: 9,857 exactly; 10.4 k, 3.16 M above 10,000."""
    if n < 10_000:
        return f"{n:,}"
    return f"{n / 1e3:.1f} k" if n < 1_000_000 else f"{n / 1e6:.2f} M"


def seed_note() -> None:
    """Under the seed: what a shared link reproduces, and the training thread count it needs."""
    st.caption(state.REPRODUCIBILITY.format(threads=data_source.TRAIN_THREADS))


def window_line():
    """The Data page's windows (read-only here), or None after saying why there are none."""
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


def cost_line(ds) -> None:
    """Parameter count and time estimate of the model the current settings would build."""
    cfg = data_source.model_config(ds)
    tc = data_source.train_config()
    tc.validate()
    n = data_source.n_params(cfg)
    with st.spinner("Timing a few training steps on this machine (once per session) ..."):
        seconds, device = data_source.estimate_seconds(ds, cfg, tc)
    steps = -(-len(ds.train) // tc.batch_size)
    m = st.columns(3)
    m[0].metric("Parameters", fmt_count(n),
                help=f"{n:,} trainable weights and biases in the model these settings build.")
    m[1].metric("Steps per epoch", f"{steps:,}",
                help=f"{len(ds.train):,} training windows / batch size {tc.batch_size}.")
    m[2].metric(f"Estimated time ({device.upper()})", f"≈ {fmt_rough_s(seconds)}",
                help=f"About {fmt_s(seconds)} for all {tc.epochs} epochs on {device.upper()} "
                     f"({sidebar.device_summary()}). Three tiny training runs, timed once per "
                     "session, give the cost of a step; it is scaled to these settings by the number of "
                     "recurrent steps and floating-point operations. A rough guide (often within a factor "
                     "of 2; a busy machine is slower); early stopping can end sooner.")
    limits_line(ds)
    if seconds > SLOW_S:
        st.warning(f"These settings will take about **{fmt_s(seconds)}** on {device.upper()} "
                   f"({tc.epochs} epochs × {len(ds.train):,} windows, {n:,} parameters). For a quicker "
                   "run use fewer epochs, a smaller hidden size or fewer layers, a shorter lookback, or a "
                   "larger batch.", icon=":material/schedule:")


def limits_line(ds) -> None:
    """This server's limits for one run, next to what these settings would use (before Start)."""
    rows = runs.limit_rows(ds)
    over = [r for r in rows if not r["within"]]
    st.caption("**Server limits per run:** " + " · ".join(
        f"{r['limit']} {r['this run']} of {r['server limit']}" for r in rows[:3]) +
        ". A run past its wall time is stopped (keeping its weights).")
    for r in over:
        st.warning(f"Over this server's limit on {r['limit']}: {r['this run']} > "
                   f"{r['server limit']}. Lower the epochs, the model size or the data.",
                   icon=":material/block:")


def controls(ds) -> None:
    """Start / Pause / Resume / Stop; their callbacks (ui/runs.py) only start the run or set events."""
    running, paused = runs.is_running(), runs.paused()
    with st.container(horizontal=True, gap="small"):
        st.button("Start training", key="btn_start", type="primary", icon=":material/play_arrow:",
                  on_click=runs.on_start, disabled=running or ds is None)
        st.button("Pause", key="btn_pause", icon=":material/pause:", on_click=runs.on_pause,
                  disabled=not running or paused)
        st.button("Resume", key="btn_resume", icon=":material/resume:", on_click=runs.on_resume,
                  disabled=not paused)
        st.button("Stop", key="btn_stop", icon=":material/stop:", on_click=runs.on_stop,
                  disabled=not running)
    if ss.get("start_error"):
        st.error(ss["start_error"], icon=":material/error:")


def running_note() -> None:
    """While a run is going: settings apply to the next run; the live view can be frozen."""
    st.info("A run is in progress: it keeps the settings it started with. Changes to the settings "
            "apply to the next run.", icon=":material/info:")
    st.toggle("Pause live view", key="live_paused",
              help="Freeze the charts so you can zoom and hover; training goes on. Every live redraw "
                   "resets the zoom.")


def progress_block(p) -> None:
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


def run_caption(j) -> str:
    """One line naming what this run trains, with the seed and thread count that reproduce it."""
    cfg, tc = j.model_cfg, j.train_cfg
    threads = getattr(tc, "num_threads", data_source.TRAIN_THREADS)
    return (f"**This run:** {cfg.cell.upper()}, hidden {cfg.hidden_size} × {cfg.num_layers} layer(s)"
            f"{', bidirectional' if cfg.bidirectional else ''}, lr {tc.lr:g}, batch {tc.batch_size}, "
            f"{tc.epochs} epochs, seed {tc.seed}, {threads} CPU thread(s), on {j.source}.")


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
        if (waiting := runs.queue_line(j)) is not None:       # queued on the server's scheduler
            st.caption(run_caption(j))
            st.info(waiting, icon=":material/hourglass_top:")
            return
        if running and p.done and ss.get("_ended_rerun") != j.started:
            ss["_ended_rerun"] = j.started           # once: leave the running state
            st.rerun()
        st.caption(run_caption(j))
        if p.state == "paused":
            st.info("Paused. Press **Resume** to continue or **Stop** to keep the model as it is.",
                    icon=":material/pause:")
        if p.done:
            end_block(p)
        progress_block(p)
        log_y = st.toggle("Log-scale loss axis", key="loss_log")
        fig = charts.loss_figure(p.steps, p.step_loss, p.epoch_steps, p.epoch_train, p.epoch_val,
                                 log_y=log_y, best_epoch=p.best_epoch,
                                 title="Loss while training (lower is better)")
        st.plotly_chart(fig, key="loss_chart")

    view()
