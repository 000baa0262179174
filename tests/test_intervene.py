"""Clamped traces, forecast-from-trace and input edits against independent computations.

Oracles: ``nn.GRU`` (no clamp), ``nn.RNN`` (r = 1 and z = 0 turn the GRU into a tanh RNN with the
candidate's weights), a naive per-element loop written here (one unit clamped), ``model(x)``
(forecast from the trace) and hand arithmetic (edits).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gru_core.data import series_from_array
from gru_core.errors import DataError
from gru_core.gates import trace_gates
from gru_core.intervene import (Clamp, Edit, apply_edits, forecast_from_trace, trace_clamped,
                                what_if, window_values)
from gru_core.model import Forecaster, ModelConfig
from gru_core.windows import SplitConfig, WindowConfig, make_dataset


def _gru(C=3, U=5, L=2, bias=True, bidirectional=False, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.GRU(C, U, num_layers=L, bias=bias, batch_first=True,
                  bidirectional=bidirectional).to(dtype)


def _naive(gru, x, h0, force):
    """Textbook GRU loop, one unit at a time; ``force[(gate, k, t, j)] = value`` overrides."""
    L, U = gru.num_layers, gru.hidden_size
    B, T, _ = x.shape
    hs = torch.zeros(L, B, T, U, dtype=x.dtype)
    inp = x
    for k in range(L):
        W, R = getattr(gru, f"weight_ih_l{k}"), getattr(gru, f"weight_hh_l{k}")
        bi, bh = getattr(gru, f"bias_ih_l{k}"), getattr(gru, f"bias_hh_l{k}")
        for b in range(B):
            h = h0[k, b].clone()
            for t in range(T):
                new = torch.zeros(U, dtype=x.dtype)
                for j in range(U):
                    xr = W[j] @ inp[b, t] + bi[j] + R[j] @ h + bh[j]
                    xz = W[U + j] @ inp[b, t] + bi[U + j] + R[U + j] @ h + bh[U + j]
                    r = force.get(("r", k, t, j), torch.sigmoid(xr))
                    z = force.get(("z", k, t, j), torch.sigmoid(xz))
                    n = torch.tanh(W[2 * U + j] @ inp[b, t] + bi[2 * U + j]
                                   + r * (R[2 * U + j] @ h + bh[2 * U + j]))
                    new[j] = (1 - z) * n + z * h[j]
                h = new
                hs[k, b, t] = h
        inp = hs[k]
    return hs


@pytest.mark.parametrize("L,bias", [(1, True), (3, True), (2, False)])
def test_no_clamp_equals_nn_gru_and_trace_gates(L, bias):
    gru = _gru(L=L, bias=bias)
    x = torch.randn(4, 9, 3, dtype=torch.float64)
    h0 = torch.randn(L, 4, 5, dtype=torch.float64)
    tr = trace_clamped(gru, x, h0)
    out, h_n = gru(x, h0)
    torch.testing.assert_close(tr.output, out, rtol=0, atol=1e-12)
    torch.testing.assert_close(tr.h_n, h_n, rtol=0, atol=1e-12)
    ref = trace_gates(gru, x, h0)
    for g in "rznh":
        torch.testing.assert_close(getattr(tr, g), getattr(ref, g), rtol=0, atol=1e-12)


def test_float32_no_clamp_equals_nn_gru():
    gru = _gru(dtype=torch.float32)
    x = torch.randn(2, 30, 3)
    torch.testing.assert_close(trace_clamped(gru, x).output, gru(x)[0], rtol=0, atol=1e-5)


def test_z_one_everywhere_keeps_h0():
    gru = _gru(L=2)
    x = torch.randn(3, 8, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, 5, dtype=torch.float64)
    tr = trace_clamped(gru, x, h0, clamps=[Clamp("z", 1.0)])
    for k in range(2):
        for t in range(8):
            torch.testing.assert_close(tr.h[k, :, t], h0[k], rtol=0, atol=0)
    assert (tr.z == 1).all()


@pytest.mark.parametrize("L", [1, 2])
def test_r_one_z_zero_is_a_tanh_rnn(L):
    """r = 1 and z = 0: h_t = tanh(W_in x + b_in + W_hn h + b_hn), i.e. nn.RNN with those weights."""
    gru = _gru(L=L)
    U = 5
    rnn = nn.RNN(3, U, num_layers=L, batch_first=True).double()
    with torch.no_grad():
        for k in range(L):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(rnn, f"{kind}_l{k}").copy_(getattr(gru, f"{kind}_l{k}")[2 * U:])
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    both = trace_clamped(gru, x, clamps=[Clamp("r", 1.0), Clamp("z", 0.0)])
    torch.testing.assert_close(both.output, rnn(x)[0], rtol=0, atol=1e-12)
    modes = trace_clamped(gru, x, mode="reset_only", clamps=[Clamp("r", 1.0)])
    torch.testing.assert_close(modes.output, rnn(x)[0], rtol=0, atol=1e-12)
    modes = trace_clamped(gru, x, mode="update_only", clamps=[Clamp("z", 0.0)])
    torch.testing.assert_close(modes.output, rnn(x)[0], rtol=0, atol=1e-12)


def test_modes_equal_naive_loop():
    gru = _gru(L=2, U=4)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    h0 = torch.zeros(2, 2, 4, dtype=torch.float64)
    every = [(k, t, j) for k in range(2) for t in range(6) for j in range(4)]
    for mode, gate, value in (("update_only", "r", 1.0), ("reset_only", "z", 0.0)):
        force = {(gate, *i): torch.tensor(value, dtype=torch.float64) for i in every}
        torch.testing.assert_close(trace_clamped(gru, x, mode=mode).h, _naive(gru, x, h0, force),
                                   rtol=0, atol=1e-12)


def test_one_unit_clamp_equals_naive_loop_and_is_causal():
    gru = _gru(L=2)
    x = torch.randn(2, 10, 3, dtype=torch.float64)
    h0 = torch.zeros(2, 2, 5, dtype=torch.float64)
    clamps = [Clamp("z", 1.0, units=(2,), steps=(3, 6), layers=(0,)),
              Clamp("r", 0.25, units=(0, 4), steps=(5, 10))]
    force = {("z", 0, t, 2): torch.tensor(1.0, dtype=torch.float64) for t in range(3, 6)}
    force.update({("r", k, t, j): torch.tensor(0.25, dtype=torch.float64)
                  for k in range(2) for t in range(5, 10) for j in (0, 4)})
    tr = trace_clamped(gru, x, h0, clamps=clamps)
    torch.testing.assert_close(tr.h, _naive(gru, x, h0, force), rtol=0, atol=1e-12)
    free = trace_gates(gru, x, h0)
    torch.testing.assert_close(tr.h[:, :, :3], free.h[:, :, :3], rtol=0, atol=1e-12)  # before: same
    for t in range(3, 6):  # unit 2 of layer 0 holds its state
        torch.testing.assert_close(tr.h[0, :, t, 2], tr.h[0, :, 2, 2], rtol=0, atol=0)
    assert not torch.allclose(tr.h[1, :, 3:], free.h[1, :, 3:])  # the layer above responds


def test_clamp_errors():
    gru = _gru()
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    for bad, words in ((Clamp("q", 0.5), "'r' or 'z'"), (Clamp("z", 1.5), "[0, 1]"),
                       (Clamp("z", 0.5, steps=(2, 9)), "0 <= start < stop <= 4"),
                       (Clamp("z", 0.5, units=(7,)), "0 to 4"),
                       (Clamp("r", 0.5, layers=(2,)), "0 to 1")):
        with pytest.raises(DataError, match=words.replace("[", r"\[").replace("(", r"\(")):
            trace_clamped(gru, x, clamps=[bad])
    with pytest.raises(DataError, match="Unknown cell mode"):
        trace_clamped(gru, x, mode="half")
    with pytest.raises(DataError, match="unidirectional"):
        trace_clamped(_gru(bidirectional=True), x, clamps=[Clamp("z", 1.0)])


@pytest.mark.parametrize("bidirectional,L", [(False, 1), (False, 2), (True, 2)])
def test_forecast_from_trace_equals_model(bidirectional, L):
    torch.manual_seed(1)
    model = Forecaster(ModelConfig(input_size=2, hidden_size=6, num_layers=L, horizon=4,
                                   bidirectional=bidirectional)).eval()
    x = torch.randn(3, 11, 2)
    y = forecast_from_trace(model, trace_gates(model.rnn, x))
    torch.testing.assert_close(y, model(x), rtol=0, atol=1e-5)
    if not bidirectional:
        torch.testing.assert_close(forecast_from_trace(model, trace_clamped(model.rnn, x)),
                                   model(x), rtol=0, atol=1e-5)


def test_apply_edits_by_hand():
    v = np.arange(10, dtype=float)
    assert apply_edits(v, [Edit("spike", 3, amount=5)])[3] == 8
    np.testing.assert_array_equal(apply_edits(v, [Edit("shift", 6, amount=-1)])[6:], v[6:] - 1)
    np.testing.assert_array_equal(apply_edits(v, [Edit("shift", 6, amount=-1)])[:6], v[:6])
    np.testing.assert_array_equal(apply_edits(v, [Edit("scale", 2, 4, amount=3)])[1:5], [1, 6, 9, 4])
    np.testing.assert_array_equal(apply_edits(v, [Edit("set", 0, 2, amount=7)])[:3], [7, 7, 2])
    noisy = apply_edits(np.zeros(4000), [Edit("noise", 0, amount=2.0, seed=3)])
    assert abs(noisy.std() - 2.0) < 0.1
    np.testing.assert_array_equal(noisy, apply_edits(np.zeros(4000), [Edit("noise", 0, amount=2, seed=3)]))
    wide = np.stack([v, v * 10], axis=1)
    out = apply_edits(wide, [Edit("spike", 0, amount=1)])
    assert out[0, 0] == 1 and out[0, 1] == 0 and wide[0, 0] == 0  # target only, a copy
    with pytest.raises(DataError, match="0 <= start < stop <= 10"):
        apply_edits(v, [Edit("spike", 10)])
    with pytest.raises(DataError, match="Unknown edit"):
        apply_edits(v, [Edit("bend", 1)])


def _ds():
    t = np.arange(300, dtype=float)
    series = series_from_array(np.sin(t / 6) * 20 + 50)
    return make_dataset(series, WindowConfig(16, 3), SplitConfig(0.7, 0.15, 0.15))


def test_what_if_unedited_equals_model_and_spike_changes_it():
    ds = _ds()
    torch.manual_seed(0)
    model = Forecaster(ModelConfig(hidden_size=8, num_layers=2, horizon=3)).eval()
    v = window_values(ds, "test", 5)
    np.testing.assert_allclose(v[:, 0], ds.series.values[ds.test.starts[5]:ds.test.starts[5] + 16, 0],
                               rtol=1e-5)
    base = what_if(model, ds, v)
    expect = ds.scaler.inverse_target(model(ds.test.X[5:6]).detach().numpy()[0])
    np.testing.assert_allclose(base.forecast, expect, rtol=1e-5, atol=1e-4)
    spiked = what_if(model, ds, apply_edits(v, [Edit("spike", 15, amount=40)]))
    assert np.abs(spiked.forecast - base.forecast).max() > 1e-3
    shut = what_if(model, ds, v, clamps=[Clamp("z", 1.0)])   # state never leaves 0
    h0_forecast = ds.scaler.inverse_target(model.head(torch.zeros(1, 8)).detach().numpy()[0])
    np.testing.assert_allclose(shut.forecast, h0_forecast, rtol=1e-5, atol=1e-4)


def test_what_if_refuses_non_gru():
    ds = _ds()
    model = Forecaster(ModelConfig(hidden_size=4, num_layers=1, horizon=3, cell="lstm"))
    with pytest.raises(DataError, match="need a GRU"):
        what_if(model, ds, window_values(ds, "test", 0))
