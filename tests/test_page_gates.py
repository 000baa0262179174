"""The Gates page in AppTest: untrained demo, trained GRU, the z convention toggle, non-GRU models.

Shown values are checked against a naive loop written here from the GRU equations (read straight
from the named nn.GRU parameters, its last layer checked against nn.GRU's own output), never
against the page's own tracer alone.
"""
from __future__ import annotations

import base64
import json

import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import APP, assert_no_failures, open_page
from test_explain import _naive_memory

PAGE = "pages/gates.py"


def _job(cell: str = "gru", epochs: int = 2, hidden: int = 6, layers: int = 2,
         window: tuple[int, int] = (24, 12)) -> Job:
    """A tiny model trained on the app's default data (and by default its window settings)."""
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(*window), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=hidden, num_layers=layers, horizon=window[1],
                     cell=cell)
    tc = TrainConfig(epochs=epochs, batch_size=32, lr=0.01, device="cpu", patience=0, seed=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    return Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test")


@pytest.fixture(scope="module")
def gru_job() -> Job:
    return _job("gru")


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(v) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array encoding {dtype, bdata, shape}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            a = a.reshape([int(n) for n in str(v["shape"]).split(",")])
        return a
    return np.asarray(v, dtype=np.float64)


def _heatmap(at: AppTest, name: str) -> np.ndarray:
    """z values (units x time) of the heatmap trace called ``name`` (its colour-bar title)."""
    for fig in _figures(at):
        for tr in fig["data"]:
            if tr["type"] == "heatmap" and tr.get("name") == name:
                return _array(tr["z"])
    raise AssertionError(f"no heatmap named {name!r}")


@torch.no_grad()
def _naive(rnn, x) -> dict:
    """Forward-direction r, z, n, h per layer, (T, U) numpy each, for one sequence x (T, C): the
    equations one step at a time from the named parameters. The last layer's h is checked
    against nn.GRU's output, so the loop itself is anchored."""
    x = x.double()
    out = {g: [] for g in "rznh"}
    layer_in = x
    for k in range(rnn.num_layers):
        W_ir, W_iz, W_in = getattr(rnn, f"weight_ih_l{k}").double().chunk(3)
        W_hr, W_hz, W_hn = getattr(rnn, f"weight_hh_l{k}").double().chunk(3)
        b_ir, b_iz, b_in = getattr(rnn, f"bias_ih_l{k}").double().chunk(3)
        b_hr, b_hz, b_hn = getattr(rnn, f"bias_hh_l{k}").double().chunk(3)
        h = torch.zeros(rnn.hidden_size, dtype=torch.float64)
        rows = {g: [] for g in "rznh"}
        for t in range(x.shape[0]):
            xt = layer_in[t]
            r = torch.sigmoid(W_ir @ xt + b_ir + W_hr @ h + b_hr)
            z = torch.sigmoid(W_iz @ xt + b_iz + W_hz @ h + b_hz)
            n = torch.tanh(W_in @ xt + b_in + r * (W_hn @ h + b_hn))
            h = (1 - z) * n + z * h
            for g, v in zip("rznh", (r, z, n, h)):
                rows[g].append(v)
        for g in "rznh":
            out[g].append(torch.stack(rows[g]).numpy())
        layer_in = torch.stack(rows["h"])
    ref = type(rnn)(rnn.input_size, rnn.hidden_size, rnn.num_layers, batch_first=True).double()
    ref.load_state_dict({k: v.double() for k, v in rnn.state_dict().items()})
    want = ref(x[None])[0][0].numpy()  # (T, U) nn.GRU's own last-layer output
    np.testing.assert_allclose(out["h"][-1], want, atol=1e-10)
    return out


def test_untrained_demo_without_a_model():
    at = open_page(PAGE)
    assert_no_failures(at)
    assert "No trained GRU yet" in at.info[0].value
    assert any("untrained (random weights)" in c.value for c in at.caption)
    assert "Untrained" in _figures(at)[0]["layout"]["title"]["text"]
    # the heatmaps are the untrained GRU's gates: test window 1, layer 0, units in number order
    t = at.session_state["_untrained_gru"][1]
    ds = t.dataset
    s, L = int(ds.test.starts[0]), ds.window.lookback
    ref = _naive(t.model.rnn, ds.scaled[s:s + L])
    np.testing.assert_allclose(_heatmap(at, "z (PyTorch)"), ref["z"][0].T, atol=1e-6)
    np.testing.assert_allclose(_heatmap(at, "n"), ref["n"][0].T, atol=1e-6)


def test_trained_gru_heatmaps_equal_the_trace(gru_job):
    at = open_page(PAGE, gru_job)
    assert_no_failures(at)
    assert not at.info                              # a trained model: no "untrained" notice
    heatmaps = [tr for f in _figures(at) for tr in f["data"] if tr["type"] == "heatmap"]
    assert [h["name"] for h in heatmaps] == ["r", "z (PyTorch)", "n", "h"]
    for hm in heatmaps:
        assert (hm["zmin"], hm["zmax"]) == ((0, 1) if hm["name"][0] in "rz" else (-1, 1))
        assert hm["colorbar"]["title"]["text"] == hm["name"]
    # the default view: test window 1, layer 0, units in number order
    ds, model = gru_job.dataset, gru_job.run.model
    s, L = int(ds.test.starts[0]), ds.window.lookback
    ref = _naive(model.rnn, ds.scaled[s:s + L])
    np.testing.assert_allclose(_heatmap(at, "z (PyTorch)"), ref["z"][0].T, atol=1e-6)
    np.testing.assert_allclose(_heatmap(at, "r"), ref["r"][0].T, atol=1e-6)
    # the summary's measured memory is the naive loop's on the naive z
    table = at.dataframe[0].value.set_index("unit")
    for u in range(gru_job.model_cfg.hidden_size):
        assert table.loc[u, "memory"] == pytest.approx(_naive_memory(ref["z"][0][:, u])[0], abs=1e-9)
        assert table.loc[u, "tau_const"] == pytest.approx(1 / (1 - ref["z"][0][:, u].mean()), rel=1e-5)
    # layer 1 on request
    at.selectbox(key="gates_layer").set_value(1)
    at.run()
    assert_no_failures(at)
    np.testing.assert_allclose(_heatmap(at, "h"), ref["h"][1].T, atol=1e-6)
    # latex: the equations, and the filled-in step (default: step L // 2, unit 0) whose bold
    # results are the naive loop's r, z, n, h of layer 1 there
    texts = [x.value for x in at.latex]
    assert any(r"\tanh" in t and "W_{hn}" in t for t in texts)
    filled = [t for t in texts if "[0]" in t and r"\mathbf" in t]
    assert len(filled) == 1
    bold = [float(v) for v in re.findall(r"\\mathbf\{\(?(-?[\d.]+)\)?\}", filled[0])]
    step = L // 2 - 1
    assert bold == pytest.approx([ref[g][1][step, 0] for g in "rznh"], abs=5.1e-5)


def test_convention_toggle_plots_one_minus_z(gru_job):
    at = open_page(PAGE, gru_job)
    z_torch = _heatmap(at, "z (PyTorch)")
    r_torch = _heatmap(at, "r")
    lines_before = [f for f in _figures(at) if "chosen units" in f["layout"].get("title", {}).get("text", "")][0]
    at.segmented_control(key="gates_convention").set_value("tutorial")
    at.run()
    assert_no_failures(at)
    z_tut = _heatmap(at, "1 − z (tutorial z)")
    np.testing.assert_allclose(z_tut, 1.0 - z_torch, atol=1e-6)
    np.testing.assert_array_equal(_heatmap(at, "r"), r_torch)      # r is not touched
    titles = [a["text"] for f in _figures(at) for a in f["layout"].get("annotations", [])]
    assert any("1 − z (tutorial)" in t for t in titles)
    lines_after = [f for f in _figures(at) if "chosen units" in f["layout"].get("title", {}).get("text", "")][0]
    # the z panel of the unit line plots flips too; r and h stay as they were
    z_before = [_array(tr["y"]) for tr in lines_before["data"] if tr.get("yaxis") == "y3"]
    z_after = [_array(tr["y"]) for tr in lines_after["data"] if tr.get("yaxis") == "y3"]
    r_before = [_array(tr["y"]) for tr in lines_before["data"] if tr.get("yaxis") == "y2"]
    r_after = [_array(tr["y"]) for tr in lines_after["data"] if tr.get("yaxis") == "y2"]
    assert z_before and len(z_before) == len(z_after)
    for a, b in zip(z_before, z_after):
        np.testing.assert_allclose(b, 1.0 - a, atol=1e-6)
    for a, b in zip(r_before, r_after):
        np.testing.assert_array_equal(a, b)
    assert any("z_{\\mathrm{tutorial}}" in m.value or "tutorial" in m.value for m in at.markdown)


def test_long_span_and_sorting(gru_job):
    at = open_page(PAGE, gru_job)
    at.segmented_control(key="gates_span_mode").set_value("test")
    at.run()
    assert_no_failures(at)
    ds = gru_job.dataset
    T = ds.scaled.shape[0] - ds.bounds[1]
    assert _heatmap(at, "z (PyTorch)").shape == (gru_job.model_cfg.hidden_size, T)
    at.selectbox(key="gates_sort").set_value("memory")
    at.run()
    assert_no_failures(at)
    table = at.dataframe[0].value
    assert np.all(np.diff(table["memory"].to_numpy()) <= 0)   # rows by memory, longest first
    # and the heatmap rows follow the same order, each row that unit's naive z
    a = ds.bounds[1]
    ref = _naive(gru_job.run.model.rnn, ds.scaled[a:])
    rows = _heatmap(at, "z (PyTorch)")
    for i, u in enumerate(table["unit"].to_numpy()):
        np.testing.assert_allclose(rows[i], ref["z"][0][:, u], atol=1e-6)
        assert table.iloc[i]["memory"] == pytest.approx(_naive_memory(ref["z"][0][:, u])[0], abs=1e-9)


@pytest.mark.parametrize("cell, label", [("lstm", "LSTM"), ("rnn", "Plain RNN")])
def test_non_gru_model_shows_a_gru_of_that_models_size(cell, label):
    """Truth defect A: the untrained GRU shown for an LSTM / RNN model has the MODEL's size and
    reads the model's data (here 5 units, 1 layer, 16-step windows; the settings say 32 units and
    24-step windows), and the page says so."""
    job = _job(cell, epochs=1, hidden=5, layers=1, window=(16, 6))
    at = open_page(PAGE, job)
    assert_no_failures(at)
    assert _heatmap(at, "z (PyTorch)").shape == (5, 16)             # 5 units x 16 input steps
    assert at.warning and label in at.warning[0].value and "GRU" in at.warning[0].value
    assert "1 layer(s) × 5 units" in at.warning[0].value and "horizon 6" in at.warning[0].value
    assert any("untrained (random weights)" in c.value and "5 units" in c.value for c in at.caption)
    shown = at.session_state["_gates_untrained"][1]
    assert shown.model_cfg.hidden_size == job.model_cfg.hidden_size == 5
    assert shown.model.rnn.hidden_size == 5 and shown.model_cfg.cell == "gru"
    assert shown.dataset is job.dataset
    s = int(job.dataset.test.starts[0])
    ref = _naive(shown.model.rnn, job.dataset.scaled[s:s + 16])
    np.testing.assert_allclose(_heatmap(at, "z (PyTorch)"), ref["z"][0].T, atol=1e-6)


@pytest.mark.slow
def test_long_span_with_128_units_starts_with_two_heatmaps_and_never_retraces():
    """2,100 traced steps x 128 units x 2 layers: r and z show first, and a display toggle redraws
    from the cached trace (no second trace). Timings are bench/bench_app.py's job, not a test's."""
    import torch

    from gru_core.data import series_from_array
    from gru_core.generators import generate
    from gru_core.model import Forecaster
    from ui.runs import Trained

    series = series_from_array(generate("sum_of_sines", length=14000).astype(np.float32))
    ds = make_dataset(series, WindowConfig(48, 12), SplitConfig(0.7, 0.15, 0.15))
    cfg = ModelConfig(input_size=1, hidden_size=128, num_layers=2, horizon=12)
    torch.manual_seed(0)
    t = Trained(model=Forecaster(cfg).eval(), dataset=ds, model_cfg=cfg, label="big", key="big:1")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["bundle_trained"] = t
    at.session_state["model_source"] = "bundle"
    at.switch_page(PAGE)
    at.run()
    at.segmented_control(key="gates_span_mode").set_value("test")
    at.run()
    assert_no_failures(at)
    names = [tr["name"] for f in _figures(at) for tr in f["data"] if tr["type"] == "heatmap"]
    assert names == ["r", "z (PyTorch)"]
    assert _heatmap(at, "r").shape == (128, 2100) and _heatmap(at, "r").dtype == np.float32
    traces = dict(at.session_state["_model_cache"]["trace"])
    at.segmented_control(key="gates_convention").set_value("tutorial")
    at.run()
    after = at.session_state["_model_cache"]["trace"]
    assert list(after) == list(traces) and all(after[k] is traces[k] for k in traces)
    at.segmented_control(key="gates_heat_set_big").set_value("all")
    at.run()
    names = [tr["name"] for f in _figures(at) for tr in f["data"] if tr["type"] == "heatmap"]
    assert names == ["r", "1 − z (tutorial z)", "n", "h"]


def test_running_gru_shows_the_weights_it_started_from():
    """While a GRU trains, the page says it shows "the same GRU with the random weights it started
    from" -- and it does: equal to a fresh TrainingRun's initial weights (same configs and seed)."""
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(16, 6), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=7, num_layers=1, horizon=6, cell="gru")
    tc = TrainConfig(epochs=100_000, batch_size=32, lr=0.01, device="cpu", patience=0, seed=3)
    run = TrainingRun(ds, mc, tc)
    run.start()
    run.pause()
    try:
        at = open_page(PAGE, Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="test"))
        assert_no_failures(at)
        assert "training right now" in at.info[0].value and "started from" in at.info[0].value
        shown = at.session_state["_gates_untrained"][1]
        fresh = TrainingRun(ds, mc, tc).model.state_dict()     # built, never trained
        got = shown.model.state_dict()
        assert got.keys() == fresh.keys()
        assert all(torch.equal(got[k], fresh[k]) for k in fresh)
        assert _heatmap(at, "z (PyTorch)").shape == (7, 16)
    finally:
        run.stop()
        run.join(30)


