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
from ui.legacy_pages import leave_legacy_pages_mode

# Every page imports this module: on the first import in a server process, leave Streamlit's
# legacy "pages/ folder" mode, so a deep link as a fresh server's first request still runs
# app.py (see ui/legacy_pages.py, the one place that touches that private switch).
leave_legacy_pages_mode()

log = logging.getLogger("gru_lab")


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
