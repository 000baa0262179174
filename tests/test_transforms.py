"""Tests for gru_core.transforms (and the transform / window_norm options of windows and model).

Oracles: differences and logs written as plain loops here, the round trip back to the original
values, and nn.GRU with the same weights for the per-window normalisation inside the model.
"""
import math

import numpy as np
import pytest
import torch

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.model import Forecaster, ModelConfig
from gru_core.transforms import (TRANSFORMS, FittedTransform, fit_transform, inverse_windows,
                                 window_origins)
from gru_core.windows import SplitConfig, WindowConfig, make_dataset, split_bounds

SERIES_KEYS = [k for k, t in TRANSFORMS.items()]


def trending(T=300, C=2, seed=0):
    """Positive, rising, seasonal (T, C) series."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    cols = [50 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, T)]
    for c in range(1, C):
        cols.append(20 + 0.1 * t + rng.normal(0, 1, T))
    return np.stack(cols, axis=1)


def loop_transform(y, log, d):
    """The transform of one column, written as a loop."""
    u = [math.log(v) if log else v for v in y]
    if d == 0:
        return np.array(u)
    return np.array([0.0] * d + [u[t] - u[t - d] for t in range(d, len(u))])


@pytest.mark.parametrize("key", SERIES_KEYS)
def test_apply_matches_a_loop(key):
    v = trending()
    ft = fit_transform(key, v, train_end=200, season=12)
    z = ft.apply(v)
    for c in range(v.shape[1]):
        np.testing.assert_allclose(z[:, c], loop_transform(v[:, c], ft.log_cols[c], ft.lag),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key", SERIES_KEYS)
@pytest.mark.parametrize("H", [1, 5, 30])
def test_inverse_round_trips_exactly(key, H):
    v = trending()
    y = v[:, 0]
    ft = fit_transform(key, v, train_end=200, season=12)
    z = ft.apply(v)[:, 0]
    origins = np.arange(max(ft.lag - 1, 0), len(y) - H)              # every possible origin
    z_true = np.stack([z[o + 1: o + 1 + H] for o in origins])        # (N, H)
    back = ft.inverse(z_true, origins, y)
    y_true = np.stack([y[o + 1: o + 1 + H] for o in origins])
    np.testing.assert_allclose(back, y_true, rtol=1e-12, atol=1e-9)


def test_inverse_reads_nothing_after_the_origin():
    v = trending()
    y = v[:, 0].copy()
    ft = fit_transform("seasonal_diff", v, train_end=200, season=12)
    z_hat = np.random.default_rng(1).normal(size=(1, 30))
    a = ft.inverse(z_hat, [150], y)
    y[151:] = -1e6                                                     # poison the future
    b = ft.inverse(z_hat, [150], y)
    np.testing.assert_array_equal(a, b)


def test_seasonal_inverse_by_hand():
    """H > m: later steps build on the model's own earlier forecasts."""
    y = np.arange(10.0)
    ft = FittedTransform("seasonal_diff", lag=3, log_cols=(False,))
    out = ft.inverse(np.array([[1.0, 2.0, 3.0, 4.0, 5.0]]), [6], y)
    # known y[4], y[5], y[6] = 4, 5, 6 -> 5, 7, 9; then 5 + 4, 7 + 5
    np.testing.assert_allclose(out, [[5.0, 7.0, 9.0, 9.0, 12.0]])


@pytest.mark.parametrize("key", SERIES_KEYS)
def test_dataset_targets_map_back_to_the_data(key):
    v = trending()
    ds = make_dataset(series_from_array(v, ["y", "x"]), WindowConfig(24, 6), SplitConfig(0.7, 0.15, 0.15),
                      transform=key, season=12)
    for split in ("train", "val", "test"):
        w = getattr(ds, split)
        idx = w.starts[:, None] + 24 + np.arange(6)[None, :]
        back = inverse_windows(w.Y.numpy(), ds, split)               # true targets, scaled
        np.testing.assert_allclose(back, v[idx, 0], rtol=1e-4)
        np.testing.assert_array_equal(window_origins(ds, split), w.starts + 23)
        assert w.starts.min() >= ds.transform.lag                    # no window reads a missing diff


