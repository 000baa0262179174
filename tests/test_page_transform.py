"""The transform setting and the "auto" job through AppTest (Data and Train pages) and directly.

Independent checks: the window counts are recounted here from the split bounds; the auto run's
dataset and model are compared with the choice ``gru_core.auto.choose`` reports.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from gru_core.data import series_from_array
from gru_core.defaults import DEFAULTS
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig
from gru_core.transforms import TRANSFORMS
from gru_core.windows import split_bounds
from ui import runs

REPO = Path(__file__).resolve().parents[1]
TINY = {"source": "generator", "gen": "sine", "gen_length": 300, "lookback": 12, "horizon": 3,
        "hidden_size": 4, "num_layers": 1, "batch_size": 32, "epochs": 2, "device": "cpu"}


def open_at(page: str, settings: dict) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    for key, value in settings.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def metric(at, label: str) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def test_transform_options_are_auto_plus_the_registry():
    from ui.state import BY_KEY
    s = BY_KEY["transform"]
    assert list(s.choices()) == ["auto", *TRANSFORMS]
    assert s.default == DEFAULTS.transform == "auto"
    for t in TRANSFORMS.values():
        assert t.label in s.choices().values() and t.description in s.help
    for key in ("lookback", "horizon", "hidden_size", "num_layers", "lr", "batch_size", "epochs",
                "patience", "clip_grad"):
        assert BY_KEY[key].default == getattr(DEFAULTS, key)


def test_a_difference_drops_the_first_window_on_the_data_page():
    at = open_at("pages/data.py", {**TINY, "transform": "none"})
    assert not at.error, [e.value for e in at.error]
    n_none = metric(at, "Train windows")
    train_end, _ = split_bounds(300, DEFAULTS.split())
    assert n_none == train_end - 12 - 3 + 1                  # counted here: starts 0 .. end-L-H
    at.selectbox(key="transform").set_value("diff").run()
    assert not at.exception and not at.error
    assert metric(at, "Train windows") == n_none - 1         # the lag-1 step has no difference
    assert any("First difference" in c.value for c in at.caption)


def poll(at, ok, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"not {what} after {timeout:.0f} s"
        time.sleep(0.1)
        at.run()


def test_window_transform_reaches_the_model_config():
    at = open_at("pages/train.py", {**TINY, "transform": "window"})
    at.button(key="btn_start").click().run()
    job = at.session_state["job"]
    poll(at, lambda: not job.run.running, 60, "finished")
    assert job.dataset.transform.key == "window" and job.model_cfg.window_norm == "last"
    assert job.run.model.cfg.window_norm == "last"


def test_auto_ends_with_a_trained_winner_and_states_the_choice():
    at = open_at("pages/train.py", {**TINY, "transform": "auto"})
    at.button(key="btn_start").click().run()
    job = at.session_state["job"]
    poll(at, lambda: not job.run.running, 120, "finished")
    p = job.run.snapshot()
    assert p.state in ("finished", "early_stopped"), p.reason
    assert p.step > 0
    auto = runs.auto_run(job)                      # the AutoRun behind the scheduler's handle
    res = auto.result
    assert job.dataset.transform.key == res.transform and job.dataset.window.lookback == res.lookback
    assert job.model_cfg.window_norm == TRANSFORMS[res.transform].window_norm
    assert auto.done_candidates == len(res.table)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    said = " ".join(s.value for s in at.success)
    assert f"Auto picked: {TRANSFORMS[res.transform].label}, lookback {res.lookback}" in said
    assert res.reason[1:] in said
    assert any(len(df.value) == len(res.table) for df in at.dataframe)


def test_auto_run_status_counts_candidates_before_it_starts():
    from ui.runs import AutoRun
    t = np.arange(240, dtype=np.float64)
    series = series_from_array(10 + t / 20 + np.sin(t / 3))
    recipe = DEFAULTS.replace(lookback=8, horizon=2, epochs=1, hidden_size=3, device="cpu")
    job = type("J", (), {})()
    run = AutoRun(job, series, recipe, None, ModelConfig(input_size=1, hidden_size=3, horizon=2),
                  TrainConfig(epochs=1, device="cpu"))
    # no season: none, window, window_scale, diff, log_window (positive), then the best three of
    # them at lookback 4 = 5 + 3 = 8 candidates
    assert run.n == 8
    assert run.status == "choosing the transform and lookback on validation data: candidate 1 of 8"
    run.start()
    assert run.join(60)
    assert run.status == "" and run.result is not None and run.done_candidates == len(run.result.table)
    assert job.dataset is run.result.best.ds and run.snapshot().step > 0
