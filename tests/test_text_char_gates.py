"""gru_core.text.char_gates: per-character gates are trace_gates' on the model; unit ranking."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gru_core.errors import DataError
from gru_core.gates import trace_gates
from gru_core.text import CharLM, CharVocab, TextConfig, char_classes, char_gates, rank_units
from text_fixtures import one_torch_thread  # noqa: F401  (autouse)

PASSAGE = 'He said, \u201cWell, it\u2019s time.\u201d\nAnd "so" it was: a clue.\n'
VOCAB = CharVocab.build(PASSAGE * 3, "all")


@pytest.mark.parametrize("embed_dim, layers, scratch", [(0, 1, False), (5, 2, False), (0, 2, True)])
def test_char_gates_equal_trace_gates_on_the_model(embed_dim, layers, scratch):
    torch.manual_seed(layers)
    m = CharLM(TextConfig(vocab="all", embed_dim=embed_dim, hidden_size=6, num_layers=layers,
                          scratch=scratch), len(VOCAB))
    g = char_gates(m, VOCAB, PASSAGE)
    assert g.text == PASSAGE and g.z.shape == (layers, len(PASSAGE), 6)
    ids = VOCAB.encode(PASSAGE)
    with torch.no_grad():
        x = m.inputs(ids[None])                           # what the model's GRU reads
        gru = m.rnn if not scratch else nn.GRU(m.rnn.input_size, 6, layers, batch_first=True)
        if scratch:
            gru.load_state_dict(m.rnn.state_dict())
        tr = trace_gates(gru, x)
        out, _ = m.rnn(x)                                 # independent: the network's own pass
    for q in "rznh":
        assert np.array_equal(getattr(g, q), getattr(tr, q)[:, 0].numpy())
    assert np.allclose(g.h[-1], out[0].numpy(), atol=1e-5)   # last layer's h = the model's output
    assert m.training                                     # mode restored


def test_char_gates_refuse_non_gru_and_long_passages():
    with pytest.raises(DataError, match="only for a GRU"):
        char_gates(CharLM(TextConfig(vocab="all", cell="rnn", hidden_size=4), len(VOCAB)), VOCAB, "abc")
    m = CharLM(TextConfig(vocab="all", hidden_size=4), len(VOCAB))
    with pytest.raises(DataError, match="at most 10"):
        char_gates(m, VOCAB, "a" * 11, max_chars=10)


def test_character_classes():
    text = 'a "bc" d\u201cef\u201d\ng, h.'
    c = char_classes(text)
    where = lambda name: [i for i, v in enumerate(c[name]) if v]   # noqa: E731
    assert where("space") == [1, 6, 15]
    assert where("line end") == [12]
    assert where("vowel") == [0, 9]
    assert where("inside quotes") == [3, 4, 9, 10]        # b c, then e f: the marks themselves not
    assert where("punctuation") == [2, 5, 8, 11, 14, 17]


def naive_effect(values, mask, unit):
    inside = [values[t][unit] for t in range(len(mask)) if mask[t]]
    outside = [values[t][unit] for t in range(len(mask)) if not mask[t]]
    mi, mo = sum(inside) / len(inside), sum(outside) / len(outside)
    vi = sum((v - mi) ** 2 for v in inside) / len(inside)
    vo = sum((v - mo) ** 2 for v in outside) / len(outside)
    return mi, mo, (mi - mo) / ((vi + vo) / 2) ** 0.5


@pytest.mark.parametrize("quantity, cls", [("z", "space"), ("h", "inside quotes"), ("r", "punctuation")])
def test_rank_units_against_a_naive_loop(quantity, cls):
    torch.manual_seed(0)
    m = CharLM(TextConfig(vocab="all", hidden_size=7, num_layers=2), len(VOCAB))
    g = char_gates(m, VOCAB, PASSAGE * 2)
    rows = rank_units(g, quantity, cls, layer=0)
    values = getattr(g, quantity)[0].astype(float).tolist()
    mask = char_classes(g.text)[cls].tolist()
    assert sorted(r.unit for r in rows) == list(range(7))
    for r in rows:
        mi, mo, eff = naive_effect(values, mask, r.unit)
        assert (r.mean_in, r.mean_out, r.effect) == pytest.approx((mi, mo, eff), rel=1e-6, abs=1e-9)
    assert [abs(r.effect) for r in rows] == sorted((abs(r.effect) for r in rows), reverse=True)
    assert len(rank_units(g, quantity, cls, top=3)) == 3


def test_rank_units_explains_a_missing_class():
    m = CharLM(TextConfig(hidden_size=4), len(VOCAB))
    g = char_gates(m, VOCAB, "no line end here")
    with pytest.raises(DataError, match="no line ends"):
        rank_units(g, "z", "line end")
