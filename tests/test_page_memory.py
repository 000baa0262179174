"""The Memory page in AppTest: guard, probe chart and map equal independent computations."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import assert_no_failures, open_page

PAGE = "pages/memory.py"


def _job(cell="gru") -> Job:
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(24, 6), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=6, num_layers=2, horizon=6, cell=cell)
    tc = TrainConfig(epochs=2, batch_size=32, lr=0.01, device="cpu", patience=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    return Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test")


@pytest.fixture(scope="module")
def gru_job():
    return _job()


def _array(v):
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v, dtype=np.float64)


def _figs(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_guard_without_a_model():
    at = open_page(PAGE)
    assert_no_failures(at)
    assert "No trained model yet" in at.info[0].value


def test_memory_map_equals_finite_differences(gru_job):
    at = open_page(PAGE, gru_job)
    assert_no_failures(at)
    heat = [tr for f in _figs(at) for tr in f["data"] if tr["type"] == "heatmap"]
    assert len(heat) == 1
    S = _array(heat[0]["z"])
    ds, model = gru_job.dataset, gru_job.run.model
    s, L = int(ds.test.starts[0]), ds.window.lookback
    x = ds.scaled[s:s + L].double()
    m = model.double().eval()
    eps, fd = 1e-6, np.empty((6, L))
    with torch.no_grad():
        for t in range(L):
            xp, xm = x.clone(), x.clone()
            xp[t, 0] += eps
            xm[t, 0] -= eps
            fd[:, t] = ((m(xp.unsqueeze(0)) - m(xm.unsqueeze(0)))[0] / (2 * eps)).numpy()
    model.float()
    np.testing.assert_allclose(S, fd, rtol=1e-3, atol=1e-5)           # shown as float32
    assert any("local" in c.value and "scaled" in c.value for c in at.caption)


def test_probe_response_equals_two_gru_runs(gru_job):
    at = open_page(PAGE, gru_job)
    at.segmented_control(key="mem_base").set_value("flat").run()
    assert_no_failures(at)
    fig = [f for f in _figs(at) if "answers" in f["layout"]["title"]["text"]][0]
    rows = [tr for tr in fig["data"] if tr.get("yaxis") == "y2"]
    T = int(at.session_state["mem_flat_T"])
    t0 = int(at.session_state["mem_t0"])
    m = gru_job.run.model.double().eval()
    x = torch.zeros(1, T, 1, dtype=torch.float64)
    xp = x.clone()
    xp[0, t0, 0] += 1.0
    with torch.no_grad():
        # layer 0 of the model as its own GRU: the default layer row shown
        one = torch.nn.GRU(1, 6, batch_first=True).double()
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, f"{n}_l0").copy_(getattr(m.rnn, f"{n}_l0"))
        diff = (one(xp)[0] - one(x)[0]).abs()[0].numpy()            # (T, U)
    gru_job.run.model.float()
    for tr in rows:
        j = int(tr["name"].split()[-1])
        np.testing.assert_allclose(_array(tr["y"]), diff[:, j], atol=1e-6)
    assert at.dataframe and "response lasts (steps)" in at.dataframe[0].value.columns
    at.segmented_control(key="mem_kind").set_value("step").run()
    assert_no_failures(at)


def test_lstm_model_has_no_z_product():
    at = open_page(PAGE, _job("lstm"))
    assert_no_failures(at)
    assert any("z product exists only for a GRU" in c.value for c in at.caption)
