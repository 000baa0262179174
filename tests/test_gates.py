"""Tests for gru_core.gates: the gate tracer must be nn.GRU, step by step.

Evidence: (1) its h, output and h_n equal nn.GRU's for many shapes and options; (2) its r, z, n, h
equal a naive per-step loop written here from the equations in DESIGN.md §1; (3) the gates obey
their ranges, and each z convention satisfies its own state update recomputed here; (4) the stated
EQUATIONS, evaluated as written, are what nn.GRU computes. Plus the error messages.
Symbols: B batch, T time, C input columns, K layers, U units, D directions.
"""
import re

import numpy as np
import pytest
import torch
from torch import nn

import gru_core.gates as gates
from gru_core.errors import DataError
from gru_core.gates import (EQUATIONS, GateTrace, equations_latex, layer_weights, trace_gates,
                            z_keep_to_write, z_write_to_keep)

B, T, C, U = 3, 9, 4, 6  # batch, time, input columns, units


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads; on a busy 2-core box the thread hand-offs of
    nn.GRU's float32 (oneDNN) path cost seconds. Restored afterwards for other test files."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_gru(num_layers=2, bidirectional=False, bias=True, seed=0, **kw):
    """A seeded random GRU (batch_first) and a matching seeded input and non-zero h0."""
    torch.manual_seed(seed)
    gru = nn.GRU(C, U, num_layers, bias=bias, batch_first=True, bidirectional=bidirectional, **kw)
    with torch.no_grad():
        for p in gru.parameters():  # wider than the default init, still far from saturation
            p.uniform_(-0.6, 0.6)
    D = 2 if bidirectional else 1
    x = torch.randn(B, T, C)  # (B, T, C)
    h0 = 0.5 * torch.randn(D * num_layers, B, U)  # (D*K, B, U)
    return gru, x, h0


