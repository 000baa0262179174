"""Benchmark: the Text page's trainer (TrainingRun.for_task + LMTask) against a minimal hand-written
loop of the same character model, in the same process.

    python bench/bench_text.py            # 7 rounds of 1 epoch each side on 60,000 characters
    python bench/bench_text.py --quick    # 1 round

Config: the Text page's defaults -- letters vocabulary, T = 32, B = 32, sequential batches with the
state carried, one-hot input, a 1-layer GRU of 128 units, Adam lr 0.01, clipping 1.0 -- trained on
the first 60,000 characters of The Time Machine (90 / 10 split), one torch thread, CPU.

Fairness: both sides build the same CharLM from the same seed (``init_charlm``), draw the same
batches from a ``torch.Generator`` with the same seed (``sequential_batches``), carry and detach
the state the same way, clip, read ``loss.item()`` once per step and validate after every epoch
with the same ``mean_ce``. They therefore follow the same trajectory: the validation perplexity
after the same number of characters is printed for both (it should agree to rounding). The timed
region is ``TrainingRun.run()`` versus the loop including its optimiser construction; the sides
alternate (A B, B A, ...) and the best round of each is compared (a shared machine is noisy:
single rounds of the same side varied 3x on a loaded 2-core box).

Throughput = training characters / wall-clock seconds (validation included on both sides).
Target: trainer >= 0.95x the hand-written loop; exit status 1 if missed.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.task import seeded_global_rng  # noqa: E402
from gru_core.text import (CharLM, LMTask, TextConfig, init_charlm, load_time_machine,  # noqa: E402
                           mean_ce, perplexity, sequential_batches, text_dataset)
from gru_core.text.lm import detach_state  # noqa: E402
from gru_core.train import TrainConfig, TrainingRun  # noqa: E402

CHARS, EPOCHS, SEED, LR, CLIP, THREADS = 60_000, 1, 0, 1e-2, 1.0, 1
CFG = TextConfig(vocab="letters", seq_len=32, batch_size=32, hidden_size=128)


def hand_loop(data) -> tuple[float, float, int, CharLM]:
    """The minimal loop. Returns (seconds, final validation mean CE, training characters, model)."""
    with seeded_global_rng(torch.device("cpu")):
        model = CharLM(CFG, len(data.vocab))
    init_charlm(model, torch.Generator().manual_seed(SEED))
    gen = torch.Generator().manual_seed(SEED)
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    chars, val = 0, math.nan
    for _ in range(EPOCHS):
        model.train()
        state = None
        for X, Y in sequential_batches(data.train, CFG.seq_len, CFG.batch_size, gen):
            opt.zero_grad(set_to_none=True)
            logits, state = model(X, state)                         # (B, T, V)
            state = detach_state(state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            loss.item()
            chars += Y.numel()
        val = mean_ce(model, data.val)
    return time.perf_counter() - t0, val, chars, model


def trainer(data) -> tuple[float, float, int, CharLM]:
    task = LMTask(data, CFG, seed=SEED)
    run = TrainingRun.for_task(task, TrainConfig(lr=LR, epochs=EPOCHS, clip_grad=CLIP, patience=0,
                                                 seed=SEED, device="cpu", num_threads=THREADS))
    t0 = time.perf_counter()
    p = run.run()
    seconds = time.perf_counter() - t0
    assert p.state == "finished", p.reason
    return seconds, p.epoch_val[-1], p.step * CFG.seq_len * CFG.batch_size, task.model


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one round instead of seven")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    data = text_dataset(load_time_machine()[:CHARS], CFG)
    print(f"bench_text: {data}, GRU 128 units, T={CFG.seq_len}, B={CFG.batch_size}, "
          f"{EPOCHS} epochs, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    best = {"trainer": math.inf, "hand loop": math.inf}
    result = {}
    for r in range(1 if args.quick else 7):
        order = [("hand loop", hand_loop), ("trainer", trainer)]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            seconds, val, chars, model = fn(data)
            best[name] = min(best[name], seconds)
            result[name] = (val, chars, model)
            print(f"  round {r + 1} {name:9s}: {seconds:6.2f} s, {chars / seconds:8,.0f} chars/s, "
                  f"val perplexity {math.exp(val):.4f}")
    (v_h, c_h, m_h), (v_t, c_t, m_t) = result["hand loop"], result["trainer"]
    assert c_h == c_t, (c_h, c_t)
    tps_h, tps_t = c_h / best["hand loop"], c_t / best["trainer"]
    ratio = tps_t / tps_h
    print(f"throughput (best round): trainer {tps_t:,.0f} chars/s, hand loop {tps_h:,.0f} chars/s, "
          f"ratio {ratio:.3f} (target >= 0.95)")
    print(f"validation perplexity after {c_t:,} training characters: trainer {math.exp(v_t):.4f}, "
          f"hand loop {math.exp(v_h):.4f} (independent re-score: {perplexity(m_t, data.val):.4f} / "
          f"{perplexity(m_h, data.val):.4f}; uniform guess = {len(data.vocab)})")
    ok = ratio >= 0.95 and abs(v_t - v_h) < 1e-3
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
