"""Gates page: the GRU's reset (r) and update (z) gates, candidate (n) and state (h), step by step.

Title -> paragraph -> which GRU (the guard: trained, or an untrained one said to be so) -> inputs
-> action. Every number comes from ``gru_core`` (``trace_gates`` on the model's own weights,
``explain`` for summaries and the filled-in step); ``ui/views/gates.py`` lays them out.
"""
import streamlit as st

from ui import page
from ui.views import gates as view

page.header("Gates", (
    "A GRU unit decides at every step how much of its old state to keep (**update gate z**) and "
    "how much of the old state to use when proposing a new value (**reset gate r**). This page "
    "re-runs the trained GRU's own weights step by step over a stretch of your data: heatmaps of "
    "every gate of every unit (press **Play** to move through time with the numbers of each step "
    "filled in), chosen units under the input series, and a per-unit summary with each unit's "
    "measured memory."))

with page.body("tracing the GRU's gates"):
    t = view.subject()                     # the guard: the trained GRU, or an untrained one, said so
    view.equations()
    st.subheader("What to trace")
    key, a, b, desc = view.pick_span(t)
    lay, conv = st.columns([1, 2.4], gap="medium")
    with lay:
        layer, direction = view.pick_layer(t.model_cfg)
    with conv:
        torch_z = view.pick_convention()
    st.caption(f"Tracing {desc}")
    view.draw(t, key, a, b, layer, direction, torch_z)
