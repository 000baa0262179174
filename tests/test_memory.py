"""Tests for gru_core.memory: sensitivities and impulse responses against finite differences, a
plain nn.GRU run, and a hand-written z loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.memory import impulse_response, input_sensitivity, memory_length
from gru_core.model import Forecaster, ModelConfig


def _model(cell="gru", layers=2, C=2, H=3, U=4):
    torch.manual_seed(0)
    return Forecaster(ModelConfig(input_size=C, hidden_size=U, num_layers=layers, horizon=H, cell=cell)).eval()


def _forecast(model, x: np.ndarray) -> np.ndarray:
    m = model.double()
    with torch.no_grad():
        return m(torch.as_tensor(x).unsqueeze(0))[0].numpy()


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("column", [0, 1])
def test_input_sensitivity_equals_central_differences(cell, column):
    model = _model(cell)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 2))
    S = input_sensitivity(model, x, column=column)
    assert S.shape == (3, 9)
    eps = 1e-6
    fd = np.empty_like(S)
    for t in range(9):
        xp, xm = x.copy(), x.copy()
        xp[t, column] += eps
        xm[t, column] -= eps
        fd[:, t] = (_forecast(model, xp) - _forecast(model, xm)) / (2 * eps)
    np.testing.assert_allclose(S, fd, rtol=1e-5, atol=1e-9)


def _gru_layer(model, k: int) -> nn.GRU:
    """Layer k of the model's GRU as its own nn.GRU."""
    rnn = model.rnn
    one = nn.GRU(rnn.input_size if k == 0 else rnn.hidden_size, rnn.hidden_size, batch_first=True).double()
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, f"{n}_l0").copy_(getattr(rnn, f"{n}_l{k}"))
    return one


@pytest.mark.parametrize("kind", ["impulse", "step"])
def test_impulse_response_equals_two_nn_gru_runs(kind):
    model = _model("gru", layers=2).double()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, 2))
    res = impulse_response(model, x, t0=4, size=0.5, kind=kind, column=1)
    xp = x.copy()
    if kind == "impulse":
        xp[4, 1] += 0.5
    else:
        xp[4:, 1] += 0.5
    np.testing.assert_array_equal(res.x_probe, xp)
    with torch.no_grad():
        l0, l1 = _gru_layer(model, 0), _gru_layer(model, 1)
        hb0 = l0(torch.as_tensor(x).unsqueeze(0))[0]
        hp0 = l0(torch.as_tensor(xp).unsqueeze(0))[0]
        hb1, hp1 = l1(hb0)[0], l1(hp0)[0]
    np.testing.assert_allclose(res.response[0], (hp0 - hb0).abs()[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(res.response[1], (hp1 - hb1).abs()[0].numpy(), atol=1e-12)
    assert np.all(res.response[:, :4] == 0)                       # nothing moves before t0


def test_small_impulse_over_size_is_the_derivative_of_the_state():
    """A finite-difference view: |dh_t/dx_t0| from autograd on nn.GRU equals response / size."""
    model = _model("gru", layers=1, C=1).double()
    x = np.random.default_rng(3).standard_normal((10, 1))
    res = impulse_response(model, x, t0=2, size=1e-7)
    xt = torch.as_tensor(x).unsqueeze(0).requires_grad_(True)
    out = model.rnn(xt)[0][0]                                       # (T, U)
    for t in (2, 5, 9):
        for j in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[t, j], xt, retain_graph=True)
            assert res.response[0, t, j] / 1e-7 == pytest.approx(abs(g[0, 2, 0].item()), rel=1e-5, abs=1e-9)


def test_z_product_equals_a_hand_written_gate_loop():
    model = _model("gru", layers=1, C=1, U=3).double()
    x = np.random.default_rng(4).standard_normal((8, 1))
    res = impulse_response(model, x, t0=3)
    rnn = model.rnn
    U = 3
    W_iz, W_hz = rnn.weight_ih_l0[U:2 * U].detach(), rnn.weight_hh_l0[U:2 * U].detach()
    b_iz, b_hz = rnn.bias_ih_l0[U:2 * U].detach(), rnn.bias_hh_l0[U:2 * U].detach()
    with torch.no_grad():
        hs = rnn(torch.as_tensor(x).unsqueeze(0))[0][0]             # (T, U)
    prod = np.ones(U)
    assert np.all(np.isnan(res.z_product[0, :3])) and np.all(res.z_product[0, 3] == 1)
    for t in range(4, 8):
        z = torch.sigmoid(W_iz @ torch.as_tensor(x[t]) + b_iz + W_hz @ hs[t - 1] + b_hz).numpy()
        prod = prod * z
        np.testing.assert_allclose(res.z_product[0, t], prod, atol=1e-12)


def test_other_cells_give_the_last_layer_and_no_z():
    model = _model("lstm", layers=2)
    res = impulse_response(model, np.zeros((6, 2)), t0=1)
    assert res.z_product is None and res.layers == [1] and res.response.shape == (1, 6, 4)
    with torch.no_grad():
        m = model.double()
        a = m.rnn(torch.as_tensor(res.x_base).unsqueeze(0))[0]
        b = m.rnn(torch.as_tensor(res.x_probe).unsqueeze(0))[0]
    np.testing.assert_allclose(res.response[0], (b - a).abs()[0].numpy(), atol=1e-12)


def test_memory_length_against_a_loop():
    v = np.array([[0, 0, 1.0, 0.5, 0.2, 0.09, 0.05, 0.11, 0.0], [0, 0, 0, 0, 0, 0, 0, 0, 0]])
    got = memory_length(v, t0=2)
    want = []
    for row in v:
        peak, last = row[2:].max(), 0
        for i, a in enumerate(row[2:]):
            if peak > 0 and a >= 0.1 * peak:
                last = i
        want.append(last)
    np.testing.assert_array_equal(got, want)
    assert list(got) == [5, 0]


@pytest.mark.parametrize("call, match", [
    (lambda: input_sensitivity(nn.GRU(1, 2), np.zeros((4, 1))), "Forecaster"),
    (lambda: input_sensitivity(_model(), np.zeros((4, 3))), r"\(time, 2\)"),
    (lambda: input_sensitivity(_model(), np.zeros((4, 2)), column=2), "column 2"),
    (lambda: impulse_response(_model(), np.zeros((4, 2)), t0=4), "outside the window"),
    (lambda: impulse_response(_model(), np.zeros((4, 2)), t0=1, kind="ramp"), "Unknown probe"),
    (lambda: impulse_response(_model(), np.zeros((4, 2)), t0=1, size=0.0), "non-zero"),
])
def test_bad_input_raises_data_error(call, match):
    with pytest.raises(DataError, match=match):
        call()
