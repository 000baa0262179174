"""gru_core.text.infer: perplexity against an independent computation; reproducible generation."""
from __future__ import annotations

import math

import pytest
import torch

from gru_core.errors import DataError
from gru_core.text import (MAX_GENERATE, CharLM, CharVocab, TextConfig, generate, mean_ce,
                           perplexity)
from text_fixtures import one_torch_thread  # noqa: F401  (autouse)

TEXT = "the quick brown fox jumps over the lazy dog and the time traveller smiles "
VOCAB = CharVocab.build(TEXT, "letters")


def model(seed=0, **kw):
    torch.manual_seed(seed)
    return CharLM(TextConfig(hidden_size=8, **kw), len(VOCAB)).eval()


def naive_mean_ce(m, ids, streams):
    """Cut the predictions into `streams` pieces, run each from a zero state in ONE forward call,
    and average -log softmax by hand (float64 log-sum-exp)."""
    inputs, targets = ids[:-1].tolist(), ids[1:].tolist()
    M = len(targets)
    L = -(-M // streams)
    total = 0.0
    for s in range(0, M, L):
        with torch.no_grad():
            logits, _ = m(torch.tensor([inputs[s:s + L]]))
        rows = logits[0].double()                                   # (L, V)
        mx = rows.max(dim=1, keepdim=True).values
        logsumexp = mx[:, 0] + torch.log(torch.exp(rows - mx).sum(dim=1))
        picked = rows[torch.arange(rows.shape[0]), torch.tensor(targets[s:s + L])]
        total += float((logsumexp - picked).sum())
    return total / M


@pytest.mark.parametrize("streams, chunk", [(1, 7), (1, 1000), (3, 5), (4, 256), (500, 3)])
def test_perplexity_is_exp_of_mean_cross_entropy(streams, chunk):
    m = model(cell="gru", num_layers=2)
    ids = VOCAB.encode(TEXT * 2)
    want = naive_mean_ce(m, ids, min(streams, ids.numel() - 1))
    got = mean_ce(m, ids, streams=streams, chunk=chunk)
    assert got == pytest.approx(want, rel=1e-5)
    assert perplexity(m, ids, streams=streams, chunk=chunk) == pytest.approx(math.exp(want), rel=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_uniform_model_has_perplexity_equal_to_vocab_size(cell):
    m = model(cell=cell)
    with torch.no_grad():
        m.head.weight.zero_()
        m.head.bias.fill_(0.3)                            # every character equally likely
    assert perplexity(m, VOCAB.encode(TEXT)) == pytest.approx(len(VOCAB), rel=1e-6)


def test_perplexity_restores_training_mode():
    m = model().train()
    perplexity(m, VOCAB.encode(TEXT))
    assert m.training


def test_generation_is_seeded_and_reproducible():
    m = model()
    a = generate(m, VOCAB, "the ", 60, temperature=1.0, seed=5)
    b = generate(m, VOCAB, "the ", 60, temperature=1.0, seed=5)
    c = generate(m, VOCAB, "the ", 60, temperature=1.0, seed=6)
    assert a == b and a != c
    assert a.startswith("the ") and len(a) == 64
    assert "\ufffd" not in a                              # the unknown token is never chosen


def test_greedy_generation_is_deterministic_and_is_argmax():
    m = model(num_layers=2)
    got = generate(m, VOCAB, "The Fox", 25, temperature=0, seed=1)
    assert got == generate(m, VOCAB, "The Fox", 25, temperature=0, seed=99)
    # independent: rerun the whole growing text each step (no carried state), take the argmax
    ids = VOCAB.encode("the fox").tolist()
    for _ in range(25):
        with torch.no_grad():
            logits, _ = m(torch.tensor([ids]))
        row = logits[0, -1].clone()
        row[0] = -math.inf
        ids.append(int(row.argmax()))
    assert got == VOCAB.decode(ids)
    assert generate(m, VOCAB, "The Fox", 25, temperature=1.0, top_k=1, seed=3) == got


def test_top_k_limits_the_choice():
    m = model()
    for seed in range(5):
        text = generate(m, VOCAB, "a", 1, temperature=5.0, top_k=2, seed=seed)
        with torch.no_grad():
            row = m(VOCAB.encode("a")[None])[0][0, -1].clone()
        row[0] = -math.inf
        assert VOCAB.stoi[text[-1]] in torch.topk(row, 2).indices.tolist()


@pytest.mark.parametrize("kwargs, message", [
    (dict(prefix=""), "at least one character"),
    (dict(length=MAX_GENERATE + 1), "length"),
    (dict(temperature=-1.0), "temperature"),
    (dict(top_k=0), "top_k"),
])
def test_generation_refuses_bad_settings(kwargs, message):
    args = dict(prefix="the", length=5, temperature=1.0, top_k=None, seed=0) | kwargs
    with pytest.raises(DataError, match=message):
        generate(model(), VOCAB, **args)