def test_window_norm_model_is_traced_on_normalised_inputs():
    """A per-window-normalised GRU: the traced span is read minus its last value (what the GRU sees)."""
    import torch
    from gru_core.data import series_from_array
    from gru_core.model import Forecaster, ModelConfig
    from gru_core.windows import SplitConfig, WindowConfig, make_dataset
    from ui import runs as _runs
    from ui.views import gates as gview

    t_ = np.arange(300, dtype=np.float64)
    ds = make_dataset(series_from_array(t_ / 10 + np.sin(t_ / 3)), WindowConfig(12, 3),
                      SplitConfig(0.7, 0.15, 0.15), transform="window")
    cfg = ModelConfig(input_size=1, hidden_size=4, num_layers=1, horizon=3, window_norm="last")
    torch.manual_seed(0)
    model = Forecaster(cfg).eval()
    t = _runs.Trained(model=model, dataset=ds, model_cfg=cfg, label="test", key="wn")
    got = gview._trace(t, "k", 20, 32)
    x = ds.scaled[20:32].numpy()
    assert np.allclose(got["x"][0].numpy(), x - x[-1:], atol=1e-6)          # written out here
    gru = torch.nn.GRU(1, 4, batch_first=True)
    gru.load_state_dict(model.rnn.state_dict())
    with torch.no_grad():
        out, _ = gru(torch.tensor((x - x[-1:])[None], dtype=torch.float32))
    h = np.asarray(got["trace"].h[0] if hasattr(got["trace"], "h") else got["trace"]["h"][0])
    assert np.allclose(np.squeeze(h), out[0].numpy(), atol=1e-5)


