"""Benchmark: the gate tape's cost on training, and what-if recompute latency.

    python bench/bench_lab.py            # 3 rounds of each side, 10 epochs per run
    python bench/bench_lab.py --quick    # 1 round, 3 epochs

1. Tape on vs off: the app's default setup (sunspots sample, lookback 24, horizon 6, split
   0.7/0.15/0.15, GRU 32 units x 1 layer, batch 32, Adam 0.005, clipping 1.0), early stopping off
   so both sides run the same epochs, CPU, 2 threads. One side is ``TrainingRun.run()``; the other
   the same run with a ``GateTape`` on test window 0 (``on_epoch_end``). The sides alternate
   after an untimed warm-up; the best round of each is compared. Throughput = training windows
   per second (``Progress.windows_per_s``, which includes the tape's time at each epoch end).
   Target: ratio (tape on / off) >= 0.9; exit status 1 if missed. Also printed: the cost model,
   ``record()``'s own time per epoch against an epoch's time (robust on a loaded machine).
2. What-if latency: ``what_if`` (edited window -> trace -> forecast) on one window, unclamped
   (``trace_gates``) and with a z clamp (the plain clamped loop), for the default model and for
   hidden 128 x 2 layers x lookback 200 (median of 5 after a warm-up). Target: <= 0.5 s for the
   default model.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.data import load_sample, prepare_series, series_from_array  # noqa: E402
from gru_core.intervene import Clamp, Edit, apply_edits, what_if, window_values  # noqa: E402
from gru_core.model import Forecaster, ModelConfig  # noqa: E402
from gru_core.tape import GateTape  # noqa: E402
from gru_core.train import TrainConfig, TrainingRun  # noqa: E402
from gru_core.windows import SplitConfig, WindowConfig, make_dataset  # noqa: E402

TARGET_RATIO, TARGET_LATENCY_S = 0.9, 0.5


def default_dataset():
    series = prepare_series(load_sample("sunspots"), load_sample("sunspots").numeric_columns[0])
    return make_dataset(series, WindowConfig(24, 6), SplitConfig(0.7, 0.15, 0.15))


def one_run(ds, epochs: int, tape: bool) -> tuple[float, float, int]:
    """(windows/s, seconds, frames) of one run."""
    mc = ModelConfig(input_size=1, hidden_size=32, num_layers=1, horizon=6)
    tc = TrainConfig(epochs=epochs, batch_size=32, lr=0.005, patience=0, device="cpu",
                     num_threads=2, seed=0)
    run = TrainingRun(ds, mc, tc)
    t = GateTape(ds.test.X[0]) if tape else None
    if t is not None:
        t.record(0, run.model)
        run.on_epoch_end = t.record
    p = run.run()
    return p.windows_per_s, p.elapsed_s, len(t) if t else 0


def latency(model, ds, clamps, reps: int = 5) -> float:
    v = apply_edits(window_values(ds, "test", 0), [Edit("spike", ds.window.lookback - 1, amount=1.0)])
    what_if(model, ds, v, clamps)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        what_if(model, ds, v, clamps)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    rounds, epochs = (1, 3) if args.quick else (3, 10)
    ds = default_dataset()
    print(f"1. tape on vs off: default setup, {len(ds.train.starts)} training windows, "
          f"{epochs} epochs, {rounds} round(s) per side, torch threads {torch.get_num_threads()}")
    one_run(ds, 1, False), one_run(ds, 1, True)  # warm-up
    off, on, secs_off = [], [], []
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        for tape in order:
            wps, secs, frames = one_run(ds, epochs, tape)
            (on if tape else off).append(wps)
            if not tape:
                secs_off.append(secs)
            print(f"   round {r + 1} tape {'on ' if tape else 'off'}: {wps:9.0f} windows/s "
                  f"({secs:.2f} s{f', {frames} frames' if tape else ''})")
    ratio = max(on) / max(off)
    print(f"   best: off {max(off):.0f}, on {max(on):.0f} windows/s -> ratio {ratio:.3f} "
          f"(target >= {TARGET_RATIO}); median ratio {statistics.median(on) / statistics.median(off):.3f}")
    tape = GateTape(ds.test.X[0], max_frames=10 ** 6)
    model = Forecaster(ModelConfig(hidden_size=32, num_layers=1, horizon=6))
    rec = []
    for e in range(50):
        t0 = time.perf_counter()
        tape.record(e, model)
        rec.append(time.perf_counter() - t0)
    epoch_s = min(secs_off) / epochs
    print(f"   cost model (robust to a loaded machine): record() {statistics.median(rec) * 1e3:.3f} ms "
          f"per epoch vs {epoch_s * 1e3:.0f} ms per epoch -> ratio "
          f"{epoch_s / (epoch_s + statistics.median(rec)):.4f}")
    print(f"   memory: {tape.frame_bytes() / 1e3:.1f} KB per frame, at most 200 frames = "
          f"{200 * tape.frame_bytes() / 1e6:.1f} MB")

    print("2. what-if latency (median of 5): unclamped / z clamped on all units")
    ok = True
    for name, (U, K, L) in {"default 32 x 1, lookback 24": (32, 1, 24),
                            "128 x 2 layers, lookback 200": (128, 2, 200)}.items():
        t = np.arange(3000, dtype=float)
        big = make_dataset(series_from_array(np.sin(t / 20)), WindowConfig(L, 6),
                           SplitConfig(0.7, 0.15, 0.15)) if L != 24 else ds
        torch.manual_seed(0)
        model = Forecaster(ModelConfig(hidden_size=U, num_layers=K, horizon=6)).eval()
        free = latency(model, big, ())
        clamped = latency(model, big, [Clamp("z", 1.0, steps=(L // 2, L))])
        print(f"   {name:30s}: {free * 1e3:7.1f} ms / {clamped * 1e3:7.1f} ms")
        if L == 24:
            ok = ok and max(free, clamped) <= TARGET_LATENCY_S
    passed = ratio >= TARGET_RATIO and ok
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
