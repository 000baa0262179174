"""The sidebar every page shares: what data and run are active, the device, and the share link."""
from __future__ import annotations

import streamlit as st

from gru_core.jobs import describe_wait
from ui import data_source, page, runs, server, state
from ui.safe import md
from ui.widgets import setting_input

devices = state.devices          # gru_core.device.device_report(), asked once per server process


def device_summary() -> str:
    """One line naming the device "auto" trains on, e.g. "CPU (no CUDA or MPS found)"."""
    d = devices()
    if d.get("cuda"):
        return f"CUDA GPU: {md(d.get('cuda_name') or 'found')}"
    if d.get("mps"):
        return "Apple GPU (MPS)"
    return "CPU (no CUDA or MPS GPU found)"


def _run_line() -> str | None:
    j = runs.job()
    if j is None:
        return None
    p = j.run.snapshot()
    if p.state == "queued":
        return f"**Run** · queued, {describe_wait(j.run.position, j.run.eta_s)}"
    if p.state in ("running", "paused"):
        return f"**Run** · {p.state}, epoch {p.epoch}/{p.epochs}"
    return f"**Run** · {p.state.replace('_', ' ')}"


def _run_status() -> None:
    """The run's state; refreshes itself every 2 s while this session has a job (a run or sweep
    trials), on every page, and each refresh renews the job's lease (``ui.server.renew``): a
    closed tab stops renewing, and the scheduler stops its job. (The Train page's own live view
    refreshes twice a second; each refresh costs the browser work.)"""
    @st.fragment(run_every=2.0 if runs.is_running() or server.active() else None)
    def run_status() -> None:
        server.renew()
        line = _run_line()
        if line:
            st.caption(line)
    run_status()


def draw() -> None:
    """Draw the shared sidebar (after ``st.navigation`` so it sits under the page list)."""
    runs.remember_finished()   # a run that has ended enters the Runs page's history (once)
    with st.sidebar:
        st.caption("**Data** · " + data_source.source_label())
        _run_status()
        st.caption("**Device** · " + device_summary())
        setting_input("present")        # presentation mode: larger text for a projector
        page.presentation_style()
        problems = st.session_state.get("url_problems") or []
        for msg in problems:           # Markdown built by ui.state, every link value quoted
            st.warning(msg)
        with st.expander("Share this setup", icon=":material/link:"):
            st.caption("The address bar always holds a link to the current setup (data source, "
                       "generator parameters, model and training settings, seed) and to this "
                       "session (`s=`: reload to get it back; do not share it). The link below "
                       "has the setup only. Uploaded files are not part of it.")
            st.code(state.share_url(), language=None, wrap_lines=True)
