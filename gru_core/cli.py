"""The command line: ``python -m gru_core forecast FILE.csv [options]``.

Loads the file with the app's loader (``load_table`` + ``prepare_series``), runs the default
recipe (:data:`gru_core.defaults.DEFAULTS`, "auto" transform and lookback chosen on validation
only), and prints the test-part metrics of the GRU and every baseline, the verdict against the
best baseline, interval coverage and the rolling-origin backtest -- as text, or as JSON with
``--json``. ``--future OUT.csv`` refits on all data and writes the forecast past the end;
``--bundle OUT.pt`` writes the trained model bundle.

Bad input prints the same fix-it ``DataError`` message the app shows, on stderr, and exits with
code 2 -- never a traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
from pathlib import Path

from gru_core.backtest import interpret, origin_table
from gru_core.data import load_table, prepare_series
from gru_core.defaults import DEFAULTS
from gru_core.errors import DataError
from gru_core.transforms import TRANSFORM_CHOICES

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _lookback(text: str):
    return "auto" if text == "auto" else _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gru_core", description="GRU Lab from the command line.")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("forecast", help="train the default GRU on a CSV and score it against baselines",
                       description="Train GRU Lab's default forecaster on FILE (any CSV the app accepts) "
                                   "and print the test-part metrics of the GRU and every baseline.")
    f.add_argument("file", help="CSV file (the app's loader: delimiters, decimal commas, dates ...)")
    f.add_argument("--target", help="target column (default: the first numeric column)")
    f.add_argument("--inputs", default="", help="extra input columns, comma-separated")
    f.add_argument("--date", help="the date column you expect the loader to find (checked)")
    f.add_argument("--missing", default="interpolate", help="interpolate | ffill | drop")
    f.add_argument("--horizon", type=_positive_int, default=DEFAULTS.horizon)
    f.add_argument("--lookback", type=_lookback, default="auto",
                   help=f"input steps, or 'auto' (default; {DEFAULTS.lookback} and variants on validation)")
    f.add_argument("--transform", default=DEFAULTS.transform, choices=TRANSFORM_CHOICES)
    f.add_argument("--season", type=int, help="season length m (default: detected on the training part; 0 = none)")
    f.add_argument("--epochs", type=_positive_int, default=DEFAULTS.epochs)
    f.add_argument("--seed", type=int, default=DEFAULTS.seed)
    f.add_argument("--json", action="store_true", help="print JSON instead of text")
    f.add_argument("--future", metavar="OUT.csv", help="refit on all data and write the forecast past the end")
    f.add_argument("--bundle", metavar="OUT.pt", help="write the trained model bundle")
    return p


def _series(args):
    table = load_table(args.file)
    if args.date is not None and table.date_column != args.date:
        found = f"'{table.date_column}'" if table.date_column else "no date column"
        raise DataError(f"--date {args.date!r}: the loader found {found} in {args.file}. Leave --date out "
                        "to use what it finds, or write the dates in a format such as 2024-01-31.")
    target = args.target or (table.numeric_columns[0] if table.numeric_columns else "")
    inputs = [c.strip() for c in args.inputs.split(",") if c.strip()]
    return prepare_series(table, target, inputs, args.missing)


def _num(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def result_dict(run) -> dict:
    """The run as plain JSON types."""
    return {
        "target": run.fitted.ds.series.target, "points": int(run.fitted.ds.scaled.shape[0]),
        "transform": run.transform, "lookback": run.lookback, "horizon": run.recipe.horizon,
        "season": run.season, "auto": None if run.auto is None else {
            "reason": run.auto.reason,
            "candidates": [{k: (_num(v) if k == "val MAE" else (int(v) if k != "transform" else v))
                            for k, v in row.items()} for row in run.auto.table.to_dict("records")]},
        "metrics": {name: {k: _num(v) for k, v in row.items()} for name, row in run.metrics.iterrows()},
        "best_baseline": run.best_baseline, "ratio_to_best_baseline": _num(run.ratio),
        "verdict": run.verdict,
        "mae_per_step": {name: [_num(v) for v in row] for name, row in run.per_step.iterrows()},
        "intervals": [{"level": b.level, "test_coverage": _num(b.coverage),
                       "half_width_per_step": [_num(v) for v in b.q]} for b in run.bands],
        "backtest": {"origins": run.backtest.n, "wins": run.backtest.wins,
                     "summary": {n: {k: _num(v) for k, v in r.items()}
                                 for n, r in run.backtest.summary.iterrows()},
                     "per_origin": [{k: (_num(v) if k.endswith("MAE") else str(v)) for k, v in r.items()}
                                    for r in origin_table(run.backtest).to_dict("records")]},
        "future": None if run.future is None else {
            "label": run.future.attrs.get("label", ""), "index": [str(i) for i in run.future.index],
            "forecast": [_num(v) for v in run.future["forecast"]]},
        "notes": run.notes,
    }


def result_text(run) -> str:
    """The run as a plain-text report."""
    import pandas as pd
    lines = [f"GRU Lab forecast: target '{run.fitted.ds.series.target}', {run.fitted.ds.scaled.shape[0]} points, "
             f"horizon {run.recipe.horizon}, season {run.season or 'none'}",
             f"transform '{run.transform}', lookback {run.lookback}"]
    if run.auto is not None:
        lines.append(run.auto.reason)
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        lines += ["", "Test part (data units; MASE scaled by the training part):",
                  run.metrics.to_string(float_format=lambda v: f"{v:.4g}"), "", run.verdict, ""]
        lines.append("MAE per horizon step:")
        lines.append(run.per_step.to_string(float_format=lambda v: f"{v:.4g}"))
    lines.append("")
    for b in run.bands:
        lines.append(f"{b.level:.0%} interval (split conformal, validation residuals): test coverage "
                     f"{b.coverage:.1%}")
    lines += ["", run.backtest.sentence(), interpret(run.backtest),
              "Per origin (fixed model, no refit; each row's best baseline is that origin's):",
              origin_table(run.backtest).to_string(index=False, float_format=lambda v: f"{v:.4g}")]
    if run.future is not None:
        lines += ["", run.future.attrs.get("label", "Forecast past the end") + ":",
                  run.future.to_string(float_format=lambda v: f"{v:.4g}")]
    lines += [f"note: {n}" for n in run.notes]
    return "\n".join(lines)


def forecast(args) -> int:
    from gru_core.pipeline import run_forecast
    series = _series(args)
    recipe = DEFAULTS.replace(horizon=args.horizon, epochs=args.epochs, seed=args.seed,
                              transform=args.transform,
                              lookback=DEFAULTS.lookback if args.lookback == "auto" else args.lookback)
    with contextlib.redirect_stdout(io.StringIO()):     # statsmodels may print convergence notes
        run = run_forecast(series, recipe, season=args.season, future=bool(args.future),
                           lookbacks=None if args.lookback == "auto" else [])
    if args.future:
        run.future.to_csv(args.future, index_label="time")
    if args.bundle:
        from gru_core.bundle import save_bundle
        Path(args.bundle).write_bytes(save_bundle(run.fitted.model, run.fitted.ds, recipe.train(),
                                                  run.fitted.progress))
    print(json.dumps(result_dict(run), indent=2) if args.json else result_text(run))
    return EXIT_OK


def main(argv=None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, 1 an unexpected failure)."""
    args = build_parser().parse_args(argv)                 # argparse exits 2 with usage on bad flags
    try:
        return forecast(args)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"error: cannot read or write a file ({e}). Check the path.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as e:  # never a traceback for a user
        print(f"error: unexpected failure ({type(e).__name__}: {e}). Please report it.", file=sys.stderr)
        return EXIT_FAILED
