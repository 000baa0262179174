"""Tests for gru_core.windows: configs, the scaler, leakage-free splits, strided views, min_length."""
import json
import types

import numpy as np
import pandas as pd
import pytest
import torch

from gru_core.errors import DataError
from gru_core.windows import (Dataset, Scaler, SplitConfig, WindowConfig, Windows, make_dataset,
                              min_length, split_bounds)


def make_series(values) -> types.SimpleNamespace:
    """Stand-in for gru_core.data.Series: anything with .values (T, C), column 0 the target."""
    v = np.asarray(values, dtype=np.float32)
    v = v.reshape(-1, 1) if v.ndim == 1 else v
    T, C = v.shape
    return types.SimpleNamespace(values=v, columns=["y"] + [f"x{i}" for i in range(1, C)],
                                 index=pd.RangeIndex(T), target="y", report="")


def ramp_series(T: int, C: int = 2) -> types.SimpleNamespace:
    """values[t, c] = t + 1000 c, so every scaled value can be traced back to its index."""
    return make_series(np.arange(T)[:, None] + 1000.0 * np.arange(C)[None, :])


# --- configs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, match", [
    ({"lookback": 0}, "lookback must be a whole number >= 1, got 0"),
    ({"horizon": 0}, "horizon must be a whole number >= 1"),
    ({"stride": -2}, "stride must be a whole number >= 1"),
    ({"lookback": 2.5}, "lookback"),
    ({"horizon": True}, "horizon"),
])
def test_window_config_rejects_bad_values(kw, match):
    with pytest.raises(DataError, match=match):
        WindowConfig(**kw)


@pytest.mark.parametrize("fracs, match", [
    ((0.7, 0.3, 0.0), "test fraction must be a number > 0"),
    ((0.0, 0.5, 0.5), "train fraction"),
    ((0.8, -0.1, 0.3), "val fraction"),
    ((0.7, 0.2, 0.2), "must add up to 1.*1.1"),
    ((0.7, 0.15, float("nan")), "test fraction"),
])
def test_split_config_rejects_bad_fractions(fracs, match):
    with pytest.raises(DataError, match=match):
        SplitConfig(*fracs)


def test_split_config_tolerates_rounding():
    SplitConfig(0.7, 0.15, 0.15 + 5e-7)
    SplitConfig(1 / 3, 1 / 3, 1 / 3)


