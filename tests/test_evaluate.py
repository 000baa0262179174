"""Tests for gru_core.evaluate: metrics by hand, baselines on series where they are exact,
window alignment, original units, recursive and future forecasts."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.evaluate import (METRIC_COLUMNS, Evaluation, detect_season, evaluate, forecast_future,
                               mae, mase, naive_forecast, predict, predictions_table,
                               recursive_forecast, rmse, seasonal_naive_forecast, smape)
from gru_core.metrics import METRICS
from gru_core.model import Forecaster, ModelConfig
from gru_core.windows import SplitConfig, WindowConfig, make_dataset

PATTERN = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], dtype=np.float64)  # period 12


def periodic(n=300):
    return np.tile(PATTERN, n // 12 + 1)[:n]


class SeasonalCopy(nn.Module):
    """A 'perfect' model for a period-12 series: step j repeats the input 12 - (j mod 12) back."""

    def __init__(self, lookback, horizon, m=12):
        super().__init__()
        self.cfg = ModelConfig(hidden_size=1, num_layers=1, horizon=horizon)  # label "GRU"
        self.idx = torch.tensor([lookback - m + j % m for j in range(horizon)])
        self.dummy = nn.Parameter(torch.zeros(()))   # gives the model a device

    def forward(self, x):                            # (B, L, C) -> (B, H)
        return x[:, self.idx, 0]


class LinearAR(nn.Module):
    """A fixed linear autoregression: step j = w_j . x (last L inputs) + b_j, weights from a seed."""

    def __init__(self, lookback, horizon, seed=0):
        super().__init__()
        self.cfg = ModelConfig(hidden_size=1, num_layers=1, horizon=horizon)
        g = torch.Generator().manual_seed(seed)
        w = torch.rand(horizon, lookback, generator=g, dtype=torch.float64)
        self.w = nn.Parameter(w / w.sum(dim=1, keepdim=True))           # (H, L) rows sum to 1
        self.b = nn.Parameter(0.05 * torch.randn(horizon, generator=g, dtype=torch.float64))

    def forward(self, x):                            # (B, L, 1) -> (B, H)
        return (x[:, :, 0].double() @ self.w.T + self.b).float()


class Oracle(nn.Module):
    """Returns the true scaled targets of the windows, batch after batch (predict's order)."""

    def __init__(self, Y):
        super().__init__()
        self.cfg = ModelConfig(hidden_size=1, num_layers=1, horizon=Y.shape[1], cell="lstm")
        self.Y, self.pos = Y, 0

    def forward(self, x):                            # (B, L, C) -> (B, H)
        out = self.Y[self.pos:self.pos + x.shape[0]]
        self.pos += x.shape[0]
        return out


# ----------------------------------------------------------------------------- metrics

def test_metrics_by_hand():
    y, p = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 6.0]   # errors 0, 1, 1, 2
    assert mae(y, p) == pytest.approx(1.0)
    assert rmse(y, p) == pytest.approx(math.sqrt(1.5))
    # 2|e|/(|y|+|p|): 0, 2/5, 2/5, 4/10 -> mean 0.3
    assert smape(y, p) == pytest.approx(30.0)
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0           # 0/0 counts as 0
    assert smape([0.0], [1.0]) == pytest.approx(200.0)
    insample = [1.0, 3.0, 2.0, 5.0]
    assert mase(y, p, insample, 1) == pytest.approx(1.0 / 2.0)   # diffs 2, 1, 3
    assert mase(y, p, insample, 2) == pytest.approx(1.0 / 1.5)   # diffs 1, 2
    assert math.isnan(mase(y, p, [2.0, 2.0, 2.0], 1))


