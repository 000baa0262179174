"""Runs page drawing, and the session's run history and background "lab runs" it shares with Lab.

* The history (``gru_core.history.RunHistory``) lives in session state (``ui.runs.history``);
  every finished run of the Train page is added once (``ui.runs.remember_finished``, called by
  the sidebar on every page), with the gate tape recorded while it trained.
* A lab run is a ``TrainingRun`` with a ``GateTape`` on its probe window, submitted to the
  server's scheduler like every run (:class:`LabSpec`; it waits for a training slot, counts as
  the session's one job, and is kept in the session's record for a reload): a rewind (one
  setting changed, same seed) or a replay of a run with the tape on (nothing changed, so -- same
  seed, same thread count -- the same numbers). The worker thread never calls ``st.*``; a
  fragment polls it and adds it to the history when it ends (DESIGN.md §2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.charts import lab as charts_lab
from gru_core.history import (REWIND_KNOBS, RunHistory, config_changes, overlay_curves,
                              rewind_configs)
from gru_core.errors import DataError
from gru_core.jobs import ForecastSpec
from gru_core.tape import GateTape
from gru_core.train import TrainingRun
from ui import page, runs, server

BG = "_lab_bg"        # session key of the background lab run


def history() -> RunHistory:
    return runs.history()


def remember_current() -> None:
    """Add the Train page's finished run to the history (once; the sidebar does it too)."""
    runs.remember_finished()


# ------------------------------------------------------------------------- background lab runs
@dataclass
class LabSpec(ForecastSpec):
    """A lab run as the scheduler builds it when a slot is free: the forecaster run with the gate
    tape recording at every epoch end (local only: the page reads the tape and the model)."""

    tape: GateTape | None = None
    local_only = True

    def build(self) -> TrainingRun:
        run = TrainingRun(self.dataset, self.model_cfg, self.train_cfg)
        self.tape.record(0, run.model)
        run.on_epoch_end = self.tape.record
        return run


def start_lab_run(ds, model_cfg, train_cfg, probe_i: int, note: str, source: str) -> bool:
    """Queue ``model_cfg`` / ``train_cfg`` on ``ds`` for this session, recording a gate tape of
    test window ``probe_i``; True if queued. A refusal (another job of this session -- pressing
    again stops it --, a full queue, a limit) is kept in ``lab_start_error`` for
    :func:`lab_run_status`."""
    ss = st.session_state
    ss["lab_start_error"] = None
    if lab_running():
        raise RuntimeError("A lab run is already training; wait for it or stop it.")
    tape = GateTape(ds.test.X[probe_i], label=f"test window {probe_i}")
    try:
        handle, = server.submit([LabSpec(ds, model_cfg, train_cfg, tape=tape)],
                                label=f"lab: {note}", page="lab")
    except DataError as exc:                     # SessionBusy and QueueFull are DataErrors too
        ss["lab_start_error"] = str(exc)
        return False
    server.keep(BG, {"run": handle, "tape": tape, "note": note, "source": source})
    return True


def lab_running() -> bool:
    bg = st.session_state.get(BG)
    return bool(bg and bg["run"].running)


def stop_lab_run() -> None:
    bg = st.session_state.get(BG)
    if bg:
        bg["run"].stop()


def lab_run_status(where: str) -> None:
    """Progress of the background lab run; adds it to the history when it ends (polls every 2 s
    while it waits in the queue, twice a second while it trains)."""
    if st.session_state.get("lab_start_error"):
        st.error(st.session_state["lab_start_error"], icon=":material/error:")
    bg = st.session_state.get(BG)
    every = server.poll_s([bg["run"]] if bg else [], 0.5)

    @st.fragment(run_every=every)
    def _poll():
        bg = st.session_state.get(BG)
        if not bg:
            return
        server.renew()
        p = bg["run"].snapshot()
        if not p.done:
            waiting = server.wait_line(bg["run"])
            if waiting is None and every != server.poll_s([bg["run"]], 0.5):
                st.rerun()                                 # it has left the queue: poll faster
            if waiting is not None:
                st.info(f"Lab run ({bg['note']}): {waiting}", icon=":material/hourglass_top:")
            else:
                st.progress(min(p.epoch / max(p.epochs, 1), 1.0),
                            text=f"Lab run ({bg['note']}): epoch {p.epoch} of {p.epochs}, "
                                 f"{len(bg['tape'])} tape frames")
            st.button("Stop the lab run", key=f"{where}_stop_bg", on_click=stop_lab_run)
            return
        if not bg.get("added"):
            bg["added"] = True
            run = bg["run"].run                            # the handle's TrainingRun (None: evicted)
            if p.step > 0 and run is not None:
                history().add_run(run, source=bg["source"], tape=bg["tape"], note=bg["note"])
            st.rerun()
    _poll()


