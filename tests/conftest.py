"""Shared pytest fixtures: the bundled sample data (sample_data/), loaded once per test session,
the AppTest set-up every page test needs, and (from tests/browser_fixtures.py) the browser tests'
``app_server``, ``browser`` and ``page``.

The training thread count is process-wide and fixed by the first run (gru_core.train.train_threads);
the suite pins it to 1 so that no test's numbers depend on which test happened to train first.
"""
import os

os.environ.setdefault("GRU_LAB_TRAIN_THREADS", "1")

import pytest  # noqa: E402

from browser_fixtures import app_server, browser, page  # noqa: F401 -- the browser tests' fixtures
from gru_core.data import list_samples, load_sample, prepare_series
from ui.legacy_pages import keep_navigation_mode


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
    """Make AppTest run pages the way the real server does: through app.py's ``st.navigation``
    (see ui/legacy_pages.py, the one place that touches Streamlit's private switch for it)."""
    keep_navigation_mode(monkeypatch)
