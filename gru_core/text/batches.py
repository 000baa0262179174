"""Minibatches of consecutive characters: the textbook's two ways to cut a long text.

A batch is ``(X, Y)``, both (B, T) int64 ids, with ``Y[b, t] = X[b, t + 1]`` in the text: the
target of every character is the next one. Both schemes draw a random start offset each epoch
(so the cut points move), from the ``torch.Generator`` they are given, and yield the same number
of batches every epoch (:func:`batches_per_epoch`), so progress and ETA are exact.

* **random sampling** -- the text after the offset is cut into non-overlapping subsequences of T
  characters, shuffled; each batch takes B of them. Neighbouring rows of a batch are unrelated
  places in the text, so every sequence starts from a zero hidden state.
* **sequential partitioning** -- the text after the offset is cut into B equal rows, read left
  to right T columns at a time. Row b of batch i+1 continues row b of batch i exactly, so the
  hidden state at the end of one batch is the right start of the next: carry it over, detached
  (truncated backpropagation through time).

Neither scheme lets two positions of one epoch overlap; tests/test_text_batches.py checks that the
sequential batches tile their rows without gap or overlap.
"""
from __future__ import annotations

from typing import Iterator

import torch

from gru_core.errors import DataError

__all__ = ["batches_per_epoch", "random_batches", "sequential_batches", "text_batches"]


def batches_per_epoch(n: int, seq_len: int, batch_size: int, sampling: str) -> int:
    """Batches per epoch from ``n`` characters, whatever the epoch's random offset.

    Random sampling: offset <= T-1, so at least ``(n - T) // T`` subsequences remain. Sequential:
    offset <= T, so each of the B rows has at least ``(n - T - 1) // B`` characters.
    """
    T, B = seq_len, batch_size
    if sampling == "random":
        return max((n - T) // T, 0) // B
    if sampling == "sequential":
        return max((n - T - 1) // B, 0) // T
    raise DataError(f"Unknown sampling {sampling!r}: choose 'sequential' or 'random'.")


def _offset(high: int, generator: torch.Generator | None) -> int:
    """A start offset drawn uniformly from 0..high."""
    return int(torch.randint(0, high + 1, (1,), generator=generator).item())


def random_batches(ids: torch.Tensor, seq_len: int, batch_size: int,
                   generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled non-overlapping subsequences (d2l ``seq_data_iter_random``).

    Parameters
    ----------
    ids : torch.Tensor
        (N,) int64 the text.
    seq_len, batch_size : int
        T and B.
    generator : torch.Generator, optional
        Draws the offset and the shuffle (a CPU generator).

    Yields
    ------
    (X, Y) : (B, T) int64 each, ``Y`` = ``X`` shifted by one character in the text.
    """
    T, B = seq_len, batch_size
    nb = batches_per_epoch(ids.numel(), T, B, "random")
    off = _offset(T - 1, generator)
    S = (ids.numel() - off - 1) // T                     # subsequences after the offset
    X = ids[off: off + S * T].view(S, T)                 # (S, T) view
    Y = ids[off + 1: off + 1 + S * T].view(S, T)         # (S, T) next characters
    order = torch.randperm(S, generator=generator).to(ids.device)  # (S,)
    for i in range(nb):
        idx = order[i * B:(i + 1) * B]                   # (B,)
        yield X[idx], Y[idx]                             # (B, T), (B, T) copies of this batch


def sequential_batches(ids: torch.Tensor, seq_len: int, batch_size: int,
                       generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """B long rows read T columns at a time (d2l ``seq_data_iter_sequential``).

    Parameters and yields as :func:`random_batches`; row b of batch i+1 starts where row b of
    batch i ended.
    """
    T, B = seq_len, batch_size
    nb = batches_per_epoch(ids.numel(), T, B, "sequential")
    off = _offset(T, generator)
    R = (ids.numel() - off - 1) // B                     # characters per row
    X = ids[off: off + B * R].view(B, R)                 # (B, R) view, rows = contiguous text
    Y = ids[off + 1: off + 1 + B * R].view(B, R)         # (B, R)
    for i in range(nb):
        yield X[:, i * T:(i + 1) * T], Y[:, i * T:(i + 1) * T]  # (B, T), (B, T) views


def text_batches(ids: torch.Tensor, seq_len: int, batch_size: int, sampling: str,
                 generator: torch.Generator | None = None):
    """:func:`sequential_batches` or :func:`random_batches` by name."""
    if sampling == "sequential":
        return sequential_batches(ids, seq_len, batch_size, generator)
    if sampling == "random":
        return random_batches(ids, seq_len, batch_size, generator)
    raise DataError(f"Unknown sampling {sampling!r}: choose 'sequential' or 'random'.")
