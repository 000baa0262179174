"""Tests for gru_core.gradients: dL/dh_t against independent autograd computations, and the
clipping experiment against its own definition (clipped steps are bounded)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gru_core.errors import DataError
from gru_core.gradients import clipping_experiment, grad_through_time, scale_recurrent
from gru_core.model import Forecaster, ModelConfig

CELL_CLASSES = {"gru": nn.GRUCell, "lstm": nn.LSTMCell, "rnn": nn.RNNCell}


def _model(cell: str, layers: int = 2, U: int = 5, C: int = 2, H: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    return Forecaster(ModelConfig(input_size=C, hidden_size=U, num_layers=layers, horizon=H,
                                  cell=cell)).double()


def _retain_grad_loop(model: Forecaster, x, y) -> np.ndarray:
    """The oracle: nn.*Cell copies of each layer, an unrolled loop, retain_grad on every h_t."""
    rnn, cfg = model.rnn, model.cfg
    cells = []
    for k in range(cfg.num_layers):
        c = CELL_CLASSES[cfg.cell](rnn.input_size if k == 0 else cfg.hidden_size,
                                   cfg.hidden_size).double()
        with torch.no_grad():
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(c, n).copy_(getattr(rnn, f"{n}_l{k}"))
        cells.append(c)
    B, T, _ = x.shape
    hs = [[None] * T for _ in cells]
    state = [None] * len(cells)
    for t in range(T):
        inp = x[:, t]
        for k, c in enumerate(cells):
            out = c(inp, state[k])
            h = out[0] if cfg.cell == "lstm" else out
            h.retain_grad()
            hs[k][t] = h
            state[k] = out
            inp = h
    F.mse_loss(model.head(inp), y).backward()
    return np.array([[hs[k][t].grad.norm().item() for t in range(T)] for k in range(len(cells))])


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_equals_retain_grad_on_an_unrolled_cell_loop(cell, layers):
    model = _model(cell, layers)
    x, y = torch.randn(3, 12, 2, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    got = grad_through_time(model, x, y)
    assert got.shape == (layers, 12)
    np.testing.assert_allclose(got, _retain_grad_loop(model, x, y), rtol=1e-10, atol=1e-14)


def test_equals_restarting_the_fused_gru_from_each_state():
    """dL/dh_t = gradient w.r.t. the initial state of nn.GRU run on x[t+1:] from h_t."""
    model = _model("gru", layers=1, C=1)
    x, y = torch.randn(2, 10, 1, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    got = grad_through_time(model, x, y)[0]
    with torch.no_grad():
        out, _ = model.rnn(x)                                         # (B, T, U) every h_t
    for t in range(9):
        h = out[:, t].unsqueeze(0).clone().requires_grad_(True)      # (1, B, U)
        _, h_n = model.rnn(x[:, t + 1:], h)
        F.mse_loss(model.head(h_n[-1]), y).backward()
        assert got[t] == pytest.approx(h.grad.norm().item(), rel=1e-10)
    last = out[:, -1].clone().requires_grad_(True)
    F.mse_loss(model.head(last), y).backward()
    assert got[9] == pytest.approx(last.grad.norm().item(), rel=1e-10)


def test_float32_model_finite_difference_and_model_untouched():
    """One coordinate of dL/dh_t by central differences on a float64 copy; the model is unchanged."""
    model = _model("rnn", layers=1, C=1).float()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(1, 6, 1), torch.randn(1, 3)
    g = grad_through_time(model, x, y)[0]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    m = model.double()
    rnn, xd, yd = m.rnn, x.double(), y.double()

    def loss_with(t: int, e: torch.Tensor) -> float:
        h = torch.zeros(1, 1, rnn.hidden_size, dtype=torch.float64)
        for s in range(6):
            _, h = rnn(xd[:, s:s + 1], h)
            if s == t:
                h = h + e
        return F.mse_loss(m.head(h[-1]), yd).item()

    t, eps = 2, 1e-6
    grad = []
    for j in range(rnn.hidden_size):
        e = torch.zeros(1, 1, rnn.hidden_size, dtype=torch.float64)
        e[..., j] = eps
        grad.append((loss_with(t, e) - loss_with(t, -e)) / (2 * eps))
    assert g[t] == pytest.approx(np.linalg.norm(grad), rel=1e-5)


def test_scale_recurrent_multiplies_only_the_recurrent_weights():
    model = _model("gru", layers=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scale_recurrent(model, 2.5)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k] * (2.5 if k.startswith("rnn.weight_hh") else 1.0))


def test_clipping_bounds_every_step_and_both_runs_share_start_and_batches():
    torch.manual_seed(1)
    X, Y = torch.randn(64, 20, 1), torch.randn(64, 2)
    cfg = ModelConfig(input_size=1, hidden_size=8, num_layers=1, horizon=2, cell="rnn")
    free, clipped = clipping_experiment(X, Y, cfg, lr=0.05, gain=1.0, clip=0.5, steps=12, seed=3)
    assert free.clip == 0 and clipped.clip == 0.5
    assert len(free.grad_norm) == len(clipped.grad_norm) == 12
    assert free.loss[0] == clipped.loss[0] and free.grad_norm[0] == clipped.grad_norm[0]
    # the clipped run's second step: rebuild it by hand (same start, same first batch)
    gen = torch.Generator().manual_seed(3)
    order = torch.randint(0, 64, (12, 32), generator=gen)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = Forecaster(cfg)
    loss = F.mse_loss(model(X[order[0]]), Y[order[0]])
    loss.backward()
    total = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.05 * p.grad * min(1.0, 0.5 / (total.item() + 1e-6))
        assert F.mse_loss(model(X[order[1]]), Y[order[1]]).item() == pytest.approx(clipped.loss[1], rel=1e-5)


def test_exploding_run_is_tamed_by_clipping():
    torch.manual_seed(0)
    t = torch.arange(600, dtype=torch.float32)
    s = torch.sin(t / 5)
    X = s.unfold(0, 40, 1)[:-2].unsqueeze(-1)                        # (N, 40, 1)
    N = X.shape[0]
    Y = torch.stack([s[40:40 + N], s[41:41 + N]], 1)                  # (N, 2) next two values
    cfg = ModelConfig(input_size=1, hidden_size=16, num_layers=1, horizon=2, cell="rnn")
    free, clipped = clipping_experiment(X, Y, cfg, lr=0.5, gain=3.0, clip=1.0, steps=60)
    assert max(free.grad_norm) > 10 * max(clipped.grad_norm[1:] + [1.0]) or free.diverged_at
    assert clipped.diverged_at is None and np.isfinite(clipped.loss).all()


@pytest.mark.parametrize("call, match", [
    (lambda: grad_through_time(nn.GRU(1, 2), torch.zeros(1, 3, 1), torch.zeros(1, 1)), "Forecaster"),
    (lambda: grad_through_time(Forecaster(ModelConfig(horizon=2, bidirectional=True)),
                               torch.zeros(1, 3, 1), torch.zeros(1, 2)), "one-directional"),
    (lambda: grad_through_time(Forecaster(ModelConfig(horizon=2)), torch.zeros(3, 1),
                               torch.zeros(1, 2)), r"\(batch, time, 1\)"),
    (lambda: grad_through_time(Forecaster(ModelConfig(horizon=2)), torch.zeros(1, 3, 1),
                               torch.zeros(1, 3)), "horizon"),
    (lambda: scale_recurrent(Forecaster(ModelConfig()), 0), "gain"),
])
def test_bad_input_raises_data_error(call, match):
    with pytest.raises(DataError, match=match):
        call()
