"""Every character's gates: r, z, n, h of a language model's GRU over a passage, and unit finders.

:func:`char_gates` does not compute gates itself: it encodes the passage exactly as the model
does (``CharLM.inputs``: one-hot or embedding) and hands it to ``gru_core.gates.trace_gates``,
the reference loop the Gates page uses, proven equal to ``nn.GRU``. So the value shown under a
character is the one the trained network computed when it read that character (``h`` at t is the
state after reading character t, the one that predicts character t + 1). z is PyTorch's: near 1
the unit **keeps** its old state (the tutorial z is 1 - z).

:func:`rank_units` is the "find a space unit" helper: for one character class (spaces,
punctuation, line ends, vowels, inside double quotes) it scores every unit by how differently it
behaves on that class than on the other characters of the passage:

    effect = (mean over class - mean over the rest) / sqrt((var class + var rest) / 2)

(Cohen's d with population variances). Large |effect| = the unit's value tells the class apart.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import torch

from gru_core.errors import DataError
from gru_core.gates import trace_gates
from gru_core.text.corpus import CharVocab

__all__ = ["CHAR_CLASSES", "MAX_PASSAGE", "QUANTITIES", "CharGates", "UnitScore", "char_classes",
           "char_gates", "rank_units"]

MAX_PASSAGE = 3_000          # longest passage traced and coloured (characters)
QUANTITIES = {"z": "update gate z (PyTorch: 1 = keep the old state)",
              "r": "reset gate r (1 = use the old state in the candidate)",
              "n": "candidate n", "h": "hidden state h"}
CHAR_CLASSES = {"space": "spaces", "punctuation": "punctuation", "line end": "line ends",
                "vowel": "vowels (a e i o u)", "inside quotes": "characters inside double quotes"}
_OPEN, _CLOSE, _TOGGLE = "\u201c", "\u201d", '"'


@dataclass
class CharGates:
    """The gates of every layer, character and unit of one passage.

    Attributes
    ----------
    text : str
        The passage as the model read it (cleaned by the vocabulary mode), T characters.
    ids : torch.Tensor
        (T,) int64.
    r, z, n, h : np.ndarray
        (K, T, U) float32 -- layer, character, unit; z in PyTorch's convention.
    """

    text: str
    ids: torch.Tensor
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    h: np.ndarray

    def values(self, quantity: str, layer: int = -1) -> np.ndarray:
        """(T, U) one quantity of one layer."""
        if quantity not in QUANTITIES:
            raise DataError(f"Unknown quantity {quantity!r}: choose one of {', '.join(QUANTITIES)}.")
        return getattr(self, quantity)[layer]


@torch.no_grad()
def char_gates(model, vocab: CharVocab, passage: str, max_chars: int = MAX_PASSAGE) -> CharGates:
    """r, z, n, h of ``model``'s GRU for every character of ``passage``, from a zero state.

    Parameters
    ----------
    model : CharLM
        A GRU language model (an ``nn.GRU`` or a ``ScratchGRU``, traced through an ``nn.GRU``
        with the same weights).
    vocab : CharVocab
        The model's vocabulary; cleans and encodes the passage.
    passage : str
        1 to ``max_chars`` characters after cleaning.
    """
    text = vocab.decode(vocab.encode(passage))           # as the model sees it (unknown -> U+FFFD)
    if not text:
        raise DataError("The passage is empty after cleaning: type or pick some text to colour.")
    if len(text) > max_chars:
        raise DataError(f"The passage has {len(text):,} characters; at most {max_chars:,} are "
                        "coloured at once. Pick a shorter passage.")
    gru = model.gru()
    dev = gru.weight_ih_l0.device
    ids = vocab.encode(text, clean=False)                # (T,)
    was = model.training
    model.eval()
    try:
        x = model.inputs(ids.to(dev).unsqueeze(0))       # (1, T, I) what the GRU reads
        tr = trace_gates(gru, x)                         # each (K, 1, T, U)
    finally:
        model.train(was)
    f32 = lambda t: t[:, 0].float().cpu().numpy()         # noqa: E731  (K, T, U)
    return CharGates(text=text, ids=ids, r=f32(tr.r), z=f32(tr.z), n=f32(tr.n), h=f32(tr.h))


def char_classes(text: str) -> dict[str, np.ndarray]:
    """Boolean masks (T,) of every class in :data:`CHAR_CLASSES`.

    "inside quotes" marks the characters after an opening double quote (``\u201c``, or a
    straight ``"`` that opens) up to, not including, its closing quote.
    """
    inside, q = np.zeros(len(text), dtype=bool), False
    for t, c in enumerate(text):
        if c == _CLOSE or (c == _TOGGLE and q):
            q = False
        elif c == _OPEN or c == _TOGGLE:
            q = True
            continue
        inside[t] = q
    arr = np.array(list(text)) if text else np.array([], dtype="<U1")
    return {
        "space": arr == " ",
        "punctuation": np.array([unicodedata.category(c).startswith("P") for c in text], dtype=bool),
        "line end": arr == "\n",
        "vowel": np.isin(np.char.lower(arr), list("aeiou")),
        "inside quotes": inside,
    }


@dataclass
class UnitScore:
    """How one unit's value differs on a character class."""

    unit: int             # 0-based unit index
    mean_in: float        # mean over the class's characters
    mean_out: float       # mean over the other characters
    effect: float         # (mean_in - mean_out) / pooled standard deviation


def rank_units(gates: CharGates, quantity: str, char_class: str, layer: int = -1,
               top: int | None = None) -> list[UnitScore]:
    """Units sorted by |effect| on ``char_class`` (see the module docstring), largest first.

    Raises
    ------
    DataError
        Unknown class, or the passage has no character of the class (or only such characters).
    """
    if char_class not in CHAR_CLASSES:
        raise DataError(f"Unknown character class {char_class!r}: choose one of "
                        f"{', '.join(CHAR_CLASSES)}.")
    mask = char_classes(gates.text)[char_class]          # (T,)
    k = int(mask.sum())
    if k == 0 or k == mask.size:
        what = "no" if k == 0 else "only"
        hint = (" The letters vocabulary has no punctuation, quotes or line ends: train with "
                "'all' characters to find those units." if char_class in ("punctuation", "line end",
                                                                          "inside quotes") else "")
        raise DataError(f"The passage has {what} {CHAR_CLASSES[char_class]}, so no unit can be "
                        f"compared on them: pick a longer or different passage.{hint}")
    v = gates.values(quantity, layer).astype(np.float64)  # (T, U)
    a, b = v[mask], v[~mask]                              # (k, U), (T-k, U)
    diff = a.mean(0) - b.mean(0)                          # (U,)
    sd = np.sqrt((a.var(0) + b.var(0)) / 2.0)             # (U,)
    effect = diff / np.maximum(sd, 1e-12)
    order = np.argsort(-np.abs(effect), kind="stable")
    rows = [UnitScore(int(u), float(a[:, u].mean()), float(b[:, u].mean()), float(effect[u]))
            for u in order]
    return rows[:top] if top else rows
