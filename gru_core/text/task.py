"""Training a character model with the shared job machinery, and watching it write as it learns.

:class:`LMTask` is the language model as a *task* for ``gru_core.train.TrainingRun.for_task``
(the Train page's run object: start / pause / resume / stop, snapshots, seeding, divergence,
best weights). Its losses are mean cross-entropies per character in nats, so every loss the run
reports is a log-perplexity: ``perplexity = exp(loss)``; throughput is counted in characters
("tokens"). One step is the textbook's::

    logits, state = model(X, state)             # X, Y: (B, T); logits (B, T, V)
    loss = cross_entropy(logits, Y)             # mean over the B*T characters
    state = state.detach()                      # sequential sampling only, reset every epoch

:class:`LiveSampler` is an ``on_progress`` callback: from the training thread (between steps,
so the weights are consistent) it writes a sample from the user's prefix every few seconds, and
ends the run when a time budget is spent. :func:`compare_speed` times one training step of
``nn.GRU`` and of the from-scratch GRU with the same weights.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from gru_core.errors import DataError
from gru_core.text.batches import batches_per_epoch, text_batches
from gru_core.text.config import TextConfig
from gru_core.text.corpus import CharVocab, TextData
from gru_core.text.infer import generate, mean_ce
from gru_core.task import seeded_global_rng
from gru_core.text.lm import CharLM, detach_state, init_charlm

__all__ = ["LMTask", "LiveSampler", "SampleSettings", "compare_speed"]


class LMTask:
    """A :class:`CharLM` on a :class:`TextData`, in the shape ``TrainingRun.for_task`` expects.

    Parameters
    ----------
    data : TextData
        Vocabulary, training ids and validation ids.
    cfg : TextConfig
        Batching (``seq_len``, ``batch_size``, ``sampling``) and the network.
    seed : int
        Seeds the weight initialisation (the run seeds the batches with its own generator).

    Attributes
    ----------
    model : CharLM
    unit : str
        ``"tokens"``: throughput is characters per second.
    """

    unit = "tokens"

    def __init__(self, data: TextData, cfg: TextConfig, seed: int = 0):
        self.data, self.cfg = data, cfg.validate()
        self.vocab: CharVocab = data.vocab
        n = batches_per_epoch(data.train.numel(), cfg.seq_len, cfg.batch_size, cfg.sampling)
        if n == 0:
            raise DataError(f"The training text ({data.train.numel():,} characters) is too short "
                            f"for one batch of {cfg.batch_size} x {cfg.seq_len} characters: use a "
                            "smaller batch, shorter sequences or a longer text.")
        self._steps = n
        with seeded_global_rng(torch.device("cpu")):     # nn's default init draws (then discarded)
            self.model = CharLM(cfg, len(data.vocab))
        init_charlm(self.model, torch.Generator().manual_seed(seed))   # the run's own seed
        self._train, self._val = data.train, data.val
        self._state = None                                # carried hidden state (sequential)

    def steps_per_epoch(self) -> int:
        """Optimiser steps per epoch (the same every epoch)."""
        return self._steps

    def to_device(self, device: torch.device) -> None:
        """Move the training and validation ids (the run moves the model)."""
        self._train, self._val = self._train.to(device), self._val.to(device)

    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterator[Any]:
        """This epoch's ``(X, Y)`` batches; the carried state starts from zero each epoch."""
        self._state = None
        yield from text_batches(self._train, self.cfg.seq_len, self.cfg.batch_size,
                                self.cfg.sampling, generator)

    def batch_size(self, batch) -> int:
        """Characters predicted in ``batch`` (B * T)."""
        return batch[1].numel()

    def loss(self, batch) -> torch.Tensor:
        """Mean cross-entropy per character (nats) of one batch; carries the state if sequential."""
        X, Y = batch                                       # (B, T), (B, T)
        state = self._state if self.cfg.sampling == "sequential" else None
        logits, state = self.model(X, state)               # (B, T, V)
        if self.cfg.sampling == "sequential":
            self._state = detach_state(state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))

    def validate(self, checkpoint: Callable[[], None]) -> float | None:
        """Mean cross-entropy per character on the validation text (``gru_core.text.mean_ce``)."""
        return mean_ce(self.model, self._val, checkpoint=checkpoint)