def _cursor_x(at: AppTest):
    shapes = _figures(at)[0]["layout"].get("shapes", [])
    assert len(shapes) == 1 and shapes[0]["x0"] == shapes[0]["x1"] and shapes[0]["yref"] == "paper"
    return shapes[0]["x0"]


def _filled_bold(at: AppTest) -> list[float]:
    filled = [x.value for x in at.latex if "[0]" in x.value and r"\mathbf" in x.value]
    assert len(filled) == 1
    return [float(v) for v in re.findall(r"\\mathbf\{\(?(-?[\d.]+)\)?\}", filled[0])]


def test_step_and_play_move_the_cursor_and_fill_in_that_timestep(gru_job):
    """Step / Back / Play move one timestep cursor: the line on the heatmaps sits on that step's
    date and the filled-in equations hold the naive loop's r, z, n, h at that step."""
    import pandas as pd

    at = open_page(PAGE, gru_job)
    ds, model = gru_job.dataset, gru_job.run.model
    s, L = int(ds.test.starts[0]), ds.window.lookback
    ref = _naive(model.rnn, ds.scaled[s:s + L])
    dates = pd.DatetimeIndex(ds.series.index)

    def check(step: int) -> None:
        assert_no_failures(at)
        assert at.slider(key="gates_ex_t").value == step
        assert pd.Timestamp(_cursor_x(at)) == dates[s + step - 1]
        assert _filled_bold(at) == pytest.approx([ref[g][0][step - 1, 0] for g in "rznh"],
                                                 abs=5.1e-5)
        assert any(f"Step {step} of {L}" in m.value for m in at.markdown)

    check(L // 2)
    at.button(key="gates_step").click().run()
    check(L // 2 + 1)
    at.button(key="gates_back").click().run()
    at.button(key="gates_back").click().run()
    check(L // 2 - 1)
    # Play advances one step per fragment run; AppTest does not fire run_every, so each run()
    # stands for one tick. Near the end it stops at the last step and leaves the playing state.
    at.slider(key="gates_ex_t").set_value(L - 2).run()
    at.button(key="gates_play").click().run()           # the click's own run: step L - 1
    check(L - 1)
    assert at.session_state["gates_playing"] and at.button(key="gates_play").disabled
    at.run()                                            # one tick: the last step, stop
    check(L)
    assert not at.session_state["gates_playing"]
    assert not at.button(key="gates_play").disabled and at.button(key="gates_pause").disabled
    at.run()                                            # stopped: the cursor stays put
    check(L)
    at.button(key="gates_play").click().run()           # Play at the end starts over at step 1
    check(2)
    at.button(key="gates_pause").click().run()
    check(2)
    assert not at.session_state["gates_playing"]
