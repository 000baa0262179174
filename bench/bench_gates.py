"""Benchmark: gru_core.gates.trace_gates versus nn.GRU's own forward on the same input.

The gate tracer re-runs the GRU step by step in Python, so it can never beat the fused kernel by
much; the target is that tracing costs at most ``TARGET_RATIO`` (3x) the plain forward for
T = 5,000, hidden 128, 2 layers, batch 1, input_size 1, float32, 2 torch threads. Also reports
the Gates page case (T = 2,000, hidden 128).

Run ``python bench/bench_gates.py``: prints both times in ms and the ratio, exits 1 if the main
case misses the target. ``run(...)`` returns the numbers for a combined benchmark.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from gru_core.gates import trace_gates  # noqa: E402

TARGET_RATIO = 3.0  # trace_gates may take at most this many times nn.GRU's forward


def _time_ms(fn) -> float:
    """Wall time of one call of ``fn()`` in milliseconds."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def run(T: int = 5000, hidden_size: int = 128, num_layers: int = 2, batch: int = 1,
        input_size: int = 1, threads: int = 2, dtype: torch.dtype = torch.float32,
        warmup: int = 2, repeats: int = 7, seed: int = 0) -> dict:
    """Time ``nn.GRU`` forward and ``trace_gates`` on the same random input.

    Parameters
    ----------
    T, hidden_size, num_layers, batch, input_size : int
        Problem size; the input is (batch, T, input_size).
    threads : int
        ``torch.set_num_threads`` during the measurement (restored afterwards).
    dtype : torch.dtype
        Weights and input dtype.
    warmup, repeats : int
        Untimed calls first, then the median of ``repeats`` timed calls. The two functions are
        timed alternately, one after the other, so drifts in machine load hit both alike.
    seed : int
        Seed for weights and input.

    Returns
    -------
    dict
        ``case`` (str), ``gru_ms``, ``trace_ms`` (medians), ``gru_min_ms``, ``trace_min_ms``
        (fastest runs, less sensitive to a busy machine), ``ratio`` (median trace / median gru),
        ``target``, ``ok`` (ratio <= target), ``max_abs_diff`` (|trace.output - gru output|).
    """
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        gru = nn.GRU(input_size, hidden_size, num_layers, batch_first=True).to(dtype).eval()
        x = torch.randn(batch, T, input_size, dtype=dtype)  # (B, T, C)

        def forward():
            with torch.no_grad():
                return gru(x)

        def trace():
            return trace_gates(gru, x)

        for _ in range(warmup):
            forward()
            trace()
        gru_t, trace_t = [], []
        for _ in range(repeats):  # alternate so that load changes affect both
            gru_t.append(_time_ms(forward))
            trace_t.append(_time_ms(trace))
        gru_ms, trace_ms = statistics.median(gru_t), statistics.median(trace_t)
        diff = (trace().output - forward()[0]).abs().max().item()
    finally:
        torch.set_num_threads(old_threads)
    ratio = trace_ms / gru_ms
    return {
        "case": f"T={T} hidden={hidden_size} layers={num_layers} B={batch} "
                f"threads={threads} {str(dtype).removeprefix('torch.')}",
        "gru_ms": gru_ms, "trace_ms": trace_ms, "gru_min_ms": min(gru_t),
        "trace_min_ms": min(trace_t), "ratio": ratio, "target": TARGET_RATIO,
        "ok": ratio <= TARGET_RATIO, "max_abs_diff": diff,
    }


def _print(res: dict) -> None:
    print(f"{res['case']}: median nn.GRU {res['gru_ms']:.1f} ms | trace_gates {res['trace_ms']:.1f} ms | "
          f"ratio {res['ratio']:.2f} (target <= {res['target']:.0f}) "
          f"{'OK' if res['ok'] else 'TOO SLOW'} | fastest {res['gru_min_ms']:.1f} / "
          f"{res['trace_min_ms']:.1f} ms | max |diff| {res['max_abs_diff']:.1e}")


def main() -> int:
    main_case = run(T=5000)
    _print(main_case)
    _print(run(T=2000))  # the Gates page case (informational)
    return 0 if main_case["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