def test_metric_input_errors():
    with pytest.raises(DataError, match="same shape"):
        mae([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match="in-sample"):
        mase([1.0], [1.0], [1.0, 2.0], season=2)


def test_detect_season():
    assert detect_season(np.sin(2 * np.pi * np.arange(300) / 12)) == 12
    assert detect_season(periodic(240)) == 12
    trend_seasonal = 0.05 * np.arange(400) + np.sin(2 * np.pi * np.arange(400) / 24)
    assert detect_season(trend_seasonal) == 24
    assert detect_season(np.random.default_rng(1).standard_normal(500)) is None
    assert detect_season(np.arange(200.0)) is None
    assert detect_season(np.ones(50)) is None


# ----------------------------------------------------------------------------- baselines

@pytest.fixture
def ramp_ds():
    """y_t = t: every forecaster's error is a known integer."""
    return make_dataset(series_from_array(np.arange(400.0)), WindowConfig(24, 30))


def test_naive_aligns_with_windows(ramp_ds):
    for split in ("train", "val", "test"):
        w = getattr(ramp_ds, split)
        nv = naive_forecast(ramp_ds, split)
        assert nv.shape == tuple(w.Y.shape)
        np.testing.assert_array_equal(nv[:, 0], w.starts + 24 - 1)      # last input value
        y_true = w.starts[:, None] + 24 + np.arange(30)
        np.testing.assert_array_equal(y_true - nv, np.broadcast_to(np.arange(1, 31), nv.shape))


def test_seasonal_naive_uses_only_known_values(ramp_ds):
    m, j = 12, np.arange(30)
    sn = seasonal_naive_forecast(ramp_ds, "test", m)
    y_true = ramp_ds.test.starts[:, None] + 24 + j
    back = m * np.ceil((j + 1) / m)                                    # 12 x12, 24 x12, 36 x6
    np.testing.assert_array_equal(y_true - sn, np.broadcast_to(back, sn.shape))
    assert (sn <= ramp_ds.test.starts[:, None] + 24 - 1).all()        # never past the origin
    np.testing.assert_array_equal(seasonal_naive_forecast(ramp_ds, "test", 1),
                                  naive_forecast(ramp_ds, "test"))


def test_naive_exact_when_flat_after_origin():
    y = np.concatenate([np.linspace(0, 50, 250), np.full(150, 7.0)])   # flat from t = 250
    ds = make_dataset(series_from_array(y), WindowConfig(24, 6), SplitConfig(0.6, 0.2, 0.2))
    assert ds.test.starts.min() + 24 - 1 >= 250                       # origins in the flat part
    ev = evaluate(SeasonalCopy(24, 6), ds, "test", season=0)
    assert ev.metrics.loc["Naive (last value)", "MAE"] == 0.0


def test_seasonal_naive_exact_on_periodic_series():
    ds = make_dataset(series_from_array(periodic(400)), WindowConfig(24, 30))
    sn = seasonal_naive_forecast(ds, "test", 12)                       # horizon 30 > season 12
    w = ds.test
    y_true = ds.series.target_values[w.starts[:, None] + 24 + np.arange(30)]
    np.testing.assert_array_equal(sn, y_true)


def test_seasonal_naive_too_long_season():
    ds = make_dataset(series_from_array(periodic(300)), WindowConfig(12, 6))
    with pytest.raises(DataError, match="season"):
        seasonal_naive_forecast(ds, "train", 24)                       # first train window starts at 0
    with pytest.raises(DataError, match="split"):
        naive_forecast(ds, "holdout")


# ----------------------------------------------------------------------------- evaluate

def test_perfect_model_scores_zero():
    ds = make_dataset(series_from_array(periodic(400) * 10 + 100), WindowConfig(24, 18))
    ev = evaluate(SeasonalCopy(24, 18), ds, "test", classical=False)   # naive rows only (ETS: test_classical)
    assert isinstance(ev, Evaluation)
    assert ev.season == 12                                             # detected on the train part
    assert list(ev.metrics.index) == ["GRU", "Naive (last value)", "Seasonal naive (m=12)"]
    assert list(ev.metrics.columns) == ["MAE", "RMSE", "sMAPE %", "MASE"]
    np.testing.assert_allclose(ev.metrics.loc["GRU", ["MAE", "RMSE", "sMAPE %"]], 0.0, atol=1e-4)
    np.testing.assert_array_equal(ev.metrics.loc["Seasonal naive (m=12)", ["MAE", "RMSE"]], 0.0)
    assert ev.metrics["MASE"].isna().all()             # the in-sample seasonal naive is exact: 0/0
    assert ev.metrics.loc["Naive (last value)", "MAE"] > 1.0
    # everything is on the same windows, in data units
    np.testing.assert_array_equal(ev.starts, ds.test.starts)
    np.testing.assert_array_equal(ev.target_index, ds.test.starts[:, None] + 24 + np.arange(18))
    np.testing.assert_allclose(ev.y_true, ds.scaler.inverse_target(ds.test.Y.numpy().astype(float)),
                               rtol=1e-5)
    assert ev.y_true.min() >= 100 and ev.naive.shape == ev.y_pred.shape == ev.y_true.shape


def test_perfect_model_all_metrics_zero():
    rng = np.random.default_rng(0)
    y = 50 + 10 * np.sin(2 * np.pi * np.arange(300) / 12) + rng.standard_normal(300)
    ds = make_dataset(series_from_array(y), WindowConfig(24, 6))
    ev = evaluate(Oracle(ds.test.Y), ds, "test")
    assert list(ev.metrics.index)[0] == "LSTM"
    np.testing.assert_allclose(ev.metrics.loc["LSTM"].to_numpy(dtype=float), 0.0, atol=1e-4)
    assert (ev.metrics.iloc[1:].to_numpy(dtype=float) > 0.01).all()    # the baselines are not


def test_metrics_in_original_units():
    base = np.sin(2 * np.pi * np.arange(240) / 12) + 0.1 * np.random.default_rng(0).standard_normal(240)
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(hidden_size=8, num_layers=1, horizon=6))
    ev1 = evaluate(model, make_dataset(series_from_array(base), WindowConfig(24, 6)), season=12,
                   classical=False)
    ev2 = evaluate(model, make_dataset(series_from_array(base * 100 + 5), WindowConfig(24, 6)),
                   season=12, classical=False)
    for col in ("MAE", "RMSE"):                        # same scaled forecasts, 100x the units
        np.testing.assert_allclose(ev2.metrics[col], 100 * ev1.metrics[col], rtol=1e-4)
    np.testing.assert_allclose(ev2.metrics["MASE"], ev1.metrics["MASE"], rtol=1e-4)
    assert ev1.metrics.loc["GRU", "MAE"] == pytest.approx(mae(ev1.y_true, ev1.y_pred))


