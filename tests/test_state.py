"""Shared settings (ui/state.py): a share link reproduces the setup, and bad link values are reported."""
from __future__ import annotations

from apptest_helpers import APP
from streamlit.testing.v1 import AppTest

from ui.state import BY_KEY, gen_param_key


def _open(query: dict[str, str], page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def test_share_link_reproduces_the_setup():
    link = {"source": "generator", "gen": "sine", "gp_period": "25", "gen_seed": "7",
            "lookback": "30", "horizon": "8", "cell": "lstm", "hidden_size": "16",
            "bidirectional": "true", "lr": "0.002", "epochs": "5", "seed": "3"}
    at = _open(link, "pages/train.py")
    assert not at.exception
    ss = at.session_state
    assert ss["source"] == "generator" and ss["gen"] == "sine" and ss["gen_seed"] == 7
    assert ss[gen_param_key("sine", "period")] == 25
    assert (ss["lookback"], ss["horizon"], ss["hidden_size"], ss["epochs"], ss["seed"]) == (30, 8, 16, 5, 3)
    assert ss["cell"] == "lstm" and ss["bidirectional"] is True and ss["lr"] == 0.002
    # ... and the page's own share link carries the same values back out.
    shared = dict(at.query_params)
    for key in ("source", "gen", "gen_seed", "lookback", "horizon", "cell", "hidden_size", "lr", "seed"):
        value = shared[key][0] if isinstance(shared[key], list) else shared[key]
        assert BY_KEY[key].parse(value) == ss[key]


def test_bad_link_values_are_reported_not_fatal():
    at = _open({"hidden_size": "lots", "nonsense": "1", "gen": "no_such_generator"})
    assert not at.exception
    problems = " ".join(at.session_state["url_problems"])
    assert "hidden_size=lots" in problems
    assert "Unknown link parameter `nonsense`" in problems
    assert "Unknown generator 'no_such_generator'" in problems
    assert at.session_state["hidden_size"] == BY_KEY["hidden_size"].default
    assert any("hidden_size=lots" in w.value for w in at.sidebar.warning)