# ----------------------------------------------------------------------------------- drawing
def table(h: RunHistory) -> None:
    st.dataframe(h.table(), hide_index=True, width="stretch",
                 column_config={"lr": st.column_config.NumberColumn(format="%g"),
                                "test MAE": st.column_config.NumberColumn(format="%.4g"),
                                "best baseline MAE": st.column_config.NumberColumn(format="%.4g")})
    page.say("MAE in the data's units on the test windows; best baseline = the better of naive "
             "and seasonal naive on the same windows. The session keeps the last "
             f"{h.max_runs} runs.")


def side_by_side(records) -> None:
    """Loss curves, metrics, forecasts and the gates of one window for 2-3 runs."""
    names = {r.id: f"run {r.id}" for r in records}
    a, b = records[0], records[1]
    diff = config_changes(a, b)
    st.markdown("**What differs (run %d → run %d):** %s" % (a.id, b.id, ", ".join(
        f"{k} {va} → {vb}" for k, (va, vb) in diff.items()) or "nothing: a replay"))
    curves = overlay_curves(records)
    fig = charts_lab.overlay_loss_figure(
        {names[r.id]: (curves[(curves.run == r.id) & (curves.kind == "train")].loss,
                       curves[(curves.run == r.id) & (curves.kind == "validation")].loss)
         for r in records}, title="Loss per epoch (dotted: train, solid: validation)")
    page.chart(fig, key="runs_loss_chart")
    st.dataframe(pd.DataFrame({names[r.id]: r.metrics.iloc[0] for r in records}
                              | {"best baseline (run %d)" % a.id: a.metrics.iloc[1:].min()}).T,
                 width="stretch")
    same = all(r.dataset is a.dataset for r in records)
    if not same:
        st.info("These runs used different data or windows, so their forecasts and gates are "
                "not drawn on one axis. Compare runs on the same data.")
        return
    ds = a.dataset
    step = 1
    x = runs.positions_to_axis(ds, ds.test.starts + ds.window.lookback + step - 1)
    units = str(getattr(ds.series, "target", "value"))
    page.chart(charts_lab.overlay_forecast_figure(
        x, a.actual[:, step - 1], {names[r.id]: r.forecast[:, step - 1] for r in records},
        units=units, title="Test forecasts, 1 step ahead"), key="runs_fc_chart")


def gates_side_by_side(records, i: int) -> None:
    """z of every unit on the same test window, one heatmap per run."""
    from gru_core import charts
    from gru_core.history import same_window_traces

    if any(r.dataset is not records[0].dataset for r in records):
        return
    traces = same_window_traces(records, "test", i)
    if not traces:
        st.info("None of these runs is a GRU, so there are no gates to compare.")
        return
    ds = records[0].dataset
    s = int(ds.test.starts[i])
    L = ds.window.lookback
    x = np.arange(s, s + L)
    y = ds.series.values[s:s + L, 0]
    cols = st.columns(len(traces))
    for col, (rid, tr) in zip(cols, traces.items()):
        z = tr.z[-1, 0].numpy()  # (L, U) last layer
        fig = charts.gate_heatmaps(x, y, ds.series.target, [("z", f"run {rid}: z (share kept)", z,
                                                              "z")], range(z.shape[1]))
        with col:
            page.chart(fig, key=f"runs_gates_{rid}")


def rewind_form(h: RunHistory, base_id: int) -> None:
    """One knob, a new value, and a button that trains the rewind in the background."""
    rec = h.get(base_id)
    c1, c2, c3 = st.columns([2, 2, 1])
    knob = c1.selectbox("Setting to change", list(REWIND_KNOBS), key="runs_knob",
                        format_func=lambda k: f"{k} ({REWIND_KNOBS[k][1]})")
    where = REWIND_KNOBS[knob][0]
    now = getattr(rec.model_cfg if where == "model" else rec.train_cfg, knob)
    value = c2.number_input(f"New value (run {rec.id} had {now:g})", value=float(now) * 2 if now
                            else 1.0, key=f"runs_value_{knob}",
                            step=1.0 if isinstance(now, int) else None, format="%g")
    if c3.button("Rewind", key="runs_rewind", type="primary", disabled=lab_running(),
                 help="Train again from the same seed with only this setting changed."):
        mc, tc = rewind_configs(rec, knob, int(value) if isinstance(now, int) else value)
        start_lab_run(rec.dataset, mc, tc, 0, f"rewind of run {rec.id}: {knob} {now:g} → "
                                               f"{value:g}", rec.source)
        st.rerun()
