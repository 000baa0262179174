"""Shared pytest fixtures: the bundled sample data (sample_data/), loaded once per test session,
and the AppTest set-up every page test needs."""
import pytest
from streamlit.runtime.pages_manager import PagesManager

from gru_core.data import list_samples, load_sample, prepare_series


@pytest.fixture(scope="session")
def samples():
    """dict key -> SampleInfo of every bundled data set."""
    return list_samples()


@pytest.fixture(scope="session")
def airline_table():
    """Box & Jenkins airline passengers, 1949-1960 (144 monthly values), as a Table."""
    return load_sample("airline_passengers")


@pytest.fixture
def airline_series(airline_table):
    """The airline passengers as a univariate Series (target 'passengers')."""
    return prepare_series(airline_table, "passengers")


@pytest.fixture(autouse=True)
def no_legacy_pages_dir(monkeypatch):
    """Make AppTest run pages the way the real server does: through app.py's ``st.navigation``.

    Streamlit 1.67's AppTest sets ``PagesManager.uses_pages_directory`` again before every run
    because a ``pages/`` folder exists, so ``switch_page`` would run the page file directly in the
    legacy multipage mode, bypassing app.py (no ``ui.state.init``, no sidebar). The real server
    leaves that mode once ``st.navigation`` has run (ui/guard.py makes sure of it even for a deep
    link as the first request); here we clear the flag right after each PagesManager is built.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
