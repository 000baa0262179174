"""gru_core.text.lm: the from-scratch GRU is nn.GRU's maths; the language model's plumbing."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.model import CELLS
from gru_core.text import CharLM, ScratchGRU, TextConfig, detach_state
from text_fixtures import one_torch_thread  # noqa: F401  (autouse)


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_scratch_gru_equals_nn_gru(layers, dtype, tol):
    torch.manual_seed(layers)
    scratch = ScratchGRU(5, 7, layers).to(dtype)
    ref = nn.GRU(5, 7, layers, batch_first=True).to(dtype)
    ref.load_state_dict(scratch.state_dict())             # the same parameter names and shapes
    x = torch.randn(3, 11, 5, dtype=dtype, requires_grad=True)
    h0 = torch.randn(layers, 3, 7, dtype=dtype)
    out_s, hn_s = scratch(x, h0)
    out_r, hn_r = ref(x, h0)
    assert torch.allclose(out_s, out_r, atol=tol, rtol=0) and torch.allclose(hn_s, hn_r, atol=tol, rtol=0)
    # and the same gradients, for every weight and the input
    w = torch.randn_like(out_r)
    gs = torch.autograd.grad((out_s * w).sum(), [x, *scratch.parameters()])
    gr = torch.autograd.grad((out_r * w).sum(), [x, *ref.parameters()])
    for a, b in zip(gs, gr):
        assert torch.allclose(a, b, atol=tol * 10, rtol=0)


def test_scratch_gru_init_and_conversion():
    scratch = ScratchGRU(4, 6, 2)
    names = dict(nn.GRU(4, 6, 2, batch_first=True).named_parameters())
    assert {k: v.shape for k, v in scratch.named_parameters()} == {k: v.shape for k, v in names.items()}
    assert all(p.abs().max() <= 6 ** -0.5 for p in scratch.parameters())   # nn.GRU's U(-1/sqrt(U), ..)
    x = torch.randn(2, 5, 4)
    assert torch.allclose(scratch.to_nn_gru()(x)[0], scratch(x)[0], atol=1e-6)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("embed_dim", [0, 6])
def test_charlm_shapes_for_every_cell(cell, embed_dim):
    cfg = TextConfig(cell=cell, embed_dim=embed_dim, hidden_size=8, num_layers=2)
    model = CharLM(cfg, 11)
    assert isinstance(model.rnn, CELLS[cell].module)
    logits, state = model(torch.randint(0, 11, (3, 9)))
    assert logits.shape == (3, 9, 11)
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (2, 3, 8)
    assert model.inputs(torch.zeros(1, 2, dtype=torch.long)).shape == (1, 2, embed_dim or 11)


@pytest.mark.parametrize("cell", list(CELLS))
def test_carried_state_equals_one_long_sequence(cell):
    torch.manual_seed(0)
    model = CharLM(TextConfig(cell=cell, hidden_size=6, num_layers=2), 9).eval()
    x = torch.randint(0, 9, (2, 20))
    full, _ = model(x)
    a, s = model(x[:, :8])
    b, _ = model(x[:, 8:], detach_state(s))
    assert torch.allclose(torch.cat([a, b], 1), full, atol=1e-6)


def test_one_hot_input_is_one_hot():
    model = CharLM(TextConfig(hidden_size=4), 5)
    x = torch.tensor([[0, 3, 4]])
    assert torch.equal(model.inputs(x), torch.eye(5)[x])


def test_scratch_model_is_the_same_function_as_the_concise_one():
    torch.manual_seed(1)
    fast = CharLM(TextConfig(hidden_size=6, num_layers=2), 7)
    slow = CharLM(TextConfig(hidden_size=6, num_layers=2, scratch=True), 7)
    slow.load_state_dict(fast.state_dict())
    x = torch.randint(0, 7, (2, 10))
    assert torch.allclose(fast(x)[0], slow(x)[0], atol=1e-5)
    assert isinstance(slow.gru(), nn.GRU) and slow.gru() is not slow.rnn


def test_gates_only_for_a_gru():
    with pytest.raises(DataError, match="only for a GRU"):
        CharLM(TextConfig(cell="lstm", hidden_size=4), 5).gru()
