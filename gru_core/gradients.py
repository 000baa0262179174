"""Gradients through time: how much the loss at the end of a window hears each earlier state.

For a forecaster that reads x_0 .. x_{T-1} and forecasts from its last state, backpropagation
through time sends the loss gradient back along the recurrence::

    dL/dh_t = dL/dh_{t+1} * dh_{t+1}/dh_t  (+ the path into the layer above at the same t)

:func:`grad_through_time` returns ``||dL/dh_t^(k)||`` for every layer k and timestep t: the
*total* derivative (every path from h_t to the loss), L2 norm over batch and units. A plain tanh
RNN multiplies by ``W_hh^T diag(1 - h^2)`` at every step, so the norm typically falls by orders
of magnitude towards t = 0 ("vanishing gradient") or, with large recurrent weights, grows
("exploding gradient"); a GRU's update gate adds a path ``z * h_{t-1}`` along which the gradient
is multiplied by z, close to 1 where the unit remembers, so its curve stays flatter.

How it is computed (one backward pass): the network is unrolled one step and one layer at a
time with the model's own weights (a one-layer module of the same class per layer, holding that layer's
parameters, so any registered cell with the ``nn.RNN`` interface works), a zero "probe" is added
to every state h_t^(k) before it is used, and ``torch.autograd.grad`` of the loss with respect to
the probes is dL/dh_t^(k). tests/test_gradients.py checks it against an independent hand-written
loop with ``retain_grad`` on each state, against re-running the fused ``nn.GRU`` from each h_t, and
against finite differences.

Also here: :func:`scale_recurrent` (a recurrent-weight gain, to make gradients vanish or explode
at initialisation) and :func:`clipping_experiment` (plain SGD with and without gradient clipping,
the per-step gradient-norm history of both).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gru_core.errors import DataError
from gru_core.model import Forecaster, ModelConfig

__all__ = ["grad_through_time", "scale_recurrent", "ClipHistory", "clipping_experiment"]


def _layers(rnn: nn.Module) -> list[nn.Module]:
    """One single-layer module of ``rnn``'s class per layer, holding that layer's own parameters
    (the same Parameter objects, not copies)."""
    out = []
    for k in range(rnn.num_layers):
        width = rnn.input_size if k == 0 else rnn.hidden_size
        one = type(rnn)(width, rnn.hidden_size, num_layers=1, bias=rnn.bias, batch_first=True,
                        device="meta",  # no storage, no draw from the global RNG
                        **({"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}))
        for name, p in rnn.named_parameters():
            if name.endswith(f"_l{k}"):
                setattr(one, name.replace(f"_l{k}", "_l0"), p)  # RNNBase re-points its weights
        out.append(one)
    return out


def _check(model, x, y) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(model, Forecaster):
        raise DataError(f"grad_through_time needs a gru_core Forecaster, got {type(model).__name__}.")
    if model.cfg.bidirectional:
        raise DataError("Gradients through time are shown for one-directional models only: train "
                        "the model with 'Bidirectional' off.")
    w = model.rnn.weight_hh_l0
    x = torch.as_tensor(x).to(device=w.device, dtype=w.dtype)
    y = torch.as_tensor(y).to(device=w.device, dtype=w.dtype)
    if x.dim() != 3 or x.shape[2] != model.cfg.input_size or x.shape[1] == 0:
        raise DataError(f"x must be shaped (batch, time, {model.cfg.input_size}); got "
                        f"{tuple(x.shape)}. Pass windows like dataset.test.X[:1].")
    if y.shape != (x.shape[0], model.cfg.horizon):
        raise DataError(f"y must be shaped (batch, horizon) = ({x.shape[0]}, {model.cfg.horizon}); "
                        f"got {tuple(y.shape)}.")
    return x, y


def grad_through_time(model: Forecaster, x: torch.Tensor, y: torch.Tensor,
                      dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Norm of dloss/dh_t for every layer and timestep, loss = MSE(model(x), y).

    Parameters
    ----------
    model : Forecaster
        One-directional; any registered cell (GRU, LSTM, RNN). For an LSTM h_t is the output
        state (the cell state c_t is not probed). Dropout is not applied (eval semantics).
    x : torch.Tensor
        (B, T, C) windows in scaled units (T may differ from the training lookback).
    y : torch.Tensor
        (B, H) targets in scaled units.
    dtype : torch.dtype
        Precision of the computation, on a copy of the model (float64 by default: norms that
        vanish to 1e-40 and below are still resolved instead of rounding to 0 as in float32).

    Returns
    -------
    np.ndarray
        (K, T) float64: ``[k, t]`` is ``||dL/dh_t^(k)||_2`` over batch and units.
    """
    model = copy.deepcopy(model).to(dtype)
    x, y = _check(model, x, y)
    rnn = model.rnn
    B, T, _ = x.shape  # batch, time, columns
    U, lstm = rnn.hidden_size, isinstance(rnn, nn.LSTM)
    layers = _layers(rnn)
    probes = torch.zeros(len(layers), T, B, U, dtype=x.dtype, device=x.device,
                         requires_grad=True)  # (K, T, B, U) zero perturbations of every h_t^(k)
    zero = x.new_zeros(1, B, U)
    state = [(zero, zero) if lstm else zero for _ in layers]
    with torch.enable_grad():
        for t in range(T):
            inp = x[:, t:t + 1]  # (B, 1, C)
            for k, one in enumerate(layers):
                _, hk = one(inp, state[k])  # (1, B, U) (LSTM: (h, c))
                h = (hk[0] if lstm else hk) + probes[k, t]  # (1, B, U) h_t^(k) + probe
                state[k] = (h, hk[1]) if lstm else h
                inp = h.transpose(0, 1)  # (B, 1, U) input of layer k+1
        loss = F.mse_loss(model.head(inp[:, 0]), y)  # scaled units
        (g,) = torch.autograd.grad(loss, probes)  # (K, T, B, U)
    return g.flatten(2).norm(dim=2).double().cpu().numpy()  # (K, T)