# ----------------------------------------------------------------------------- live samples
@dataclass
class SampleSettings:
    """What the live sample writes (the page may replace it while the run goes)."""

    prefix: str = "time traveller"   # text to continue
    length: int = 120                # characters to add
    temperature: float = 0.7         # 0 = greedy
    top_k: int | None = None         # sample among the k most likely characters
    seed: int = 0                    # sampling seed


@dataclass
class Sample:
    """One live sample: when it was written and what."""

    step: int
    elapsed_s: float
    text: str


class LiveSampler:
    """``on_progress`` callback that writes samples while training and enforces a time budget.

    Called from the training thread; never touches a UI. Read :meth:`latest` from any thread.

    Parameters
    ----------
    model : CharLM
        The model being trained (read between steps, in the training thread).
    vocab : CharVocab
    every_s : float
        Seconds of run time between samples (one is also written at the end).
    budget_s : float, optional
        End the run (through ``stop``) once this much run time has passed.
    """

    def __init__(self, model: CharLM, vocab: CharVocab, every_s: float = 3.0,
                 budget_s: float | None = None, settings: SampleSettings | None = None):
        self.model, self.vocab = model, vocab
        self.every_s, self.budget_s = every_s, budget_s
        self.settings = settings or SampleSettings()
        self.stop: Callable[[], None] | None = None        # set to run.stop after building the run
        self.budget_hit = False
        self.error: str | None = None
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._next = 0.0

    def set_settings(self, settings: SampleSettings) -> None:
        """Change what later samples write (any thread)."""
        with self._lock:
            self.settings = settings

    def __call__(self, progress) -> None:
        if (self.budget_s is not None and not progress.done and not self.budget_hit
                and progress.elapsed_s >= self.budget_s and self.stop is not None):
            self.budget_hit = True
            self.stop()
        if progress.step == 0 or progress.state == "failed":
            return
        if progress.elapsed_s < self._next and not progress.done:
            return
        self._next = progress.elapsed_s + self.every_s
        with self._lock:
            s = self.settings
        try:
            text = generate(self.model, self.vocab, s.prefix, s.length, s.temperature, s.top_k, s.seed)
            self.error = None
        except DataError as exc:
            self.error = str(exc)
            return
        with self._lock:
            self._samples.append(Sample(progress.step, progress.elapsed_s, text))
            del self._samples[:-50]                        # keep the last 50

    def latest(self) -> Sample | None:
        """The newest sample, or None before the first."""
        with self._lock:
            return self._samples[-1] if self._samples else None

    def history(self) -> list[Sample]:
        """The kept samples, oldest first (a copy)."""
        with self._lock:
            return list(self._samples)


# ----------------------------------------------------------------------------- speed
@torch.no_grad()
def _max_diff(a: CharLM, b: CharLM, x: torch.Tensor) -> float:
    return float((a(x)[0] - b(x)[0]).abs().max())


def compare_speed(cfg: TextConfig, vocab_size: int, repeats: int = 3, seed: int = 0) -> dict:
    """Time one training step (forward + backward) of ``nn.GRU`` and of ``ScratchGRU``.

    Both models get the same weights and the same random (B, T) batch; the result says how many
    characters per second each trains and how far their outputs differ.

    Returns
    -------
    dict
        ``{"nn.GRU": tokens/s, "scratch": tokens/s, "speedup": ratio, "max_abs_diff": float}``
    """
    base = dataclasses.replace(cfg, cell="gru", scratch=False, dropout=0.0).validate()
    gen = torch.Generator().manual_seed(seed)
    with seeded_global_rng(torch.device("cpu")):
        fast = CharLM(base, vocab_size)
        slow = CharLM(dataclasses.replace(base, scratch=True), vocab_size)
    init_charlm(fast, gen)
    x = torch.randint(1, vocab_size, (cfg.batch_size, cfg.seq_len), generator=gen)   # (B, T)
    slow.load_state_dict(fast.state_dict())               # identical parameter names
    out = {}
    for name, m in (("nn.GRU", fast), ("scratch", slow)):
        best = math.inf
        for _ in range(repeats + 1):                      # the first call warms up
            t0 = time.perf_counter()
            with torch.enable_grad():
                logits, _ = m(x)                              # (B, T, V)
                F.cross_entropy(logits.reshape(-1, vocab_size), x.reshape(-1)).backward()
            best = min(best, time.perf_counter() - t0)
            m.zero_grad(set_to_none=True)
        out[name] = x.numel() / best
    out["speedup"] = out["nn.GRU"] / out["scratch"]
    out["max_abs_diff"] = _max_diff(fast, slow, x)
    return out
