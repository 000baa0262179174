"""The forecaster: a recurrent encoder (GRU by default) and a linear head that emits all H steps.

    x (B, L, C) --rnn--> last state (B, D*hidden) --Linear--> y_hat (B, H)

The recurrent cell is selectable -- ``"gru"`` (the product's subject), ``"lstm"`` and ``"rnn"``
(vanilla tanh RNN) -- behind the same interface, so the app can compare them on the same data.
The head is *direct multi-step*: one linear map produces every horizon step at once, instead of
feeding predictions back in (see ``gru_core.evaluate.recursive_forecast`` for that alternative).

For a bidirectional encoder the summary is ``[h_fwd(T-1), h_bwd(0)]``: the forward cell's state
after the last step and the backward cell's state after it has read the whole window back to the
first step. (``output[:, -1]`` would give a backward state that has seen only one step.)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from gru_core.errors import DataError

CELLS = ("gru", "lstm", "rnn")
_CELL_CLASSES = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}


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
    """

    input_size: int = 1
    hidden_size: int = 64
    num_layers: int = 2
    dropout: float = 0.0
    bidirectional: bool = False
    horizon: int = 12
    cell: str = "gru"

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
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1


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
        cls = _CELL_CLASSES[cfg.cell]
        self.rnn = cls(
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, L, C) in scaled units -> forecasts (B, H) of the scaled target."""
        return self.head(self.encode(x))  # -> (B, H)

    def n_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
