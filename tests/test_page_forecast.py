"""The Forecast page in AppTest: no model, a trained model, downloads and model bundles."""
from __future__ import annotations

import base64
import json
import random

import numpy as np
import pandas as pd
import pytest
import torch

from gru_core.bundle import save_bundle
from gru_core.classical import ets_windows
from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import assert_no_failures, open_page

PAGE = "pages/forecast.py"
UPLOAD_KEY = "fc_bundle_upload"
L, H = 24, 12


def by_hand(job, split="test"):
    """MAE of the model and both baselines, computed here from the raw series and the weights.

    Windows, scaling (mean / population std of the training part) and the inverse scaling are
    written out here; only the model's forward pass is shared with the app.
    """
    ds = job.dataset
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    train_end, val_end = round(len(y) * 0.7), round(len(y) * 0.85)
    mu, sd = y[:train_end].mean(), y[:train_end].std()
    first = (train_end if split == "val" else val_end) - L
    last = (val_end if split == "val" else len(y)) - L - H
    starts = np.arange(first, last + 1)
    X = torch.tensor(np.stack([(y[s:s + L] - mu) / sd for s in starts])[:, :, None], dtype=torch.float32)
    job.run.model.eval()
    with torch.no_grad():
        pred = job.run.model(X).double().numpy() * sd + mu                  # (N, H) passengers
    truth = np.stack([y[s + L:s + L + H] for s in starts])
    naive = np.repeat(y[starts + L - 1][:, None], H, axis=1)
    seasonal = np.stack([[y[s + L + j - 12] for j in range(H)] for s in starts])   # m = 12, H = 12
    # the ETS rival: its own oracle tests (a written-out recursion) live in tests/test_classical.py
    ets, fit = ets_windows(ds, split, season=12)
    return {"GRU": np.abs(truth - pred), "Naive (last value)": np.abs(truth - naive),
            "Seasonal naive (m=12)": np.abs(truth - seasonal), fit.label: np.abs(truth - ets)}