def test_predict_batches_and_mode():
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(hidden_size=8, num_layers=2, dropout=0.5, horizon=6))
    ds = make_dataset(series_from_array(periodic(200)), WindowConfig(16, 6))
    model.train()
    a = predict(model, ds.train.X, batch_size=7)
    b = predict(model, ds.train.X)
    assert a.shape == (len(ds.train), 6) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-6)        # eval mode: dropout off, deterministic
    assert model.training                              # mode restored


def test_recursive_forecast_feeds_back_its_own_forecasts_not_the_actuals():
    """On trend + noise a rollout that peeked at actual values would differ from this loop."""
    rng = np.random.default_rng(0)
    y = 0.05 * np.arange(300) + rng.standard_normal(300)
    L, H = 16, 6
    ds = make_dataset(series_from_array(y), WindowConfig(L, H))
    model = LinearAR(L, H)
    rec = recursive_forecast(model, ds, "test", batch_size=5)
    # the rollout, by hand: scale with the training mean/std, w_0 . x + b_0, append, repeat
    mu, sd = y[:ds.bounds[0]].mean(), y[:ds.bounds[0]].std()
    w0, b0 = model.w.detach().numpy()[0], float(model.b.detach()[0])
    want = np.zeros((len(ds.test), H))
    for i, s in enumerate(ds.test.starts):
        x = list((y[s:s + L] - mu) / sd)
        for j in range(H):
            step1 = float(np.float32(np.dot(w0, x[-L:]) + b0))  # the model returns float32
            want[i, j] = step1 * sd + mu
            x.append(step1)
    np.testing.assert_allclose(rec, want, rtol=1e-5, atol=1e-5)
    # a rollout that fed back the actual values instead (teacher forcing) is measurably different
    peek = np.zeros_like(want)
    for i, s in enumerate(ds.test.starts):
        for j in range(H):
            x = (y[s + j:s + j + L] - mu) / sd
            peek[i, j] = (np.dot(w0, x) + b0) * sd + mu
    assert np.abs(rec - peek)[:, 1:].mean() > 0.05
    two = series_from_array(np.stack([periodic(300), np.arange(300.0)], axis=1))
    with pytest.raises(DataError, match="future values"):
        recursive_forecast(SeasonalCopy(24, 12), make_dataset(two, WindowConfig(24, 12)))


