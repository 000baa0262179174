"""What the Train page draws: the data line, the cost of the chosen model (against the server's
limits: past any of them Start is disabled), the run buttons and the live view of the run. The page (``pages/train.py``) lays out the inputs and calls these; the
buttons' callbacks are ``ui.runs.on_start`` / ``on_pause`` / ``on_resume`` / ``on_stop``."""
from __future__ import annotations

import streamlit as st

from gru_core import charts
from gru_core.errors import DataError
from gru_core.train import LARGE_BATCH, LARGE_DATA, SMALL_BATCH
from ui import data_source, page, runs, server, sidebar, state
from ui.guard import error_text, explain_missing
from ui.safe import md

END_BOX = {"finished": st.success, "early_stopped": st.success, "stopped": st.info,
           "diverged": st.warning, "failed": st.error}
END_TITLE = {"finished": "Finished", "early_stopped": "Early-stopped", "stopped": "Stopped",
             "diverged": "Diverged", "failed": "Failed"}
SLOW_S = 120.0                      # warn before a run expected to take longer than this
PRESENT_LOSS_HEIGHT = 320           # presentation: the loss chart (before font scaling) fits 1280x720
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
    page.say(state.REPRODUCIBILITY.format(threads=data_source.TRAIN_THREADS))


def window_line():
    """The Data page's windows (read-only here), or None after saying why there are none."""
    try:
        ds = data_source.current_dataset()
    except DataError as exc:
        explain_missing(f"The data is not ready for training: {error_text(exc)}", "pages/data.py",
                        "Fix it on the Data page", error=True)
        return None
    if page.presenting():           # fewer words: the windows go on the cost line
        return ds
    st.markdown(f"**Data:** {data_source.source_label()} · lookback **L = {ds.window.lookback}**, "
                f"horizon **H = {ds.window.horizon}** · **{len(ds.train):,}** train / "
                f"**{len(ds.val):,}** validation / **{len(ds.test):,}** test windows · "
                f"{ds.scaled.shape[1]} input column(s)")
    st.page_link("pages/data.py", label="Change the data, lookback or horizon on the Data page",
                 icon=":material/table_chart:")
    return ds


def limits_line(est) -> None:
    """Each estimate next to the server's limit, on one caption line; past a limit, which to lower."""
    parts = [f"{r['what']} {r['estimate']} of {r['limit']}" if r["within"]
             else f":red[**{r['what']} {r['estimate']} of {r['limit']}**]" for r in est.rows()]
    wall = server.scheduler().config.wall_limit_s
    st.caption("**Server limits** (estimate of limit) · " + " · ".join(parts)
               + f" · wall time {wall / 60:.0f} min per run (a run past it is stopped, keeping its "
                 "weights; pauses count)")
    if not est.ok:
        st.warning("**Too big for this server, so Start is disabled:** "
                   + "; ".join(est.problems()) + ".", icon=":material/block:")