def values(v) -> np.ndarray:
    """A Plotly JSON array: a plain list, or a typed array {"dtype": "f4", "bdata": base64}."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).astype(float)
    return np.asarray(v, dtype=float)


def figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.fixture(scope="module")
def job() -> Job:
    """A tiny GRU trained for a few epochs on the app's default data and settings."""
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(24, 12), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=8, num_layers=2, horizon=12, cell="gru")
    tc = TrainConfig(epochs=3, batch_size=32, lr=0.01, device="cpu", patience=0, seed=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    return Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test")


def test_no_model_explains_what_to_do():
    at = open_page(PAGE)
    assert_no_failures(at)
    assert "No trained model yet" in at.info[0].value
    assert any(link.proto.page.endswith("train.py") or "Train" in link.proto.label
               for link in at.get("page_link"))
    assert at.file_uploader(key=UPLOAD_KEY) is not None       # a bundle can still be restored
    assert not at.get("plotly_chart")


def verdict_text(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("On the "))


def test_trained_model_scores_and_verdict_match_a_hand_computation(job):
    at = open_page(PAGE, job)
    assert_no_failures(at)
    assert len(at.get("plotly_chart")) >= 6    # step, residuals x2, window, direct vs recursive, future
    table = at.dataframe[0].value.set_index("forecaster")
    errors = by_hand(job)
    assert list(table.index) == list(errors)
    assert list(table.columns) == ["MAE", "RMSE", "sMAPE %", "MASE"]
    for row, e in errors.items():
        assert table.loc[row, "MAE"] == pytest.approx(e.mean(), rel=1e-4)
        assert table.loc[row, "RMSE"] == pytest.approx(np.sqrt((e ** 2).mean()), rel=1e-4)
    # the verdict names the best baseline (by hand) and says beats / does not beat accordingly
    best = min([r for r in errors if r != "GRU"], key=lambda r: errors[r].mean())
    text = verdict_text(at)
    assert f"best baseline**, {best}" in text
    pct = abs(errors["GRU"].mean() - errors[best].mean()) / errors[best].mean() * 100
    assert f"{pct:.0f}%" in text
    assert ("**beats" in text) == (errors["GRU"].mean() < errors[best].mean() * 0.995)
    # step 1 caption: every forecaster's MAE at that step, by hand
    step1 = next(c.value for c in at.caption if c.value.startswith("Step 1, MAE"))
    for row, e in errors.items():
        assert f"{row} {e[:, 0].mean():.3f}" in step1
    best_metric = next(m for m in at.metric if m.label.startswith("Best baseline MAE"))
    assert best_metric.value == f"{errors[best].mean():.3f}"
    labels = [d.proto.label for d in at.get("download_button")]
    assert any("Predictions" in lab for lab in labels) and any("bundle" in lab for lab in labels)


def test_future_is_dated_monthly_after_the_last_month(job):
    at = open_page(PAGE, job)
    fig = next(f for f in figures(at) if "past the end" in f["layout"]["title"]["text"])
    future = next(tr for tr in fig["data"] if "past the end" in tr.get("name", ""))
    dates = pd.to_datetime(future["x"])
    assert list(dates) == list(pd.date_range("1961-01-01", periods=H, freq="MS"))
    # the forecast values are the model's on the last 24 points, scaled by hand
    y = np.asarray(job.dataset.series.values, dtype=np.float64)[:, 0]
    mu, sd = y[:round(len(y) * 0.7)].mean(), y[:round(len(y) * 0.7)].std()
    x = torch.tensor((y[-L:] - mu) / sd, dtype=torch.float32)[None, :, None]
    with torch.no_grad():
        want = job.run.model.eval()(x)[0].double().numpy() * sd + mu
    np.testing.assert_allclose(values(future["y"]), want, rtol=1e-4)


def test_validation_split_metric_choice_and_sliders(job):
    at = open_page(PAGE, job)
    at.segmented_control(key="fc_split").set_value("val")
    at.segmented_control(key="fc_metric").set_value("RMSE")
    at.run()
    assert_no_failures(at)
    text = verdict_text(at)
    assert text.startswith("On the validation windows") and "RMSE" in text
    table = at.dataframe[0].value.set_index("forecaster")
    for row, e in by_hand(job, "val").items():
        assert table.loc[row, "MAE"] == pytest.approx(e.mean(), rel=1e-4)
    at.slider(key="fc_step").set_value(12)
    at.run()
    step12 = next(c.value for c in at.caption if c.value.startswith("Step 12, MAE"))
    assert f"GRU {by_hand(job, 'val')['GRU'][:, 11].mean():.3f}" in step12
    at.slider(key="fc_window").set_value(3)
    at.run()
    assert_no_failures(at)


def test_bad_bundle_shows_an_error_and_keeps_the_model(job):
    at = open_page(PAGE, job)
    garbage = random.Random(0).randbytes(4096)   # fixed: random bytes may even look like a pickle
    at.file_uploader(key=UPLOAD_KEY).set_value(("model.pt", garbage,
                                                "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error and "not a GRU Lab model bundle" in at.error[0].value
    assert at.session_state["model_source"] == "run"
    assert at.dataframe and at.get("plotly_chart")          # the run's model is still shown


def test_bundle_round_trip_restores_the_model(job):
    data = save_bundle(job.run.model, job.dataset, job.train_cfg)
    at = open_page(PAGE)                                           # no model in this session yet
    at.session_state["sample"] = "airline_passengers"     # the data the bundle was trained on
    at.file_uploader(key=UPLOAD_KEY).set_value(("gru_lab_gru_passengers.pt", data,
                                                "application/octet-stream"))
    at.run()
    assert_no_failures(at)
    assert at.success and "Restored" in at.success[0].value
    assert at.session_state["model_source"] == "bundle"
    restored = at.session_state["bundle_trained"].model
    for (k, v), (k2, v2) in zip(job.run.model.state_dict().items(), restored.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    table = at.dataframe[0].value
    assert table["forecaster"][0] == "GRU"
    assert len(at.get("plotly_chart")) >= 6
    # the restored model scores exactly like the original on the same data
    from gru_core.evaluate import evaluate
    assert table["MAE"][0] == pytest.approx(evaluate(job.run.model, job.dataset).metrics["MAE"].iloc[0])


def test_one_step_horizon_needs_no_step_slider():
    """horizon 1 leaves one choice of step: the page says so instead of drawing a slider."""
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(12, 1), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=4, num_layers=1, horizon=1, cell="gru")
    tc = TrainConfig(epochs=1, batch_size=64, device="cpu", patience=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    at = open_page(PAGE, Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test"))
    assert_no_failures(at)
    assert not [s for s in at.slider if s.key == "fc_step"]
    assert any("the only choice" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 6


def test_conformal_bands_and_coverage_match_a_hand_computation(job):
    import math
    at = open_page(PAGE, job)
    assert_no_failures(at)
    val, test = by_hand(job, "val")["GRU"], by_hand(job, "test")["GRU"]       # (N, H) |errors|
    n = val.shape[0]
    for level in (0.8, 0.95):
        k = math.ceil((n + 1) * level)
        q = np.array([sorted(val[:, j])[k - 1] for j in range(H)]) if k <= n else np.full(H, np.inf)
        cov = float(np.mean(test <= q[None, :]))
        table = next(df.value for df in at.dataframe if "band" in df.value.columns)
        row = table[table["band"] == f"{level:.0%}"].iloc[0]
        assert row["empirical coverage (test)"] == pytest.approx(cov, abs=1.5 / test.size)
        assert row["half-width, step 1 (passengers)"] == pytest.approx(q[0], rel=1e-4)
        if not np.isfinite(q[0]):      # too few validation windows for this level: no band drawn
            assert not any(tr.get("name") == f"{level:.0%} interval" for f in figures(at) for tr in f["data"])
            continue
        step_fig = next(f for f in figures(at) if any(tr.get("name") == f"{level:.0%} interval"
                                                       for tr in f["data"]))
        names = [tr.get("name") for tr in step_fig["data"]]
        up = names.index(f"{level:.0%} interval")
        width = values(step_fig["data"][up]["y"]) - values(step_fig["data"][up - 1]["y"])
        assert np.allclose(width, 2 * q[0], rtol=1e-4)


def test_rolling_origin_table_matches_a_hand_computation(job):
    """The per-origin table, its spread and wins k/n: origins one horizon apart, by hand here."""
    at = open_page(PAGE, job)
    assert_no_failures(at)
    table = next(d.value for d in at.dataframe if "winner" in d.value.columns)
    errors = by_hand(job)                                   # name -> (N, H) absolute errors
    N = errors["GRU"].shape[0]
    rows = list(range(0, N, H))                             # stride 1: origins H apart = every H-th window
    assert len(table) == len(rows)
    per = {name: np.array([e[i].mean() for i in rows]) for name, e in errors.items()}
    baselines = [n for n in errors if n != "GRU"]
    np.testing.assert_allclose(table["GRU MAE"].to_numpy(float), per["GRU"], rtol=1e-4)
    wins = 0
    for k in range(len(rows)):
        best = min(baselines, key=lambda n: per[n][k])
        assert table["best baseline"][k] == best
        assert table["its MAE"][k] == pytest.approx(per[best][k], rel=1e-4)
        won = per["GRU"][k] < per[best][k]
        wins += won
        assert table["winner"][k] == ("GRU" if won else best)
    # origin labels: the date of each forecast's last input step (test windows start at val_end - L)
    dates = job.dataset.series.index
    first = round(len(dates) * 0.85) - L
    assert list(table["origin"]) == [dates[first + i + L - 1].strftime("%Y-%m-%d") for i in rows]
    line = next(m.value for m in at.markdown if "wins" in m.value and "origins" in m.value)
    assert f"**GRU wins {wins}/{len(rows)}** origins" in line
    g = per["GRU"]
    assert f"MAE {g.mean():.3f} ± {g.std():.3f} (min–max {g.min():.3f}–{g.max():.3f})" in line
    assert any("Fixed model, no refit per origin" in c.value for c in at.caption)
    # airline's short test part holds few non-overlapping 12-step forecasts: the page says so
    start = "Only" if len(rows) < 3 else "Across origins"
    assert any(m.value.startswith(start) for m in at.markdown)
