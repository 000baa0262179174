"""Tests for gru_core.gates: the gate tracer must be nn.GRU, step by step.

Three kinds of evidence: (1) its h, output and h_n equal nn.GRU's for many shapes and options;
(2) its r, z, n, h equal a naive per-step loop written here from the equations in DESIGN.md §1;
(3) the gates obey their ranges and the z conventions round-trip. Plus the error messages.
"""
import numpy as np
import pytest
import torch
from torch import nn

import gru_core.gates as gates
from gru_core.errors import DataError
from gru_core.gates import GateTrace, trace_gates, z_keep_to_write, z_write_to_keep

B, T, C, H = 3, 9, 4, 6  # batch, time, input_size, hidden_size


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
    gru = nn.GRU(C, H, num_layers, bias=bias, batch_first=True, bidirectional=bidirectional, **kw)
    with torch.no_grad():
        for p in gru.parameters():  # wider than the default init, still far from saturation
            p.uniform_(-0.6, 0.6)
    D = 2 if bidirectional else 1
    x = torch.randn(B, T, C)  # (B, T, C)
    h0 = 0.5 * torch.randn(D * num_layers, B, H)  # (D*L, B, H)
    return gru, x, h0


def naive_gru(gru, x, h0):
    """Obviously-correct reference: the DESIGN.md §1 equations, one step and one gate at a time.

    Returns {"r": [...], "z": ..., "n": ..., "h": ...} lists indexed [layer][direction], each
    (B, T, H), with backward states stored at the time index they were computed for.
    """
    L, Hs = gru.num_layers, gru.hidden_size
    D = 2 if gru.bidirectional else 1
    Bs, Ts, _ = x.shape
    out = {k: [[None] * D for _ in range(L)] for k in "rznh"}
    layer_in = x
    for k in range(L):
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            W_ir, W_iz, W_in = getattr(gru, "weight_ih" + sfx).chunk(3)  # (H, in) each
            W_hr, W_hz, W_hn = getattr(gru, "weight_hh" + sfx).chunk(3)  # (H, H) each
            if gru.bias:
                b_ir, b_iz, b_in = getattr(gru, "bias_ih" + sfx).chunk(3)
                b_hr, b_hz, b_hn = getattr(gru, "bias_hh" + sfx).chunk(3)
            else:
                b_ir = b_iz = b_in = b_hr = b_hz = b_hn = torch.zeros(Hs, dtype=x.dtype)
            h = h0[k * D + d]  # (B, H)
            rs, zs, ns, hs = (torch.zeros(Bs, Ts, Hs, dtype=x.dtype) for _ in range(4))
            for t in (range(Ts) if d == 0 else reversed(range(Ts))):
                xt = layer_in[:, t]  # (B, in)
                r = torch.sigmoid(xt @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
                z = torch.sigmoid(xt @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
                n = torch.tanh(xt @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
                h = (1 - z) * n + z * h
                rs[:, t], zs[:, t], ns[:, t], hs[:, t] = r, z, n, h
            for key, val in zip("rznh", (rs, zs, ns, hs)):
                out[key][k][d] = val
        layer_in = torch.cat(out["h"][k], dim=-1)  # (B, T, D*H) [fwd, bwd]
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
        output, h_n = gru(x, h0)  # (B, T, D*H), (D*L, B, H)
    tr = trace_gates(gru, x, h0)

    D = 2 if bidirectional else 1
    shape = (num_layers, B, T, H)
    for name in "rznh":
        assert getattr(tr, name).shape == shape
        assert getattr(tr, name).dtype == dtype
        rev = getattr(tr, name + "_reverse")
        assert (rev is None) != bidirectional
        if bidirectional:
            assert rev.shape == shape
    assert tr.output.shape == (B, T, D * H) and tr.h_n.shape == (D * num_layers, B, H)
    assert tr.bidirectional == bidirectional

    torch.testing.assert_close(tr.output, output, atol=atol, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=atol, rtol=0)
    torch.testing.assert_close(tr.h[-1], output[..., :H], atol=atol, rtol=0)
    if bidirectional:
        torch.testing.assert_close(tr.h_reverse[-1], output[..., H:], atol=atol, rtol=0)
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


def test_z_conventions():
    gru, x, h0 = make_gru(2, bidirectional=True)
    tr = trace_gates(gru, x, h0)
    torch.testing.assert_close(tr.z_write(), 1 - tr.z, atol=0, rtol=0)
    torch.testing.assert_close(tr.z_write(reverse=True), 1 - tr.z_reverse, atol=0, rtol=0)
    torch.testing.assert_close(z_write_to_keep(z_keep_to_write(tr.z)), tr.z, atol=1e-7, rtol=0)
    torch.testing.assert_close(z_keep_to_write(z_write_to_keep(tr.z)), tr.z, atol=1e-7, rtol=0)
    # the tutorial update h = (1 - z') h_prev + z' n gives the same h as PyTorch's
    zw = tr.z_write()[0, :, 1]
    h_prev, n = tr.h[0, :, 0], tr.n[0, :, 1]
    torch.testing.assert_close((1 - zw) * h_prev + zw * n, tr.h[0, :, 1], atol=1e-6, rtol=0)
    # also plain numbers and numpy arrays
    assert z_keep_to_write(0.25) == 0.75 and z_write_to_keep(0.75) == 0.25
    np.testing.assert_allclose(z_keep_to_write(np.array([0.1, 0.9])), [0.9, 0.1])


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
    gru = nn.GRU(C, H, batch_first=False)
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
    lstm = nn.LSTM(C, H, batch_first=True)
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
    gru = nn.GRU(C, H, batch_first=False)
    with pytest.raises(ValueError):
        trace_gates(gru, torch.randn(B, T, C))
