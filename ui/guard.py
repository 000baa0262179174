"""Turning failures into messages: no traceback ever reaches the browser.

Wrap a page body in ``with friendly_errors("training the model"):``. A :class:`DataError` is the
user's to fix and is shown as it is; anything else is logged with its traceback on the server and
shown as a short ``st.error`` that says the data and model are kept and what to try. Streamlit's
own control-flow exceptions (``st.rerun``, ``st.stop``) derive from ``BaseException`` and pass.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

import streamlit as st

from gru_core.errors import DataError

log = logging.getLogger("gru_lab")


def _leave_legacy_pages_mode() -> None:
    """Make a deep link work as the first request a fresh server gets.

    Streamlit 1.67 starts in its legacy multipage mode whenever a ``pages/`` folder exists and
    leaves it only when ``st.navigation`` runs (in app.py). If the first request of a new server
    process is a deep link (``/train?...``), the legacy mode runs ``pages/train.py`` directly,
    without app.py: no shared settings, no sidebar, KeyErrors. Every page imports this module, so
    on its first import we switch the legacy mode off and rerun once; the rerun goes through
    app.py's ``st.navigation`` to the same page. Later imports do nothing.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - a future Streamlit without the legacy mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if get_script_run_ctx() is not None:
            st.rerun()


_leave_legacy_pages_mode()


def explain_missing(message: str, page: str | None = None, label: str | None = None,
                    error: bool = False) -> None:
    """Say what is missing (``st.info``, or ``st.error`` when it is a problem to fix) and link
    to the page that provides it."""
    (st.error if error else st.info)(message, icon=":material/error:" if error else ":material/info:")
    if page:
        st.page_link(page, label=label or "Go there", icon=":material/arrow_forward:")


@contextmanager
def friendly_errors(action: str):
    """Show any failure inside the block as an ``st.error`` naming ``action``."""
    try:
        yield
    except DataError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 -- the last line of defence for the browser
        log.exception("Unexpected error while %s", action)
        st.error(
            f"Something went wrong while {action}: {type(exc).__name__}: {exc}. "
            "Your data and any trained model are kept. Try smaller or different settings; "
            "if it happens again, please report it with the share link from the sidebar.",
            icon=":material/error:",
        )
