"""What every browser session on this server shares: one job scheduler and one session store
(``st.cache_resource``: one per server process), and this session's token.

* :func:`scheduler` -- ``gru_core.scheduler.Scheduler.from_env``: ``GRU_LAB_MAX_RUNS`` (default the
  core count), ``GRU_LAB_RUN_TIME_LIMIT_S``, ``GRU_LAB_MAX_WORK``, ``GRU_LAB_LEASE_S``, ... or the
  ``[scheduler]`` table of ``.streamlit/gru_lab.toml``; ``GRU_LAB_RAY_ADDRESS`` hands the jobs to Ray.
* :func:`store` -- ``gru_core.session_store.SessionStore``: the server-side state a reload restores.
  A forgotten record's jobs are stopped.
* :func:`token` -- this session's unguessable token (``secrets.token_urlsafe``), the key to both;
  :func:`renew` extends the lease of its jobs (``ui.state.init`` and the polling fragments call it).
* :func:`attach` / :func:`save` -- ``ui.state.init`` puts the token in the address bar
  (``?s=<token>``), saves the settings, the uploaded file and the job into the record on every run,
  and on a session's first run brings a known token's record back (F5, a reopened link).

A job's lease is also kept while a browser tab of its session is still connected
(:func:`alive`, asked by the scheduler before it expires a lease): a background tab whose timers
the browser slows down does not lose its run; a closed tab does, ``lease_s`` after its last renewal.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from gru_core.errors import DataError
from gru_core.scheduler import Scheduler
from gru_core.session_store import SessionRecord, SessionStore

log = logging.getLogger("gru_lab")

CONFIG_PATH = Path(__file__).resolve().parents[1] / ".streamlit" / "gru_lab.toml"
TOKEN_KEY = "_session_token"


@st.cache_resource(show_spinner=False)
def _browser_sessions() -> tuple[threading.Lock, dict]:
    """token -> the Streamlit session ids (browser tabs) that have used it."""
    return threading.Lock(), {}


def _link(tok: str) -> None:
    ctx = get_script_run_ctx()
    if ctx is not None:
        lock, links = _browser_sessions()
        with lock:
            links.setdefault(tok, set()).add(ctx.session_id)


def alive(tok: str) -> bool:
    """True while a browser tab that used ``tok`` is still connected to this server."""
    if not runtime.exists():
        return False
    rt = runtime.get_instance()
    lock, links = _browser_sessions()
    with lock:
        ids = set(links.get(tok, ()))
        live = {i for i in ids if rt.is_active_session(i)}
        if live != ids:
            links[tok] = live
    return bool(live)


@st.cache_resource(show_spinner=False)
def scheduler() -> Scheduler:
    """The process's scheduler (its monitor thread starts with it)."""
    return Scheduler.from_env(path=CONFIG_PATH, alive=alive)


def uses_ray() -> bool:
    """True when the scheduler hands jobs to Ray (their specs must then be picklable)."""
    from gru_core.jobs import LocalBackend

    return not isinstance(scheduler().backend, LocalBackend)


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


def active() -> bool:
    """This session has a queued or running job (a training run or sweep trials)."""
    return bool(scheduler().session_jobs(token()))


def attach(query_token) -> bool:
    """On a session's first run: if the store knows ``query_token`` (the URL's ``s``), adopt it
    and copy its record into session state (settings, upload, job, sweep); True if it did."""
    rec = store().get(query_token)
    if rec is None:
        return False
    ss = st.session_state
    ss[TOKEN_KEY] = rec.token
    for key, value in rec.settings.items():
        ss[key] = list(value) if isinstance(value, list) else value
    if rec.upload is not None:
        ss["upload_bytes"], ss["upload_name"] = rec.upload, rec.upload_name
    if rec.job is not None:
        ss["job"], ss["model_source"] = rec.job, "run"
    if "sweep" in rec.extra:
        ss["sweep"] = rec.extra["sweep"]
    _link(rec.token)
    return True


def save(keys) -> str:
    """Every run: copy the settings ``keys``, the uploaded file and the job into this session's
    record, and renew its lease; returns the token."""
    ss = st.session_state
    rec = record()
    rec.settings = {k: (list(ss[k]) if isinstance(ss[k], list) else ss[k]) for k in keys if k in ss}
    data = ss.get("upload_bytes")
    if data is not rec.upload:
        try:
            store().put_upload(rec.token, ss.get("upload_name"), data)
        except DataError as exc:        # too big to keep for a reload: it still works until then
            log.warning("upload not kept for reloads: %s", exc)
    rec.job = ss.get("job")
    _link(rec.token)
    scheduler().renew(rec.token)
    return rec.token
