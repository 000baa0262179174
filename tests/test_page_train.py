"""The Train page through Streamlit's AppTest: settings, a tiny run to the end, pause/resume/stop.

AppTest does not fire ``st.fragment(run_every=...)``; the tests call ``at.run()`` again while they
poll (with a deadline), as a browser's timer would. Training runs in the app's background thread,
as in production. Numbers on the page are checked against models built here with ``torch.nn``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch.nn as nn
from streamlit.testing.v1 import AppTest

from apptest_helpers import plotly_array, plotly_figures

from gru_core.model import CELLS
from ui.data_source import TRAIN_THREADS

REPO = Path(__file__).resolve().parents[1]

# A short generated series and a tiny model: trains in about a second on one CPU thread.
TINY = {"source": "generator", "gen": "sine", "gen_length": 300, "transform": "none", "lookback": 12, "horizon": 3,
        "hidden_size": 4, "num_layers": 1, "batch_size": 32, "epochs": 2, "device": "cpu"}
# The same data, many epochs: long enough to pause, resume and stop mid-run.
LONG = {**TINY, "gen_length": 1500, "epochs": 2000, "patience": 0}


def open_train_page(settings: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    for key, value in (settings or {}).items():      # as a shared link would set them
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    return at


def run_state(at) -> str:
    job = at.session_state["job"] if "job" in at.session_state else None
    return job.run.snapshot().state if job is not None else "none"


def poll(at, ok, timeout: float, what: str, interval: float = 0.1):
    """Rerun the page until ``ok()`` is truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (got := ok()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout:.0f} s")
        time.sleep(interval)
        at.run()
    return got


def step(at) -> int:
    return at.session_state["job"].run.snapshot().step


def wait_for(at, states: set[str], timeout: float = 60.0) -> str:
    """Rerun the page (as the live view's timer would) until the run is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        state = run_state(at)
        if state in states:
            at.run()
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"run still {state!r} after {timeout:.0f} s (waiting for {states})")
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception


def metric(at, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise KeyError(f"no metric {label_start!r}; have {[m.label for m in at.metric]}")


def n_params_shown(at) -> int:
    """The exact parameter count the "Parameters" metric states (its help; the value may be 10.4 k)."""
    m = next(m for m in at.metric if m.label == "Parameters")
    exact = int(m.proto.help.split(" ")[0].replace(",", ""))
    shown = m.value.replace(",", "")
    if shown.endswith((" k", " M")):
        scale, half_digit = (1e3, 0.05) if shown.endswith("k") else (1e6, 0.005)   # 10.4 k, 3.16 M
        assert abs(float(shown[:-2]) - exact / scale) <= half_digit + 1e-9, (m.value, exact)
    else:
        assert int(shown) == exact
    return exact


def loss_chart_shows(at, p) -> bool:
    """The loss chart draws the run's own numbers: its per-epoch validation trace is exactly
    ``p.epoch_val`` at the steps ``p.epoch_steps`` (read from the chart's JSON, not from the code
    that built it)."""
    for fig in plotly_figures(at):
        for tr in fig["data"]:
            if tr.get("name") == "validation loss, per epoch":
                return (np.allclose(plotly_array(tr["y"]), p.epoch_val, rtol=1e-6)
                        and np.array_equal(plotly_array(tr["x"]), p.epoch_steps))
    return False


def test_page_opens_with_settings_and_estimate():
    at = open_train_page()
    assert not at.error, [e.value for e in at.error]
    assert n_params_shown(at) > 0
    assert metric(at, "Estimated time").startswith("≈")
    assert not at.button(key="btn_start").disabled
    assert at.button(key="btn_pause").disabled and at.button(key="btn_stop").disabled
    assert any("No training run yet" in i.value for i in at.info)


def params_by_hand(cell: str, input_size: int, hidden: int, layers: int, bidirectional: bool,
                   horizon: int) -> int:
    """Trainable parameters of torch.nn's own recurrent layer plus a linear head (D*U -> H)."""
    rnn = getattr(nn, cell.upper())(input_size, hidden, layers, bidirectional=bidirectional)
    head = nn.Linear((2 if bidirectional else 1) * hidden, horizon)
    return sum(p.numel() for m in (rnn, head) for p in m.parameters() if p.requires_grad)


