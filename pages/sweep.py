"""Sweep page: a grid or random search over the model's settings, queued on this server (or run in
parallel on Ray), chosen by validation error; the chosen config's test score is shown after."""
import streamlit as st

from gru_core.errors import DataError
from ui import page
from ui.views import sweep as view

page.header(
    "Sweep",
    "Which settings forecast this series best? Pick a few values for the hidden units, layers, "
    "lookback, learning rate, target transform and seed, and train every combination (grid) or "
    "a random subset. Trials wait for a training slot on this server like any other run. The "
    "best config is the one with the **lowest validation error** — the test windows are not "
    "looked at until it has been chosen, and its test score is shown after. Load it into the "
    "Train page with one click.")

with page.body("running the sweep"):
    trials, space = view.inputs()
    try:
        base = view.base()
    except DataError as exc:
        page.empty_state(f"The data is not ready: {exc}", "pages/data.py", "Fix it on the Data page")
        st.stop()
    page.require(trials or None, "Choose at least one value for every setting above.")
    view.plan(trials, base)
    going = view.running()
    a, b = st.columns(2)
    a.button("Start sweep", type="primary", icon=":material/play_arrow:", disabled=going,
             on_click=view.on_start, args=(trials,), width="stretch")
    b.button("Stop sweep", icon=":material/stop:", disabled=not going, on_click=view.on_stop,
             width="stretch")
    if st.session_state.get("sweep_error"):
        st.error(st.session_state["sweep_error"])
        if st.session_state.get("sweep_busy"):
            st.button("Stop the current run and start the sweep", on_click=view.on_start,
                      args=(trials, True))
    view.status_line()
    view.results()
