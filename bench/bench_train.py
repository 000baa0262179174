"""Benchmark: GRU Lab's TrainingRun against a minimal hand-written PyTorch loop.

    python bench/bench_train.py            # the standard config, 5 epochs
    python bench/bench_train.py --quick    # 1 epoch

Standard config: a 20,000-point series sin(2 pi t/50) + 0.5 sin(2 pi t/13) + 0.1 N(0,1)
(numpy default_rng(0)), lookback 48, horizon 12, standard scaler, split 0.7/0.15/0.15; a GRU with
hidden 64, 2 layers; the default recipe (``TrainConfig()`` planned for the 13,941 training
windows, ``TrainConfig.plan``: Adam, peak lr 1e-2 with per-step linear warm-up + cosine decay,
batch 128, the dense loss, gradient clipping 1.0), no early stopping, 2 torch threads, CPU. The
plain loop sets the same per-step rate (``gru_core.loop.lr_at``) and writes the dense loss out.

Fairness: both sides build the same Forecaster from the same seed (``init_weights`` with a seeded
torch.Generator, as the trainer does), shuffle with the same seeded torch.Generator, index the same strided window views, clip gradients, read ``loss.item()`` once
per step, and run the SAME per-epoch validation (whole validation split, eval mode, no_grad,
batches of 1024). Both therefore follow the same trajectory (equal test MSE). The timed region is
``TrainingRun.run()`` versus the loop including its optimiser construction; model construction is
outside both. The sides alternate (A B, then B A, ...) after one untimed warm-up of each, because
the machine is noisy; the best round of each is compared (the median is printed too).

Throughput = training windows processed / wall-clock seconds. Target: trainer >= 0.95x the plain
loop; the script exits with status 1 if the target is missed.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.data import series_from_array  # noqa: E402
from gru_core.evaluate import predict  # noqa: E402
from gru_core.loop import lr_at  # noqa: E402
from gru_core.model import Forecaster, ModelConfig, init_weights  # noqa: E402
from gru_core.train import TrainConfig, TrainingRun  # noqa: E402
from gru_core.windows import SplitConfig, WindowConfig, make_dataset  # noqa: E402

TARGET_RATIO = 0.95


def standard_dataset(n: int = 20_000):
    """The benchmark series, windowed and scaled."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 13) + 0.1 * rng.standard_normal(n)
    return make_dataset(series_from_array(y), WindowConfig(lookback=48, horizon=12),
                        SplitConfig(0.7, 0.15, 0.15), scaler="standard")


