"""The Sweep page through AppTest: a 2-trial grid on a tiny series runs through the server's
scheduler to the end; the chosen trial is the one with the lowest validation RMSE recomputed here
by hand, its test score is shown, and "use this config" loads it into the Train settings."""
from __future__ import annotations

import time

import numpy as np

from tests.apptest_helpers import assert_no_failures
from tests.test_page_train import TINY, open_train_page
from tests.test_sweep import _rmse_by_hand


def open_sweep_page(settings: dict):
    at = open_train_page(settings)
    at.switch_page("pages/sweep.py").run()
    assert_no_failures(at)
    return at


def poll(at, cond, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "the sweep did not end in time"
        time.sleep(0.3)
        at.run()                               # as the live fragment's timer would
        assert not at.exception, at.exception


def test_the_page_explains_and_states_limits_before_start():
    at = open_sweep_page(TINY)
    assert at.title[0].value == "Sweep"
    assert "lowest validation error" in at.markdown[0].value
    caption = " ".join(c.value for c in at.caption)
    assert "2 trial(s)" in caption and "wall time ≤" in caption and "size" in caption


def test_a_grid_sweep_runs_chooses_by_validation_and_loads_the_choice():
    at = open_sweep_page({**TINY, "epochs": 2})
    at.multiselect(key="sw_hidden").set_value([4, 8]).run()
    next(b for b in at.button if b.label == "Start sweep").click().run()
    assert_no_failures(at)
    sweep = at.session_state["sweep"]
    assert len(sweep.jobs) == 2
    poll(at, lambda: sweep.done)
    at.run()
    assert_no_failures(at)
    val = [_rmse_by_hand(j.model, s.dataset, "val") for j, s in zip(sweep.jobs, sweep.specs)]
    best = int(np.argmin(val))
    assert sweep.best() == best
    texts = " ".join(s.value for s in at.success)
    assert f"Chosen (lowest validation RMSE, {val[best]:.4g}" in texts
    assert f"trial {best + 1}" in texts
    assert any("Test score of the chosen config" in m.value for m in at.markdown)
    tables = at.dataframe
    assert len(tables) >= 2                    # results + test metrics
    next(b for b in at.button if b.label == "Use this config on the Train page").click().run()
    assert at.session_state["hidden_size"] == sweep.trials[best]["hidden_size"]
    assert at.session_state["lookback"] == sweep.trials[best]["lookback"]
    at.switch_page("pages/train.py").run()
    assert_no_failures(at)


def test_the_parallel_coordinates_draw_only_the_varied_settings():
    import pandas as pd

    from ui.views.sweep import parallel_figure

    table = pd.DataFrame({"hidden_size": [4, 8, 16], "num_layers": [1, 1, 1],
                          "lookback": [12, 12, 12], "lr": [1e-3, 1e-2, 1e-2],
                          "transform": ["none"] * 3, "seed": [0, 0, 0],
                          "val RMSE": [0.5, 0.25, 0.4]})
    fig = parallel_figure(table, "val RMSE", "kW")
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["hidden units", "learning rate (log10)", "val RMSE (kW)"]
    np.testing.assert_allclose(dims[1].values, [-3, -2, -2])
    np.testing.assert_allclose(dims[2].values, [0.5, 0.25, 0.4])