# --- scaler ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_scaler_round_trip_numpy_and_torch_any_shape(kind):
    rng = np.random.default_rng(0)
    train = rng.normal(5, 3, size=(100, 3))
    sc = Scaler(kind).fit(train)
    z = sc.transform(train)
    if kind == "standard":
        np.testing.assert_allclose(z.mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(z.std(0), 1, atol=1e-12)
    elif kind == "minmax":
        np.testing.assert_allclose(z.min(0), 0, atol=1e-12)
        np.testing.assert_allclose(z.max(0), 1, atol=1e-12)
    else:
        np.testing.assert_array_equal(z, train)
    x = rng.normal(size=(4, 5, 3)).astype(np.float32)        # any leading shape, last dim C
    back = sc.inverse_transform(sc.transform(x))
    assert back.dtype == np.float32 and back.shape == x.shape
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-5)
    xt = torch.from_numpy(x)
    zt = sc.transform(xt)
    assert isinstance(zt, torch.Tensor) and zt.dtype == torch.float32
    np.testing.assert_allclose(zt.numpy(), sc.transform(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sc.inverse_transform(zt).numpy(), x, rtol=1e-5, atol=1e-5)


def test_inverse_target_uses_column_zero_on_any_shape():
    sc = Scaler("standard").fit(np.array([[0.0, 100.0], [2.0, 300.0]]))   # col 0: mean 1 std 1
    y = np.array([[0.0, 1.0, -1.0]])                          # (1, 3) e.g. (N, H)
    np.testing.assert_allclose(sc.inverse_target(y), [[1.0, 2.0, 0.0]])
    np.testing.assert_allclose(sc.inverse_target(torch.zeros(2, 2, 2)).numpy(), np.ones((2, 2, 2)))


def test_constant_column_gets_scale_one():
    train = np.column_stack([np.arange(10.0), np.full(10, 7.0)])
    for kind in ("standard", "minmax"):
        sc = Scaler(kind).fit(train)
        assert sc.scale[1] == 1.0
        z = sc.transform(train)
        assert np.all(np.isfinite(z)) and np.all(z[:, 1] == 0.0)


def test_scaler_dict_is_json_and_round_trips():
    sc = Scaler("minmax").fit(np.random.default_rng(1).normal(size=(20, 2)))
    d = json.loads(json.dumps(sc.to_dict()))
    sc2 = Scaler.from_dict(d)
    assert sc2.kind == "minmax"
    np.testing.assert_array_equal(sc2.center, sc.center)
    np.testing.assert_array_equal(sc2.scale, sc.scale)
    assert Scaler.from_dict(Scaler("none").to_dict()).fitted is False


@pytest.mark.parametrize("call, match", [
    (lambda: Scaler("robust"), "Unknown scaler 'robust'.*standard, minmax, none"),
    (lambda: Scaler().transform(np.zeros((2, 1))), "not fitted.*fit"),
    (lambda: Scaler().fit(np.zeros((3, 2))).transform(np.zeros((3, 3))), "fitted on 2 column"),
    (lambda: Scaler().fit(np.array([[1.0], [np.nan]])), "NaN"),
    (lambda: Scaler.from_dict({"kind": "standard"}), "incomplete"),
    (lambda: Scaler.from_dict({"kind": "standard", "center": [0.0], "scale": [0.0]}), "scale > 0"),
    (lambda: Scaler.from_dict({"kind": "standard", "center": ["a"], "scale": [1.0]}), "invalid"),
])
def test_scaler_errors(call, match):
    with pytest.raises(DataError, match=match):
        call()


# --- windows: shapes, views, memory ------------------------------------------------------------

def test_shapes_types_and_values():
    T, L, H = 200, 10, 3
    ds = make_dataset(ramp_series(T, C=2), WindowConfig(L, H), scaler="none")
    assert isinstance(ds, Dataset) and isinstance(ds.train, Windows)
    assert ds.scaled.shape == (T, 2) and ds.scaled.dtype == torch.float32
    assert ds.bounds == (140, 170)
    for w in (ds.train, ds.val, ds.test):
        N = len(w)
        assert w.X.shape == (N, L, 2) and w.Y.shape == (N, H) and w.X.dtype == w.Y.dtype == torch.float32
        assert w.starts.dtype == np.int64 and w.starts.shape == (N,)
        s = w.starts[:, None]                                 # (N, 1)
        np.testing.assert_array_equal(w.X[:, :, 0].numpy(), s + np.arange(L))          # ramp: value == index
        np.testing.assert_array_equal(w.X[:, :, 1].numpy(), s + np.arange(L) + 1000)
        np.testing.assert_array_equal(w.Y.numpy(), s + L + np.arange(H))               # target column 0


def test_windows_are_views_of_one_storage():
    ds = make_dataset(ramp_series(300), WindowConfig(12, 4, 3))
    ptr = ds.scaled.untyped_storage().data_ptr()
    for w in (ds.train, ds.val, ds.test):
        assert w.X.untyped_storage().data_ptr() == ptr
        assert w.Y.untyped_storage().data_ptr() == ptr
    ds.scaled[ds.train.starts[1] + 2, 0] = 123.0              # a write shows through every view
    assert ds.train.X[1, 2, 0] == 123.0


def test_million_points_do_not_copy_lookback_times():
    T, L = 1_000_000, 64
    ds = make_dataset(make_series(np.sin(np.arange(T) / 10.0)), WindowConfig(L, 8))
    nbytes = ds.scaled.untyped_storage().nbytes()
    assert nbytes == T * 1 * 4                                # (T, C) float32, nothing more
    for w in (ds.train, ds.val, ds.test):
        assert w.X.untyped_storage().nbytes() == nbytes and w.Y.untyped_storage().nbytes() == nbytes
    assert len(ds.train) * L * 4 > 40 * nbytes                # a copy would be ~45x larger


# --- leakage-free split rule -------------------------------------------------------------------

@pytest.mark.parametrize("T, L, H, S, fracs", [
    (200, 10, 3, 1, (0.7, 0.15, 0.15)),
    (157, 7, 5, 3, (0.6, 0.2, 0.2)),
    (500, 48, 12, 4, (0.5, 0.25, 0.25)),
    (90, 30, 1, 1, (0.8, 0.1, 0.1)),                          # val/test inputs reach back past train_end - L
])
def test_split_rule_no_leakage(T, L, H, S, fracs):
    split = SplitConfig(*fracs)
    ds = make_dataset(ramp_series(T), WindowConfig(L, H, S), split)
    train_end, val_end = ds.bounds
    assert (train_end, val_end) == (round(T * fracs[0]), round(T * (fracs[0] + fracs[1])))

    def positions(w):                                         # (N, L) inputs, (N, H) targets
        return w.starts[:, None] + np.arange(L), w.starts[:, None] + L + np.arange(H)
    xi, yi = positions(ds.train)
    assert xi.min() >= 0 and xi.max() < train_end and yi.max() < train_end
    xi, yi = positions(ds.val)
    assert yi.min() >= train_end and yi.max() < val_end and (xi < yi.min(axis=1, keepdims=True)).all()
    xi, yi = positions(ds.test)
    assert yi.min() >= val_end and yi.max() < T and xi.min() >= 0

    # stride: starts are first_valid + k*S and the last one cannot move by another stride
    for w, (a, b) in zip((ds.train, ds.val, ds.test), ((0, train_end), (train_end, val_end), (val_end, T))):
        first = max(0, a - L)
        np.testing.assert_array_equal(w.starts, first + S * np.arange(len(w)))
        assert w.starts[-1] + L + H <= b < w.starts[-1] + S + L + H


def test_val_starts_at_train_end_minus_lookback():
    ds = make_dataset(ramp_series(400), WindowConfig(20, 5, 7))
    train_end, val_end = ds.bounds
    assert ds.val.starts[0] == train_end - 20 and ds.test.starts[0] == val_end - 20
    assert ds.train.starts[0] == 0


def test_scaler_is_fitted_on_training_part_only():
    T = 300
    values = np.random.default_rng(0).normal(size=(T, 2))
    ds = make_dataset(make_series(values), WindowConfig(10, 2))
    train_end = ds.bounds[0]
    assert train_end == round(T * 0.7)                        # the default split, by hand
    part = values[:train_end].astype(np.float32).astype(np.float64)   # the series stores float32
    mean = part.sum(axis=0) / train_end                       # by hand, not with Scaler
    std = np.sqrt(((part - mean) ** 2).sum(axis=0) / train_end)   # population std (ddof 0)
    np.testing.assert_allclose(ds.scaler.center, mean, rtol=1e-10)
    np.testing.assert_allclose(ds.scaler.scale, std, rtol=1e-10)
    whole = values.astype(np.float32).astype(np.float64)
    assert not np.allclose(ds.scaler.center, whole.mean(axis=0), rtol=1e-3)   # not the whole series
    mm = make_dataset(make_series(values), WindowConfig(10, 2), scaler="minmax").scaler
    np.testing.assert_allclose(mm.center, part.min(axis=0), rtol=1e-10)
    np.testing.assert_allclose(mm.scale, part.max(axis=0) - part.min(axis=0), rtol=1e-10)
    changed = values.copy()
    changed[train_end:] = 1e6                                 # the future must not move the scaler
    ds2 = make_dataset(make_series(changed), WindowConfig(10, 2))
    assert ds2.scaler.to_dict() == ds.scaler.to_dict()
    torch.testing.assert_close(ds2.train.X, ds.train.X)
    torch.testing.assert_close(ds2.train.Y, ds.train.Y)


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_inverse_target_recovers_original_targets(kind):
    values = np.random.default_rng(2).normal(10, 4, size=(150, 2))
    ds = make_dataset(make_series(values), WindowConfig(8, 4), scaler=kind)
    y = ds.scaler.inverse_target(ds.test.Y).numpy()           # (N, H) original units
    idx = ds.test.starts[:, None] + 8 + np.arange(4)
    np.testing.assert_allclose(y, values[idx, 0], rtol=1e-5, atol=1e-4)


# --- min_length --------------------------------------------------------------------------------

def window_counts(T, window, split):
    """Brute force: build the dataset and count windows (0 where it is too short)."""
    try:
        ds = make_dataset(ramp_series(T, C=1), window, split)
    except DataError:
        return None
    return len(ds.train), len(ds.val), len(ds.test)


@pytest.mark.parametrize("L, H, S, fracs", [
    (48, 12, 1, (0.7, 0.15, 0.15)),
    (1, 1, 1, (0.5, 0.1, 0.4)),                               # rounding makes val dip: non-monotone
    (3, 2, 5, (0.5, 0.1, 0.4)),
    (5, 4, 2, (1 / 3, 1 / 3, 1 / 3)),
    (10, 1, 3, (0.8, 0.1, 0.1)),
])
def test_min_length_is_exact(L, H, S, fracs):
    window, split = WindowConfig(L, H, S), SplitConfig(*fracs)
    m = min_length(window, split)
    assert window_counts(m - 1, window, split) is None        # one shorter fails
    for T in range(m, m + 150):                               # and from m on every length works
        counts = window_counts(T, window, split)
        assert counts is not None and min(counts) >= 1


def test_short_reprs():
    ds = make_dataset(ramp_series(100), WindowConfig(5, 2))
    assert repr(ds.train) == "Windows(N=64, X=(64, 5, 2), Y=(64, 2))"
    assert repr(ds).startswith("Dataset(T=100, C=2, bounds=(70, 85)") and len(repr(ds)) < 300


def test_min_length_closed_form_default():
    # train_end = round(0.7 T) >= 60 first holds at T = 86; val and test then have 13 >= 12 points
    assert min_length(WindowConfig(48, 12), SplitConfig()) == 86
    assert split_bounds(86, SplitConfig()) == (60, 73)


def test_too_short_series_message():
    with pytest.raises(DataError) as e:
        make_dataset(ramp_series(85, C=1), WindowConfig(48, 12))
    msg = str(e.value)
    assert "at least 86 points" in msg and "85 points" in msg
    assert "lookback=48" in msg and "horizon=12" in msg and "0.7/0.15/0.15" in msg
    assert "Shorten the lookback or horizon" in msg


@pytest.mark.parametrize("call, match", [
    (lambda: make_dataset(ramp_series(100), WindowConfig(5, 2), scaler="zscore"), "Unknown scaler"),
    (lambda: make_dataset(make_series([1.0, np.nan] * 60), WindowConfig(5, 2)), "NaN"),
    (lambda: make_dataset(types.SimpleNamespace(values=np.zeros((2, 3, 4))), WindowConfig(5, 2)), r"\(T, C\)"),
])
def test_make_dataset_errors(call, match):
    with pytest.raises(DataError, match=match):
        call()


def test_config_mutated_after_creation_is_rechecked():
    window = WindowConfig(5, 2)
    window.lookback = 0
    with pytest.raises(DataError, match="lookback"):
        make_dataset(ramp_series(100), window)


def test_fitted_scaler_is_reused_not_refitted():
    """A scaler restored from a bundle keeps its training statistics on new data."""
    import types
    vals = np.arange(200, dtype=np.float32).reshape(-1, 1)
    series = types.SimpleNamespace(values=vals, columns=["y"], index=pd.RangeIndex(200), target="y", report="")
    ds = make_dataset(series, WindowConfig(8, 2), SplitConfig())
    shifted = types.SimpleNamespace(values=vals + 1000, columns=["y"], index=pd.RangeIndex(200),
                                    target="y", report="")
    ds2 = make_dataset(shifted, WindowConfig(8, 2), SplitConfig(), scaler=ds.scaler)
    assert ds2.scaler is ds.scaler
    np.testing.assert_allclose(ds2.scaler.center, ds.scaler.center)
    two_cols = types.SimpleNamespace(values=np.hstack([vals, vals]), columns=["y", "x"],
                                     index=pd.RangeIndex(200), target="y", report="")
    with pytest.raises(DataError, match="covers 1 column"):
        make_dataset(two_cols, WindowConfig(8, 2), SplitConfig(), scaler=ds.scaler)