def plain_loop(ds, model_cfg: ModelConfig, cfg: TrainConfig,
               on_epoch_end=None) -> tuple[float, Forecaster]:
    """The minimal hand-written loop. Returns (seconds, trained model).

    The learning rate follows ``cfg``'s per-step schedule (``lr_at``; constant for
    ``schedule="constant"``). ``on_epoch_end(epoch, model, seconds_so_far)`` (optional) is called
    after each epoch's validation; it returns True to stop, and its own time is not counted.
    """
    cfg = cfg.plan(ds.train.X.shape[0])      # the batch, rate and loss the trainer would use
    model = init_weights(Forecaster(model_cfg), torch.Generator().manual_seed(cfg.seed))
    gen = torch.Generator().manual_seed(cfg.seed)
    X, Y = ds.train.X, ds.train.Y            # (N, L, C), (N, H) strided views
    Xv, Yv = ds.val.X, ds.val.Y
    N, B = X.shape[0], cfg.batch_size
    losses = []
    total, step, excluded = cfg.epochs * -(-N // B), 0, 0.0
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for epoch in range(1, cfg.epochs + 1):
        perm = torch.randperm(N, generator=gen)
        model.train()
        for i in range(0, N, B):
            idx = perm[i:i + B]
            xb, yb = X[idx], Y[idx]
            opt.zero_grad(set_to_none=True)
            opt.param_groups[0]["lr"] = lr_at(step, total, cfg)
            step += 1
            if cfg.dense_loss == "on":           # head on every state of the window's second half
                first, H = xb.shape[1] // 2, yb.shape[1]
                out, _ = model.rnn(xb)
                z = torch.cat([xb[:, :, 0], yb], dim=1)
                loss = F.mse_loss(model.head(out[:, first:]), z.unfold(1, H, 1)[:, first + 1:])
            else:
                loss = F.mse_loss(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            total_se = sum(F.mse_loss(model(Xv[i:i + 1024]), Yv[i:i + 1024], reduction="sum").item()
                        for i in range(0, Xv.shape[0], 1024))
        _val = total_se / Yv.numel()
        if on_epoch_end is not None:
            t1 = time.perf_counter()
            stop = on_epoch_end(epoch, model, t1 - t0 - excluded)
            excluded += time.perf_counter() - t1
            if stop:
                break
    return time.perf_counter() - t0 - excluded, model


def trainer_run(ds, model_cfg: ModelConfig, cfg: TrainConfig) -> tuple[float, Forecaster]:
    """GRU Lab's TrainingRun.run(). Returns (seconds, trained model)."""
    run = TrainingRun(ds, model_cfg, cfg)
    t0 = time.perf_counter()
    p = run.run()
    seconds = time.perf_counter() - t0
    if p.state != "finished":
        raise RuntimeError(f"the trainer ended {p.state}: {p.reason}")
    if p.threads != torch.get_num_threads():
        raise RuntimeError(f"the trainer used {p.threads} threads, the plain loop "
                           f"{torch.get_num_threads()}: set GRU_LAB_TRAIN_THREADS to compare")
    return seconds, run.model


def test_mse(model: Forecaster, ds) -> float:
    """MSE on the test windows, scaled units."""
    pred = predict(model, ds.test.X)
    return float(np.mean((pred - ds.test.Y.numpy()) ** 2))


def run(epochs: int = 5, repeats: int = 3, n: int = 20_000, threads: int = 2,
        verbose: bool = True) -> dict:
    """Time both sides alternately; return throughputs, ratio, test MSEs and peak RSS.

    Returns
    -------
    dict
        ``trainer_wps`` / ``plain_wps`` (best round, windows/s), ``trainer_wps_median`` /
        ``plain_wps_median``, ``ratio`` (best trainer / best plain), ``target``, ``ok``,
        ``trainer_test_mse`` / ``plain_test_mse``, ``peak_rss_mib``, ``rounds`` (per-round
        seconds), ``train_windows``, ``epochs``.
    """
    torch.set_num_threads(threads)
    ds = standard_dataset(n)
    model_cfg = ModelConfig(input_size=1, hidden_size=64, num_layers=2, horizon=12)
    cfg = TrainConfig(epochs=epochs, clip_grad=1.0, patience=0, seed=0,  # the default recipe
                      device="cpu", num_threads=threads)
    n_train = ds.train.X.shape[0]
    say = print if verbose else (lambda *a, **k: None)
    planned = cfg.plan(n_train)
    say(f"series {n} points, {n_train} training windows, {ds.val.X.shape[0]} validation windows; "
        f"hidden 64 x 2 layers, batch {planned.batch_size}, lr {planned.lr:g} ({cfg.schedule}, "
        f"dense loss {planned.dense_loss}), "
        f"{epochs} epoch(s), {threads} threads, torch {torch.__version__}")

    # untimed warm-up: first-use costs (lazy imports inside torch.optim, allocator) for both sides
    warm = TrainConfig(**{**cfg.to_dict(), "epochs": 1})
    small = make_dataset(series_from_array(ds.series.values[:2000, 0]), ds.window)
    plain_loop(small, model_cfg, warm)
    trainer_run(small, model_cfg, warm)

    sides = {"trainer": trainer_run, "plain": plain_loop}
    seconds: dict[str, list[float]] = {"trainer": [], "plain": []}
    models = {}
    for r in range(repeats):
        order = ("trainer", "plain") if r % 2 == 0 else ("plain", "trainer")
        for name in order:
            cpu0 = time.process_time()
            s, models[name] = sides[name](ds, model_cfg, cfg)
            cpu = time.process_time() - cpu0
            seconds[name].append(s)
            say(f"  round {r + 1} {name:7s}: {s:7.2f} s wall ({cpu:7.2f} s CPU)  "
                f"{epochs * n_train / s:9.0f} windows/s")

    work = epochs * n_train
    wps = {k: work / min(v) for k, v in seconds.items()}
    med = {k: work / statistics.median(v) for k, v in seconds.items()}
    result = {
        "trainer_wps": wps["trainer"], "plain_wps": wps["plain"],
        "trainer_wps_median": med["trainer"], "plain_wps_median": med["plain"],
        "ratio": wps["trainer"] / wps["plain"], "target": TARGET_RATIO,
        "trainer_test_mse": test_mse(models["trainer"], ds),
        "plain_test_mse": test_mse(models["plain"], ds),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rounds": seconds, "train_windows": n_train, "epochs": epochs,
    }
    result["ok"] = result["ratio"] >= TARGET_RATIO
    say(f"trainer      : {result['trainer_wps']:9.0f} windows/s (best)  "
        f"{result['trainer_wps_median']:9.0f} (median)  test MSE {result['trainer_test_mse']:.6f}")
    say(f"plain loop   : {result['plain_wps']:9.0f} windows/s (best)  "
        f"{result['plain_wps_median']:9.0f} (median)  test MSE {result['plain_test_mse']:.6f}")
    say(f"ratio        : {result['ratio']:.3f}  (target >= {TARGET_RATIO})  "
        f"{'OK' if result['ok'] else 'MISSED'}")
    say(f"peak RSS     : {result['peak_rss_mib']:.0f} MiB")
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 epoch instead of 5")
    ap.add_argument("--repeats", type=int, default=3, help="rounds per side (alternating)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args(argv)
    result = run(epochs=1 if args.quick else 5, repeats=args.repeats, threads=args.threads)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