def test_parameter_count_equals_a_model_built_here():
    at = open_train_page()                     # default data: sunspots, 1 column, horizon 6
    ss = at.session_state
    assert n_params_shown(at) == params_by_hand(
        ss["cell"], 1, ss["hidden_size"], ss["num_layers"], ss["bidirectional"], ss["horizon"])
    at.number_input(key="hidden_size").set_value(20).run()
    at.slider(key="num_layers").set_value(2).run()
    at.toggle(key="bidirectional").set_value(True).run()
    for cell in CELLS:
        at.segmented_control(key="cell").set_value(cell).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert n_params_shown(at) == params_by_hand(cell, 1, 20, 2, True, 6)


def test_seed_note_names_the_training_thread_count():
    at = open_train_page()
    notes = [c.value for c in at.caption if "bit for bit" in c.value]
    assert notes and f"{TRAIN_THREADS} CPU thread" in notes[0], [c.value for c in at.caption]


def test_bad_data_disables_start_and_says_why():
    at = open_train_page({"lookback": 500})
    assert not at.exception
    assert any("needs at least" in e.value for e in at.error)
    assert at.button(key="btn_start").disabled


def test_tiny_model_trains_to_completion():
    at = open_train_page(TINY)
    at.button(key="btn_start").click().run()
    assert not at.exception
    assert "job" in at.session_state
    assert wait_for(at, {"finished", "early_stopped", "stopped", "diverged", "failed"}) == "finished"
    run_line = [c.value for c in at.caption if c.value.startswith("**This run:**")]
    assert run_line and f"seed {at.session_state['seed']}, {TRAIN_THREADS} CPU thread" in run_line[0]
    assert not at.exception
    p = at.session_state["job"].run.snapshot()
    assert loss_chart_shows(at, p)
    done = [s.value for s in at.success]
    assert done and done[0].startswith("**Finished.**"), done
    assert any(link.proto.page.endswith("forecast") or "forecast" in link.proto.page
               for link in at.get("page_link")), "no link to the Forecast page"
    assert not at.button(key="btn_start").disabled       # ready for the next run
    p = at.session_state["job"].run.snapshot()
    assert p.epoch == 2 and len(p.epoch_val) == 2


def test_pause_resume_stop_buttons_change_the_run_state():
    at = open_train_page(LONG)
    at.button(key="btn_start").click().run()
    assert wait_for(at, {"running"}) == "running"
    poll(at, lambda: step(at) > 0, 30, "a first optimiser step")

    at.button(key="btn_pause").click().run()
    assert wait_for(at, {"paused"}, timeout=5) == "paused"
    assert not at.button(key="btn_resume").disabled and at.button(key="btn_pause").disabled
    paused_at = step(at)
    # While paused the step count must not move: watch it for 0.6 s (a deadline, not a sleep).
    watch_until = time.monotonic() + 0.6
    while time.monotonic() < watch_until:
        assert step(at) == paused_at, "training went on while paused"
        time.sleep(0.05)

    at.button(key="btn_resume").click().run()
    assert wait_for(at, {"running"}, timeout=5) == "running"
    assert any("apply to the next run" in i.value for i in at.info)

    at.button(key="btn_stop").click().run()
    assert wait_for(at, {"stopped"}, timeout=5) == "stopped"      # a deadline; latency: bench_app
    assert not at.exception
    ended = [i.value for i in at.info if i.value.startswith("**Stopped.**")]
    assert ended and "Stopped by the user" in ended[0], [i.value for i in at.info]
