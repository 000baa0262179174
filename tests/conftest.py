"""Shared pytest fixtures: the bundled sample data (sample_data/), loaded once per test session."""
import pytest

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
