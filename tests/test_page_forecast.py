"""The Forecast page in AppTest: no model, a trained model, downloads and model bundles."""
from __future__ import annotations

import random

import pytest
import torch
from streamlit.testing.v1 import AppTest

from gru_core.bundle import save_bundle
from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import assert_no_failures, open_page

PAGE = "pages/forecast.py"
UPLOAD_KEY = "fc_bundle_upload"


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


def test_trained_model_shows_charts_metrics_and_downloads(job):
    at = open_page(PAGE, job)
    assert_no_failures(at)
    charts = at.get("plotly_chart")
    assert len(charts) >= 6       # step, residuals x2, window, direct vs recursive, future
    table = at.dataframe[0].value
    assert list(table["forecaster"][:2]) == ["GRU", "Naive (last value)"]
    assert {"MAE", "RMSE", "sMAPE %", "MASE"} <= set(table.columns)
    assert any("naive baseline" in m.value for m in at.markdown)
    labels = [d.proto.label for d in at.get("download_button")]
    assert any("Predictions" in lab for lab in labels) and any("bundle" in lab for lab in labels)

    # validation scores too, and moving the sliders redraws without errors
    at.segmented_control(key="fc_split").set_value("val")
    at.run()
    assert_no_failures(at)
    assert any("validation windows" in m.value for m in at.markdown)
    at.slider(key="fc_step").set_value(12)
    at.run()
    at.slider(key="fc_window").set_value(3)
    at.run()
    assert_no_failures(at)


def test_predictions_table_columns(job):
    from gru_core.evaluate import evaluate
    from ui.runs import predictions_table

    ev = evaluate(job.run.model, job.dataset, "test")
    df = predictions_table(ev, job.dataset)
    N, H = ev.y_true.shape
    assert len(df) == N * H
    assert list(df.columns[:6]) == ["window_start_position", "window_start_date", "horizon_step",
                                    "target_position", "target_date", "actual"]
    assert {"predicted", "naive"} <= set(df.columns)
    row = df.iloc[H + 2]                                   # window 1, step 3
    assert row["horizon_step"] == 3
    assert row["target_position"] == ev.starts[1] + 24 + 2
    assert row["actual"] == pytest.approx(ev.y_true[1, 2])


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
