"""Shared settings (ui/state.py): the registry's bounds, share links that reproduce the setup, and
link values that are reported (out of range, unknown choice, unparsable) and replaced by what is
used -- in the sidebar and in the address bar.

The registry tests are parametrized over ``SETTINGS`` and the generator parameters, so a new
setting is covered without a new test. The expected messages and clamped values are written out
here from the bounds, not taken from the code under test.
"""
from __future__ import annotations

import math

import pytest
from apptest_helpers import APP
from streamlit.testing.v1 import AppTest

from gru_core.generators import GENERATORS
from gru_core.model import CELLS
from ui.state import BY_KEY, GEN_PARAMS, SETTINGS, Setting, gen_param_key

NUMBERS = [s for s in SETTINGS if s.kind in (int, float)]
CHOICES = [s for s in SETTINGS if s.options is not None]
PARSED = [s for s in SETTINGS if s.kind in (int, float, bool)]     # text that can fail to parse


def _open(query: dict[str, str], page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def _url(at: AppTest) -> dict[str, str]:
    """The address bar's query parameters after the run (one string per name)."""
    return {k: (v[0] if isinstance(v, list) else v) for k, v in dict(at.query_params).items()}


def _warnings(at: AppTest) -> str:
    return " | ".join(w.value for w in at.sidebar.warning)


def _show(value) -> str:
    return str(value)


# ------------------------------------------------------------------------- the registry itself
@pytest.mark.parametrize("s", [*SETTINGS, *GEN_PARAMS.values()], ids=lambda s: s.key)
def test_every_setting_is_complete_and_its_default_is_valid(s: Setting):
    assert s.label, f"{s.key} has no label"
    assert s.widget in ("number", "slider", "segmented", "select", "toggle", "multiselect")
    if s.kind in (int, float):
        assert None not in (s.min, s.max, s.step), f"{s.key}: a number needs min, max and step"
        assert s.min <= s.default <= s.max, f"{s.key}: default {s.default} outside [{s.min}, {s.max}]"
        assert 0 < s.step <= s.max - s.min
        assert s.widget in ("number", "slider")
    if s.options is not None:
        assert s.default in s.choices(), f"{s.key}: default {s.default!r} is not an option"
    assert s.fit(s.default) == (s.default, None)


def test_choices_come_from_the_registries():
    assert list(BY_KEY["cell"].choices()) == list(CELLS)
    assert list(BY_KEY["gen"].choices()) == list(GENERATORS)
    assert list(BY_KEY["device"].choices())[:2] == ["auto", "cpu"]


@pytest.mark.parametrize("key", list(GEN_PARAMS))
def test_generator_parameters_keep_their_param_bounds(key):
    gen, name = next((g, p) for g in GENERATORS.values() for p in g.params
                     if gen_param_key(g.key, p.name) == key)
    s = GEN_PARAMS[key]
    assert (s.min, s.max, s.step, s.default, s.label, s.help) == (name.min, name.max, name.step,
                                                                  name.default, name.label, name.help)
    assert s.fit(name.max + 1)[0] == name.max and s.fit(name.min - 1)[0] == name.min
    assert s.kind is (int if name.kind == "int" else float)


# -------------------------------------------- every setting through a real share link (AppTest)
def _above(s: Setting):
    return s.max + 1 if s.kind is int else s.max * 2 + 1.5


def _below(s: Setting):
    return s.min - 1 if s.kind is int else s.min - 1.5


@pytest.fixture(scope="module")
def linked_above():
    return _open({s.key: _show(_above(s)) for s in NUMBERS})


@pytest.fixture(scope="module")
def linked_below():
    return _open({s.key: _show(_below(s)) for s in NUMBERS})


@pytest.fixture(scope="module")
def linked_junk():
    query = {s.key: "not-a-value" for s in PARSED}
    query.update({s.key: "no_such_choice" for s in CHOICES})
    return _open(query)


@pytest.mark.parametrize("s", NUMBERS, ids=lambda s: s.key)
def test_link_value_above_the_maximum_is_reported_and_clamped(linked_above, s):
    at, text, hi = linked_above, _show(_above(s)), s.kind(s.max)
    assert not at.exception
    assert f"`{s.key}={text}` is above the maximum {_show(hi)}; using {_show(hi)}." in _warnings(at)
    assert at.session_state[s.key] == hi and type(at.session_state[s.key]) is s.kind
    assert _url(at).get(s.key, _show(s.default)) == _show(hi)       # the address bar: what is used


@pytest.mark.parametrize("s", NUMBERS, ids=lambda s: s.key)
def test_link_value_below_the_minimum_is_reported_and_clamped(linked_below, s):
    at, text, lo = linked_below, _show(_below(s)), s.kind(s.min)
    assert not at.exception
    assert f"`{s.key}={text}` is below the minimum {_show(lo)}; using {_show(lo)}." in _warnings(at)
    assert at.session_state[s.key] == lo
    assert _url(at).get(s.key, _show(s.default)) == _show(lo)


@pytest.mark.parametrize("s", PARSED, ids=lambda s: s.key)
def test_unparsable_link_value_is_reported_and_the_default_kept(linked_junk, s):
    at = linked_junk
    assert f"`{s.key}=not-a-value` is not a valid value; kept {_show(s.default)}." in _warnings(at)
    assert at.session_state[s.key] == s.default
    assert s.key not in _url(at)


@pytest.mark.parametrize("s", CHOICES, ids=lambda s: s.key)
def test_unknown_choice_in_a_link_is_reported_and_the_default_used(linked_junk, s):
    at = linked_junk
    options = ", ".join(map(str, s.choices()))
    assert f"`{s.key}=no_such_choice` is not one of {options}; using {s.default}." in _warnings(at)
    assert at.session_state[s.key] == s.default
    assert s.key not in _url(at)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_unparsable(text):
    with pytest.raises(ValueError):
        BY_KEY["lr"].parse(text)


# ------------------------------------------------------------------- the cases named in the brief
# train_frac=2 leaves no test part, so the Train page skips its (slow) time estimate.
@pytest.mark.parametrize("link, expected", [
    ({"hidden_size": "100000", "lr": "10", "train_frac": "2", "cell": "transformer", "epochs": "7"},
     {"hidden_size": (1024, "`hidden_size=100000` is above the maximum 1024; using 1024."),
      "lr": (1.0, "`lr=10` is above the maximum 1.0; using 1.0."),
      "train_frac": (0.95, "`train_frac=2` is above the maximum 0.95; using 0.95."),
      "cell": ("gru", "`cell=transformer` is not one of gru, lstm, rnn; using gru.")}),
    ({"hidden_size": "-5", "scaler": "foo", "train_frac": "2", "epochs": "7"},
     {"hidden_size": (1, "`hidden_size=-5` is below the minimum 1; using 1."),
      "scaler": ("standard", "`scaler=foo` is not one of standard, minmax, none; using standard."),
      "train_frac": (0.95, "`train_frac=2` is above the maximum 0.95; using 0.95.")}),
], ids=["above-and-unknown", "below-and-unknown"])
def test_train_link_reports_what_it_clamps(link, expected):
    at = _open(link, "pages/train.py")
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    url = _url(at)
    for name, (used, message) in expected.items():
        assert message in warnings, (message, warnings)
        assert at.session_state[name] == used
        assert url.get(name) == (None if used == BY_KEY[name].default else str(used))
    assert len(warnings) == len(expected)
    assert url["epochs"] == "7"                                      # the good value is kept


def test_generator_parameter_out_of_range_is_reported_and_clamped():
    period = next(p for p in GENERATORS["sine"].params if p.name == "period")
    at = _open({"source": "generator", "gen": "sine", "gp_period": "99999999"})
    assert not at.exception
    assert (f"`gp_period=99999999` is above the maximum {period.max}; using {period.max}."
            in _warnings(at))
    assert at.session_state[gen_param_key("sine", "period")] == period.max
    assert _url(at)["gp_period"] == str(period.max)


# ---------------------------------------------------------------------------- share links
def test_share_link_reproduces_the_setup():
    link = {"source": "generator", "gen": "sine", "gp_period": "25", "gen_seed": "7",
            "lookback": "30", "horizon": "8", "cell": "lstm", "hidden_size": "16",
            "bidirectional": "true", "lr": "0.002", "epochs": "5", "seed": "3"}
    at = _open(link, "pages/train.py")
    assert not at.exception
    assert not at.sidebar.warning, _warnings(at)
    ss = at.session_state
    assert ss["source"] == "generator" and ss["gen"] == "sine" and ss["gen_seed"] == 7
    assert ss[gen_param_key("sine", "period")] == 25
    assert (ss["lookback"], ss["horizon"], ss["hidden_size"], ss["epochs"], ss["seed"]) == (30, 8, 16, 5, 3)
    assert ss["cell"] == "lstm" and ss["bidirectional"] is True and ss["lr"] == 0.002
    # ... and the page's own share link carries the same values back out.
    shared = _url(at)
    for key in ("source", "gen", "gen_seed", "lookback", "horizon", "cell", "hidden_size", "lr", "seed"):
        assert BY_KEY[key].parse(shared[key]) == ss[key]
    assert shared["gp_period"] == "25"


def test_bad_link_values_are_reported_not_fatal():
    at = _open({"hidden_size": "lots", "nonsense": "1", "gen": "no_such_generator",
                "gp_wobble": "3"})
    assert not at.exception
    problems = " ".join(at.session_state["url_problems"])
    assert "`hidden_size=lots` is not a valid value; kept 32." in problems
    assert "Unknown link parameter `nonsense`" in problems
    assert "`gen=no_such_generator` is not one of" in problems
    assert "`gp_wobble` is not a parameter of generator 'sum_of_sines'" in problems
    assert at.session_state["hidden_size"] == BY_KEY["hidden_size"].default
    assert at.session_state["gen"] == BY_KEY["gen"].default
    assert any("hidden_size=lots" in w.value for w in at.sidebar.warning)
    assert not any(k in _url(at) for k in ("hidden_size", "nonsense", "gen", "gp_wobble"))


def test_floats_in_links_keep_their_precision():
    assert math.isclose(BY_KEY["lr"].parse("0.0003"), 3e-4)
    assert BY_KEY["lr"].fit(3e-4) == (3e-4, None)
