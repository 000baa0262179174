"""Train page: model and training settings, Start / Pause / Resume / Stop, and the live loss view.

Every setting is drawn by ``setting_input`` from its entry in ``ui/state.py``; the drawing lives
in ``ui/views/train.py`` and the buttons' callbacks in ``ui/runs.py``.
"""
import streamlit as st

from ui import page, runs
from ui.views import train as view
from ui.widgets import setting_input

ss = st.session_state

page.header("Train", (
    "Train a recurrent network on the windows defined on the Data page and watch it learn. Pick "
    "the model and training settings, press **Start training**, and follow the loss curves live: "
    "the training loss should fall, and the validation loss (data the model does not train on) "
    "tells you when it stops generalising. You can pause, resume or stop at any time and visit "
    "other pages meanwhile. When the run ends, look at its forecasts and its gates."))

left, right = st.columns([1, 2.1], gap="large")
with left, page.body("reading the settings"):   # inputs
    st.subheader("Model")
    setting_input("cell")
    a, b = st.columns(2)
    setting_input("hidden_size", a)
    setting_input("num_layers", b)
    setting_input("dropout", disabled=ss["num_layers"] < 2)
    setting_input("bidirectional")
    st.subheader("Training")
    a, b = st.columns(2)
    setting_input("lr", a)
    setting_input("batch_size", b)
    setting_input("epochs", a)
    setting_input("patience", b)
    setting_input("clip_grad", a)
    setting_input("seed", b)
    view.seed_note()
    setting_input("device")

with right:
    ds = None
    with page.body("setting up training"):      # guard: windows from the Data page, or why not
        ds = view.window_line()
        if ds is not None:
            view.cost_line(ds)
    with page.body("controlling the run"):      # action: the run's buttons ...
        view.controls(ds)
    with page.body("showing the training run"):  # ... and the run as it goes
        running = runs.is_running()
        if running:
            view.running_note()
        view.live_view(running)
