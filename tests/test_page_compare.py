"""The Compare page in AppTest, and its CompareJob and equal-parameter sizes without Streamlit."""
from __future__ import annotations

import base64
import dataclasses
import json
import time

import numpy as np
import torch

from gru_core.data import series_from_array
from gru_core.evaluate import evaluate
from gru_core.generators import generate
from gru_core.gradients import grad_through_time
from gru_core.model import CELLS, Forecaster, ModelConfig
from gru_core.scheduler import Scheduler, SchedulerConfig
from gru_core.train import TrainConfig
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.views.compare import CompareJob, gradient_window, matched_hidden

from apptest_helpers import assert_no_failures, open_page

PAGE = "pages/compare.py"


def _array(v):
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v, dtype=np.float64)


def _small_ds():
    y = generate("echo", length=300, seed=0, delay=5, pulse_rate=1.0)
    return make_dataset(series_from_array(y), WindowConfig(8, 1), SplitConfig(0.7, 0.15, 0.15))


def test_matched_hidden_is_the_closest_parameter_count():
    base = ModelConfig(input_size=1, hidden_size=16, num_layers=1, horizon=1)
    sizes = matched_hidden(list(CELLS), 16, base)
    target = Forecaster(dataclasses.replace(base, cell="gru")).n_params()
    assert sizes["gru"] == 16
    for c in ("lstm", "rnn"):
        counts = {u: Forecaster(dataclasses.replace(base, cell=c, hidden_size=u)).n_params()
                  for u in range(1, 80)}
        best = min(abs(n - target) for n in counts.values())
        assert abs(counts[sizes[c]] - target) == best
    assert sizes["lstm"] < 16 < sizes["rnn"]


def test_job_runs_every_cell_on_the_same_data_in_both_modes():
    ds = _small_ds()
    base = ModelConfig(input_size=1, hidden_size=4, num_layers=1, horizon=1)
    configs = {c: dataclasses.replace(base, cell=c) for c in CELLS}
    tc = TrainConfig(epochs=1, batch_size=32, patience=0, device="cpu", num_threads=1)
    sched = Scheduler(SchedulerConfig(max_running=2), autostart=False)
    for mode in ("sequential", "parallel"):
        job = CompareJob(ds, configs, tc, mode)
        init = {c: job.initial_model(c).state_dict() for c in CELLS}
        job.submit(lambda specs: sched.submit_group(f"s-{mode}", specs))
        # one queue entry for the cells in turn, or one entry per cell
        assert len(job.jobs) == (1 if mode == "sequential" else len(CELLS))
        assert job.join(timeout=120)
        for c, r in job.runs.items():
            p = r.snapshot()
            assert p.state == "finished" and p.epoch == 1 and r.dataset is ds
            # the kept initial weights are the seeded Forecaster's, not the trained ones
            torch.manual_seed(tc.seed)
            fresh = Forecaster(configs[c]).state_dict()
            assert all(torch.equal(fresh[k], v) for k, v in init[c].items())
            assert not all(torch.equal(r.model.state_dict()[k], v) for k, v in init[c].items())


def test_page_trains_and_shows_metrics_and_gradients():
    at = open_page(PAGE)
    assert_no_failures(at)
    assert any("Nothing compared yet" in i.value for i in at.info)
    at.number_input(key="cmp_length").set_value(300).run()
    at.number_input(key="cmp_delay").set_value(5).run()
    at.number_input(key="cmp_lookback").set_value(8).run()
    at.number_input(key="cmp_hidden").set_value(4).run()
    at.number_input(key="cmp_epochs").set_value(1).run()
    at.button(key="cmp_start").click().run()
    job = at.session_state["compare_job"]
    assert "job" not in at.session_state or at.session_state["job"] is None   # the forecasting job is untouched
    assert job.join(timeout=120)
    deadline = time.monotonic() + 30
    while not at.dataframe and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    assert_no_failures(at)
    table = at.dataframe[0].value
    for c, r in job.runs.items():
        row = table[table["model"] == CELLS[c].label].iloc[0]
        assert row["parameters"] == r.model.n_params()
        assert row["MAE"] == evaluate(r.model, job.dataset, "test").metrics.iloc[0]["MAE"]
    assert any(table["model"].str.startswith("Naive"))
    at.slider(key="cmp_grad_T").set_value(40).run()
    assert_no_failures(at)
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if "∂loss/∂h_t" in json.loads(c.proto.spec)["layout"]["title"]["text"]][0]
    x, y = gradient_window(job.dataset, 40)
    rnn = job.runs["rnn"].model
    want = grad_through_time(rnn, x, y)[-1]
    got = [tr for tr in fig["data"] if tr["name"] == "Plain RNN after training"][0]
    np.testing.assert_allclose(_array(got["y"]), want, rtol=1e-5)
    assert len(fig["data"]) == 2 * len(CELLS)            # at initialisation and after training
    assert fig["layout"]["yaxis"]["type"] == "log"


def test_clipping_experiment_and_toggle():
    at = open_page(PAGE)
    at.number_input(key="cmp_length").set_value(300).run()
    at.button(key="cmp_explode_run").click().run()
    assert_no_failures(at)
    _, handle = at.session_state["_cmp_explode"]            # a job of the server's scheduler
    assert handle.join(timeout=120)
    at.run()                                                  # as the fragment's timer would
    assert_no_failures(at)
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if "clipping" in json.loads(c.proto.spec)["layout"]["title"]["text"]][0]
    names = [tr["name"] for tr in fig["data"]]
    assert "no clipping" in names and "clipped to norm 1" in names
    free = [tr for tr in fig["data"] if tr["name"] == "no clipping" and tr.get("yaxis", "y") == "y"][0]
    assert np.nanmax(_array(free["y"])) > 100                       # the default explodes
    assert any("non-finite" in c.value or "largest gradient norm" in c.value for c in at.caption)
    at.toggle(key="cmp_clip").set_value(False).run()
    assert_no_failures(at)
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if "clipping" in json.loads(c.proto.spec)["layout"]["title"]["text"]][0]
    assert {tr["name"] for tr in fig["data"]} == {"no clipping"}