def cost_line(ds):
    """Parameter count, time estimate and limits of the model the current settings would build;
    returns the limits estimate (``gru_core.limits.Estimate``)."""
    cfg = data_source.model_config(ds)
    asked = data_source.train_config()
    asked.validate()
    tc = asked.plan(len(ds.train))   # what the run will use (batch 0 = auto)
    est = data_source.run_estimate(ds, cfg, tc)
    n = est.params
    with st.spinner("Timing a few training steps on this machine (once per session) ..."):
        seconds, device = data_source.estimate_seconds(ds, cfg, tc)
    steps = -(-len(ds.train) // tc.batch_size)
    if page.presenting():           # one short line instead of three metrics and the limits
        st.markdown(f"**L = {ds.window.lookback}**, **H = {ds.window.horizon}** · "
                    f"{fmt_count(n)} parameters · ≈ {fmt_rough_s(seconds)} on {device.upper()}")
        if not est.ok:
            st.warning("**Too big for this server, so Start is disabled:** "
                       + "; ".join(est.problems()) + ".", icon=":material/block:")
        return est
    m = st.columns(3)
    m[0].metric("Parameters", fmt_count(n),
                help=f"{n:,} trainable weights and biases in the model these settings build.")
    m[1].metric("Steps per epoch", f"{steps:,}",
                help=f"{len(ds.train):,} training windows / batch size {tc.batch_size}"
                     + (f" (auto; learning rate {tc.lr:g}"
                        + (", dense loss" if tc.dense_loss == "on" else "") + ")."
                        if asked.batch_size == 0 else "."))
    m[2].metric(f"Estimated time ({device.upper()})", f"≈ {fmt_rough_s(seconds)}",
                help=f"About {fmt_s(seconds)} for all {tc.epochs} epochs on {device.upper()} "
                     f"({sidebar.device_summary()}). Three tiny training runs, timed once per "
                     "session, give the cost of a step; it is scaled to these settings by the number of "
                     "recurrent steps and floating-point operations. A rough guide (often within a factor "
                     "of 2; a busy machine is slower); early stopping can end sooner.")
    if asked.batch_size == 0:        # the learning-rate box shows the setting, not the rate used
        st.caption(plan_line(asked, tc, len(ds.train)))
    if seconds > SLOW_S:
        st.warning(f"These settings will take about **{fmt_s(seconds)}** on {device.upper()} "
                   f"({tc.epochs} epochs × {len(ds.train):,} windows, {n:,} parameters). For a quicker "
                   "run use fewer epochs, a smaller hidden size or fewer layers, a shorter lookback, or a "
                   "larger batch.", icon=":material/schedule:")
    limits_line(est)
    return est


def plan_line(asked, tc, n_windows: int) -> str:
    """What batch 0 (auto) picks for this data, and why, in one caption."""
    if n_windows >= LARGE_DATA:
        return (f"**Batch auto:** {tc.batch_size} windows at learning rate {tc.lr:g} "
                f"({tc.lr / asked.lr:g}× the setting) with the dense loss, because this data has "
                f"{n_windows:,} training windows (≥ {LARGE_DATA:,}); below that it is "
                f"{SMALL_BATCH} at the set rate. The loss shown is the forecast's own.")
    return (f"**Batch auto:** {tc.batch_size} windows at the set learning rate ({n_windows:,} "
            f"training windows; from {LARGE_DATA:,} on it would be {LARGE_BATCH} at "
            f"{LARGE_BATCH // SMALL_BATCH}× the rate, with the dense loss).")


def controls(ds, est=None) -> None:
    """Start / Pause / Resume / Stop; their callbacks (ui/runs.py) only start the run or set events.
    Start is disabled without windows and past the server's limits (``est``, see :func:`cost_line`)."""
    running, paused = runs.is_running(), runs.paused()
    too_big = est is not None and not est.ok
    with st.container(horizontal=True, gap="small"):
        st.button("Start training", key="btn_start", type="primary", icon=":material/play_arrow:",
                  on_click=runs.on_start, disabled=running or ds is None or too_big)
        st.button("Pause", key="btn_pause", icon=":material/pause:", on_click=runs.on_pause,
                  disabled=not running or paused)
        st.button("Resume", key="btn_resume", icon=":material/resume:", on_click=runs.on_resume,
                  disabled=not paused)
        st.button("Stop", key="btn_stop", icon=":material/stop:", on_click=runs.on_stop,
                  disabled=not running)
    if ss.get("start_error"):
        st.error(error_text(ss["start_error"]), icon=":material/error:")


def running_note() -> None:
    """While a run is going: settings apply to the next run; the live view can be frozen."""
    if page.presenting():
        return
    st.info("A run is in progress: it keeps the settings it started with. Changes to the settings "
            "apply to the next run.", icon=":material/info:")
    st.toggle("Pause live view", key="live_paused",
              help="Freeze the charts so you can zoom and hover; training goes on. Every live redraw "
                   "resets the zoom.")


def progress_block(p) -> None:
    frac = min(p.step / p.total_steps, 1.0) if p.total_steps else 0.0
    f = lambda v: "—" if v is None else f"{v:.4g}"   # noqa: E731
    if page.presenting():           # one line: where the run is and its losses (the chart has the rest)
        state = f"{END_TITLE[p.state]} · " if p.done and p.state in END_TITLE else ""
        st.progress(frac, text=f"{state}Epoch {p.epoch}/{p.epochs} · train loss "
                               f"**{f(p.train_loss)}** · val loss **{f(p.val_loss)}** · best val "
                               f"**{f(p.best_val)}**")
        return
    st.progress(frac, text=f"Epoch {p.epoch}/{p.epochs} · step {p.step:,}/{p.total_steps:,} · "
                           f"ETA {fmt_s(p.eta_s) if not p.done else '—'} · "
                           f"{p.windows_per_s:,.0f} windows/s · elapsed {fmt_s(p.elapsed_s)} · "
                           f"{p.device.upper()}")
    m = st.columns(4)
    m[0].metric("Train loss", f(p.train_loss), help="The last step's training loss: mean squared error "
                                                      "in scaled units.")
    m[1].metric("Val loss", f(p.val_loss), help="The last epoch's validation loss: mean squared error on "
                                                "the validation windows, scaled units.")
    m[2].metric("Best val" + (f" (ep. {p.best_epoch})" if p.best_epoch else ""), f(p.best_val),
                help="Lowest validation loss so far, and its epoch.")
    m[3].metric("Grad norm", f(p.grad_norm), help="Size of the last step's gradient, before clipping.")


def overfitting_note(p, patience: int) -> None:
    """Say "overfitting" (and what early stopping did) when validation loss rises as training
    loss falls (``gru_core.history.overfitting``)."""
    from gru_core.history import overfitting

    note = overfitting(p.epoch_train, p.epoch_val, patience, p.state)
    if note and page.presenting():  # the verdict only; the chart shows the curves
        kept = f"; early stopping kept epoch {p.best_epoch}" if (
            p.state == "early_stopped" and p.best_epoch) else ""
        st.warning(f"**Overfitting:** validation loss rising while training loss falls{kept}.",
                   icon=":material/trending_up:")
    elif note:
        st.warning(note, icon=":material/trending_up:")


def end_block(p) -> None:
    """How the run ended and where to go next. Presenting: a clean ending is said on the progress
    line only (no box); a stop, divergence or failure still gets its box, without the prose."""
    present = page.presenting()
    if not present or END_BOX.get(p.state) is not st.success:
        why = "" if present else " " + md(p.reason, limit=None)
        END_BOX.get(p.state, st.info)(f"**{END_TITLE.get(p.state, p.state)}.**{why}")
    if p.step > 0 and not present:
        st.markdown("Next: see how this model forecasts the test part, and what its gates do.")
        with st.container(horizontal=True, gap="medium"):
            st.page_link("pages/forecast.py", label="Forecast", icon=":material/query_stats:")
            st.page_link("pages/gates.py", label="Gates", icon=":material/tune:")


def run_caption(j) -> str:
    """One line naming what this run trains, with the seed and thread count that reproduce it."""
    cfg, auto = j.model_cfg, j.train_cfg.batch_size == 0
    tc = j.train_cfg.plan(len(j.dataset.train))      # the batch, rate and loss it trains with
    threads = getattr(tc, "num_threads", data_source.TRAIN_THREADS)
    return (f"**This run:** {cfg.cell.upper()}, hidden {cfg.hidden_size} × {cfg.num_layers} layer(s)"
            f"{', bidirectional' if cfg.bidirectional else ''}, lr {tc.lr:g}, batch {tc.batch_size}"
            f"{' (auto)' if auto else ''}{', dense loss' if tc.dense_loss == 'on' else ''}, "
            f"{tc.epochs} epochs, seed {tc.seed}, {threads} CPU thread(s), on {j.source}.")


def auto_choice(result) -> None:
    """What "auto" picked and why (gru_core.auto.AutoResult), with its candidate table."""
    from gru_core.transforms import TRANSFORMS
    label = TRANSFORMS[result.transform].label
    if page.presenting():           # the pick only; the reasons and the table stay one click away
        st.success(f"**Auto picked: {label}, lookback {result.lookback}.**",
                   icon=":material/auto_awesome:")
        return
    st.success(f"**Auto picked: {label}, lookback {result.lookback}.** {result.reason[0].upper()}"
               f"{result.reason[1:]}", icon=":material/auto_awesome:")
    with st.expander(f"All {len(result.table)} candidates (validation MAE, data units)"):
        st.dataframe(result.table, hide_index=True, column_config={
            "val MAE": st.column_config.NumberColumn(format="%.4g")})
        for note in result.notes:
            st.caption(note)


def live_view(running: bool) -> None:
    """The run as it is now; polls every 0.5 s while it trains, every 2 s while it waits in the
    server's queue (unless the view is paused)."""
    frozen = running and ss.get("live_paused", False)
    every = runs.live_every(running and not frozen)       # 2 s while queued, 0.5 s while training

    @st.fragment(run_every=every)
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
        if every is not None and not p.done and every != runs.live_every(True):
            st.rerun()                               # it has left the queue: poll faster
        if running and p.done and ss.get("_ended_rerun") != j.started:
            ss["_ended_rerun"] = j.started           # once: leave the running state
            st.rerun()
        present = page.presenting()
        if not present:
            st.caption(run_caption(j))
        auto = runs.auto_run(j)
        if auto is not None and auto.status:
            st.info(f"Auto: {auto.status}. The winner then trains here live.", icon=":material/manage_search:")
        if auto is not None and auto.result is not None and not present:
            auto_choice(auto.result)
        if p.state == "paused":
            st.info("Paused. Press **Resume** to continue or **Stop** to keep the model as it is.",
                    icon=":material/pause:")
        if p.done:
            end_block(p)
        progress_block(p)
        if not present:
            overfitting_note(p, j.train_cfg.patience)
            st.toggle("Log-scale loss axis", key="loss_log")
        fig = charts.loss_figure(p.steps, p.step_loss, p.epoch_steps, p.epoch_train, p.epoch_val,
                                 log_y=ss.get("loss_log", False), best_epoch=p.best_epoch,
                                 title="Loss while training (lower is better)",
                                 height=PRESENT_LOSS_HEIGHT if present else 440,
                                 y_title="MSE (scaled)" if present else "MSE loss (scaled units)")
        page.chart(fig, key="loss_chart")
        if present:                 # under the chart, so the chart stays above the fold
            overfitting_note(p, j.train_cfg.patience)
            if auto is not None and auto.result is not None:
                auto_choice(auto.result)
            st.toggle("Log-scale loss axis", key="loss_log")

    view()
