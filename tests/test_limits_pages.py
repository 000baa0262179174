"""The server's resource limits on every page path that builds a model, through AppTest.

The limits are made small with the ``GRU_LAB_MAX_*`` environment variables (and the server's
cached ``Limits`` cleared), so the app's default settings are "too big". The expected parameter
counts are computed here from ``torch.nn`` layers, never from ``gru_core.limits``.
"""
from __future__ import annotations

import pytest
import torch.nn as nn
from streamlit.testing.v1 import AppTest

from gru_core.bundle import save_bundle
from gru_core.data import load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui import data_source, runs
from ui.runs import Job
from ui.views import gates as gates_view

from apptest_helpers import APP, open_page

ENV = ("GRU_LAB_MAX_PARAMS", "GRU_LAB_MAX_STEP_WORK", "GRU_LAB_MAX_WINDOW_EPOCHS",
       "GRU_LAB_MAX_MEMORY_BYTES")


@pytest.fixture
def limits_env(monkeypatch):
    """Set GRU_LAB_MAX_* for one test; the server's cached Limits is rebuilt before and after."""
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    data_source.limits.clear()

    def set_env(**values):
        for key in ENV:
            monkeypatch.delenv(key, raising=False)
        for key, value in values.items():
            monkeypatch.setenv(f"GRU_LAB_{key.upper()}", str(value))
        data_source.limits.clear()
    yield set_env
    monkeypatch.undo()
    data_source.limits.clear()


@pytest.fixture
def forecaster_calls(monkeypatch):
    """Count every Forecaster built by the Gates page paths (ui.runs and ui.views.gates)."""
    calls = []
    for module in (runs, gates_view):
        real = module.Forecaster

        def spy(cfg, _real=real):
            calls.append(cfg)
            return _real(cfg)
        monkeypatch.setattr(module, "Forecaster", spy)
    return calls


def gru_params(input_size: int, hidden: int, layers: int, bidirectional: bool, horizon: int) -> int:
    rnn = nn.GRU(input_size, hidden, layers, bidirectional=bidirectional)
    head = nn.Linear((2 if bidirectional else 1) * hidden, horizon)
    return sum(p.numel() for m in (rnn, head) for p in m.parameters())


def _job(cell: str) -> Job:
    series = prepare_series(load_sample("airline_passengers"), "passengers")
    ds = make_dataset(series, WindowConfig(24, 12), SplitConfig(0.7, 0.15, 0.15))
    mc = ModelConfig(input_size=1, hidden_size=5, num_layers=1, horizon=12, cell=cell)
    tc = TrainConfig(epochs=1, batch_size=32, device="cpu", patience=0, seed=0)
    run = TrainingRun(ds, mc, tc)
    run.run()
    return Job(run=run, dataset=ds, model_cfg=mc, train_cfg=tc, source="sample: test")


# ------------------------------------------------------------------------------------- Train
def test_train_page_shows_the_limits_and_disables_start_past_one(limits_env):
    at = open_page("pages/train.py")                  # defaults: 1 column, 32 units, 1 layer, H 6
    assert not at.exception and not at.error, [e.value for e in at.error]
    limits_line = [c.value for c in at.caption if c.value.startswith("**Server limits**")]
    n = gru_params(1, 32, 1, False, 6)
    assert limits_line and f"parameters {n:,} of 5,000,000" in limits_line[0], limits_line
    assert "memory" in limits_line[0] and "windows x epochs" in limits_line[0]
    assert not at.button(key="btn_start").disabled and not at.warning

    limits_env(max_params=n - 1)                        # one parameter too many
    at.run()
    assert not at.exception
    assert at.button(key="btn_start").disabled
    warned = [w.value for w in at.warning if "Too big for this server" in w.value]
    assert warned and f"{n:,} parameters" in warned[0] and "lower the hidden units" in warned[0]
    assert f":red[**parameters {n:,} of {n - 1:,}**]" in \
        next(c.value for c in at.caption if c.value.startswith("**Server limits**"))

    limits_env(max_params=10**9, max_window_epochs=1000)   # now the run length is over
    at.run()
    assert at.button(key="btn_start").disabled
    warned = [w.value for w in at.warning if "Too big for this server" in w.value]
    assert warned and "lower the epochs" in warned[0] and "parameters" not in warned[0]


START = """
import streamlit as st
from gru_core.errors import DataError
from ui import runs, state
state.init()
try:
    runs.start()
except DataError as exc:
    st.session_state["refused"] = str(exc)
"""


@pytest.mark.parametrize("env, says", [({"max_params": 100}, "lower the hidden units"),
                                       ({"max_step_work": 1000}, "lower the batch size"),
                                       ({"max_memory_bytes": 10_000}, "of memory")])
