"""Data page: choose the series (sample, generator or upload), its columns, and how it is windowed.

Layout: the settings in a narrow left column, what they produce (summary, split chart with one
example window, window counts) on the right, so the first screen already shows the data. Every
setting is drawn by ``setting_input`` from its entry in ``ui/state.py``; the drawing of results
lives in ``ui/views/data.py``.
"""
import streamlit as st

from ui import page, state
from ui.views import data as view
from ui.widgets import setting_input

ss = st.session_state

page.header("Data", (
    "Choose the time series the network will learn from (a bundled **sample**, a synthetic "
    "**generator** whose pattern you control, or your own **CSV**), the column to forecast, and how "
    "the series is cut into training examples: each *window* gives the model **lookback** past steps "
    "and asks for the next **horizon** steps. The chart shows the train / validation / test split and "
    "one window. When it looks right, go to **Train**."))

with page.body("loading the data"):
    left, right = st.columns([1, 2.1], gap="large")
    with left:                                   # inputs: where the series comes from
        setting_input("source")
        if ss["source"] == "sample":
            setting_input("sample")
            view.sample_info()
        elif ss["source"] == "generator":
            setting_input("gen")
            view.generator_info()
            a, b = st.columns(2)
            setting_input("gen_length", a)
            setting_input("gen_seed", b)
            for key in state.gen_param_keys(ss["gen"]):
                setting_input(key)
        else:
            view.upload_input()

    with right:                                  # guard: a table (else the reason is shown here)
        table = view.load_table()
    if table is None:
        st.stop()

    with left:                                   # inputs: columns, windows and split
        st.subheader("Columns")
        setting_input("target", options=view.target_options(table))
        inputs = view.input_options(table)
        setting_input("inputs", options=inputs, disabled=not inputs,
                      placeholder="none" if inputs else "no other numeric columns")
        setting_input("missing")
        st.subheader("Windows and split")
        a, b = st.columns(2)
        setting_input("lookback", a)
        setting_input("horizon", b)
        setting_input("train_frac", a)
        setting_input("val_frac", b)
        setting_input("stride", a)
        setting_input("scaler", b)
        view.test_share_caption()

    with right:                                  # action: what the settings produce
        series = view.load_series()
        if series is not None:
            view.summary(table, series)
            view.window_view(series, table)
