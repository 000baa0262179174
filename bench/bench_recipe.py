"""Benchmark (quality guard): the default recipe against the one it replaced, on the bundled samples.

    python bench/bench_recipe.py                      # 3 seeds, every bundled sample, 2 workers
    python bench/bench_recipe.py --seeds 0 1 --jobs 1 --new '{"dense_loss": "on"}'

For each bundled sample (``sample_data/``) and seed: the sample's target, transform "none" (the
trend is the model's problem, as it was when issue 13 was filed), the recipe's lookback, horizon and
model, trained by ``gru_core.auto.fit_candidate``; the score is the validation MAE (data units) of
the kept (best-validation) weights. The test part is never read.

* ``old``: the recipe before issue 13 -- batch 32, constant Adam lr 5e-3, 60 epochs, patience 15;
* ``new``: ``gru_core.defaults.DEFAULTS`` (``TrainConfig``'s optimiser, lr, schedule, auto batch
  and dense loss; 200 epochs, patience 30), each optionally changed by ``--old`` / ``--new``
  (JSON of Recipe or TrainConfig fields).

Printed per sample: each seed's MAE, the means, the ratio new / old of the means and the seed
spread (max - min) of each; a ratio above 1 + spread / mean of the old recipe is marked WORSE.
Exit status 1 if any sample is marked.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OLD = {"batch_size": 32, "schedule": "constant", "epochs": 60, "patience": 15}


def _score(args) -> tuple[str, str, int, float, int | None]:
    key, which, changes, seed = args
    import torch
    torch.set_num_threads(1)
    from gru_core.auto import fit_candidate
    from gru_core.data import list_samples, load_sample, prepare_series
    from gru_core.defaults import DEFAULTS
    info = list_samples()[key]
    series = prepare_series(load_sample(key), info.target)
    recipe_fields = set(DEFAULTS.to_dict())
    recipe = DEFAULTS.replace(**{k: v for k, v in changes.items() if k in recipe_fields},
                              seed=seed, device="cpu", num_threads=1)
    extra = {k: v for k, v in changes.items() if k not in recipe_fields}   # TrainConfig-only fields
    f = fit_candidate(series, recipe, "none", season=info.season_length, **extra)
    return key, which, seed, float(f.val_mae), f.progress.best_epoch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (1 thread each)")
    ap.add_argument("--old", default="{}", help="JSON changes to the old recipe")
    ap.add_argument("--new", default="{}", help="JSON changes to the new recipe (DEFAULTS)")
    ap.add_argument("--samples", nargs="*", help="sample keys (default: all)")
    args = ap.parse_args(argv)
    from gru_core.data import list_samples
    keys = args.samples or list(list_samples())
    recipes = {"old": {**OLD, **json.loads(args.old)}, "new": json.loads(args.new)}
    jobs = [(k, w, recipes[w], s) for k in keys for w in recipes for s in args.seeds]
    print(f"validation MAE (data units), transform none, seeds {args.seeds}; old = {recipes['old']}, "
          f"new = DEFAULTS {recipes['new'] or ''}; load average {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[tuple[str, str], list[float]] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for key, which, seed, value, best in pool.map(_score, jobs):
            results.setdefault((key, which), []).append(value)
    worse = 0
    print(f"{'sample':20s} {'old (per seed)':>26s} {'new (per seed)':>26s} {'old':>8s} {'new':>8s} "
          f"{'new/old':>8s}")
    for key in keys:
        old, new = results[(key, "old")], results[(key, "new")]
        mo, mn = statistics.mean(old), statistics.mean(new)
        spread = (max(old) - min(old)) / mo
        flag = mn / mo > 1 + spread
        worse += flag
        print(f"{key:20s} {' '.join(f'{v:8.3f}' for v in old):>26s} "
              f"{' '.join(f'{v:8.3f}' for v in new):>26s} {mo:8.3f} {mn:8.3f} {mn / mo:8.3f}"
              f"{'  WORSE (beyond the old seed spread %.0f %%)' % (100 * spread) if flag else ''}")
    print(f"load average after {os.getloadavg()[0]:.2f}; {worse} sample(s) worse than the old "
          "recipe beyond its seed spread")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
