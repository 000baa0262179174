"""Tests for gru_core.cell: one step equals nn.GRUCell; both reset forms equal formulas written here."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from gru_core.cell import (PRESETS, SEQUENCES, CellWeights, gru_step, input_sequence,
                           preset_weights, run_cell, step_latex, weights_from_gru)
from gru_core.errors import DataError


def _gru_cell(w: CellWeights) -> nn.GRUCell:
    """An nn.GRUCell holding exactly the weights ``w``."""
    cell = nn.GRUCell(1, w.hidden_size).double()
    with torch.no_grad():
        cell.weight_ih.copy_(w.W_i)
        cell.weight_hh.copy_(w.W_h)
        cell.bias_ih.copy_(w.b_i)
        cell.bias_hh.copy_(w.b_h)
    return cell


def _sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def _naive_forms(w: CellWeights, x: float, h: list[float]):
    """Both candidate forms and both new states, with Python floats and explicit sums."""
    U = w.hidden_size
    Wi, Wh, bi, bh = (t.tolist() for t in (w.W_i, w.W_h, w.b_i, w.b_h))
    dot = lambda row: sum(Wh[row][m] * h[m] for m in range(U))   # noqa: E731
    r = [_sig(Wi[j][0] * x + bi[j] + dot(j) + bh[j]) for j in range(U)]
    z = [_sig(Wi[U + j][0] * x + bi[U + j] + dot(U + j) + bh[U + j]) for j in range(U)]
    after = [math.tanh(Wi[2 * U + j][0] * x + bi[2 * U + j] + r[j] * (dot(2 * U + j) + bh[2 * U + j]))
             for j in range(U)]
    rh = [r[m] * h[m] for m in range(U)]
    before = [math.tanh(Wi[2 * U + j][0] * x + bi[2 * U + j]
                        + sum(Wh[2 * U + j][m] * rh[m] for m in range(U)) + bh[2 * U + j])
              for j in range(U)]
    new = lambda n: [(1 - z[j]) * n[j] + z[j] * h[j] for j in range(U)]   # noqa: E731
    return r, z, after, before, new(after), new(before)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("U", [1, 2, 4])
def test_one_step_equals_nn_grucell(preset, U):
    w = preset_weights(preset, U, seed=3)
    cell = _gru_cell(w)
    for x, h in ((0.7, [0.3, -0.5, 0.9, 0.1][:U]), (-1.2, [-0.8, 0.4, 0.0, 0.6][:U])):
        s = gru_step(w, x, h)
        ref = cell(torch.tensor([[x]], dtype=torch.float64), torch.tensor([h], dtype=torch.float64))
        torch.testing.assert_close(s.h, ref[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("U", [1, 3])
def test_both_reset_forms_equal_hand_written_formulas(U):
    w = preset_weights("random", U, seed=11)
    w.b_h += 0.4                     # a clear b_hn, so the forms differ even for U = 1
    h = [0.5, -0.7, 0.2][:U]
    s = gru_step(w, 0.9, h)
    r, z, after, before, h_after, h_before = _naive_forms(w, 0.9, h)
    np.testing.assert_allclose(s.r, r, atol=1e-12)
    np.testing.assert_allclose(s.z, z, atol=1e-12)
    np.testing.assert_allclose(s.n, after, atol=1e-12)
    np.testing.assert_allclose(s.n_before, before, atol=1e-12)
    np.testing.assert_allclose(s.h, h_after, atol=1e-12)
    np.testing.assert_allclose(s.h_before, h_before, atol=1e-12)
    assert np.max(np.abs(np.subtract(after, before))) > 1e-3      # really two different functions


def test_presets_saturate_the_named_gate():
    s = gru_step(preset_weights("remembers", 2), 1.0, [0.5, -0.5])
    assert torch.all(s.z > 0.98)
    torch.testing.assert_close(s.h, s.h_prev, atol=0.03, rtol=0)       # h' close to h
    s = gru_step(preset_weights("forgets", 2), 1.0, [0.5, -0.5])
    assert torch.all(s.z < 0.02)
    torch.testing.assert_close(s.h, s.n, atol=0.03, rtol=0)            # h' close to n
    s = gru_step(preset_weights("resets", 2), 1.0, [0.5, -0.5])
    assert torch.all(s.r < 0.02)


def test_run_cell_equals_a_grucell_loop_and_the_paper_cell_runs_on_its_own_state():
    w = preset_weights("random", 3, seed=5)
    xs = input_sequence("sine", 20)
    run = run_cell(w, xs, 0.2)
    cell = _gru_cell(w)
    h = torch.full((1, 3), 0.2, dtype=torch.float64)
    hb = [0.2, 0.2, 0.2]
    for t, x in enumerate(xs):
        h = cell(torch.tensor([[x]], dtype=torch.float64), h)
        np.testing.assert_allclose(run.h[t], h[0].detach().numpy(), atol=1e-12)
        hb = _naive_forms(w, float(x), hb)[5]
        np.testing.assert_allclose(run.h_before[t], hb, atol=1e-12)


def test_weights_from_a_trained_gru_are_its_rows():
    torch.manual_seed(0)
    gru = nn.GRU(1, 6, batch_first=True)
    w = weights_from_gru(gru, [4])
    assert w.hidden_size == 1 and "unit(s) 4" in w.source and "read as 0" in w.source
    assert float(w.block("W_h", "z")[0, 0]) == pytest.approx(float(gru.weight_hh_l0[6 + 4, 4].detach()))
    assert weights_from_gru(gru, [5, 0, 2]).hidden_size == 3
    # every unit of a 2-unit GRU: the stepper's step equals the GRU's own first step
    g1 = nn.GRU(1, 2, batch_first=True)
    w2 = weights_from_gru(g1, [0, 1])
    out, _ = g1(torch.tensor([[[0.8]]]))
    np.testing.assert_allclose(gru_step(w2, 0.8, [0.0, 0.0]).h.numpy(), out[0, 0].detach().numpy(),
                               atol=1e-6)


def test_latex_shows_the_step_numbers_in_both_conventions():
    s = gru_step(preset_weights("random", 2, seed=1), 0.5, [0.1, -0.2])
    tex = step_latex(s, unit=1)
    assert f"{float(s.z[1]):.3f}" in tex["z"] and f"{1 - float(s.z[1]):.3f}" in tex["h_tutorial"]
    assert tex["h_torch"].endswith(f"{float(s.h[1]):.3f}") or tex["h_torch"].endswith(f"({float(s.h[1]):.3f})")
    assert r"r \odot h" in tex["n_before"] and "r_1" in tex["n_after"]


@pytest.mark.parametrize("kind", list(SEQUENCES))
def test_input_sequences(kind):
    xs = input_sequence(kind, 24, window=np.arange(30.0))
    assert xs.shape == (24,) and np.all(np.isfinite(xs))


@pytest.mark.parametrize("call, match", [
    (lambda: preset_weights("sticky"), "Unknown preset"),
    (lambda: preset_weights("random", 5), "1 to 4 units"),
    (lambda: gru_step(preset_weights(), 0.0, [1.0, 2.0, 3.0]), "h_prev must be 2"),
    (lambda: gru_step(preset_weights(), float("nan"), 0.0), "finite"),
    (lambda: input_sequence("window", 10), "No data window"),
    (lambda: weights_from_gru(nn.LSTM(1, 3), [0]), "needs a GRU"),
    (lambda: weights_from_gru(nn.GRU(1, 3), [0, 3]), "units 0 to 2"),
])
def test_bad_input_raises_data_error(call, match):
    with pytest.raises(DataError, match=match):
        call()
