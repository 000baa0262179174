"""The forecaster: a recurrent encoder (GRU by default) and a linear head that emits all H steps.

    x (B, L, C) --rnn--> last state (B, D*hidden) --Linear--> y_hat (B, H)

The recurrent cell is selectable -- ``"gru"`` (the product's subject), ``"lstm"`` and ``"rnn"``
(vanilla tanh RNN) -- behind the same interface, so the app can compare them on the same data.
The head is *direct multi-step*: one linear map produces every horizon step at once, instead of
feeding predictions back in (see ``gru_core.evaluate.recursive_forecast`` for that alternative).

For a bidirectional encoder the summary is ``[h_fwd(T-1), h_bwd(0)]``: the forward cell's state
after the last step and the backward cell's state after it has read the whole window back to the
first step. (``output[:, -1]`` would give a backward state that has seen only one step.)

Per-window normalisation (``window_norm``, for series whose level drifts out of the training
range) happens inside the model, so the rest of the pipeline sees ordinary scaled units::

    "last":     x' = x - x[:, -1]                    y_hat = head(rnn(x')) + x[:, -1, 0]
    "meanstd":  x' = (x - mean_t x) / (std_t x + e)  y_hat = head(rnn(x')) * (std_t x0 + e) + mean_t x0

(mean and std over the L steps of each window and column; x0 is the target column; e = 1e-3.)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from gru_core.errors import DataError


@dataclass(frozen=True)
class Cell:
    """One recurrent cell the app can train: the registry entry every page and test reads.

    Attributes
    ----------
    key : str
        Registry key and ``ModelConfig.cell`` value.
    module : type
        The ``torch.nn`` class (``batch_first=True``, same constructor arguments for all).
    label : str
        Name shown in the UI.
    gate_names : tuple of str
        The cell's gates in PyTorch's stacking order of ``weight_ih_l{k}`` (empty for a plain RNN).
    blocks : int
        Stacked weight blocks per layer (3 for a GRU: r, z, n; 4 for an LSTM: i, f, g, o; 1 for a
        plain RNN). One timestep of one layer and direction costs ``blocks * U * (I + U)``
        multiply-adds (I inputs, U units).
    description : str
        One sentence for help texts.
    """

    key: str
    module: type
    label: str
    gate_names: tuple[str, ...]
    blocks: int
    description: str

    def macs_per_step(self, input_size: int, hidden_size: int) -> int:
        """Multiply-adds of one timestep of one layer and direction (``blocks * U * (I + U)``)."""
        return self.blocks * hidden_size * (input_size + hidden_size)


CELLS: dict[str, Cell] = {
    "gru": Cell("gru", nn.GRU, "GRU", ("r", "z", "n"), 3,
                "Gated recurrent unit: a reset gate r and an update gate z decide what to keep."),
    "lstm": Cell("lstm", nn.LSTM, "LSTM", ("i", "f", "g", "o"), 4,
                 "Long short-term memory: input, forget and output gates around a cell state c."),
    "rnn": Cell("rnn", nn.RNN, "Plain RNN", (), 1,
                "Vanilla tanh RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), no gates."),
}
"""The cell registry: key -> :class:`Cell`. Add a cell here (and it appears in every picker)."""


WINDOW_NORMS = ("none", "last", "meanstd")
WINDOW_NORM_EPS = 1e-3   # e in the meanstd normalisation (scaled units)


@dataclass
class ModelConfig:
    """Shape of a :class:`Forecaster`.

    Parameters
    ----------
    input_size : int
        Number of input columns C (target plus any extra input columns).
    hidden_size : int
        Units per recurrent layer.
    num_layers : int
        Stacked recurrent layers; layer k > 0 reads layer k-1's hidden states.
    dropout : float
        Dropout between recurrent layers (PyTorch applies none after the last layer).
    bidirectional : bool
        Also read each window backwards.
    horizon : int
        Forecast steps H emitted at once by the head.
    cell : str
        ``"gru"``, ``"lstm"`` or ``"rnn"``.
    window_norm : str
        ``"none"``, ``"last"`` or ``"meanstd"``: per-window normalisation (module docstring).
    """

    input_size: int = 1
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    horizon: int = 12
    cell: str = "gru"
    window_norm: str = "none"   # per-window normalisation: "none" | "last" | "meanstd"

    def validate(self) -> "ModelConfig":
        """Raise :class:`DataError` for a configuration that cannot be built."""
        if self.cell not in CELLS:
            raise DataError(f"Unknown cell type {self.cell!r}: choose one of {', '.join(CELLS)}.")
        for name, lo, hi in (("input_size", 1, 10_000), ("hidden_size", 1, 4096),
                             ("num_layers", 1, 16), ("horizon", 1, 100_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= hi:
                raise DataError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise DataError(f"dropout must be in [0, 1); got {self.dropout!r}.")
        if self.window_norm not in WINDOW_NORMS:
            raise DataError(f"Unknown window_norm {self.window_norm!r}: choose one of "
                            f"{', '.join(WINDOW_NORMS)}.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def flops_per_window(self, lookback: int) -> float:
        """Floating-point operations of one forward pass over one window (2 per multiply-add).

        Per timestep, layer and direction the cell does :meth:`Cell.macs_per_step`; layer k > 0
        reads D*U inputs; the head adds ``D*U*H``.
        """
        cell, D, U = CELLS[self.cell], self.num_directions, self.hidden_size
        macs, width = 0, self.input_size
        for _ in range(self.num_layers):
            macs += D * cell.macs_per_step(width, U)
            width = D * U
        return 2.0 * (lookback * macs + D * U * self.horizon)


class Forecaster(nn.Module):
    """Recurrent encoder plus direct multi-step linear head.

    Parameters
    ----------
    cfg : ModelConfig
        The shape of the network; validated on construction.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg.validate()
        self.rnn = CELLS[cfg.cell].module(
            input_size=cfg.input_size,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            bidirectional=cfg.bidirectional,
            batch_first=True,
        )
        self.head = nn.Linear(cfg.num_directions * cfg.hidden_size, cfg.horizon)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Summary state of each window, ``(B, L, C) -> (B, D*hidden)``."""
        out, h_n = self.rnn(x)  # out: (B, L, D*hidden); h_n: (D*num_layers, B, hidden) (LSTM: (h, c))
        if isinstance(h_n, tuple):
            h_n = h_n[0]
        if self.cfg.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=-1)  # -> (B, 2*hidden): fwd after T-1, bwd after 0
        return h_n[-1]  # -> (B, hidden), equal to out[:, -1]

    def normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-window normalisation: ``(x', shift, scale)`` with x' (B, L, C), shift/scale (B, 1).

        The recurrent layers read x'; the head's output maps back as ``out * scale + shift``.
        With ``window_norm="none"`` x' is x itself, shift 0 and scale 1.
        """
        mode = self.cfg.window_norm
        if mode == "last":
            last = x[:, -1:, :]                                    # (B, 1, C)
            return x - last, last[:, :, 0], torch.ones_like(last[:, :, 0])
        if mode == "meanstd":
            mu = x.mean(dim=1, keepdim=True)                       # (B, 1, C)
            sd = x.std(dim=1, unbiased=False, keepdim=True) + WINDOW_NORM_EPS  # (B, 1, C)
            return (x - mu) / sd, mu[:, :, 0], sd[:, :, 0]
        zero = x.new_zeros(x.shape[0], 1)                          # (B, 1)
        return x, zero, zero + 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, L, C) in scaled units -> forecasts (B, H) of the scaled target."""
        if self.cfg.window_norm == "none":
            return self.head(self.encode(x))  # -> (B, H)
        xn, shift, scale = self.normalise(x)  # (B, L, C), (B, 1), (B, 1)
        return self.head(self.encode(xn)) * scale + shift  # -> (B, H)

    def forecast_each_step(self, x: torch.Tensor, first: int) -> torch.Tensor:
        """The head read from every state ``h_t``, t = first .. L-1, mapped back as :meth:`forward`
        maps its output: ``(B, L, C) -> (B, L - first, H)``; the last row equals ``forward(x)``.
        One-directional models only (a backward state has read the steps after t)."""
        if self.cfg.bidirectional:
            raise ValueError("forecast_each_step needs a one-directional model")
        xn, shift, scale = self.normalise(x)                       # (B, L, C), (B, 1), (B, 1)
        out, _ = self.rnn(xn)                                      # (B, L, U): top layer's states
        return self.head(out[:, first:]) * scale[:, :, None] + shift[:, :, None]

    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


@torch.no_grad()
def init_weights(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every parameter of ``model`` with PyTorch's default distributions, drawing
    only from ``generator`` (never from torch's global RNG), so a run's initial weights depend on
    its own seed and not on what other threads drew. Returns ``model``.

    * ``nn.GRU`` / ``nn.LSTM`` / ``nn.RNN``: every weight and bias ~ U(-1/sqrt(U), 1/sqrt(U)),
      U = hidden size (as ``RNNBase.reset_parameters``);
    * ``nn.Linear``: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) -- what
      ``kaiming_uniform_(a=sqrt(5))`` and the default bias init amount to;
    * ``nn.Embedding``: N(0, 1), the padding row (if any) zero; ``nn.LayerNorm``: ones and zeros.

    Parameters are drawn module by module in ``model.modules()`` order, each module's parameters in
    registration order, so the same generator state gives the same weights. A module type with
    parameters of its own that is not listed raises ``TypeError`` (rather than silently keeping
    globally seeded weights).
    """
    def uniform(p: torch.Tensor, bound: float) -> None:
        draw = torch.empty(p.shape, dtype=p.dtype, device=generator.device)
        p.copy_(draw.uniform_(-bound, bound, generator=generator))

    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if not own:
            continue
        if isinstance(module, nn.RNNBase):
            bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0.0
            for p in own:
                uniform(p, bound)
        elif isinstance(module, nn.Linear):
            bound = 1.0 / math.sqrt(module.in_features) if module.in_features > 0 else 0.0
            uniform(module.weight, bound)
            if module.bias is not None:
                uniform(module.bias, bound)
        elif isinstance(module, nn.Embedding):
            draw = torch.empty(module.weight.shape, dtype=module.weight.dtype, device=generator.device)
            module.weight.copy_(draw.normal_(0.0, 1.0, generator=generator))
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            if module.weight is not None:
                module.weight.fill_(1.0)
            if module.bias is not None:
                module.bias.zero_()
        else:
            raise TypeError(f"init_weights does not know how to initialise {type(module).__name__}: "
                            "initialise it from the generator in your task, or add it here.")
    return model
