"""gru_core.explain: every filled-in number of one gate computation reproduces the trace exactly."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.explain import StepExplanation, explain_step
from gru_core.gates import trace_gates

TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def _gru(dtype, bidirectional=False, bias=True, input_size=3, hidden=5, layers=2, seed=0):
    torch.manual_seed(seed)
    gru = nn.GRU(input_size, hidden, layers, batch_first=True, bidirectional=bidirectional,
                 bias=bias).to(dtype).eval()
    x = torch.randn(2, 7, input_size, dtype=dtype)  # (B, T, C)
    return gru, x


def _check(e: StepExplanation, tol: float) -> None:
    """The filled-in numbers, recombined by hand, give the trace's r, z, n, h."""
    # the parts add up
    assert e.r_pre == pytest.approx(e.ir + e.hr, abs=tol)
    assert e.z_pre == pytest.approx(e.iz + e.hz, abs=tol)
    assert e.n_pre == pytest.approx(e.in_ + e.r * e.hn, abs=tol)
    # the nonlinearities applied to the shown numbers give the trace's values
    assert abs(_sigmoid(e.r_pre) - e.trace_r) <= tol
    assert abs(_sigmoid(e.z_pre) - e.trace_z) <= tol
    assert abs(math.tanh(e.n_pre) - e.trace_n) <= tol
    assert abs((1 - e.z) * e.n + e.z * e.h_prev - e.trace_h) <= tol
    # and the explanation's own results match the trace
    assert e.max_abs_diff <= tol
    assert e.z_write == pytest.approx(1 - e.trace_z, abs=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("layer", [0, 1])
def test_every_number_reproduces_the_trace(dtype, layer):
    gru, x = _gru(dtype)
    tr = trace_gates(gru, x)
    for b in range(x.shape[0]):
        for t in range(x.shape[1]):
            for j in range(gru.hidden_size):
                _check(explain_step(gru, x, tr, layer, t, j, batch=b), TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_bidirectional_both_directions(dtype):
    gru, x = _gru(dtype, bidirectional=True)
    tr = trace_gates(gru, x)
    T = x.shape[1]
    for layer in (0, 1):
        for d in (0, 1):
            for t in (0, 3, T - 1):
                e = explain_step(gru, x, tr, layer, t, 2, batch=1, direction=d)
                _check(e, TOL[dtype])
                if layer == 1:
                    assert len(e.x) == 2 * gru.hidden_size  # [h_fwd, h_bwd] of layer 0


def test_first_step_uses_h0_and_layer0_input():
    gru, x = _gru(torch.float64)
    h0 = torch.randn(2, 2, 5, dtype=torch.float64)  # (L, B, H)
    tr = trace_gates(gru, x, h0)
    e = explain_step(gru, x, tr, 1, 0, 4, batch=1, h0=h0)
    assert e.h_prev == pytest.approx(float(h0[1, 1, 4]), abs=0)
    _check(e, 1e-12)
    e0 = explain_step(gru, x, tr, 0, 0, 0)
    assert e0.x == tuple(x[0, 0].tolist())
    assert e0.h_prev == 0.0


def test_no_bias_reads_zero_biases():
    gru, x = _gru(torch.float64, bias=False)
    tr = trace_gates(gru, x)
    e = explain_step(gru, x, tr, 1, 4, 1)
    assert (e.b_ir, e.b_hr, e.b_iz, e.b_hz, e.b_in, e.b_hn) == (0.0,) * 6
    _check(e, 1e-12)


def test_bad_indices_say_the_range():
    gru, x = _gru(torch.float64)
    tr = trace_gates(gru, x)
    with pytest.raises(DataError, match="unit must be a whole number from 0 to 4"):
        explain_step(gru, x, tr, 0, 0, 5)
    with pytest.raises(DataError, match="not bidirectional"):
        explain_step(gru, x, tr, 0, 0, 0, direction=1)
    with pytest.raises(DataError, match="layer must be"):
        explain_step(gru, x, tr, 2, 0, 0)
    with pytest.raises(DataError, match="same x"):
        explain_step(gru, x[:, :3], tr, 0, 0, 0)
    with pytest.raises(DataError, match="only for GRU"):
        explain_step(nn.LSTM(3, 5, batch_first=True), x, tr, 0, 0, 0)


def test_unit_summary_columns_and_memory():
    import numpy as np

    from gru_core.explain import unit_summary

    z = np.array([[0.5, 0.99, 0.01], [0.5, 0.97, 0.03], [0.5, 1.0, 0.5], [0.5, 0.98, 0.02]])
    r = np.full_like(z, 0.25)
    s = unit_summary(r, z)
    assert list(s["unit"]) == [0, 1, 2]
    assert s.loc[0, "tau"] == pytest.approx(2.0)               # 1 / (1 - 0.5)
    assert s.loc[1, "tau"] == pytest.approx(1 / (1 - 0.985))
    assert s.loc[1, "z_keeps"] == 1.0 and s.loc[1, "z_writes"] == 0.0
    assert s.loc[2, "z_writes"] == 0.75 and s.loc[2, "z_saturated"] == 0.75
    assert s.loc[0, "z_saturated"] == 0.0
    assert (s["mean_r"] == 0.25).all() and (s["r_saturated"] == 0.0).all()
    assert unit_summary(r[:, :1], np.ones((4, 1)))["tau"].iloc[0] == float("inf")
    with pytest.raises(DataError, match="time, units"):
        unit_summary(r, z[:, :2])