@pytest.mark.parametrize("key", SERIES_KEYS)
def test_fitted_on_training_part_only(key):
    v = trending()
    T = v.shape[0]
    split = SplitConfig(0.7, 0.15, 0.15)
    _, val_end = split_bounds(T, split)
    w = v.copy()
    w[val_end:] = w[val_end:] * 3.0 + 100.0                          # a very different test part
    a = make_dataset(series_from_array(v, ["y", "x"]), WindowConfig(24, 6), split, transform=key, season=12)
    b = make_dataset(series_from_array(w, ["y", "x"]), WindowConfig(24, 6), split, transform=key, season=12)
    assert a.transform == b.transform
    np.testing.assert_array_equal(a.scaler.center, b.scaler.center)
    np.testing.assert_array_equal(a.scaler.scale, b.scaler.scale)
    torch.testing.assert_close(a.scaled[:val_end], b.scaled[:val_end], rtol=0, atol=0)
    for split_name in ("train", "val"):
        torch.testing.assert_close(getattr(a, split_name).X, getattr(b, split_name).X, rtol=0, atol=0)
        torch.testing.assert_close(getattr(a, split_name).Y, getattr(b, split_name).Y, rtol=0, atol=0)


def test_log_columns_and_errors():
    v = trending()
    v[:, 1] -= 100                                                   # an input column below 0
    ft = fit_transform("log", v, train_end=200)
    assert ft.log_cols == (True, False)
    bad = v.copy()
    bad[:, 0] -= 1000
    with pytest.raises(DataError, match="positive target"):
        fit_transform("log", bad, train_end=200)
    later = v.copy()
    later[250, 0] = -5.0                                              # fine in training, not later
    with pytest.raises(DataError, match="column 0 is -5 at step 250"):
        make_dataset(series_from_array(later, ["y", "x"]), WindowConfig(24, 6), transform="log")
    with pytest.raises(DataError, match="season of at least 2"):
        fit_transform("seasonal_diff", v, train_end=200)
    with pytest.raises(DataError, match="Unknown transform 'cube'"):
        fit_transform("cube", v, train_end=200)


def test_to_dict_round_trip_and_bad_dicts():
    ft = fit_transform("log_diff", trending(), train_end=200)
    assert FittedTransform.from_dict(ft.to_dict()) == ft
    with pytest.raises(DataError, match="incomplete"):
        FittedTransform.from_dict({"key": "diff"})
    with pytest.raises(DataError, match="do not fit"):
        FittedTransform.from_dict({"key": "diff", "lag": 0, "log_cols": [False]})


def test_none_transform_leaves_the_dataset_unchanged():
    v = trending()
    s = series_from_array(v, ["y", "x"])
    a = make_dataset(s, WindowConfig(24, 6))
    b = make_dataset(s, WindowConfig(24, 6), transform="none")
    torch.testing.assert_close(a.scaled, b.scaled, rtol=0, atol=0)
    np.testing.assert_array_equal(a.train.starts, b.train.starts)


# ----------------------------------------------------------------------------- window_norm in the model

def _reference(model, x, mode):
    """The per-window normalisation written out, with nn.GRU and nn.Linear copies of the weights."""
    gru = torch.nn.GRU(x.shape[-1], model.cfg.hidden_size, model.cfg.num_layers, batch_first=True)
    gru.load_state_dict(model.rnn.state_dict())
    head = torch.nn.Linear(model.cfg.hidden_size, model.cfg.horizon)
    head.load_state_dict(model.head.state_dict())
    outs = []
    for b in range(x.shape[0]):
        w = x[b]                                                     # (L, C)
        if mode == "last":
            shift, scale, xn = w[-1, 0], 1.0, w - w[-1]
        else:
            mu = w.mean(0)
            sd = torch.sqrt(((w - mu) ** 2).mean(0)) + 1e-3
            shift, scale, xn = mu[0], sd[0], (w - mu) / sd
        _, h = gru(xn[None])
        outs.append(head(h[-1, 0]) * scale + shift)
    return torch.stack(outs)


