"""The Lab page in AppTest: what-if with no change equals the model's forecast, a spike and a
clamp change it, recording a gate tape and scrubbing it."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import assert_no_failures, open_page

PAGE = "pages/lab.py"


def _job(cell="gru") -> Job:
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(12, 4), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=5, num_layers=1, horizon=4, cell=cell)
    tc = TrainConfig(epochs=3, batch_size=32, lr=0.01, device="cpu", patience=0, seed=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    return Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test")


@pytest.fixture(scope="module")
def job():
    return _job()


def _trace(at, key, name):
    for c in at.get("plotly_chart"):
        fig = json.loads(c.proto.spec)
        for tr in fig["data"]:
            if tr.get("name") == name:
                return tr
    raise AssertionError(f"no trace {name!r}")


def _y(tr):
    from test_page_gates import _array
    return _array(tr["y"]).astype(float)


def test_empty_state_without_model():
    at = open_page(PAGE)
    assert_no_failures(at)
    assert "No trained model yet" in at.info[0].value


def test_non_gru_is_refused():
    at = open_page(PAGE, _job("lstm"))
    assert_no_failures(at)
    assert "GRUs only" in at.info[0].value


def test_whatif_spike_and_clamp(job):
    at = open_page(PAGE, job)
    assert_no_failures(at)
    ds, model = job.dataset, job.run.model
    import torch
    with torch.no_grad():
        expect = ds.scaler.inverse_target(model(ds.test.X[0:1]).numpy()[0])
    np.testing.assert_allclose(_y(_trace(at, "", "forecast, before")), expect, rtol=1e-4)
    np.testing.assert_allclose(_y(_trace(at, "", "forecast, after")), expect, rtol=1e-4)
    at.selectbox(key="lab_edit_kind").set_value("spike")
    at.number_input(key="lab_edit_amount").set_value(300.0)
    at.button(key="lab_add_edit").click().run()
    assert_no_failures(at)
    spiked = _y(_trace(at, "", "forecast, after"))
    assert np.abs(spiked - expect).max() > 1e-3
    assert "spike 300" in at.caption[0].value
    at.button(key="lab_clear_edits").click().run()
    at.selectbox(key="lab_clamp_gate").set_value("z")
    at.slider(key="lab_clamp_value").set_value(1.0)
    at.button(key="lab_add_clamp").click().run()
    assert_no_failures(at)
    with torch.no_grad():      # z = 1 everywhere: the state never leaves h0 = 0
        shut = ds.scaler.inverse_target(model.head(torch.zeros(1, 5)).numpy()[0])
    np.testing.assert_allclose(_y(_trace(at, "", "forecast, after")), shut, rtol=1e-4)
    at.radio(key="lab_mode").set_value("reset_only").run()
    assert_no_failures(at)


def test_record_and_scrub_the_tape(job):
    at = open_page(PAGE, job)
    at.button(key="lab_record").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        bg = at.session_state["_lab_bg"]
        if not bg["run"].running:
            break
        time.sleep(0.2)
    at.run()
    at.run()
    assert_no_failures(at)
    rec = at.session_state["runs_history"].runs()[-1]
    assert rec.tape is not None and rec.tape.epochs() == [0, 1, 2, 3]
    assert rec.epoch_train == job.run.snapshot().epoch_train      # replay: same seed, same numbers
    at.select_slider(key="lab_frame").set_value(1).run()
    assert_no_failures(at)
    tr = _trace(at, "", "epoch 1")
    assert _y(tr)[0] == pytest.approx(rec.epoch_train[0], rel=1e-5)
    fc = _y(_trace(at, "", "forecast, epoch 1"))
    f1 = rec.tape.frames()[1]
    np.testing.assert_allclose(fc, job.dataset.scaler.inverse_target(f1.forecast), rtol=1e-5)


def test_presentation_mode_is_a_shared_setting():
    from ui import state

    at = open_page(PAGE)
    at.sidebar.toggle(key="present").set_value(True).run()
    assert_no_failures(at)
    assert state.BY_KEY["present"].default is False
    assert at.query_params.get("present") in (["True"], "True", ["true"], "true", ["1"], "1")
