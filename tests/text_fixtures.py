"""Fixtures shared by the Text tests (import them into a test module to use them)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run the module's tiny models on one torch thread (restored after).

    On a busy 2-core machine two threads per tiny matrix product wait on each other: the perplexity
    tests took 7 s instead of 0.4 s. Results do not depend on it."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)