@pytest.mark.parametrize("mode", ["last", "meanstd"])
def test_window_norm_matches_a_written_out_reference(mode):
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(input_size=2, hidden_size=8, num_layers=2, horizon=4, window_norm=mode))
    x = torch.randn(5, 10, 2) * 3 + 7
    with torch.no_grad():
        torch.testing.assert_close(model(x), _reference(model, x, mode), rtol=1e-5, atol=1e-5)


def test_window_norm_last_follows_a_level_shift():
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(input_size=1, hidden_size=8, horizon=3, window_norm="last"))
    x = torch.randn(4, 12, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x + 100.0), model(x) + 100.0, rtol=1e-5, atol=1e-4)


def test_window_norm_default_is_unchanged_and_validated():
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(input_size=1, hidden_size=8, horizon=3))
    x = torch.randn(4, 12, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.head(model.encode(x)), rtol=0, atol=0)
    with pytest.raises(DataError, match="Unknown window_norm"):
        ModelConfig(window_norm="revin").validate()


# ----------------------------------------------------------------------------- wired into evaluate

class _TrueTargets(torch.nn.Module):
    """Returns the true scaled (transformed) targets of the windows, in predict's order."""

    def __init__(self, Y):
        super().__init__()
        self.cfg = ModelConfig(horizon=Y.shape[1])
        self.Y, self.pos = Y, 0

    def forward(self, x):                                            # (B, L, C) -> (B, H)
        out = self.Y[self.pos:self.pos + x.shape[0]]
        self.pos += x.shape[0]
        return out


@pytest.mark.parametrize("key", ["log", "diff", "seasonal_diff", "log_diff"])
def test_evaluate_undoes_the_transform(key):
    """A model that forecasts the true transformed targets scores 0 in data units; naive does not."""
    from gru_core.evaluate import evaluate, forecast_future
    v = trending()
    ds = make_dataset(series_from_array(v, ["y", "x"]), WindowConfig(24, 6), transform=key, season=12)
    ev = evaluate(_TrueTargets(ds.test.Y), ds, "test", season=12, classical=False)
    np.testing.assert_allclose(ev.y_pred, v[ev.target_index, 0], rtol=1e-4)
    assert ev.metrics.loc["GRU", "MAE"] < 1e-2 * ev.metrics.loc["Naive (last value)", "MAE"]
    # past the end: the last window's forecast starts from the last value, in data units
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(input_size=2, hidden_size=4, horizon=6))
    fut = forecast_future(model, ds)
    from gru_core.evaluate import predict
    z = ds.scaler.inverse_target(predict(model, ds.scaled[-24:][None]).astype(np.float64))[0]
    u = np.log(v[:, 0]) if ds.transform.log_cols[0] else v[:, 0]
    d = ds.transform.lag
    expect = list(u)
    for j in range(6):                                               # the inverse, written out
        expect.append((expect[-d] if d else 0.0) + z[j])
    expect = np.array(expect[-6:])
    np.testing.assert_allclose(fut["forecast"], np.exp(expect) if ds.transform.log_cols[0] else expect,
                               rtol=1e-5)


def test_range_warning_names_the_gap():
    from gru_core.transforms import range_warning
    y = np.concatenate([np.linspace(0, 10, 70), np.linspace(10, 12, 15), np.linspace(12, 15, 15)])
    text = range_warning(y, 70, 85)
    assert "validation part reaches 2 above the training maximum (20% of the training range)" in text
    assert "test part reaches 5 above" in text and "per-window normalisation" in text
    assert range_warning(np.sin(np.arange(100)), 70, 85) is None
    low = -y
    assert "below the training minimum" in range_warning(low, 70, 85)
