"""What every browser session on this server shares: one job scheduler and one session store
(``st.cache_resource``: one per server process), and this session's token.

* :func:`scheduler` -- ``gru_core.scheduler.Scheduler.from_env``: ``GRU_LAB_MAX_RUNS`` (default the
  core count), ``GRU_LAB_RUN_TIME_LIMIT_S``, ``GRU_LAB_MAX_WORK``, ``GRU_LAB_LEASE_S``, ... or the
  ``[scheduler]`` table of ``.streamlit/gru_lab.toml``; ``GRU_LAB_RAY_ADDRESS`` hands the jobs to Ray.
* :func:`store` -- ``gru_core.session_store.SessionStore``: the server-side state a reload restores.
  A forgotten record's jobs are stopped.
* :func:`token` -- this session's unguessable token (``secrets.token_urlsafe``), the key to both;
  :func:`renew` extends the lease of its jobs (the polling fragments call it).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from gru_core.scheduler import Scheduler
from gru_core.session_store import SessionRecord, SessionStore

CONFIG_PATH = Path(__file__).resolve().parents[1] / ".streamlit" / "gru_lab.toml"
TOKEN_KEY = "_session_token"


@st.cache_resource(show_spinner=False)
def scheduler() -> Scheduler:
    """The process's scheduler (its monitor thread starts with it)."""
    return Scheduler.from_env(path=CONFIG_PATH)


def _forget(rec: SessionRecord) -> None:
    scheduler().stop_session(rec.token, "Stopped: the server forgot this session (it was unused "
                                        "for too long, or the server needed the room).")


@st.cache_resource(show_spinner=False)
def store() -> SessionStore:
    """The process's session store."""
    return SessionStore(on_evict=_forget)


def token() -> str:
    """This browser session's token; a new record is made on first use."""
    ss = st.session_state
    tok = ss.get(TOKEN_KEY)
    if tok is None or store().get(tok) is None:
        tok = ss[TOKEN_KEY] = store().new()
    return tok


def record() -> SessionRecord:
    """This session's server-side record."""
    rec = store().get(token())
    if rec is None:                      # forgotten between the two calls: start afresh
        st.session_state.pop(TOKEN_KEY, None)
        rec = store().get(token())
    return rec


def renew() -> None:
    """Keep this session's jobs alive for another lease period."""
    scheduler().renew(token())
