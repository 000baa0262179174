"""The one configuration of a character-level language model: data, batches and network.

Training itself (learning rate, epochs, clipping, seed, device) is ``gru_core.train.TrainConfig``,
shared with the forecaster. A notebook user writes::

    cfg = TextConfig(hidden_size=256, seq_len=32)
    data = text_dataset(None, cfg)          # the bundled Time Machine
    model = CharLM(cfg, len(data.vocab))
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from gru_core.errors import DataError
from gru_core.model import CELLS

__all__ = ["TextConfig", "VOCAB_MODES", "SAMPLING_MODES"]

VOCAB_MODES = {"letters": "lower-case letters and space (the textbook's)",
               "all": "every character (case, punctuation, quotes, line ends)"}
SAMPLING_MODES = {"sequential": "sequential partitioning, hidden state carried across batches",
                  "random": "random sampling, each sequence starts from a zero state"}


@dataclass
class TextConfig:
    """How a character-level language model sees the text and what it is.

    Parameters
    ----------
    vocab : str
        ``"letters"`` (a-z and space, lower-cased, the textbook's) or ``"all"`` characters.
    val_frac : float
        Share of the text, at its end, held out for validation.
    seq_len : int
        T, characters per training sequence (also the truncated-backprop length).
    batch_size : int
        B, sequences per optimiser step.
    sampling : str
        ``"sequential"`` (consecutive batches continue each other, state carried, detached) or
        ``"random"`` (shuffled subsequences, zero state each); see ``gru_core.text.batches``.
    embed_dim : int
        0 feeds one-hot vectors (the textbook's); > 0 learns an ``nn.Embedding`` of this width.
    hidden_size : int
        U, units per recurrent layer.
    num_layers : int
        K, stacked recurrent layers.
    dropout : float
        Dropout between recurrent layers (none after the last, as in PyTorch).
    cell : str
        A key of ``gru_core.model.CELLS``: ``"gru"``, ``"lstm"``, ``"rnn"``.
    scratch : bool
        Train the from-scratch GRU (``gru_core.text.lm.ScratchGRU``: the four equations in plain
        tensor operations) instead of ``nn.GRU``. Same maths, same weights, slower.
    """

    vocab: str = "letters"        # "letters" | "all"
    val_frac: float = 0.1         # validation share, taken from the end of the text
    seq_len: int = 32             # T characters per sequence
    batch_size: int = 32          # B sequences per step
    sampling: str = "sequential"  # "sequential" | "random"
    embed_dim: int = 0            # 0 = one-hot input
    hidden_size: int = 256        # U units per layer
    num_layers: int = 1           # K layers
    dropout: float = 0.0          # between layers
    cell: str = "gru"             # key of CELLS
    scratch: bool = False         # from-scratch GRU instead of nn.GRU

    def validate(self) -> "TextConfig":
        """Raise :class:`DataError` for settings that cannot be built or trained."""
        if self.vocab not in VOCAB_MODES:
            raise DataError(f"Unknown vocabulary mode {self.vocab!r}: choose one of "
                            f"{', '.join(VOCAB_MODES)}.")
        if self.sampling not in SAMPLING_MODES:
            raise DataError(f"Unknown sampling {self.sampling!r}: choose one of "
                            f"{', '.join(SAMPLING_MODES)}.")
        if self.cell not in CELLS:
            raise DataError(f"Unknown cell {self.cell!r}: choose one of {', '.join(CELLS)}.")
        if self.scratch and self.cell != "gru":
            raise DataError(f"The from-scratch implementation is a GRU; it cannot be a "
                            f"{CELLS[self.cell].label}: set cell='gru' or scratch=False.")
        for name, lo, hi in (("seq_len", 1, 4096), ("batch_size", 1, 4096), ("embed_dim", 0, 4096),
                             ("hidden_size", 1, 4096), ("num_layers", 1, 8)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise DataError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.")
        if not (isinstance(self.val_frac, (int, float)) and 0.01 <= self.val_frac <= 0.5):
            raise DataError(f"val_frac must be between 0.01 and 0.5 (a share of the text); "
                            f"got {self.val_frac!r}. 0.1 holds out the last tenth.")
        if not (isinstance(self.dropout, (int, float)) and math.isfinite(self.dropout)
                and 0.0 <= self.dropout < 1.0):
            raise DataError(f"dropout must be in [0, 1); got {self.dropout!r}.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)
