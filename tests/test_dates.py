"""Tests for gru_core._dates.future_dates: dates past the end, also where pandas names no frequency."""
import numpy as np
import pandas as pd

from gru_core._dates import future_dates
from gru_core.data import series_from_array
from gru_core.evaluate import forecast_future
from gru_core.model import Forecaster, ModelConfig
from gru_core.windows import WindowConfig, make_dataset


def weekly_with_gaps(n=120, drop=(10, 11, 40, 77)):
    dates = pd.date_range("2001-01-07", periods=n, freq="W-SUN", name="week")
    return dates.delete(list(drop))


def test_weekly_dates_with_dropped_rows_continue_weekly():
    index = weekly_with_gaps()
    assert pd.infer_freq(index) is None                         # the case that fell back to 1970
    fut, note = future_dates(index, 5)
    expected = [index[-1] + pd.Timedelta(days=7 * k) for k in range(1, 6)]   # by hand
    assert list(fut) == expected and fut.name == "week"
    assert note and "gaps" in note and str(index[-1].date()) in note


def test_weekly_series_forecast_future_is_dated_after_the_last_date():
    """The defect: forecast_future returned positions T.. (Plotly drew them in 1970)."""
    index = weekly_with_gaps()
    y = np.sin(np.arange(len(index)) / 3.0)
    ds = make_dataset(series_from_array(y, index=index), WindowConfig(12, 4))
    torch_model = Forecaster(ModelConfig(hidden_size=4, num_layers=1, horizon=4))
    fut = forecast_future(torch_model, ds)
    assert isinstance(fut.index, pd.DatetimeIndex)
    steps = np.diff(np.concatenate([[index[-1]], fut.index]))       # Timedeltas, any resolution
    assert list(steps) == [pd.Timedelta(days=7)] * 4                 # one median step each
    assert fut.index[0] > index[-1] and fut.attrs["note"]


def test_monthly_with_gaps_keeps_month_starts():
    index = pd.date_range("1990-01-01", periods=60, freq="MS").delete([5, 30])
    fut, note = future_dates(index, 3)
    assert list(fut) == list(pd.to_datetime(["1995-01-01", "1995-02-01", "1995-03-01"]))
    assert note


def test_irregular_dates_continue_the_median_step():
    rng = np.random.default_rng(0)
    gaps_days = rng.choice([2, 3, 3, 3, 4], size=50)            # no frequency, no regular grid
    index = pd.DatetimeIndex(pd.Timestamp("2020-01-01") + pd.to_timedelta(np.cumsum(gaps_days), "D"))
    fut, note = future_dates(index, 4)
    median = pd.Timedelta(days=float(np.median(gaps_days[1:])))     # by hand: 3 days
    assert list(fut) == [index[-1] + k * median for k in range(1, 5)]
    assert "median step" in note and "3 days" in note


def test_regular_dates_need_no_note_and_bad_dates_give_positions():
    fut, note = future_dates(pd.date_range("2000-01-31", periods=24, freq="ME"), 2)
    assert list(fut) == list(pd.to_datetime(["2002-01-31", "2002-02-28"])) and note is None
    fut, note = future_dates(pd.DatetimeIndex(["2000-01-03", "2000-01-01", "2000-01-02"]), 2)
    assert fut is None and "not strictly increasing" in note

