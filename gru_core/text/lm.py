"""The character-level language model, and a GRU written from scratch beside ``nn.GRU``.

    ids (B, T) --one-hot or Embedding--> (B, T, I) --GRU / LSTM / RNN--> (B, T, U) --Linear--> logits (B, T, V)

The logits at t score the character at t + 1. The recurrent layer is any cell of the registry
``gru_core.model.CELLS``, or, for a GRU, :class:`ScratchGRU` (``TextConfig.scratch``).

:class:`ScratchGRU` is the textbook's "GRU from scratch": the four equations, written with
nothing but matrix products, ``sigmoid``, ``tanh`` and elementwise arithmetic, one timestep at a
time. It uses exactly ``nn.GRU``'s parameter names, shapes, stacking order (r, z, n) and
initialisation, and PyTorch's *reset-after* candidate ``r * (W_hn h + b_hn)`` (the paper and d2l
put r before the product: see ``gru_core.gates``), so ``nn.GRU().load_state_dict(scratch
.state_dict())`` gives the same function: tests/test_text_lm.py shows outputs and gradients
agree. The concise ``nn.GRU`` is the same maths in one fused kernel -- only faster.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gru_core.errors import DataError
from gru_core.model import CELLS, init_weights
from gru_core.text.config import TextConfig

__all__ = ["CharLM", "ScratchGRU", "detach_state", "init_charlm"]


class ScratchGRU(nn.Module):
    """A GRU in plain tensor operations, parameter for parameter equal to ``nn.GRU``.

    For layer k and timestep t (x_t is layer k-1's h_t above layer 0)::

        r_t = sigmoid(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)          reset gate
        z_t = sigmoid(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)          update gate
        n_t = tanh(x_t W_in^T + b_in + r_t * (h_{t-1} W_hn^T + b_hn))     candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}                             new state

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
        As ``nn.GRU``; always ``batch_first=True``, unidirectional, with biases.
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode (as ``nn.GRU``).

    Attributes
    ----------
    weight_ih_l{k} : (3U, I) for k = 0, (3U, U) above -- ``(W_ir|W_iz|W_in)``
    weight_hh_l{k} : (3U, U) -- ``(W_hr|W_hz|W_hn)``
    bias_ih_l{k}, bias_hh_l{k} : (3U,)
    """

    batch_first = True
    bidirectional = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.dropout = float(dropout)
        self.drop = nn.Dropout(self.dropout)              # between layers, training mode only
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size
            for name, shape in ((f"weight_ih_l{k}", (3 * hidden_size, width)),
                                (f"weight_hh_l{k}", (3 * hidden_size, hidden_size)),
                                (f"bias_ih_l{k}", (3 * hidden_size,)),
                                (f"bias_hh_l{k}", (3 * hidden_size,))):
                self.register_parameter(name, nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Every weight and bias ~ U(-1/sqrt(U), 1/sqrt(U)), as ``nn.GRU``; drawn from
        ``generator`` (torch's global RNG when None), parameter by parameter in registration order."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, T, I), ``h0`` (K, B, U) or None -> output (B, T, U), h_n (K, B, U)."""
        B, T, _ = x.shape  # batch, time, input
        K, U = self.num_layers, self.hidden_size
        if h0 is None:
            h0 = x.new_zeros(K, B, U)  # (K, B, U)
        layer_in, finals = x, []
        for k in range(K):
            W_ir, W_iz, W_in = getattr(self, f"weight_ih_l{k}").chunk(3)  # each (U, I)
            W_hr, W_hz, W_hn = getattr(self, f"weight_hh_l{k}").chunk(3)  # each (U, U)
            b_ir, b_iz, b_in = getattr(self, f"bias_ih_l{k}").chunk(3)    # each (U,)
            b_hr, b_hz, b_hn = getattr(self, f"bias_hh_l{k}").chunk(3)
            h, outs = h0[k], []                                           # h: (B, U)
            for t in range(T):
                x_t = layer_in[:, t]                                      # (B, I)
                r = torch.sigmoid(x_t @ W_ir.T + b_ir + h @ W_hr.T + b_hr)      # (B, U)
                z = torch.sigmoid(x_t @ W_iz.T + b_iz + h @ W_hz.T + b_hz)      # (B, U)
                n = torch.tanh(x_t @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))   # (B, U)
                h = (1 - z) * n + z * h                                         # (B, U)
                outs.append(h)
            layer_in = torch.stack(outs, dim=1)                           # (B, T, U)
            finals.append(h)
            if k < K - 1:
                layer_in = self.drop(layer_in)                            # identity in eval mode
        return layer_in, torch.stack(finals)                              # (B, T, U), (K, B, U)

    def to_nn_gru(self) -> nn.GRU:
        """An ``nn.GRU`` (batch_first) with a copy of these weights: the same function."""
        gru = nn.GRU(self.input_size, self.hidden_size, self.num_layers, batch_first=True,
                     dropout=self.dropout if self.num_layers > 1 else 0.0)
        gru.load_state_dict(self.state_dict())
        return gru.to(next(self.parameters()).device)


