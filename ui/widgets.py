"""Widget helpers shared by the pages: one that draws any setting, and a safe integer slider.

:func:`setting_input` is how a page draws a setting of ``ui.state.SETTINGS`` (or a generator
parameter): the label, help, bounds, step, format, options and widget kind all come from the
:class:`ui.state.Setting`, so a page never repeats them::

    setting_input("hidden_size")                 # number_input 1..1024, key "hidden_size"
    a, b = st.columns(2)
    setting_input("lookback", a)                 # drawn in a column
    setting_input("target", options=cols)        # choices only known at run time
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import streamlit as st

from ui import state


def setting_input(key: str, container=st, options: Mapping | None = None, **kwargs):
    """Draw the widget of setting ``key`` (in ``container``) and return its value.

    The current value is fitted first (clamped into the bounds, or reset to the default when it
    is no longer an option), so Streamlit never refuses it. ``options`` (value -> label) replaces
    the setting's own choices, for choices that depend on the data (the target column). Extra
    keyword arguments go to the Streamlit widget (``disabled=...``, ``placeholder=...``,
    ``label=...`` to override the label).
    """
    s = state.fit(key, options)
    label = kwargs.pop("label", s.label)
    args = {"key": key, "help": s.help or None, **kwargs}
    if s.widget in ("number", "slider"):
        kind = s.kind
        args.update(min_value=kind(s.min), max_value=kind(s.max), step=kind(s.step))
        if s.fmt:
            args["format"] = s.fmt
        draw = container.slider if s.widget == "slider" else container.number_input
        return draw(label, **args)
    if s.widget == "toggle":
        return container.toggle(label, **args)
    opts = s.choices() if options is None else dict(options)
    args["format_func"] = lambda v: opts.get(v, str(v))
    if s.widget == "segmented":
        args.setdefault("width", "stretch")
        return container.segmented_control(label, list(opts), required=True, **args)
    if s.widget == "select":
        return container.selectbox(label, list(opts), **args)
    if s.widget == "multiselect":
        return container.multiselect(label, list(opts), **args)
    raise ValueError(f"Setting {key!r} has an unknown widget kind {s.widget!r}")


def int_slider(label: str, lo: int, hi: int, default: int, key: str, **kwargs) -> int:
    """An integer slider that survives a range change (a remembered value is clamped into the
    new range) and a range of one value (no slider then: Streamlit refuses min == max)."""
    if hi <= lo:
        st.caption(f"{label}: {lo} (the only choice)")
        return lo
    v = st.session_state.get(key)
    if isinstance(v, (int, np.integer)) and not lo <= v <= hi:
        st.session_state[key] = int(min(max(v, lo), hi))
    return st.slider(label, lo, hi, min(max(default, lo), hi), key=key, **kwargs)
