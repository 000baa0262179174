"""The Cell page in AppTest: the shown numbers equal nn.GRUCell, presets, trained units, player."""
from __future__ import annotations

import json
import time

import numpy as np
import torch
from torch import nn

from gru_core.cell import preset_weights
from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.runs import Job

from apptest_helpers import assert_no_failures, open_page

PAGE = "pages/cell.py"


def _grucell_h(w, x, h) -> np.ndarray:
    cell = nn.GRUCell(1, w.hidden_size).double()
    with torch.no_grad():
        for a, b in (("weight_ih", w.W_i), ("weight_hh", w.W_h), ("bias_ih", w.b_i), ("bias_hh", w.b_h)):
            getattr(cell, a).copy_(b)
        return cell(torch.tensor([[x]], dtype=torch.float64), torch.tensor([h], dtype=torch.float64))[0].numpy()


def _table(at):
    for df in at.dataframe:
        if "h′ PyTorch" in df.value.columns:
            return df.value
    raise AssertionError("no step table")


def test_default_step_equals_nn_grucell_and_shows_both_forms():
    at = open_page(PAGE)
    assert_no_failures(at)
    table = _table(at)
    w = preset_weights("random", 2, 0)
    np.testing.assert_allclose(table["h′ PyTorch"].to_numpy(), _grucell_h(w, 1.0, [0.5, 0.0]), atol=1e-12)
    assert np.abs(table["h′ difference"].to_numpy()).max() > 0          # the two reset forms differ
    texts = [t.value for t in at.latex]
    assert any(r"\tanh" in t and "(W_{hn} h + b_{hn})" in t for t in texts)
    assert any("z'_0 &= 1 - z_0" in t for t in texts)
    assert any(r"(r \odot h)" in t for t in texts)
    assert [f for f in at.get("plotly_chart")]


def test_presets_and_sliders_change_the_numbers():
    at = open_page(PAGE)
    at.segmented_control(key="cell_preset").set_value("remembers").run()
    at.slider(key="cell_x").set_value(-1.5).run()
    at.slider(key="cell_hidden").set_value(3).run()
    assert_no_failures(at)
    table = _table(at)
    assert (table["z (PyTorch)"] > 0.98).all() and len(table) == 3
    w = preset_weights("remembers", 3, 0)
    np.testing.assert_allclose(table["h′ PyTorch"].to_numpy(), _grucell_h(w, -1.5, [0.5, 0.0, 0.0]), atol=1e-12)


def test_step_and_play_advance_the_sequence():
    at = open_page(PAGE)
    at.button(key="cell_step").click().run()
    at.button(key="cell_step").click().run()
    assert at.session_state["cell_t"] == 2
    assert any("Step 2 of" in c.value for c in at.caption)
    at.button(key="cell_play").click().run()
    assert at.session_state["cell_playing"]
    deadline = time.monotonic() + 20
    while at.session_state["cell_t"] < 4 and time.monotonic() < deadline:
        time.sleep(0.7)
        at.run()                                  # AppTest does not fire run_every by itself
    assert at.session_state["cell_t"] >= 4
    at.button(key="cell_pause").click().run()
    t = at.session_state["cell_t"]
    at.run()
    assert at.session_state["cell_t"] == t and not at.session_state["cell_playing"]
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "step" in fig["layout"]["title"]["text"]
    at.segmented_control(key="cell_seq").set_value("window").run()
    assert_no_failures(at)


def test_units_of_a_trained_gru():
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(24, 12), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=5, num_layers=1, horizon=12)
    tc = TrainConfig(epochs=1, batch_size=32, device="cpu", patience=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    at = open_page(PAGE, Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test"))
    at.segmented_control(key="cell_preset").set_value("trained").run()
    at.multiselect(key="cell_units_pick").set_value([3, 1]).run()
    assert_no_failures(at)
    assert any("unit(s) 3, 1" in c.value for c in at.caption)
    table = _table(at)
    gru = run.model.rnn
    U = 5
    rows = [k * U + u for k in range(3) for u in (3, 1)]
    cell = nn.GRUCell(1, 2).double()
    with torch.no_grad():
        cell.weight_ih.copy_(gru.weight_ih_l0[rows])
        cell.weight_hh.copy_(gru.weight_hh_l0[rows][:, [3, 1]])
        cell.bias_ih.copy_(gru.bias_ih_l0[rows])
        cell.bias_hh.copy_(gru.bias_hh_l0[rows])
        want = cell(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.5, 0.0]], dtype=torch.float64))
    np.testing.assert_allclose(table["h′ PyTorch"].to_numpy(), want[0].numpy(), atol=1e-7)
