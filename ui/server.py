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
  and on a session's first run brings a known token's record back (F5, a reopened link), with the
  other pages' jobs kept under :data:`RESTORED` in ``record().extra`` (a sweep, a text run, a
  comparison, a lab run) -- only those of this token's own session.
* :func:`submit` / :func:`wait_line` / :func:`poll_s` / :func:`limits_caption` -- what every
  page that trains does with the scheduler: queue a group of specs (a second press after
  "already has a run going" replaces that run), say where a queued job stands, poll slowly while
  it waits, and state the limits before Start.

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
from gru_core.jobs import QUEUED, describe_wait
from gru_core.scheduler import Scheduler, SessionBusy
from gru_core.session_store import SessionRecord, SessionStore

log = logging.getLogger("gru_lab")

CONFIG_PATH = Path(__file__).resolve().parents[1] / ".streamlit" / "gru_lab.toml"
TOKEN_KEY = "_session_token"
RESTORED = ("sweep", "text_job", "compare_job", "_lab_bg")   # record().extra keys a reload restores
QUEUED_POLL_S = 2.0                # a queued job's view refreshes this often (it changes slowly)


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
    for key in RESTORED:
        value = rec.extra.get(key)
        if value is not None and all(h.session == rec.token for h in handles(value)):
            ss[key] = value
    _link(rec.token)
    return True


def handles(obj) -> list:
    """The scheduler handles behind a page's job object (``jobs`` list, ``handles`` dict, a
    ``run`` attribute or key), for the checks that it belongs to this session."""
    from gru_core.jobs import JobHandle

    if isinstance(obj, JobHandle):
        return [obj]
    found = getattr(obj, "jobs", None) or list(getattr(obj, "handles", {}).values() or [])
    run = obj.get("run") if isinstance(obj, dict) else getattr(obj, "run", None)
    return [h for h in [*found, run] if isinstance(h, JobHandle)]


def keep(key: str, obj) -> None:
    """Remember a page's job object ``obj`` in this session's record under ``key`` (one of
    :data:`RESTORED`), so a reload brings it back; also puts it in session state."""
    st.session_state[key] = obj
    record().extra[key] = obj


def submit(specs, *, label: str, page: str):
    """Queue ``specs`` as one group of this session's jobs; returns their handles.

    Raises ``SessionBusy`` while this session has another job (and remembers that for ``page``:
    pressing Start again on that page stops the other job and queues these), ``QueueFull`` or a
    ``DataError`` past a limit -- each with a message for the page."""
    ss = st.session_state
    flag = f"_busy_{page}"
    replace = bool(ss.pop(flag, False))
    try:
        return scheduler().submit_group(token(), list(specs), label=label, replace=replace)
    except SessionBusy:
        ss[flag] = True
        raise


def wait_line(h) -> str | None:
    """"Waiting for a training slot: 2nd in line, ~40 s ..." while ``h`` is queued, else None."""
    if h is None or h.state != QUEUED:
        return None
    return (f"Waiting for a training slot: {describe_wait(h.position, h.eta_s)}. This server "
            f"trains {scheduler().max_running} run(s) at once; the rest wait in line, first come "
            "first served.")


def poll_s(hs, running_s: float) -> float | None:
    """How often a live view of the handles ``hs`` should refresh: :data:`QUEUED_POLL_S` while
    every active one is queued, ``running_s`` while one trains, None (not at all) once all ended."""
    active = [h for h in hs if h is not None and h.running]
    if not active:
        return None
    return QUEUED_POLL_S if all(h.state == QUEUED for h in active) else running_s


def limits_caption(spec) -> bool:
    """One caption: the server's limits beside what ``spec`` would use (``limit_rows``); a
    warning past the size limit. Returns True if the run fits (Start may be enabled)."""
    rows = scheduler().limit_rows(spec)
    parts = [f"{r['limit']} {r['this run']} of {r['server limit']}" if r["within"]
             else f":red[**{r['limit']} {r['this run']} of {r['server limit']}**]" for r in rows]
    st.caption("**Server limits** (this run of the limit) · " + " · ".join(parts)
               + " · a run past the wall time is stopped, keeping its weights")
    try:
        scheduler().check(spec)
    except DataError as exc:
        st.warning(f"**Too big for this server, so Start is disabled:** {exc}",
                   icon=":material/block:")
        return False
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
