"""Benchmark: time to a good model -- GRU Lab's default recipe against Darts and a plain loop.

    python bench/bench_ttq.py --darts-python /work/venv-bench/bin/python   # 3 rounds
    python bench/bench_ttq.py --rounds 5 --darts-python PATH

Darts is not an app dependency: install it from ``requirements-bench.txt`` into its own venv and
pass that venv's python with ``--darts-python`` (default: this interpreter).

Standard config (as ``bench/bench_train.py``): a 20,000-point series sin(2 pi t/50) +
0.5 sin(2 pi t/13) + 0.1 N(0,1) (numpy default_rng(0)), lookback 48, horizon 12, standard scaler
fitted on the training part, split 0.7/0.15/0.15; GRU hidden 64 x 2 layers; 2 torch threads; CPU.
Three tools, each in its own subprocess, the order rotated every round:

* ``plain``  -- bench_train's hand-written loop: Adam 1e-3, batch 256, no schedule, clip 1.0;
* ``gru_lab`` -- ``TrainingRun`` with ``TrainConfig()``'s defaults (= the app recipe
  ``gru_core.defaults.DEFAULTS``: optimiser, lr, schedule, batch, head), epochs = the cap;
* ``darts``  -- ``darts.models.BlockRNNModel(model="GRU", hidden_dim=64, n_rnn_layers=2,
  input_chunk_length=48, output_chunk_length=12, batch_size=256, Adam lr 1e-3)`` trained on the
  same scaled training part (the same 13,941 windows).

After every epoch each tool's model forecasts the same test windows (``ds.test``: 2,989 windows x
12 steps); a tool stops at the first epoch whose test MSE is <= the threshold, or after 30 epochs.
The clock runs from model construction to that epoch's end; the test evaluations are excluded
(each tool's own work -- GRU Lab's per-epoch validation, Darts's dataset and trainer set-up --
counts). For Darts the test forecast is its module's own layers applied exactly as its
``forward`` does (rnn -> last 12 outputs -> fc), checked once per run against ``model.predict``.

Units: the threshold 0.0130 is an MSE in the series' own units (the standard scaler is affine, so
this is the scaled-unit MSE times scale**2 = 0.632). In scaled units the noise alone costs
0.01 / 0.632 = 0.0158 -- no model can reach 0.0130 there -- while the issue's epoch counts match
the raw-unit reading. Both are printed.

Printed: per round and tool the seconds, epochs, windows/s (training windows per second) and final
MSE; the medians; the ratios GRU Lab / Darts and GRU Lab / plain of the median seconds; the load
average before and after. Exit status 1 if GRU Lab / Darts > 0.5 (or a tool never reached the
threshold).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

THRESHOLD = 0.0130     # test MSE, the series' own units
MAX_EPOCHS = 30
TARGET = 0.5           # GRU Lab time / Darts time
THREADS = 2
TOOLS = ("plain", "gru_lab", "darts")


# ----------------------------------------------------------------------------- workers

def _setup():
    import numpy as np
    import torch
    torch.set_num_threads(THREADS)
    # torch.optim's first optimizer imports torch._dynamo (~2-3 s, once per process). Darts has
    # imported it (through Lightning) before its clock starts; do the same for every tool, so the
    # clock measures training, not a library import.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    from bench_train import standard_dataset
    ds = standard_dataset()
    scale2 = float(ds.scaler.scale[0]) ** 2
    Xt, Yt = ds.test.X, ds.test.Y.numpy()

    def mse(predict_fn) -> float:
        """Test MSE in scaled units of ``predict_fn(X) -> (n, 12)`` (eval mode, no grad)."""
        with torch.no_grad():
            pred = np.concatenate([np.asarray(predict_fn(Xt[i:i + 1024]), dtype=np.float64)
                                   for i in range(0, Xt.shape[0], 1024)])
        return float(np.mean((pred - Yt) ** 2))
    return ds, scale2, mse


def _result(tool, seconds, epochs, mse_scaled, scale2, n_train, **extra) -> dict:
    return {"tool": tool, "seconds": seconds, "epochs": epochs, "mse_scaled": mse_scaled,
            "mse": mse_scaled * scale2, "reached": mse_scaled * scale2 <= THRESHOLD,
            "windows_per_s": epochs * n_train / seconds, **extra}


def worker_plain() -> dict:
    from bench_train import plain_loop
    from gru_core.model import ModelConfig
    from gru_core.train import TrainConfig
    ds, scale2, mse = _setup()
    state = {}

    def on_epoch_end(epoch, model, seconds):
        model.eval()
        state.update(epoch=epoch, seconds=seconds, mse=mse(model))
        model.train()
        return state["mse"] * scale2 <= THRESHOLD

    cfg = TrainConfig(lr=1e-3, batch_size=256, schedule="constant", epochs=MAX_EPOCHS,
                      clip_grad=1.0, patience=0, device="cpu", num_threads=THREADS)
    plain_loop(ds, ModelConfig(input_size=1, hidden_size=64, num_layers=2, horizon=12), cfg,
               on_epoch_end=on_epoch_end)
    return _result("plain", state["seconds"], state["epoch"], state["mse"], scale2,
                   ds.train.X.shape[0])


def worker_gru_lab() -> dict:
    from gru_core.model import ModelConfig
    from gru_core.train import TrainConfig, TrainingRun
    ds, scale2, mse = _setup()
    cfg = TrainConfig(epochs=MAX_EPOCHS, device="cpu", num_threads=THREADS)  # the default recipe
    state = {"excluded": 0.0}
    t0 = time.perf_counter()
    run = TrainingRun(ds, ModelConfig(input_size=1, hidden_size=64, num_layers=2, horizon=12), cfg)

    def on_epoch_end(epoch, model):
        t1 = time.perf_counter()
        model.eval()
        value = mse(model)
        model.train()
        state.update(epoch=epoch, seconds=t1 - t0 - state["excluded"], mse=value)
        state["excluded"] += time.perf_counter() - t1
        if value * scale2 <= THRESHOLD:
            run.stop()   # ends at the next batch boundary; the clock was read above

    run.on_epoch_end = on_epoch_end
    p = run.run()
    if p.state == "failed":
        raise RuntimeError(p.reason)
    return _result("gru_lab", state["seconds"], state["epoch"], state["mse"], scale2,
                   ds.train.X.shape[0], recipe={k: v for k, v in run.cfg.to_dict().items()
                                                if k in ("lr", "batch_size", "schedule",
                                                         "warmup_steps", "min_lr_frac", "dense_loss")},
                   threads=p.threads)


def worker_darts() -> dict:
    import logging

    import numpy as np
    import torch
    from darts import TimeSeries
    from darts.models import BlockRNNModel
    from pytorch_lightning.callbacks import Callback
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    ds, scale2, mse = _setup()
    train_end = ds.bounds[0]
    series = TimeSeries.from_values(ds.scaled[:train_end, :1].numpy().astype(np.float32))
    state = {"excluded": 0.0}

    def forecast(module, X):   # BlockRNN forward without covariates: rnn -> last T outputs -> fc
        out, _ = module.rnn(X)
        return module.fc(out[:, -12:, :])[..., 0].cpu().numpy()

    class Measure(Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            t1 = time.perf_counter()
            was = pl_module.training
            pl_module.eval()
            value = mse(lambda X: forecast(pl_module, X))
            pl_module.train(was)
            epoch = trainer.current_epoch + 1
            state.update(epoch=epoch, seconds=t1 - t0 - state["excluded"], mse=value)
            state["excluded"] += time.perf_counter() - t1
            if value * scale2 <= THRESHOLD:
                trainer.should_stop = True

    t0 = time.perf_counter()
    model = BlockRNNModel(
        model="GRU", hidden_dim=64, n_rnn_layers=2, input_chunk_length=48, output_chunk_length=12,
        batch_size=256, n_epochs=MAX_EPOCHS, optimizer_kwargs={"lr": 1e-3}, random_state=0,
        pl_trainer_kwargs={"accelerator": "cpu", "callbacks": [Measure()],
                           "enable_progress_bar": False, "enable_model_summary": False,
                           "logger": False, "enable_checkpointing": False})
    model.fit(series, verbose=False)
    # honesty check: the replica forecast equals darts's own predict on a few test windows
    module = model.model
    module.eval()
    starts = [0, 1000, ds.test.X.shape[0] - 1]
    with torch.no_grad():
        mine = forecast(module, ds.test.X[starts])
    theirs = [model.predict(12, series=TimeSeries.from_values(
                  ds.test.X[s, :, :1].numpy().astype(np.float32)), verbose=False).values()[:, 0]
              for s in starts]   # each test window's own 48 inputs as the history
    check = float(np.max(np.abs(mine - np.stack(theirs))))
    return _result("darts", state["seconds"], state["epoch"], state["mse"], scale2,
                   ds.train.X.shape[0], predict_check_max_abs_diff=check,
                   threads=torch.get_num_threads())


WORKERS = {"plain": worker_plain, "gru_lab": worker_gru_lab, "darts": worker_darts}


# ----------------------------------------------------------------------------- driver

def _spawn(tool: str, python: str) -> dict:
    """Run one tool in a fresh subprocess; its last JSON line is the result."""
    env = {**os.environ, "GRU_LAB_TRAIN_THREADS": str(THREADS), "OMP_NUM_THREADS": str(THREADS),
           "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([python, str(Path(__file__).resolve()), "--worker", tool,
                           "--max-epochs", str(MAX_EPOCHS)],
                          capture_output=True, text=True, env=env, cwd=str(ROOT))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{tool} worker failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def main(argv=None) -> int:
    global MAX_EPOCHS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds (each runs every tool once)")
    ap.add_argument("--darts-python", default=sys.executable,
                    help="python of the venv that has darts (requirements-bench.txt)")
    ap.add_argument("--max-epochs", type=int, default=MAX_EPOCHS, help="epoch cap per tool")
    ap.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    MAX_EPOCHS = args.max_epochs
    if args.worker:
        print(json.dumps(WORKERS[args.worker]()), flush=True)
        return 0

    load0 = os.getloadavg()
    print(f"time to test MSE <= {THRESHOLD} (series units) or {MAX_EPOCHS} epochs; "
          f"{THREADS} threads, CPU; load average before {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f}", flush=True)
    times: dict[str, list[float]] = {t: [] for t in TOOLS}
    for r in range(args.rounds):
        order = TOOLS[r % 3:] + TOOLS[:r % 3]
        for tool in order:
            res = _spawn(tool, args.darts_python if tool == "darts" else sys.executable)
            times[tool].append(res["seconds"] if res["reached"] else float("inf"))
            extra = (f"  predict check {res['predict_check_max_abs_diff']:.1e}"
                     if "predict_check_max_abs_diff" in res else "")
            print(f"  round {r + 1} {tool:8s}: {res['seconds']:6.2f} s  epoch {res['epochs']:2d}  "
                  f"{res['windows_per_s']:6.0f} windows/s  test MSE {res['mse']:.5f} "
                  f"(scaled {res['mse_scaled']:.5f}){'' if res['reached'] else '  NOT REACHED'}"
                  f"{extra}  load {os.getloadavg()[0]:.2f}", flush=True)
            if tool == "gru_lab" and r == 0:
                print(f"           gru_lab recipe: {res['recipe']}", flush=True)
    med = {t: statistics.median(v) for t, v in times.items()}
    ratio_darts = med["gru_lab"] / med["darts"]
    ratio_plain = med["gru_lab"] / med["plain"]
    load1 = os.getloadavg()
    print("median seconds: " + "  ".join(f"{t} {med[t]:.2f}" for t in TOOLS))
    print(f"GRU Lab / Darts: {ratio_darts:.3f}  (target <= {TARGET})  "
          f"{'OK' if ratio_darts <= TARGET else 'MISSED'}")
    print(f"GRU Lab / plain: {ratio_plain:.3f}")
    print(f"load average after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    return 0 if ratio_darts <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
