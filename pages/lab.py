"""Lab page: intervene on the trained GRU (edit its input, clamp its gates) and watch its gates
change through training (the gate tape).

What-if numbers come from ``gru_core.intervene`` (a clamped re-run of the model's own weights,
equal to ``nn.GRU`` when nothing is clamped), the tape from ``gru_core.tape``; the drawing is
``ui.views.lab``.
"""
import streamlit as st

from ui import page, runs
from ui.views import lab as view
from ui.views import runs as runs_view

page.header(
    "Lab",
    "Experiment on the trained GRU. **What if**: edit the input window or hold a gate fixed "
    "(z = 1: a unit can only keep its state) and see the forecast and the gates respond, drawn "
    "over the originals. **Gate tape**: scrub back through training, epoch by epoch.")

with page.body("running the experiment"):
    runs_view.remember_current()
    t = page.require(runs.trained(), "No trained model yet: train one on the Train page, then "
                     "come back.", "pages/train.py", "Go to Train")
    if t.model_cfg.cell != "gru":
        page.require(None, f"This model is a {t.model_cfg.cell.upper()}: gates, clamps and the "
                     "tape exist for GRUs only. Train with cell = GRU.", "pages/train.py",
                     "Go to Train")
    i = view.window_choice(t)
    L = t.dataset.window.lookback
    what, tape = st.tabs(["What if", "Gate tape"])
    with what:
        controls, result = st.columns([1, 1.45], gap="medium")
        with controls:
            st.markdown("**Edit the input**")
            edits = view.edit_controls(L)
            typed = view.point_editor(t, i)
            st.markdown("**Clamp a gate**")
            clamps, mode = view.clamp_controls(t, L)
        with result:
            before, after = view.whatif(t, i, typed, edits, clamps, mode)
        view.whatif_gates(t, before, after)
    with tape:
        runs_view.lab_run_status("lab")
        taped = view.tape_records()
        if not taped:
            page.empty_state("No gate tape yet. Record one: the run is trained again from the "
                             "same seed with the gates of the chosen window kept at every epoch.")
            view.record_button(t, i)
        else:
            names = {r.id: f"run {r.id}: {r.note or r.source}" for r in taped[::-1]}
            rid = st.selectbox("Run", list(names), key="lab_tape_run", format_func=names.get)
            view.tape_player(next(r for r in taped if r.id == rid))
            view.record_button(t, i)