@torch.no_grad()
def scale_recurrent(model: Forecaster, gain: float) -> Forecaster:
    """Multiply every recurrent weight matrix ``weight_hh_l*`` by ``gain`` (in place).

    A gain above 1 makes the recurrence amplify (gradients can explode), below 1 damp (they
    vanish faster). Returns the model.
    """
    if not (isinstance(gain, (int, float)) and math.isfinite(gain) and 0 < gain <= 20):
        raise DataError(f"The recurrent-weight gain must be a number in (0, 20]; got {gain!r}.")
    for name, p in model.rnn.named_parameters():
        if name.startswith("weight_hh"):
            p.mul_(gain)
    return model


@dataclass
class ClipHistory:
    """Per-step record of one :func:`clipping_experiment` run (scaled-unit MSE losses)."""

    clip: float                                       # max norm; 0 = no clipping
    grad_norm: list[float] = field(default_factory=list)   # global norm before clipping
    loss: list[float] = field(default_factory=list)        # training loss of the step
    diverged_at: int | None = None                    # first step with a non-finite loss / norm


def clipping_experiment(X: torch.Tensor, Y: torch.Tensor, cfg: ModelConfig, *, lr: float = 0.5,
                        gain: float = 3.0, clip: float = 1.0, steps: int = 150, batch: int = 32,
                        seed: int = 0) -> tuple[ClipHistory, ClipHistory]:
    """Train the same model twice with plain SGD, without and with gradient clipping.

    Both runs start from the same seeded weights with the recurrent weights scaled by ``gain``
    (:func:`scale_recurrent`) and see the same batches. Plain SGD (``w -= lr * g``) shows what a
    large gradient does to a step: without clipping the step is as large as the gradient; with
    clipping the gradient is rescaled to norm ``clip`` first (``clip_grad_norm_``). A run that
    produces a non-finite loss stops there (``diverged_at``).

    Returns
    -------
    (ClipHistory, ClipHistory)
        Without clipping, with clipping.
    """
    if not (isinstance(clip, (int, float)) and clip > 0):
        raise DataError(f"The clipping threshold must be > 0; got {clip!r}.")
    if X.shape[0] == 0:
        raise DataError("There are no training windows for the clipping experiment: use a longer "
                        "series or a shorter lookback.")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randint(0, X.shape[0], (steps, min(batch, X.shape[0])), generator=gen)  # (S, B)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        start = scale_recurrent(Forecaster(cfg), gain).state_dict()
    out = []
    for max_norm in (0.0, float(clip)):
        model = Forecaster(cfg)
        model.load_state_dict(start)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        hist = ClipHistory(clip=max_norm)
        for s, idx in enumerate(order):
            xb, yb = X[idx], Y[idx]  # (B, L, C), (B, H)
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(xb), yb)
            loss.backward()
            params = [p for p in model.parameters() if p.grad is not None]
            norm = (torch.nn.utils.clip_grad_norm_(params, max_norm) if max_norm > 0
                    else torch.nn.utils.get_total_norm([p.grad for p in params]))
            lv, nv = loss.item(), norm.item()
            if not (math.isfinite(lv) and math.isfinite(nv)):
                hist.diverged_at = s + 1
                break
            hist.loss.append(lv)
            hist.grad_norm.append(nv)
            opt.step()
        out.append(hist)
    return out[0], out[1]
