"""gru_core.explain: every filled-in number of one gate computation reproduces the trace exactly,
the LaTeX shows those numbers, and the measured memory equals a naive loop written here.
Symbols: B batch, T time, C input columns, K layers, U units, D directions."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.explain import (StepExplanation, explain_step, measured_memory, step_latex,
                              unit_order, unit_summary)
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
    # the tutorial gate satisfies the tutorial update h = (1 - z') h_prev + z' n
    assert abs((1 - e.z_write) * e.h_prev + e.z_write * e.n - e.trace_h) <= tol


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
    h0 = torch.randn(2, 2, 5, dtype=torch.float64)  # (K, B, U)
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


def test_explanation_h_equals_nn_gru_output():
    """The last layer's filled-in h is nn.GRU's own output (independent of the trace)."""
    gru, x = _gru(torch.float64, bidirectional=True)
    with torch.no_grad():
        out, _ = gru(x)  # (B, T, D*U)
    tr = trace_gates(gru, x)
    U = gru.hidden_size
    for t in (0, 3, 6):
        for d in (0, 1):
            e = explain_step(gru, x, tr, 1, t, 2, batch=1, direction=d)
            assert e.h == pytest.approx(float(out[1, t, d * U + 2]), abs=1e-12)


# --- the filled-in LaTeX ---------------------------------------------------------------------

NUM = re.compile(r"\(?(-?\d+\.\d{4})\)?")


def _expected_numbers(e: StepExplanation, tutorial: bool) -> list[float]:
    """The numbers the LaTeX must show, in reading order (written out here, from the fields)."""
    nums = [e.wx_r, e.b_ir, e.wh_r, e.b_hr, e.r_pre, e.r,
            e.wx_z, e.b_iz, e.wh_z, e.b_hz, e.z_pre, e.z,
            e.wx_n, e.b_in, e.r, e.wh_n, e.b_hn, e.n_pre, e.n,
            e.z, e.n, e.z, e.h_prev, e.h]
    if tutorial:
        nums += [1 - e.z, e.z, e.h_prev, 1 - e.z, e.n, e.h]   # z' = 1 - z; 1 - z' = z
    return nums


@pytest.mark.parametrize("tutorial", [False, True])
@pytest.mark.parametrize("direction", [0, 1])
def test_step_latex_shows_the_explanations_numbers(tutorial, direction):
    gru, x = _gru(torch.float64, bidirectional=True)
    with torch.no_grad():
        out, _ = gru(x)  # (B, T, D*U)
    tr = trace_gates(gru, x)
    e = explain_step(gru, x, tr, 1, 4, 3, batch=0, direction=direction)
    tex = step_latex(e, tutorial=tutorial)
    shown = [float(v) for v in NUM.findall(tex)]
    want = _expected_numbers(e, tutorial)
    assert shown == pytest.approx(want, abs=5.1e-5)          # rounded to 4 decimals, in order
    # negative numbers are bracketed, and the bold h is nn.GRU's output
    assert all(f"({v})" in tex for v in NUM.findall(tex) if v.startswith("-"))
    bold_h = float(re.findall(r"\\mathbf\{\(?(-?[\d.]+)\)?\}", tex)[3])
    assert bold_h == pytest.approx(float(out[0, 4, direction * 5 + 3]), abs=5.1e-5)
    assert ("h_{t+1}" in tex) == (direction == 1) and "[3]" in tex
    assert (r"\mathrm{tut}" in tex) == tutorial


# --- measured memory -------------------------------------------------------------------------

def _naive_memory(z: np.ndarray) -> tuple[float, float]:
    """Mean over start steps t of the first k with z[t+1] * ... * z[t+k] < 1/e (censored: the
    steps left), and the share of censored starts -- one unit, one start, one step at a time."""
    T = len(z)
    ks, cens = [], 0
    for t in range(T - 1):
        share, k = 1.0, 0
        while t + k + 1 < T:
            k += 1
            share *= z[t + k]
            if share < math.exp(-1):
                break
        else:
            cens += 1
        ks.append(k)
    return sum(ks) / len(ks), cens / (T - 1)


def _hand_made() -> np.ndarray:
    """(T, U) hand-made z: 0.999 then 0.001; constant 0.5; constant 0.9; alternating 0.99/0.2;
    always 1 (never forgets); a slow ramp."""
    T = 1000
    cols = [np.r_[np.full(500, 0.999), np.full(500, 0.001)], np.full(T, 0.5), np.full(T, 0.9),
            np.tile([0.99, 0.2], T // 2), np.ones(T), np.linspace(0.6, 0.999, T)]
    return np.stack(cols, axis=1)


def test_measured_memory_equals_a_naive_loop():
    z = _hand_made()
    memory, censored = measured_memory(z)
    for u in range(z.shape[1]):
        m, c = _naive_memory(z[:, u])
        assert memory[u] == pytest.approx(m, rel=1e-12), u
        assert censored[u] == pytest.approx(c, abs=1e-12), u
    # the backward direction reads time in reverse
    back, back_c = measured_memory(z, reverse=True)
    for u in range(z.shape[1]):
        m, c = _naive_memory(z[::-1, u])
        assert back[u] == pytest.approx(m, rel=1e-12) and back_c[u] == pytest.approx(c, abs=1e-12)


def test_memory_is_not_the_constant_z_approximation_when_z_varies():
    s = unit_summary(np.full((1000, 6), 0.5), _hand_made())
    # 0.999 for 500 steps then 0.001: mean z = 0.5, so 1/(1 - mean z) = 2 steps, but the state
    # really lasts until step 500 from every start before it
    assert s.loc[0, "tau_const"] == pytest.approx(2.0)
    assert s.loc[0, "memory"] == pytest.approx(_naive_memory(_hand_made()[:, 0])[0])
    assert s.loc[0, "memory"] > 100
    # constant z = 0.5: 0.5 > 1/e, 0.25 < 1/e: 2 steps, the approximation agrees (the last start
    # has one step left and is censored at 1)
    assert s.loc[1, "memory"] == pytest.approx((998 * 2 + 1) / 999)
    assert s.loc[1, "tau_const"] == pytest.approx(2.0)
    # z = 1 forever never forgets: every start is censored, tau_const is infinite
    assert s.loc[4, "memory_censored"] == 1.0 and s.loc[4, "tau_const"] == float("inf")
    assert s.loc[1, "memory_censored"] == pytest.approx(1 / 999)  # only the last start


def test_memory_of_a_single_step_is_undefined():
    m, c = measured_memory(np.full((1, 3), 0.5))
    assert np.isnan(m).all() and np.isnan(c).all()


def test_unit_summary_columns():
    z = np.array([[0.5, 0.99, 0.01], [0.5, 0.97, 0.03], [0.5, 1.0, 0.5], [0.5, 0.98, 0.02]])
    r = np.full_like(z, 0.25)
    s = unit_summary(r, z)
    assert list(s.columns) == ["unit", "mean_z", "z_saturated", "z_keeps", "z_writes", "memory",
                               "memory_censored", "tau_const", "mean_r", "r_saturated"]
    assert list(s["unit"]) == [0, 1, 2]
    assert s.loc[0, "mean_z"] == pytest.approx(0.5)
    assert s.loc[1, "tau_const"] == pytest.approx(1 / (1 - (0.99 + 0.97 + 1.0 + 0.98) / 4))
    assert s.loc[1, "z_keeps"] == 1.0 and s.loc[1, "z_writes"] == 0.0       # all four > 0.95
    assert s.loc[2, "z_writes"] == 0.75 and s.loc[2, "z_saturated"] == 0.75  # three of four < 0.05
    assert s.loc[0, "z_saturated"] == 0.0
    assert (s["mean_r"] == 0.25).all() and (s["r_saturated"] == 0.0).all()
    for u in range(3):
        assert s.loc[u, "memory"] == pytest.approx(_naive_memory(z[:, u])[0])
    with pytest.raises(DataError, match="time, units"):
        unit_summary(r, z[:, :2])


def test_unit_order():
    z = _hand_made()
    s = unit_summary(np.full_like(z, 0.5), z)
    assert list(unit_order(s, "unit")) == list(range(6))
    mem = [_naive_memory(z[:, u])[0] for u in range(6)]
    assert list(unit_order(s, "memory")) == sorted(range(6), key=lambda u: (-mem[u], u))
    mz = z.mean(axis=0)
    assert list(unit_order(s, "mean_z")) == sorted(range(6), key=lambda u: (-mz[u], u))
    assert list(unit_order(s, "mean_z", tutorial=True)) == sorted(range(6), key=lambda u: (mz[u], u))
    with pytest.raises(DataError, match="choose one of"):
        unit_order(s, "tau")