def naive_gru(gru, x, h0):
    """Obviously-correct reference: the DESIGN.md §1 equations, one step and one gate at a time.

    Returns {"r": [...], "z": ..., "n": ..., "h": ...} lists indexed [layer][direction], each
    (B, T, U), with backward states stored at the time index they were computed for; "z_tut"
    holds the tutorial gate computed on its own, sigmoid of the negated z pre-activation.
    """
    K, Us = gru.num_layers, gru.hidden_size
    D = 2 if gru.bidirectional else 1
    Bs, Ts, _ = x.shape
    out = {k: [[None] * D for _ in range(K)] for k in ("r", "z", "n", "h", "z_tut")}
    layer_in = x
    for k in range(K):
        for d in range(D):
            W_i, W_h, b_i, b_h = layer_weights(gru, k, d)
            W_ir, W_iz, W_in = W_i.chunk(3)  # (U, C_k) each
            W_hr, W_hz, W_hn = W_h.chunk(3)  # (U, U) each
            b_ir, b_iz, b_in = b_i.chunk(3)  # (U,) each
            b_hr, b_hz, b_hn = b_h.chunk(3)
            h = h0[k * D + d]  # (B, U)
            rs, zs, ns, hs, zts = (torch.zeros(Bs, Ts, Us, dtype=x.dtype) for _ in range(5))
            for t in (range(Ts) if d == 0 else reversed(range(Ts))):
                xt = layer_in[:, t]  # (B, in)
                r = torch.sigmoid(xt @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
                z = torch.sigmoid(xt @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
                n = torch.tanh(xt @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
                zts[:, t] = torch.sigmoid(-(xt @ W_iz.T + b_iz + h @ W_hz.T + b_hz))
                h = (1 - z) * n + z * h
                rs[:, t], zs[:, t], ns[:, t], hs[:, t] = r, z, n, h
            for key, val in zip(("r", "z", "n", "h", "z_tut"), (rs, zs, ns, hs, zts)):
                out[key][k][d] = val
        layer_in = torch.cat(out["h"][k], dim=-1)  # (B, T, D*U) [fwd, bwd]
    return out


# --- equality with nn.GRU ---------------------------------------------------------------------

@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_matches_nn_gru(num_layers, bidirectional, bias, dtype, atol):
    gru, x, h0 = make_gru(num_layers, bidirectional, bias)
    gru = gru.to(dtype)
    x, h0 = x.to(dtype), h0.to(dtype)
    with torch.no_grad():
        output, h_n = gru(x, h0)  # (B, T, D*U), (D*K, B, U)
    tr = trace_gates(gru, x, h0)

    D = 2 if bidirectional else 1
    shape = (num_layers, B, T, U)
    for name in "rznh":
        assert getattr(tr, name).shape == shape
        assert getattr(tr, name).dtype == dtype
        rev = getattr(tr, name + "_reverse")
        assert (rev is None) != bidirectional
        if bidirectional:
            assert rev.shape == shape
    assert tr.output.shape == (B, T, D * U) and tr.h_n.shape == (D * num_layers, B, U)
    assert tr.bidirectional == bidirectional

    torch.testing.assert_close(tr.output, output, atol=atol, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=atol, rtol=0)
    torch.testing.assert_close(tr.h[-1], output[..., :U], atol=atol, rtol=0)
    if bidirectional:
        torch.testing.assert_close(tr.h_reverse[-1], output[..., U:], atol=atol, rtol=0)
        assert torch.equal(torch.cat([tr.h[-1], tr.h_reverse[-1]], dim=-1), tr.output)
        # backward final state = state at t = 0; forward final state = state at t = T-1
        assert torch.equal(tr.h_n[1::2], tr.h_reverse[:, :, 0])
    assert torch.equal(tr.h_n[::D], tr.h[:, :, -1])


def test_default_h0_is_zeros():
    gru, x, _ = make_gru(2, bidirectional=True)
    with torch.no_grad():
        output, h_n = gru(x)
    tr = trace_gates(gru, x)
    torch.testing.assert_close(tr.output, output, atol=1e-5, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=1e-5, rtol=0)


def test_block_boundaries(monkeypatch):
    """Long series are walked in blocks of timesteps; the seams must be invisible."""
    monkeypatch.setattr(gates, "_BLOCK", 4)  # T = 9 -> blocks 4, 4, 1
    gru, x, h0 = make_gru(2, bidirectional=True)
    gru, x, h0 = gru.double(), x.double(), h0.double()
    with torch.no_grad():
        output, h_n = gru(x, h0)
    tr = trace_gates(gru, x, h0)
    torch.testing.assert_close(tr.output, output, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=1e-12, rtol=0)


def test_dropout_not_applied():
    gru, x, h0 = make_gru(3, dropout=0.5)
    gru.train()  # even in training mode the trace has inference semantics
    tr = trace_gates(gru, x, h0)
    with torch.no_grad():
        output, _ = gru.eval()(x, h0)
    torch.testing.assert_close(tr.output, output, atol=1e-5, rtol=0)


# --- equality with the naive reference, gate by gate -----------------------------------------

@pytest.mark.parametrize("bidirectional, bias", [(False, True), (True, True), (True, False)])
def test_matches_naive_reference(bidirectional, bias):
    gru, x, h0 = make_gru(2, bidirectional, bias, seed=1)
    gru, x, h0 = gru.double(), x.double(), h0.double()
    ref = naive_gru(gru, x, h0)
    tr = trace_gates(gru, x, h0)
    for name in "rznh":
        for k in range(2):
            torch.testing.assert_close(getattr(tr, name)[k], ref[name][k][0], atol=1e-12, rtol=0)
            if bidirectional:
                torch.testing.assert_close(
                    getattr(tr, name + "_reverse")[k], ref[name][k][1], atol=1e-12, rtol=0
                )


def test_reverse_aligned_to_original_time():
    """The backward cell reads x_{T-1} first: its state at index T-1 depends on x_{T-1} only."""
    gru, x, h0 = make_gru(1, bidirectional=True)
    tr = trace_gates(gru, x, h0)
    tr_last = trace_gates(gru, x[:, -1:], h0)  # a one-step sequence: just x_{T-1}
    torch.testing.assert_close(tr.h_reverse[:, :, -1], tr_last.h_reverse[:, :, 0])
    torch.testing.assert_close(tr.z_reverse[:, :, -1], tr_last.z_reverse[:, :, 0])


# --- gate ranges and z conventions -----------------------------------------------------------

def test_gate_ranges():
    gru, x, h0 = make_gru(3, bidirectional=True)
    tr = trace_gates(gru, x, h0)
    for g in (tr.r, tr.z, tr.r_reverse, tr.z_reverse):
        assert bool(((g > 0) & (g < 1)).all())
    for n in (tr.n, tr.n_reverse):
        assert bool(((n > -1) & (n < 1)).all())


def _prev_states(h, h0_kd, reverse):
    """(B, T, U) the state each step read: h_{t-1} forward (h0 first), h_{t+1} backward."""
    if reverse:
        return torch.cat([h[:, 1:], h0_kd[:, None]], dim=1)
    return torch.cat([h0_kd[:, None], h[:, :-1]], dim=1)


def test_z_conventions_each_satisfy_their_own_update():
    """The tutorial gate z' = z_keep_to_write(z) satisfies the tutorial update
    h_t = (1 - z') h_{t-1} + z' n_t (recomputed here, every layer, direction and step), and
    z_write_to_keep turns the tutorial gate -- computed independently in the naive loop as
    sigmoid(-pre-activation) -- into the trace's z."""
    gru, x, h0 = make_gru(2, bidirectional=True, seed=3)
    gru, x, h0 = gru.double(), x.double(), h0.double()
    tr = trace_gates(gru, x, h0)
    ref = naive_gru(gru, x, h0)
    for k in range(2):
        for d, sfx in enumerate(("", "_reverse")):
            z, n, h = (getattr(tr, g + sfx)[k] for g in "znh")  # (B, T, U)
            h_prev = _prev_states(h, h0[k * 2 + d], reverse=d == 1)
            zw = z_keep_to_write(z)
            torch.testing.assert_close((1 - zw) * h_prev + zw * n, h, atol=1e-12, rtol=0)
            torch.testing.assert_close(tr.z_write(reverse=d == 1)[k], zw, atol=0, rtol=0)
            torch.testing.assert_close(z_write_to_keep(ref["z_tut"][k][d]), z, atol=1e-12, rtol=0)
    # plain numbers and numpy arrays: a gate that keeps 25 % writes 75 %
    assert z_keep_to_write(0.25) == 0.75 and z_write_to_keep(0.75) == 0.25
    np.testing.assert_allclose(z_keep_to_write(np.array([0.1, 0.9])), [0.9, 0.1])


# --- the stated equations and the weight blocks ----------------------------------------------

def _evaluate_text(text: str, env: dict) -> torch.Tensor:
    """Evaluate one EQUATIONS plain-text right-hand side as written: juxtaposition ``W_ir x_t``
    is a matrix product, ``*`` elementwise, ``h_{t-1}`` the previous state."""
    rhs = text.split("=", 1)[1].replace("h_{t-1}", "h_prev")
    rhs = re.sub(r"\b(W_\w+) (\w+)", r"(\2 @ \1.T)", rhs)
    return eval(rhs, {"sigmoid": torch.sigmoid, "tanh": torch.tanh}, env)  # noqa: S307 -- our text


def test_equations_as_written_are_what_nn_gru_computes():
    """EQUATIONS' plain text, evaluated literally, gives nn.GRU's output (one layer, 9 steps)."""
    assert [e.name for e in EQUATIONS] == ["r", "z", "n", "h"]
    gru, x, h0 = make_gru(1, seed=4)
    gru, x, h0 = gru.double(), x.double(), h0.double()
    with torch.no_grad():
        output, _ = gru(x, h0)  # (B, T, U)
        W_i, W_h, b_i, b_h = layer_weights(gru, 0, 0)
        env = dict(zip(["W_ir", "W_iz", "W_in"], W_i.chunk(3)))
        env.update(zip(["W_hr", "W_hz", "W_hn"], W_h.chunk(3)))
        env.update(zip(["b_ir", "b_iz", "b_in"], b_i.chunk(3)))
        env.update(zip(["b_hr", "b_hz", "b_hn"], b_h.chunk(3)))
        h_prev = h0[0]
        for t in range(T):
            env.update(x_t=x[:, t], h_prev=h_prev)
            for e in EQUATIONS:
                env[f"{e.name}_t"] = _evaluate_text(e.text, env)
            torch.testing.assert_close(env["h_t"], output[:, t], atol=1e-12, rtol=0)
            h_prev = env["h_t"]
    latex = equations_latex()
    assert all(e.latex.split(" = ", 1)[1] in latex and e.role in latex for e in EQUATIONS)
    assert latex.count(r"\\") == len(EQUATIONS) - 1
    assert all(e.text in gates.__doc__ for e in EQUATIONS)  # the docstring shows them


@pytest.mark.parametrize("bias", [True, False])
def test_layer_weights_are_the_named_parameters(bias):
    gru, _, _ = make_gru(2, bidirectional=True, bias=bias)
    for k in range(2):
        for d, sfx in enumerate(("", "_reverse")):
            W_i, W_h, b_i, b_h = layer_weights(gru, k, d)
            assert W_i is getattr(gru, f"weight_ih_l{k}{sfx}")
            assert W_h is getattr(gru, f"weight_hh_l{k}{sfx}")
            assert W_i.shape == (3 * U, C if k == 0 else 2 * U) and W_h.shape == (3 * U, U)
            if bias:
                assert b_i is getattr(gru, f"bias_ih_l{k}{sfx}")
                assert b_h is getattr(gru, f"bias_hh_l{k}{sfx}")
            else:
                assert torch.equal(b_i, torch.zeros(3 * U)) and torch.equal(b_h, torch.zeros(3 * U))
    with pytest.raises(DataError, match="not bidirectional"):
        layer_weights(make_gru(1)[0], 0, 1)
    with pytest.raises(DataError, match="from 0 to 1"):
        layer_weights(gru, 2, 0)
    with pytest.raises(DataError, match="torch.nn.GRU"):
        layer_weights(nn.LSTM(C, U, batch_first=True), 0, 0)


def test_layer_weight_blocks_are_r_z_n_in_that_order():
    """One step of nn.GRUCell (which never exposes its gates) from the blocks read as (r, z, n):
    h = (1 - z) n + z h_prev must equal GRUCell's h for these blocks and no other order."""
    gru, x, h0 = make_gru(1, seed=5)
    gru, x, h0 = gru.double(), x.double(), h0.double()
    cell = nn.GRUCell(C, U).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(gru, name + "_l0"))
        want = cell(x[:, 0], h0[0])  # (B, U)
        W_i, W_h, b_i, b_h = layer_weights(gru, 0)
        gi = (x[:, 0] @ W_i.T + b_i).chunk(3, dim=-1)
        gh = (h0[0] @ W_h.T + b_h).chunk(3, dim=-1)
        r, z = torch.sigmoid(gi[0] + gh[0]), torch.sigmoid(gi[1] + gh[1])
        n = torch.tanh(gi[2] + r * gh[2])
    torch.testing.assert_close((1 - z) * n + z * h0[0], want, atol=1e-12, rtol=0)


def test_z_write_reverse_needs_bidirectional():
    gru, x, h0 = make_gru(1)
    tr = trace_gates(gru, x, h0)
    with pytest.raises(DataError, match="not bidirectional"):
        tr.z_write(reverse=True)


# --- dtype, device, autograd hygiene ---------------------------------------------------------

def test_casts_input_to_weight_dtype():
    gru, x, h0 = make_gru(1)
    tr = trace_gates(gru, x.double(), h0.double())  # float32 weights -> float32 trace
    assert tr.h.dtype == torch.float32 and tr.output.dtype == torch.float32
    tr_int = trace_gates(gru, torch.ones(2, 5, C, dtype=torch.int64))
    assert tr_int.h.dtype == torch.float32
    tr64 = trace_gates(gru.double(), x)  # float64 weights -> float64 trace
    assert tr64.h.dtype == torch.float64


def test_results_are_ordinary_tensors_without_grad():
    gru, x, h0 = make_gru(2, bidirectional=True)
    params = [p.detach().clone() for p in gru.parameters()]
    tr = trace_gates(gru, x, h0)
    assert isinstance(tr, GateTrace)
    for t in (tr.r, tr.z, tr.n, tr.h, tr.h_reverse, tr.output, tr.h_n):
        assert not t.requires_grad and not torch.is_inference(t)
    tr.h.mul_(2)  # in-place use is allowed (not inference tensors)
    for p, q in zip(gru.parameters(), params):  # the GRU is untouched
        assert torch.equal(p, q)


def test_numpy_input_accepted():
    gru, x, _ = make_gru(1)
    tr = trace_gates(gru, x.numpy())
    torch.testing.assert_close(tr.output, trace_gates(gru, x).output)


# --- errors ----------------------------------------------------------------------------------

def test_error_batch_first_false():
    gru = nn.GRU(C, U, batch_first=False)
    with pytest.raises(DataError, match="batch_first=True"):
        trace_gates(gru, torch.randn(B, T, C))


def test_error_unbatched_input():
    gru, x, _ = make_gru(1)
    with pytest.raises(DataError, match=r"x\.unsqueeze\(0\)"):
        trace_gates(gru, x[0])


def test_error_wrong_rank():
    gru, x, _ = make_gru(1)
    with pytest.raises(DataError, match="3 dimensions"):
        trace_gates(gru, x[None])
    with pytest.raises(DataError, match="3 dimensions"):
        trace_gates(gru, torch.randn(T))


def test_error_input_size_mismatch():
    gru, _, _ = make_gru(1)
    with pytest.raises(DataError, match=f"input_size={C}"):
        trace_gates(gru, torch.randn(B, T, C + 1))


def test_error_h0_shape():
    gru, x, h0 = make_gru(2, bidirectional=True)
    with pytest.raises(DataError, match=r"h0 has shape \(4, 3, 6\).*\(4, 2, 6\)"):
        trace_gates(gru, x[:2], h0)
    with pytest.raises(DataError, match="h0=None"):
        trace_gates(gru, x, h0[0])


def test_error_not_a_gru():
    lstm = nn.LSTM(C, U, batch_first=True)
    with pytest.raises(DataError, match="torch.nn.GRU"):
        trace_gates(lstm, torch.randn(B, T, C))


def test_error_empty_and_non_finite():
    gru, x, _ = make_gru(1)
    with pytest.raises(DataError, match="at least one"):
        trace_gates(gru, x[:, :0])
    bad = x.clone()
    bad[0, 3, 1] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        trace_gates(gru, bad)


def test_data_error_is_value_error():
    gru = nn.GRU(C, U, batch_first=False)
    with pytest.raises(ValueError):
        trace_gates(gru, torch.randn(B, T, C))
