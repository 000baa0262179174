"""A reload restores the session: a new AppTest session opened with the first one's address bar
(``?s=<token>&...``) gets back its uploaded file's bytes, its settings, its run and the trained
model; an unknown or forged token starts a fresh session and sees none of it."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import assert_no_failures
from test_safe import commonmark_unescape

APP = str(Path(__file__).resolve().parents[1] / "app.py")
CSV = ("month,sales\n" + "\n".join(f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{100 + (i % 12) * 3 + i * 0.5}"
                                     for i in range(120)) + "\n").encode()


def address(at: AppTest) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in dict(at.query_params).items()}


def reopen(query: dict[str, str], page: str | None = None) -> AppTest:
    """A new browser session opening ``query`` (what F5 or a reopened link does)."""
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def test_reload_brings_back_upload_settings_run_and_model():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["upload_bytes"], at.session_state["upload_name"] = CSV, "shop.csv"
    for key, value in {"source": "upload", "lookback": 12, "horizon": 3, "hidden_size": 4,
                       "epochs": 2, "batch_size": 16, "device": "cpu"}.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/train.py").run()
    assert_no_failures(at)
    next(b for b in at.button if b.label == "Start training").click().run()
    job = at.session_state["job"]
    deadline = time.monotonic() + 120
    while job.run.running:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.2)
    at.run()
    url = address(at)
    assert len(url["s"]) >= 22 and url["source"] == "upload" and url["hidden_size"] == "4"

    again = reopen(url, "pages/forecast.py")       # F5: the same address, a new session
    assert_no_failures(again)
    ss = again.session_state
    assert ss["upload_bytes"] == CSV and ss["upload_name"] == "shop.csv"
    assert (ss["source"], ss["hidden_size"], ss["lookback"]) == ("upload", 4, 12)
    assert ss["job"].run is job.run and ss["job"].run.snapshot().state == "finished"
    shown = commonmark_unescape(" ".join(c.value for c in again.sidebar.caption))  # as rendered
    assert "upload: shop.csv" in shown
    assert not any("No trained model" in i.value for i in again.info)   # the model is there
    assert address(again)["s"] == url["s"]


def test_an_unknown_or_forged_token_gets_a_fresh_session():
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["upload_bytes"], at.session_state["upload_name"] = CSV, "private.csv"
    at.session_state["source"] = "upload"
    at.run()
    mine = address(at)["s"]
    for forged in ("A" * 22, mine[:-1] + ("A" if mine[-1] != "A" else "B"), "../etc"):
        other = reopen({"s": forged, "source": "upload"})
        assert not other.exception
        assert "upload_bytes" not in other.session_state or other.session_state["upload_bytes"] is None
        assert "job" not in other.session_state
        assert address(other)["s"] not in (mine, forged)
        assert not other.session_state["url_problems"]
