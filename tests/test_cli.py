"""Tests for the command line (gru_core.cli, python -m gru_core).

The metrics it prints are checked against baselines recomputed here from the CSV with plain
pandas and loops; bad input must give the DataError message, exit code 2 and no traceback.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gru_core.bundle import load_bundle
from gru_core.cli import main

ROOT = Path(__file__).resolve().parents[1]
AIRLINE = ROOT / "sample_data" / "airline_passengers.csv"
QUICK = ["--epochs", "2", "--transform", "window", "--lookback", "12", "--horizon", "3"]


@pytest.fixture(scope="module")
def airline_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    future, bundle = out / "future.csv", out / "model.pt"
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main(["forecast", str(AIRLINE), *QUICK, "--json", "--future", str(future), "--bundle", str(bundle)])
    return rc, json.loads(buf.getvalue()), future, bundle


def test_json_metrics_match_baselines_computed_here(airline_json):
    rc, res, _, _ = airline_json
    assert rc == 0
    y = pd.read_csv(AIRLINE)["passengers"].to_numpy(dtype=np.float64)
    T, L, H = len(y), 12, 3
    val_end = round(T * 0.85)
    naive_err, seas_err = [], []
    for s in range(val_end - L, T - L - H + 1):                     # every test window
        o = s + L - 1
        for j in range(H):
            naive_err.append(abs(y[o + 1 + j] - y[o]))
            seas_err.append(abs(y[o + 1 + j] - y[o + 1 + j - 12]))
    m = res["metrics"]
    assert m["Naive (last value)"]["MAE"] == pytest.approx(np.mean(naive_err), rel=1e-5)
    assert m["Seasonal naive (m=12)"]["MAE"] == pytest.approx(np.mean(seas_err), rel=1e-5)
    ets = [k for k in m if k.startswith("ETS(")]
    assert len(ets) == 1 and set(m) == {"GRU", "Naive (last value)", "Seasonal naive (m=12)", ets[0]}
    best = min((k for k in m if k != "GRU"), key=lambda k: m[k]["MAE"])
    assert res["best_baseline"] == best
    assert res["ratio_to_best_baseline"] == pytest.approx(m["GRU"]["MAE"] / m[best]["MAE"])
    assert res["transform"] == "window" and res["lookback"] == 12 and res["season"] == 12
    assert [b["level"] for b in res["intervals"]] == [0.8, 0.95]
    assert all(0 <= b["test_coverage"] <= 1 for b in res["intervals"])
    assert res["backtest"]["origins"] == math.ceil((T - L - H + 1 - (val_end - L)) / H)
    # per origin (windows H apart): the naive baselines' MAE by hand bound the best baseline's
    per = res["backtest"]["per_origin"]
    assert len(per) == res["backtest"]["origins"]
    dates = pd.to_datetime(pd.read_csv(AIRLINE)["month"])
    for k, r in enumerate(per):
        o = val_end - 1 + k * H
        naive = np.mean([abs(y[o + 1 + j] - y[o]) for j in range(H)])
        seas = np.mean([abs(y[o + 1 + j] - y[o + 1 + j - 12]) for j in range(H)])
        assert r["origin"] == dates[o].strftime("%Y-%m-%d")
        assert r["its MAE"] <= min(naive, seas) * (1 + 1e-6)
        if r["best baseline"] == "Naive (last value)":
            assert r["its MAE"] == pytest.approx(naive, rel=1e-5)
        assert r["winner"] == ("GRU" if r["GRU MAE"] < r["its MAE"] else r["best baseline"])
    assert sum(r["winner"] == "GRU" for r in per) == res["backtest"]["wins"]


def test_future_and_bundle_files(airline_json):
    _, res, future, bundle = airline_json
    f = pd.read_csv(future)
    assert len(f) == 3 and {"forecast", "lower 80%", "upper 95%"} <= set(f.columns)
    assert str(f["time"].iloc[0]).startswith("1961-01")              # the month after the data
    assert np.all(f["lower 95%"] <= f["lower 80%"]) and np.all(f["lower 80%"] <= f["forecast"])
    assert res["future"]["forecast"] == pytest.approx(f["forecast"].tolist())
    b = load_bundle(bundle.read_bytes())
    assert b.model_cfg.window_norm == "last" and b.window.lookback == 12


def test_text_report(capsys):
    assert main(["forecast", str(AIRLINE), *QUICK]) == 0
    out = capsys.readouterr().out
    assert "Test part" in out and "GRU" in out and "best baseline" in out and "coverage" in out
    assert "Per origin (fixed model, no refit" in out and "winner" in out and "1960-" in out


@pytest.mark.parametrize("args,message", [
    (["does_not_exist.csv"], "does_not_exist"),
    ([str(AIRLINE), "--target", "nope"], "nope"),
    ([str(AIRLINE), "--date", "when"], "--date 'when'"),
    ([str(AIRLINE), "--horizon", "200", "--epochs", "1", "--transform", "none", "--lookback", "12"],
     "needs at least"),
])
def test_bad_input_exits_2_with_the_message(args, message, capsys):
    assert main(["forecast", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_python_dash_m_exit_code_on_garbage(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"PK\x03\x04 this is a zip, not a csv")
    r = subprocess.run([sys.executable, "-m", "gru_core", "forecast", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
