"""Tests for ui.safe: Markdown and HTML payloads come out as literal text.

Checked three ways, none of which reuses the escaper's code: a tokenising regex (the output is a
sequence of escaped punctuation and plain characters only), a CommonMark un-escaper / code-span
parser written here from the spec, and an AppTest that renders the strings in Streamlit.
(tests/test_browser_safe.py renders them in Chromium and reads the text the user sees.)
"""
import re

import pytest
from streamlit.testing.v1 import AppTest

from ui.safe import MAX_CHARS, WORD_JOINER, code, md

PAYLOADS = [
    "![a](http://evil.example/x.png) [Log in again](http://evil.example/p)",   # issue 11
    "sine`; **bold** `x",                                                      # breaks a code span
    "<img src=http://evil.example/y.png onerror=alert(1)>",
    "<script>alert(1)</script>", "<http://evil.example/auto>", "http://evil.example/bare",
    "www.evil.example", "mail@evil.example", "# Heading", "1. list", "- item", "> quote",
    "| a | b |\n|---|---|\n| 1 | 2 |", "line one\n\nline two\r\n# h", "*em* _em_ __strong__ ~~del~~",
    "$x^2$ and $$\\int$$", ":red[alarm] :material/home: :smile:", "\\*not em\\*", "&lt;b&gt; &amp;",
    "[x]: http://evil.example/ref", "``` fenced", "a\tb\x00c\x1b[31m", "    indented code",
    "[![img](http://evil.example/i.png)](http://evil.example/l)", "ok_value-1.5", "ünïcødé ✓ 数据",
]
PUNCT = r"!-/:-@\[-`{-~"
ESCAPED_ONLY = re.compile(rf"(?:\\[{PUNCT}]|[^{PUNCT}\x00-\x1f\x7f])*")
AUTOLINK_LITERAL = re.compile(r"(?i)(?:https?|mailto|xmpp):|www\.|[-.\w+]@")   # GFM triggers


def literal(text: str) -> str:
    """What the user should read: control characters as spaces, cut at MAX_CHARS."""
    s = "".join(" " if ord(ch) < 32 or ord(ch) == 127 or ch in "\u2028\u2029" else ch for ch in text)
    return s if len(s) <= MAX_CHARS else s[:MAX_CHARS] + "…"


def commonmark_unescape(s: str) -> str:
    """CommonMark backslash escapes: a backslash before ASCII punctuation yields that character."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and 33 <= ord(s[i + 1]) <= 126 and not s[i + 1].isalnum():
            out.append(s[i + 1])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def parse_code_span(s: str) -> str:
    """Parse ``s`` as exactly one CommonMark code span; return its content."""
    n = len(s) - len(s.lstrip("`"))
    assert n > 0
    i = n
    while True:                                   # the first run of exactly n backticks closes it
        j = s.index("`", i)
        k = j
        while k < len(s) and s[k] == "`":
            k += 1
        if k - j == n:
            break
        i = k
    assert k == len(s), f"the span closes early at {j}: {s!r}"
    content = s[n:j]
    if content.startswith(" ") and content.endswith(" ") and content.strip(" "):
        content = content[1:-1]
    return content


@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_leaves_no_unescaped_special(payload):
    out = md(payload)
    assert ESCAPED_ONLY.fullmatch(out), out
    assert "\n" not in out and "\r" not in out
    text = commonmark_unescape(out)
    assert not AUTOLINK_LITERAL.search(text), text
    assert text.replace(WORD_JOINER, "") == literal(payload)


@pytest.mark.parametrize("payload", PAYLOADS + ["`", "``a``", " `x` ", "a```b````c"])
def test_code_span_cannot_be_broken_out_of(payload):
    out = code(payload)
    assert "\n" not in out
    assert parse_code_span(out).replace(WORD_JOINER, "") == literal(payload)
    assert ":material/" not in out                  # Streamlit would rewrite it inside the span


def test_long_values_are_cut_and_non_strings_are_shown():
    assert commonmark_unescape(md("x" * 1000)) == "x" * MAX_CHARS + "…"
    assert len(md("y" * 1000, limit=None)) == 1000
    assert md(3.5) == r"3\.5" and md(None) == "None"
    assert parse_code_span(code(12)) == "12"


SCRIPT = """
import streamlit as st
from ui.safe import code, md
for p in PAYLOADS:
    st.markdown("**Value:** " + md(p))
    st.caption("in code " + code(p))
"""


def test_apptest_renders_every_payload_as_escaped_source():
    at = AppTest.from_string(f"PAYLOADS = {PAYLOADS!r}\n" + SCRIPT, default_timeout=30).run()
    assert not at.exception
    shown = [m.value for m in at.markdown]
    assert shown == ["**Value:** " + md(p) for p in PAYLOADS]
    assert [c.value for c in at.caption] == ["in code " + code(p) for p in PAYLOADS]
