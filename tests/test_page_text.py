"""The Text page through Streamlit's AppTest: defaults, uploads, a tiny run, writing, coloured gates.

AppTest does not fire ``st.fragment(run_every=...)``; the tests sleep and rerun, as the timer
would. Training runs in the page's own background thread under ``text_job``.
"""
from __future__ import annotations

import re
import time

import pytest

from apptest_helpers import assert_no_failures, open_page
from gru_core.text import MIN_TEXT_CHARS
from test_safe import commonmark_unescape

# A tiny, quick model on the bundled book, ended by a 2-second time limit.
TINY = {"text_hidden": 8, "text_seq_len": 8, "text_batch": 4, "text_budget": 5,
        "text_budget_on": True, "text_len": 30}


def open_text(settings: dict | None = None):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    for k, v in (settings or {}).items():
        at.session_state[k] = v
    at.run()
    at.switch_page("pages/text.py").run()
    return at


def wait_done(at, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        j = at.session_state["text_job"]
        if j.run.snapshot().done:
            at.run()
            return
        assert time.monotonic() < deadline, f"text run still {j.run.snapshot().state}"
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception


def test_page_opens_on_the_time_machine():
    at = open_page("pages/text.py")
    assert_no_failures(at)
    assert any("No text model yet" in i.value for i in at.info)
    assert any("validation characters" in c.value and "vocabulary **28**" in c.value for c in at.caption)
    assert not at.button(key="text_btn_start").disabled
    assert at.button(key="text_btn_stop").disabled and at.button(key="text_btn_generate").disabled


@pytest.mark.parametrize("payload, message", [
    (b"\x00\x01binary\x00", "not a text file"),
    (b"far too short", f"{MIN_TEXT_CHARS:,}"),
])
def test_bad_uploads_get_a_clear_message(payload, message):
    at = open_text({"text_source": "upload"})
    assert at.button(key="text_btn_start").disabled       # nothing to train on yet
    at.file_uploader(key="text_upload_file").set_value(("notes.txt", payload, "text/plain")).run()
    assert not at.exception
    shown = [commonmark_unescape(e.value) for e in at.error]     # as rendered (messages are escaped)
    assert any(message in m for m in shown), shown


def test_good_upload_is_used():
    text = ("It was a dark and stormy night; the rain fell in torrents. " * 80).encode("latin-1")
    at = open_text({"text_source": "upload"})
    at.file_uploader(key="text_upload_file").set_value(("storm.txt", text, "text/plain")).run()
    assert_no_failures(at)
    assert any("storm.txt" in c.value for c in at.caption)


def test_tiny_run_generates_and_colours_without_touching_the_forecast_job():
    at = open_text(TINY)
    at.button(key="text_btn_start").click().run()
    assert_no_failures(at)
    assert "job" not in at.session_state                  # the forecaster's run is untouched
    wait_done(at)
    assert_no_failures(at)
    assert any("Time budget used up" in s.value for s in at.success)
    assert at.get("plotly_chart")                        # perplexity curve (and unit line)
    at.button(key="text_btn_generate").click().run()
    out = at.session_state["text_generated"]
    assert out.startswith("time traveller") and len(out) == len("time traveller") + 30
    assert any("pre-wrap" in h.proto.body for h in at.get("html"))   # the coloured passage


HOSTILE = 'He wrote <b>bold</b> & "quoted" <script>x</script> things.\n'


def test_uploaded_markup_is_coloured_as_text_never_as_html():
    at = open_text(TINY | {"text_source": "upload", "text_vocab": "all"})
    at.file_uploader(key="text_upload_file").set_value(
        ("markup.txt", (HOSTILE * 60).encode(), "text/plain")).run()
    at.button(key="text_btn_start").click().run()
    wait_done(at)
    at.text_area(key="text_passage").set_value(HOSTILE).run()
    assert_no_failures(at)
    passage = [h.proto.body for h in at.get("html") if "pre-wrap" in h.proto.body]
    assert len(passage) == 1
    assert set(re.findall(r"<(\w+)", passage[0])) == {"div", "span"}   # no <b> or <script>
    assert passage[0].count("<span") == len(HOSTILE)
    assert "&lt;" in passage[0] and "&amp;" in passage[0] and "&quot;" in passage[0]
