"""gru_core.text.batches: the textbook's random sampling and sequential partitioning."""
from __future__ import annotations

import pytest
import torch

from gru_core.text import batches_per_epoch, random_batches, sequential_batches
from text_fixtures import one_torch_thread  # noqa: F401  (autouse)

N, T, B = 1000, 7, 5
IDS = torch.arange(N)          # id = position in the text, so a batch shows where it came from


@pytest.mark.parametrize("seed", range(6))
def test_sequential_batches_tile_rows_without_gap_or_overlap(seed):
    gen = torch.Generator().manual_seed(seed)
    batches = list(sequential_batches(IDS, T, B, gen))
    assert len(batches) == batches_per_epoch(N, T, B, "sequential")
    rows = torch.cat([x for x, _ in batches], dim=1)      # (B, nb*T): the epoch's rows
    for x, y in batches:
        assert x.shape == y.shape == (B, T)
        assert torch.equal(y, x + 1)                      # the target is the next character
    # each row is one contiguous stretch of text: batch i+1 continues batch i exactly
    assert torch.equal(rows[:, 1:] - rows[:, :-1], torch.ones(B, rows.shape[1] - 1, dtype=torch.long))
    flat = rows.reshape(-1).tolist()
    assert len(set(flat)) == len(flat)                    # no position read twice
    assert max(flat) < N - 1                              # every target exists
    row_len = (N - rows[0, 0].item() - 1) // B            # rows start every row_len characters
    assert rows[:, 0].tolist() == [rows[0, 0].item() + b * row_len for b in range(B)]


def test_sequential_offset_moves_between_epochs_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    starts = {next(sequential_batches(IDS, T, B, gen))[0][0, 0].item() for _ in range(30)}
    assert len(starts) > 1 and starts <= set(range(T + 1))
    a = list(sequential_batches(IDS, T, B, torch.Generator().manual_seed(3)))
    b = list(sequential_batches(IDS, T, B, torch.Generator().manual_seed(3)))
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, b))


@pytest.mark.parametrize("seed", range(6))
def test_random_batches_are_disjoint_subsequences(seed):
    gen = torch.Generator().manual_seed(seed)
    batches = list(random_batches(IDS, T, B, gen))
    assert len(batches) == batches_per_epoch(N, T, B, "random")
    starts = []
    for x, y in batches:
        assert x.shape == y.shape == (B, T)
        assert torch.equal(y, x + 1)
        assert torch.equal(x - x[:, :1], torch.arange(T).expand(B, T))   # consecutive characters
        starts += x[:, 0].tolist()
    off = starts[0] % T
    assert all(s % T == off for s in starts)              # on one grid of step T: no overlap
    assert len(set(starts)) == len(starts)
    assert starts != sorted(starts)                       # shuffled


@pytest.mark.parametrize("n", [T * (B + 1) + 1, 200, 999, 1000, 1001])
@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_count_is_the_same_every_epoch(n, sampling):
    fn = random_batches if sampling == "random" else sequential_batches
    gen = torch.Generator().manual_seed(1)
    want = batches_per_epoch(n, T, B, sampling)
    assert want >= 1
    for _ in range(20):
        assert sum(1 for _ in fn(torch.arange(n), T, B, gen)) == want