def test_runs_start_refuses_past_a_limit(limits_env, env, says):
    """A share link or a stale Start button reaches runs.start(): it checks the limits itself."""
    limits_env(**env)
    at = AppTest.from_string(START, default_timeout=60).run()
    assert not at.exception
    assert "job" not in at.session_state, "a run was started past the limit"
    msg = at.session_state["refused"]
    assert msg.startswith("This training run is too big for this server") and says in msg
    assert "GRU_LAB_MAX_" in msg


# ------------------------------------------------------------------------------------- Gates
def test_gates_share_link_past_the_limit_builds_nothing(limits_env, forecaster_calls):
    """The issue's link, clamped by the registry to its largest model (1024 units x 6 layers,
    bidirectional: about 94 M parameters), is refused by the default limits before it is built."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(hidden_size="4096", num_layers="16", bidirectional="true")
    at.run()
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    assert (at.session_state["hidden_size"], at.session_state["num_layers"]) == (1024, 6)
    n = gru_params(1, 1024, 6, True, 6)
    errors = [e.value for e in at.error]
    assert errors and "too big for this server" in errors[0], errors
    assert f"{n:,}".replace(",", "\\,") in errors[0]          # the count, as md() escapes it
    assert not forecaster_calls and "_untrained_gru" not in at.session_state
    assert not at.get("plotly_chart")


def test_gates_untrained_gru_is_checked_with_small_limits(limits_env, forecaster_calls):
    """The default settings' untrained GRU, with a server limit below its size: an error, no model."""
    n = gru_params(1, 32, 1, False, 6)
    limits_env(max_params=n - 1)
    at = open_page("pages/gates.py")
    assert not at.exception
    assert at.error and "untrained GRU of these settings is too big" in at.error[0].value
    assert not forecaster_calls and "_untrained_gru" not in at.session_state

    limits_env(max_params=n)                            # exactly at the limit: built and shown
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(forecaster_calls) == 1 and forecaster_calls[0].hidden_size == 32


def test_gates_untrained_like_an_lstm_is_checked(limits_env, forecaster_calls):
    """An LSTM model's GRU twin (ui.views.gates.untrained_like) goes through the limits too."""
    job = _job("lstm")
    limits_env(max_params=gru_params(1, 5, 1, False, 12) - 1)
    at = open_page("pages/gates.py", job)
    assert not at.exception
    assert at.error and "too big for this server" in at.error[0].value
    assert not forecaster_calls and "_gates_untrained" not in at.session_state


# ------------------------------------------------------------------------------------ bundle
def test_bundle_restore_uses_the_server_limits(limits_env):
    job = _job("gru")
    data = save_bundle(job.run.model, job.dataset, job.train_cfg)
    limits_env(max_params=50)                            # the bundle's model has more
    at = open_page("pages/forecast.py")
    at.session_state["sample"] = "airline_passengers"
    at.file_uploader(key="fc_bundle_upload").set_value(("small.pt", data, "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error and "bundle" in at.error[0].value.lower(), [e.value for e in at.error]
    assert "bundle_trained" not in at.session_state

    limits_env()                                         # default limits: the same file restores
    at.file_uploader(key="fc_bundle_upload").set_value(("again.pt", data, "application/octet-stream"))
    at.run()
    assert not at.exception and at.success and "Restored" in at.success[0].value


def test_the_step_cost_model_is_measured_once_per_server_not_per_session(monkeypatch):
    """A class opening the Train page together must not run the timing runs once per visitor:
    the cost model is the server's, measured once per device and renewed after its TTL."""
    calls = []

    def fake_time_run(cfg, lookback, batch, steps, device):
        calls.append(lookback)
        return 1e-3 * (1 + lookback / 64)

    monkeypatch.setattr(data_source, "_time_run", fake_time_run)
    monkeypatch.setattr(data_source, "_step_costs", {})
    first = data_source.step_cost("cpu")
    assert len(calls) == 4                                  # warm-up + three reference runs
    for _ in range(5):                                      # other sessions, same server
        assert data_source.step_cost("cpu") == first
    assert len(calls) == 4
    when, model = data_source._step_costs["cpu"]
    data_source._step_costs["cpu"] = (when - data_source._COST_TTL_S - 1, model)   # expired
    data_source.step_cost("cpu")
    assert len(calls) == 8
    fixed, per_timestep, per_flop = first
    assert per_timestep == pytest.approx(1e-3 / 64)        # (t_long - t_short) / (64 - 8)
    assert fixed == pytest.approx(1e-3)
