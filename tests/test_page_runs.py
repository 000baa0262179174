"""The Runs page in AppTest: a finished run enters the history once, a rewind with one knob
changed trains from the same seed, two runs side by side show their own curves and forecasts."""
from __future__ import annotations

import time

import numpy as np
import pytest

from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import assert_no_failures, open_page
from test_page_lab import _trace, _y

PAGE = "pages/runs.py"


@pytest.fixture(scope="module")
def job() -> Job:
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(12, 4), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=5, num_layers=1, horizon=4)
    tc = TrainConfig(epochs=3, batch_size=32, lr=0.01, device="cpu", patience=0, seed=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    return Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test")


def test_empty_state():
    at = open_page(PAGE)
    assert_no_failures(at)
    assert "No finished runs yet" in at.info[0].value


def test_history_rewind_and_side_by_side(job):
    at = open_page(PAGE, job)
    assert_no_failures(at)
    at.run()
    h = at.session_state["runs_history"]
    assert len(h) == 1                                   # added once, not on every rerun
    assert at.dataframe[0].value["units"].tolist() == [5]
    at.selectbox(key="runs_knob").set_value("hidden_size").run()
    at.number_input(key="runs_value_hidden_size").set_value(3.0)
    at.button(key="runs_rewind").click().run()
    deadline = time.monotonic() + 120
    while at.session_state["_lab_bg"]["run"].running and time.monotonic() < deadline:
        time.sleep(0.2)
    at.run()
    at.run()
    assert_no_failures(at)
    a, b = h.runs()
    assert (b.model_cfg.hidden_size, b.train_cfg.seed) == (3, a.train_cfg.seed)
    assert "hidden_size 5 → 3" in b.note
    assert "hidden_size 5 → 3" in at.markdown[-1].value or any(
        "hidden_size 5 → 3" in m.value for m in at.markdown)
    for r in (a, b):
        np.testing.assert_allclose(_y(_trace(at, "", f"run {r.id} · validation")), r.epoch_val,
                                   rtol=1e-5)
        np.testing.assert_allclose(_y(_trace(at, "", f"run {r.id}")), r.forecast[:, 0], rtol=1e-5)
    at.slider(key="runs_window").set_value(2).run()
    assert_no_failures(at)
