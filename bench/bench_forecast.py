"""Forecasting-quality benchmark: the CLI's default run against the best baseline, per data set.

For every bundled sample, every generator with a trend or a season, and a real public quarterly
multivariate series (US real GDP with consumption and investment as inputs, from statsmodels'
bundled ``macrodata``; written to a temporary CSV), this runs exactly what
``python -m gru_core forecast FILE.csv --json`` runs (the default recipe, "auto" transform and
lookback chosen on validation only) and prints the GRU's test MAE, the best baseline's (naive,
seasonal naive or ETS), their ratio (below 1 = the GRU is better) and the 80% / 95% interval
coverage on the test part. Target: ratio <= 1 on most rows and never above 1.25.

    python bench/bench_forecast.py                 # all rows (slow on a small CPU: many models)
    python bench/bench_forecast.py --only airline_passengers trend_seasonal
    python bench/bench_forecast.py --gen-length 1200
    python bench/bench_forecast.py --jobs 4         # rows in 4 worker processes (one thread each)

Each row trains every "auto" candidate (see gru_core.auto; about ten GRUs), so its time grows with
the series: co2_weekly (2,284 points, 1,580 training windows) is the slowest row. Rows are
independent and every run is seeded and single-threaded, so ``--jobs`` gives the same numbers.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from gru_core.cli import main  # noqa: E402
from gru_core.data import list_samples  # noqa: E402
from gru_core.generators import generate  # noqa: E402

# generators with a trend or a season (the others -- random walk, AR, Mackey-Glass -- have neither)
GENERATORS = ("trend_seasonal", "sine", "sum_of_sines", "square", "sawtooth", "chirp", "regime_switch")
# real public series not bundled with the app: name -> (CSV writer, CLI arguments)
def _us_macro(path: Path) -> None:
    """US macroeconomic data, quarterly 1959Q1-2009Q3 (statsmodels.datasets.macrodata, public
    domain): real GDP with real consumption and real investment as extra inputs."""
    from statsmodels.datasets import macrodata
    d = macrodata.load_pandas().data
    dates = pd.PeriodIndex.from_fields(year=d["year"].astype(int), quarter=d["quarter"].astype(int),
                                       freq="Q").to_timestamp()
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "realgdp": d["realgdp"],
                  "realcons": d["realcons"], "realinv": d["realinv"]}).to_csv(path, index=False)


EXTERNAL = {"us_macro_quarterly": (_us_macro, ["--target", "realgdp", "--inputs", "realcons,realinv"])}
ORDER = ("airline_passengers", "nile", "sunspots", "co2_monthly") + GENERATORS + ("co2_weekly",) + tuple(EXTERNAL)


def cli_json(args: list[str]) -> dict:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["forecast", *args, "--json"])
    if rc != 0:
        raise RuntimeError(f"CLI exit code {rc} for {args}")
    return json.loads(buf.getvalue())


def row(name: str, res: dict, seconds: float) -> dict:
    gru, best = res["metrics"]["GRU"]["MAE"], res["metrics"][res["best_baseline"]]["MAE"]
    cov = {int(round(b["level"] * 100)): b["test_coverage"] for b in res["intervals"]}
    return {"data": name, "points": res["points"], "transform": res["transform"], "L": res["lookback"],
            "GRU MAE": gru, "best baseline": res["best_baseline"], "its MAE": best,
            "ratio": gru / best, "cov80": cov.get(80), "cov95": cov.get(95),
            "backtest wins": f"{res['backtest']['wins']}/{res['backtest']['origins']}", "s": round(seconds)}


def run_row(name: str, gen_length: int, tmp: str) -> dict:
    """One benchmark row: the CLI's default run on a sample or a generated series."""
    samples = list_samples()
    t0 = time.perf_counter()
    if name in samples:
        res = cli_json([str(samples[name].path), "--target", samples[name].target])
    elif name in EXTERNAL:
        write, extra = EXTERNAL[name]
        path = Path(tmp) / f"{name}.csv"
        write(path)
        res = cli_json([str(path), *extra])
    else:
        path = Path(tmp) / f"{name}.csv"
        pd.DataFrame({"value": generate(name, length=gen_length, seed=0)}).to_csv(path, index=False)
        res = cli_json([str(path)])
    return row(name, res, time.perf_counter() - t0)


def report(r: dict) -> None:
    print(f"  {r['data']:20s} ratio {r['ratio']:.3f}  ({r['transform']}, L={r['L']}, "
          f"{r['best baseline']}, {r['s']} s)", flush=True)


def main_bench(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="rows to run (sample keys or generator keys)")
    ap.add_argument("--gen-length", type=int, default=400, help="length of each generated series")
    ap.add_argument("--jobs", type=int, default=1, help="rows run at once, in worker processes")
    args = ap.parse_args(argv)
    names = [n for n in ORDER if not args.only or n in args.only]
    unknown = sorted(set(args.only or ()) - set(ORDER))
    if unknown:
        ap.error(f"unknown rows {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    print(f"GRU Lab forecasting benchmark: CLI default run per data set; generators length "
          f"{args.gen_length}, seed 0", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.jobs <= 1:
            rows = []
            for name in names:
                rows.append(run_row(name, args.gen_length, tmp))
                report(rows[-1])
        else:
            spawn = multiprocessing.get_context("spawn")          # fresh interpreters, no forked torch
            with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
                futures = {pool.submit(run_row, n, args.gen_length, tmp): n for n in names}
                done = {}
                for fut in concurrent.futures.as_completed(futures):
                    done[futures[fut]] = fut.result()
                    report(done[futures[fut]])
            rows = [done[n] for n in names]
    table = pd.DataFrame(rows).set_index("data")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    better = int((table["ratio"] <= 1.0).sum())
    worst = float(table["ratio"].max())
    ok = better > len(table) / 2 and worst <= 1.25
    print(f"\nGRU no worse than the best baseline on {better} of {len(table)}; worst ratio {worst:.3f} "
          f"(target: most <= 1, all <= 1.25)  {'OK' if ok else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