def test_metrics_table_by_hand():
    """Every cell of the table against formulas and a model call written here."""
    rng = np.random.default_rng(3)
    y = 20 + 5 * np.sin(2 * np.pi * np.arange(260) / 12) + rng.standard_normal(260)
    L, H = 24, 6
    ds = make_dataset(series_from_array(y), WindowConfig(L, H))
    torch.manual_seed(1)
    model = Forecaster(ModelConfig(hidden_size=6, num_layers=1, horizon=H)).eval()
    ev = evaluate(model, ds, "test", season=12)
    assert list(ev.metrics.columns) == list(METRICS) == list(METRIC_COLUMNS)
    train = y[:ds.bounds[0]]
    mu, sd = train.mean(), train.std()
    starts = ds.test.starts
    X = torch.tensor(np.stack([(y[s:s + L] - mu) / sd for s in starts])[:, :, None], dtype=torch.float32)
    with torch.no_grad():
        p = model(X).double().numpy() * sd + mu                              # (N, H) data units
    truth = np.stack([y[s + L:s + L + H] for s in starts])
    naive = np.stack([np.full(H, y[s + L - 1]) for s in starts])
    seasonal = np.stack([[y[s + L + j - 12] for j in range(H)] for s in starts])
    scale = np.mean(np.abs(train[12:] - train[:-12]))
    for row, f in (("GRU", p), ("Naive (last value)", naive), ("Seasonal naive (m=12)", seasonal)):
        e = truth - f
        assert ev.metrics.loc[row, "MAE"] == pytest.approx(np.mean(np.abs(e)), rel=1e-5)
        assert ev.metrics.loc[row, "RMSE"] == pytest.approx(np.sqrt(np.mean(e ** 2)), rel=1e-5)
        assert ev.metrics.loc[row, "sMAPE %"] == pytest.approx(
            100 * np.mean(2 * np.abs(e) / (np.abs(truth) + np.abs(f))), rel=1e-5)
        assert ev.metrics.loc[row, "MASE"] == pytest.approx(np.mean(np.abs(e)) / scale, rel=1e-5)
    np.testing.assert_allclose(ev.insample, train, rtol=1e-6)    # the series stores float32


def test_predictions_table_rows_by_hand():
    dates = pd.date_range("2000-01-01", periods=200, freq="MS", name="month")
    ds = make_dataset(series_from_array(periodic(200) * 3 + 1, index=dates), WindowConfig(24, 4))
    ev = evaluate(SeasonalCopy(24, 4), ds, "test", classical=False)
    df = predictions_table(ev, ds)
    N, H = ev.y_true.shape
    assert len(df) == N * H
    assert list(df.columns) == ["window_start_position", "window_start_date", "horizon_step",
                                "target_position", "target_date", "actual", "predicted", "naive",
                                "seasonal_naive"]
    y = periodic(200) * 3 + 1
    for i, j in ((0, 0), (1, 2), (N - 1, H - 1)):
        row = df.iloc[i * H + j]
        s = ds.test.starts[i]
        assert row["window_start_position"] == s and row["window_start_date"] == dates[s]
        assert row["horizon_step"] == j + 1
        assert row["target_position"] == s + 24 + j and row["target_date"] == dates[s + 24 + j]
        assert row["actual"] == y[s + 24 + j] and row["naive"] == y[s + 23]
        assert row["seasonal_naive"] == y[s + 24 + j - 12]
        assert row["predicted"] == pytest.approx(y[s + 24 + j], abs=1e-4)   # the perfect copy
    plain = make_dataset(series_from_array(y), WindowConfig(24, 4))
    cols = predictions_table(evaluate(SeasonalCopy(24, 4), plain, "test", season=0, classical=False),
                             plain).columns
    assert list(cols) == ["window_start_position", "horizon_step", "target_position", "actual",
                          "predicted", "naive"]


def test_forecast_future_positions_and_dates():
    y = periodic(240)
    ds = make_dataset(series_from_array(y), WindowConfig(24, 12))
    fut = forecast_future(SeasonalCopy(24, 12), ds)
    assert list(fut.index) == list(range(240, 252))
    assert list(fut["step"]) == list(range(1, 13))
    np.testing.assert_allclose(fut["forecast"], periodic(252)[240:], atol=1e-4)
    assert len(forecast_future(SeasonalCopy(24, 12), ds, steps=5)) == 5
    with pytest.raises(DataError, match="1 to 12"):
        forecast_future(SeasonalCopy(24, 12), ds, steps=13)

    dates = pd.date_range("2000-01-01", periods=240, freq="MS", name="month")
    ds = make_dataset(series_from_array(y, index=dates), WindowConfig(24, 12))
    fut = forecast_future(SeasonalCopy(24, 12), ds, steps=3)
    assert list(fut.index) == list(pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]))
    assert fut.index.name == "month" and fut.attrs["note"] is None
