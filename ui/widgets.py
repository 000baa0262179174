"""Small widget helpers shared by several pages."""
from __future__ import annotations

import numpy as np
import streamlit as st


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
