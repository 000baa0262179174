"""Scoring and writing with a character model: perplexity, and text generated from a prefix.

Perplexity is ``exp`` of the mean cross-entropy per character (natural log), over every
character of the text but the first, each predicted from the ones before it:

    PPL = exp( -(1 / (N-1)) * sum_{t=1}^{N-1} log p(c_t | c_0 .. c_{t-1}) )

1 is a perfect model; a model that spreads its bets evenly over V symbols scores exactly V. The
text is read as ``streams`` contiguous pieces side by side (a batch), each from a zero state, in
chunks of ``chunk`` characters with the state carried between chunks; so the first character of
each piece is predicted without context. ``streams=1`` scores the text as one sequence.

Generation: the prefix is read (warm-up), then one character at a time is chosen from the model's
next-character distribution and fed back in. ``temperature`` divides the logits (0 = greedy: the
most likely character), ``top_k`` keeps only the k most likely, and a seeded ``torch.Generator``
makes a sampled text reproducible. The unknown token is never chosen.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable

import torch
import torch.nn.functional as F

from gru_core.errors import DataError
from gru_core.text.corpus import CharVocab

__all__ = ["MAX_GENERATE", "generate", "mean_ce", "perplexity"]

MAX_GENERATE = 2_000     # longest generated continuation (characters)


@contextmanager
def eval_mode(model: torch.nn.Module):
    """``model.eval()`` inside the block, its previous mode restored after."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def mean_ce(model, ids: torch.Tensor, *, streams: int = 8, chunk: int = 256,
            checkpoint: Callable[[], None] | None = None) -> float:
    """Mean cross-entropy per character (nats) of ``model`` on the text ``ids``.

    Parameters
    ----------
    model : CharLM
        Any module with ``forward(x (B, T), state) -> (logits (B, T, V), state)``.
    ids : torch.Tensor
        (N,) int64, N >= 2.
    streams, chunk : int
        Pieces read side by side and characters per forward call (see the module docstring).
    checkpoint : callable, optional
        Called before every chunk (the trainer's pause / stop check).

    Returns
    -------
    float
        ``-(1/(N-1)) sum log p(c_t | c_<t)`` accumulated in float64 on the host.
    """
    ids = torch.as_tensor(ids).reshape(-1)
    M = ids.numel() - 1                                  # characters predicted
    if M < 1:
        raise DataError(f"Perplexity needs a text of at least 2 characters; got {M + 1}.")
    S = max(1, min(int(streams), M))
    L = -(-M // S)                                       # ceil: characters per stream
    dev = _device(model)
    inp = torch.zeros(S * L, dtype=torch.long, device=dev)         # (S*L,) padded with id 0
    tgt = torch.full((S * L,), -100, dtype=torch.long, device=dev)  # padding is not scored
    inp[:M], tgt[:M] = ids[:-1].to(dev), ids[1:].to(dev)
    inp, tgt = inp.view(S, L), tgt.view(S, L)            # (S, L) each
    total, state = 0.0, None
    with eval_mode(model):
        for s in range(0, L, chunk):
            if checkpoint is not None:
                checkpoint()
            logits, state = model(inp[:, s:s + chunk], state)        # (S, c, V)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                     tgt[:, s:s + chunk].reshape(-1), ignore_index=-100,
                                     reduction="sum").item()
    return total / M


def perplexity(model, data, *, streams: int = 8, chunk: int = 256) -> float:
    """``exp(mean_ce(model, data))``: perplexity per character of ``model`` on ``data``.

    Parameters
    ----------
    model : CharLM
    data : torch.Tensor or TextData
        (N,) ids, or a :class:`~gru_core.text.corpus.TextData` (its validation part is scored).
    """
    ids = data.val if hasattr(data, "val") else data
    return math.exp(mean_ce(model, ids, streams=streams, chunk=chunk))


@torch.no_grad()
def generate(model, vocab: CharVocab, prefix: str, length: int = 200, temperature: float = 1.0,
             top_k: int | None = None, seed: int = 0) -> str:
    """Continue ``prefix`` by ``length`` characters.

    Parameters
    ----------
    model : CharLM
    vocab : CharVocab
        The vocabulary the model was trained with (the prefix is cleaned by its mode).
    prefix : str
        At least one character (after cleaning); unknown characters read as ``<unk>``.
    length : int
        Characters to add, 0 to :data:`MAX_GENERATE`.
    temperature : float
        0 = greedy (always the most likely next character); otherwise sample from
        ``softmax(logits / temperature)``: below 1 safer, above 1 wilder.
    top_k : int, optional
        Sample only among the k most likely characters (ignored when greedy).
    seed : int
        Seeds the sampling generator: the same model, prefix, settings and seed give the same text.

    Returns
    -------
    str
        The cleaned prefix followed by the generated characters.
    """
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= MAX_GENERATE:
        raise DataError(f"length must be a whole number from 0 to {MAX_GENERATE:,}; got {length!r}.")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)
            and 0 <= temperature <= 10):
        raise DataError(f"temperature must be from 0 (greedy) to 10; got {temperature!r}. "
                        "1 samples the model as it is.")
    V = len(vocab)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or not 1 <= top_k <= V):
        raise DataError(f"top_k must be a whole number from 1 to {V} (the vocabulary size), or "
                        f"None for no limit; got {top_k!r}.")
    ids = vocab.encode(prefix)                                   # (P,)
    if ids.numel() == 0:
        raise DataError("Type a prefix of at least one character for the model to continue"
                        + (" (letters mode keeps only a-z and spaces)." if vocab.mode == "letters"
                           else "."))
    gen = torch.Generator().manual_seed(int(seed))
    dev = _device(model)
    out: list[int] = []
    with eval_mode(model):
        logits, state = model(ids.to(dev).unsqueeze(0))          # (1, P, V)
        for _ in range(length):
            last = logits[0, -1].float().cpu()                   # (V,)
            last[0] = -math.inf                                  # never the unknown token
            if temperature == 0:
                nxt = int(last.argmax())
            else:
                last = last / temperature
                if top_k is not None and top_k < V:
                    kth = torch.topk(last, top_k).values[-1]
                    last = last.masked_fill(last < kth, -math.inf)
                nxt = int(torch.multinomial(torch.softmax(last, dim=0), 1, generator=gen))
            out.append(nxt)
            logits, state = model(torch.tensor([[nxt]], device=dev), state)  # (1, 1, V)
    return vocab.decode(ids) + vocab.decode(out)
