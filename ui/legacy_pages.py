"""The one place GRU Lab touches Streamlit's private legacy-multipage switch.

Why it exists: the page scripts live in a folder named ``pages/`` (fixed). Streamlit 1.67 starts
in its *legacy* multipage mode whenever such a folder exists and leaves it only when
``st.navigation`` runs (in app.py). Two things go wrong in that mode:

* the real server: if the first request a fresh server process gets is a deep link
  (``/train?...``), it runs ``pages/train.py`` directly, without app.py -- no shared settings, no
  sidebar, KeyErrors;
* ``AppTest``: it sets the switch again before every run, so ``switch_page`` runs a page file on
  its own the same way.

The switch is the class attribute ``PagesManager.uses_pages_directory`` of
``streamlit.runtime.pages_manager`` (private API; ``st.navigation`` itself sets it to False).
:func:`leave_legacy_pages_mode` (called by ``ui/guard.py``, which every page imports) and
:func:`keep_navigation_mode` (the ``tests/conftest.py`` fixture) are its only users, and
``tests/test_legacy_pages.py`` fails with a message naming the private API and the Streamlit
version when an upgrade moves or renames it.
"""
from __future__ import annotations

import logging

import streamlit as st

log = logging.getLogger("gru_lab")

MODULE = "streamlit.runtime.pages_manager"
ATTRIBUTE = "PagesManager.uses_pages_directory"
CHECKED_ON = "1.67.0"                  # the Streamlit version this workaround was verified on


def private_api_problem() -> str | None:
    """None if the private switch is where we expect it; else a message saying what changed."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError as exc:
        return (f"Streamlit {st.__version__}: `from {MODULE} import PagesManager` fails ({exc}). "
                f"GRU Lab's legacy-pages workaround (ui/legacy_pages.py) relies on the private "
                f"{MODULE}.{ATTRIBUTE} (verified on Streamlit {CHECKED_ON}); find where the "
                "'pages/ folder' mode switch lives now, or whether the mode is gone, and update "
                "ui/legacy_pages.py.")
    if "uses_pages_directory" not in vars(PagesManager):
        return (f"Streamlit {st.__version__}: {MODULE}.PagesManager has no class attribute "
                f"`uses_pages_directory` any more. GRU Lab's legacy-pages workaround "
                f"(ui/legacy_pages.py) relies on the private {MODULE}.{ATTRIBUTE} (verified on "
                f"Streamlit {CHECKED_ON}); update ui/legacy_pages.py.")
    return None


def leave_legacy_pages_mode() -> None:
    """Switch the legacy mode off for this server process; rerun once if a script is running.

    Every page imports ``ui.guard``, which calls this on its first import: a deep link run
    without app.py reruns once, and the rerun goes through app.py's ``st.navigation`` to the same
    page. Later calls do nothing. With a Streamlit that moved the switch it logs a warning and
    does nothing (the app still works, except a deep link as a fresh server's first request).
    """
    problem = private_api_problem()
    if problem:
        log.warning("%s", problem)
        return
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if get_script_run_ctx() is not None:
            st.rerun()


def keep_navigation_mode(monkeypatch) -> None:
    """For tests: make ``AppTest`` run pages through app.py's ``st.navigation``, as the server does.

    ``AppTest`` resets the switch before every run (a ``pages/`` folder exists); this clears it
    right after each ``PagesManager`` is built. Raises ``RuntimeError`` (naming the private API
    and the Streamlit version) if the switch is not where we expect it.
    """
    problem = private_api_problem()
    if problem:
        raise RuntimeError(problem)
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
