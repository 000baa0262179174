"""Tests for gru_core.classical (ETS rival).

Oracles: the ETS(A,Ad,A) and ETS(A,N,N) recursions written as plain loops here, and statsmodels'
own end-of-sample forecast on the series cut at the origin.
"""
import numpy as np
import pytest

from gru_core.classical import ETSFit, ets_forecast, ets_future, ets_windows, fit_ets
from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.windows import SplitConfig, WindowConfig, make_dataset

M = 7


@pytest.fixture(scope="module")
def fit90():
    """One fit on the first 90 steps, shared (each fit tries six models)."""
    return fit_ets(seasonal_series()[:90], M)


def seasonal_series(T=140, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    return 10 + 0.2 * t + 3 * np.sin(2 * np.pi * t / M) + rng.normal(0, 0.5, T)


def loop_ets(fit, y, o, H):
    """ETS(A, Ad or N, N or A or M) in error-correction form (Hyndman & Athanasopoulos, table 8.7),
    filtered through y[:o+1], then H steps.

    One difference from the textbook, found by comparing: for a multiplicative season statsmodels
    0.14.5 divides the seasonal correction by the *updated* level l_t, not by l_{t-1} + phi b_{t-1}
    (its own docstring says the latter). The loop follows the implementation.
    """
    params = list(fit.params)
    a = params.pop(0)
    beta = params.pop(0) if fit.trend else 0.0
    g = params.pop(0) if fit.seasonal else 0.0
    phi = params.pop(0) if fit.trend else 0.0
    mul = fit.seasonal == "mul"
    level, slope = fit.initial_level, (fit.initial_trend if fit.trend else 0.0)
    m = fit.season or 1
    s = list(fit.initial_seasonal) if fit.seasonal else [1.0 if mul else 0.0]  # s_{-m} .. s_{-1}
    for t in range(o + 1):
        base, sm = level + phi * slope, s[-m]
        e = y[t] - (base * sm if mul else base + sm)
        if mul:
            new = base + a * e / sm
            level, slope, s = new, phi * slope + beta * e / sm, s + [sm + g * e / new]
        else:
            level, slope, s = base + a * e, phi * slope + beta * e, s + [sm + g * e]
    out = []
    for h in range(1, H + 1):
        base, sm = level + sum(phi ** k for k in range(1, h + 1)) * slope, s[len(s) - m + (h - 1) % m]
        out.append(base * sm if mul else base + sm)
    return np.array(out)


@pytest.mark.parametrize("trend,seasonal", [(None, None), ("add", "add"), ("add", None), (None, "add"),
                                            ("add", "mul")])
def test_forecast_matches_the_written_out_recursion(trend, seasonal):
    rng = np.random.default_rng(1)
    y = seasonal_series()
    params = [0.3] + ([0.05] if trend else []) + ([0.2] if seasonal else []) + ([0.9] if trend else [])
    fit = ETSFit(trend, seasonal, M if seasonal else None, np.array(params), 10.0,
                 0.2 if trend else None,
                 (1 + 0.1 * rng.normal(0, 1, M)) if seasonal else None, 0.0, {})
    origins = [20, 55, 120]
    got = ets_forecast(fit, y, origins, 10)
    for i, o in enumerate(origins):
        np.testing.assert_allclose(got[i], loop_ets(fit, y, o, 10), rtol=1e-10, atol=1e-10)


def test_forecast_matches_statsmodels_on_the_cut_series(fit90):
    y, fit = seasonal_series(), fit90
    for o in (89, 100, 125):
        cut = fit.filtered(y[:o + 1]).forecast(8)
        np.testing.assert_allclose(ets_forecast(fit, y, [o], 8)[0], cut, rtol=1e-10)
    np.testing.assert_allclose(ets_future(fit, y, 8), fit.filtered(y).forecast(8), rtol=1e-12)


def test_no_look_ahead(fit90):
    y, fit = seasonal_series(), fit90
    a = ets_forecast(fit, y, [100], 8)
    poisoned = y.copy()
    poisoned[101:] = 1e4
    np.testing.assert_array_equal(a, ets_forecast(fit, poisoned, [100], 8))


def test_fit_picks_the_lowest_aicc_and_sees_the_season(fit90):
    y, fit = seasonal_series(), fit90
    assert fit.aicc == min(fit.tried.values())
    assert fit.seasonal is not None and fit.trend == "add"
    assert fit.label == min(fit.tried, key=fit.tried.get)
    assert set(fit_ets(y[:60], None).tried) == {"ETS(A,N,N)", "ETS(A,Ad,N)"}


def test_windows_line_up_with_the_dataset():
    y = seasonal_series()
    ds = make_dataset(series_from_array(y), WindowConfig(14, 5), SplitConfig(0.6, 0.2, 0.2))
    assert ds.bounds[0] == 84
    pred, fit = ets_windows(ds, "test", season=M)
    assert fit.season == M and fit.initial_seasonal.shape == (M,)
    origins = ds.test.starts + 13
    assert pred.shape == (len(ds.test), 5)
    y32 = ds.series.values[:, 0].astype(np.float64)                  # the series is stored as float32
    np.testing.assert_allclose(pred, np.stack([loop_ets(fit, y32, o, 5) for o in origins]), rtol=1e-9)
    with pytest.raises(DataError, match="Unknown split"):
        ets_windows(ds, "future")


def test_errors(fit90):
    with pytest.raises(DataError, match="at least 10"):
        fit_ets(np.arange(5.0))
    fit = fit90
    with pytest.raises(DataError, match="reach past the data"):
        ets_forecast(fit, seasonal_series(), [135], 8)


def test_evaluate_reports_ets_beside_the_naive_baselines():
    import torch

    from gru_core.evaluate import evaluate
    from gru_core.metrics import mae
    from gru_core.model import Forecaster, ModelConfig
    y = seasonal_series()
    ds = make_dataset(series_from_array(y), WindowConfig(14, 5), SplitConfig(0.6, 0.2, 0.2))
    torch.manual_seed(0)
    ev = evaluate(Forecaster(ModelConfig(hidden_size=4, horizon=5)), ds, "test", season=M)
    (label,) = [r for r in ev.metrics.index if r.startswith("ETS(")]
    assert list(ev.metrics.index)[-1] == label
    pred, _ = ets_windows(ds, "test", season=M)
    np.testing.assert_allclose(ev.forecasts()[label], pred)
    assert ev.metrics.loc[label, "MAE"] == pytest.approx(mae(ev.y_true, pred))