def init_charlm(model: "CharLM", generator: torch.Generator) -> "CharLM":
    """Re-draw every weight of ``model`` from ``generator`` only (never torch's global RNG):
    embedding, recurrent layer and head, in that order, with PyTorch's default distributions
    (``gru_core.model.init_weights``; :meth:`ScratchGRU.reset_parameters` for the scratch GRU)."""
    for part in (model.embed, model.rnn, model.head):
        if part is None:
            continue
        if isinstance(part, ScratchGRU):
            part.reset_parameters(generator)
        else:
            init_weights(part, generator)
    return model


def detach_state(state):
    """The recurrent state cut from the graph (a tensor, an LSTM's ``(h, c)``, or None)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class CharLM(nn.Module):
    """Character-level language model: input encoding -> recurrent layers -> linear over V.

    Parameters
    ----------
    cfg : TextConfig
        ``embed_dim`` (0 = one-hot), ``hidden_size``, ``num_layers``, ``dropout``, ``cell``,
        ``scratch``.
    vocab_size : int
        V, including the unknown token.

    Attributes
    ----------
    embed : nn.Embedding or None
        None for one-hot inputs.
    rnn : nn.GRU, nn.LSTM, nn.RNN or ScratchGRU
        ``batch_first=True``.
    head : nn.Linear
        (U -> V) next-character scores.
    """

    def __init__(self, cfg: TextConfig, vocab_size: int):
        super().__init__()
        self.cfg = cfg.validate()
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise DataError(f"vocab_size must be a whole number >= 2; got {vocab_size!r}.")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, cfg.embed_dim) if cfg.embed_dim > 0 else None
        width = cfg.embed_dim or vocab_size
        drop = cfg.dropout if cfg.num_layers > 1 else 0.0
        if cfg.scratch:
            self.rnn = ScratchGRU(width, cfg.hidden_size, cfg.num_layers, drop)
        else:
            self.rnn = CELLS[cfg.cell].module(width, cfg.hidden_size, cfg.num_layers,
                                              dropout=drop, batch_first=True)
        self.head = nn.Linear(cfg.hidden_size, vocab_size)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the recurrent layer reads: ids (B, T) -> (B, T, I) float (embedding or one-hot)."""
        if self.embed is not None:
            return self.embed(x)                                        # (B, T, E)
        return F.one_hot(x, self.vocab_size).to(self.head.weight.dtype)  # (B, T, V)

    def forward(self, x: torch.Tensor, state=None):
        """ids ``x`` (B, T) and an optional carried state -> logits (B, T, V), new state."""
        out, state = self.rnn(self.inputs(x), state)  # (B, T, U); (K, B, U) or LSTM (h, c)
        return self.head(out), state                  # (B, T, V)

    def gru(self) -> nn.GRU:
        """The recurrent layer as an ``nn.GRU`` (a copy for a :class:`ScratchGRU`), for
        ``gru_core.gates.trace_gates``; DataError for an LSTM or plain RNN."""
        if isinstance(self.rnn, ScratchGRU):
            return self.rnn.to_nn_gru()
        if not isinstance(self.rnn, nn.GRU):
            raise DataError(f"This model is a {CELLS[self.cfg.cell].label}: per-character r and z "
                            "gates exist only for a GRU. Train one with cell='gru'.")
        return self.rnn

    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
