"""The legacy-pages workaround (ui/legacy_pages.py) and the private Streamlit API it relies on.

If a Streamlit upgrade moves or renames ``PagesManager.uses_pages_directory``, these tests fail
with a message that names the private API and the Streamlit version, instead of the app silently
running a deep-linked page file without app.py.
"""
from __future__ import annotations

import streamlit as st

from ui import legacy_pages


def test_the_private_switch_is_where_the_workaround_expects_it():
    problem = legacy_pages.private_api_problem()
    assert problem is None, (
        f"{problem}\n(Streamlit {st.__version__}; the workaround was verified on "
        f"{legacy_pages.CHECKED_ON}.)")
    from streamlit.runtime.pages_manager import PagesManager

    assert PagesManager.uses_pages_directory in (None, True, False), (
        f"Streamlit {st.__version__}: {legacy_pages.MODULE}.{legacy_pages.ATTRIBUTE} is "
        f"{PagesManager.uses_pages_directory!r}, not a bool/None flag any more; revisit "
        "ui/legacy_pages.py.")


def test_leaving_legacy_mode_clears_the_switch(monkeypatch):
    from streamlit.runtime.pages_manager import PagesManager

    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    legacy_pages.leave_legacy_pages_mode()          # no script running here: no rerun
    assert PagesManager.uses_pages_directory is False


def test_a_built_pages_manager_leaves_the_switch_off(monkeypatch, tmp_path):
    """What the conftest fixture relies on: Streamlit's own __init__ would set the switch for a
    script that has a pages/ folder beside it; after the patch it stays off."""
    from streamlit.runtime.pages_manager import PagesManager

    (tmp_path / "pages").mkdir()
    main = tmp_path / "app.py"
    main.write_text("")
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    PagesManager(str(main))                         # the conftest fixture's patched __init__
    assert PagesManager.uses_pages_directory is False


def test_a_moved_switch_is_reported_by_name(monkeypatch):
    from streamlit.runtime import pages_manager

    class Moved:                                    # a PagesManager without the class attribute
        pass

    monkeypatch.setattr(pages_manager, "PagesManager", Moved)
    problem = legacy_pages.private_api_problem()
    assert problem and "uses_pages_directory" in problem and st.__version__ in problem
    assert "ui/legacy_pages.py" in problem
