"""Forecast page: the trained model's forecasts against the actual values, beside naive baselines.

Everything is computed on the dataset the model was trained on (its own scaler, windows and split)
by ``gru_core.evaluate`` and judged by ``gru_core.verdict`` against the best baseline; the drawing
is ``ui.views.forecast``. The model bundle can be downloaded here, and an uploaded bundle restores
a model (``ui.runs.restore_bundle``).
"""
import streamlit as st

from ui import page, runs
from ui.views import forecast as view

page.header(
    "Forecast",
    "How good are the trained model's forecasts? Every number here comes from windows the model "
    "never trained on (the **test** part, or the **validation** part), in the data's own units, "
    "next to classical forecasts: **naive** (repeat the last value), **seasonal naive** (repeat "
    "the value one season back) and **ETS** exponential smoothing (statsmodels, fitted on the "
    "training part). The verdict compares the model with the *best* of them. Pick a horizon step to follow it through time, or a window to see "
    "all its steps at once; then download the predictions or the model. Next: open **Gates** to "
    "see what the GRU's reset and update gates did.")

with page.body("drawing the forecasts"):
    view.restore_uploaded_bundle()                   # input: a newly uploaded model bundle
    t = runs.trained()
    if t is None:                                    # guard: no model, but a bundle still helps
        message, icon = view.missing_model()
        page.empty_state(message, "pages/train.py", "Go to Train", icon=icon)
        view.bundle_section(None)
        st.stop()
    split, metric = view.choices()                   # inputs: windows to score, verdict metric
    view.draw(t, split, metric)                      # action
    view.bundle_section(t)
