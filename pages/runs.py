"""Runs page: the session's finished runs in a table, two or three side by side, and "rewind".

The history is ``gru_core.history`` (kept in session state by ``ui.views.runs``); every finished
run of the Train page is added when this page or Lab opens. Rewind trains the chosen run again
from the same seed with one setting changed (in the background, with a gate tape), so a class sees
the effect of one knob.
"""
import streamlit as st

from ui import page
from ui.views import runs as view

page.header(
    "Runs",
    "Every run you finish is kept here (the last few), with its settings, loss curves and test "
    "scores. Pick two or three to put **side by side**: losses, scores, forecasts and the update "
    "gate z on the same window. **Rewind** trains a run again from the *same seed* with one "
    "setting changed, so the only difference is that knob.")

with page.body("comparing runs"):
    view.remember_current()
    view.lab_run_status("runs")
    h = view.history()
    page.require(h.runs() or None, "No finished runs yet: train one on the Train page, then come "
                 "back (or rewind one here afterwards).", "pages/train.py", "Go to Train")
    view.table(h)
    ids = [r.id for r in h.runs()]
    if len(ids) >= 2:                      # the point of the page first: runs side by side
        st.subheader("Side by side")
        picked = st.multiselect("Runs to compare (two or three)", ids, default=ids[-2:],
                                max_selections=3, key=f"runs_pick_{ids[-1]}",  # new run: new default
                                format_func=lambda i: f"run {i}")
        if len(picked) < 2:
            page.empty_state("Pick two or three runs to compare.")
        else:
            records = [h.get(i) for i in picked]
            view.side_by_side(records)
            n = len(records[0].dataset.test.starts)
            i = st.slider("Test window for the gates", 0, n - 1, 0, key="runs_window")
            view.gates_side_by_side(records, i)
    st.subheader("Rewind: the same run with one knob changed")
    if len(ids) < 2:
        page.empty_state("One run so far: rewind it to get a second one to compare side by side.")
    base = st.selectbox("Run to rewind", ids[::-1], key="runs_base", format_func=lambda i: f"run {i}")
    view.rewind_form(h, base)
