"""Escaping for user- and file-controlled strings shown inside Markdown (one helper for the app).

Every Streamlit text element that takes a string (``st.markdown``, ``st.caption``, ``st.info`` /
``warning`` / ``error`` / ``success``, widget labels, ``st.page_link`` labels ...) renders it as
GitHub-flavoured Markdown with Streamlit's extras (``$math$``, ``:red[colour]``, ``:emoji:``,
``:material/icon:``). A value from a share link, an uploaded file's column names or a bundle's
settings must therefore never be pasted in raw: ``![a](http://host/x.png)`` would make the page
fetch a remote image and ``[Log in again](http://host/p)`` would show a fake link. Use::

    st.markdown(f"**Sample:** {md(name)}")        # literal text inside Markdown
    st.markdown(f"Column {code(column)} ...")       # literal text as an inline code span
    st.error(md(str(exc)))                          # a message that quotes user input

or ``st.text`` / ``st.code``, which never interpret Markdown.

:func:`md` backslash-escapes every ASCII punctuation character (CommonMark lets each of them be
escaped, and then none can open a link, image, emphasis, code span, heading, list, table, HTML
tag, autolink, math or Streamlit directive) and turns line breaks and other control characters
into spaces, so the result is one line of literal text. GitHub's *autolink literals* (bare
``http://...``, ``www.`` and e-mail addresses) are found after escapes are resolved, so an
invisible word joiner (U+2060) goes after ``http``/``https``/``mailto``/``xmpp`` before a colon,
after ``www`` before a dot and before every ``@``: the text reads the same but is no link. :func:`code` wraps text in a code span
whose backtick fence is longer than any backtick run inside, so it cannot be closed early.
Both were checked in Chromium against Streamlit's own renderer (tests/test_browser_safe.py).
"""
from __future__ import annotations

import re

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")          # every ASCII punctuation character
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_TICKS = re.compile(r"`+")
_ICON = re.compile(r":(?=material/)", re.I)         # Streamlit rewrites :material/x: even in code
_AUTOLINK = re.compile(r"(?i)(https?|mailto|xmpp)(?=:)|(www)(?=\.)|(?=@)")   # GFM autolink literals
WORD_JOINER = "\u2060"                             # invisible; breaks those patterns
MAX_CHARS = 300                                   # longer strings are cut (a column name, a URL value)


def _clean(text, limit: int | None) -> str:
    s = _CONTROL.sub(" ", str(text))
    if limit is not None and len(s) > limit:
        s = s[:limit] + "…"
    return s


def md(text, limit: int | None = MAX_CHARS) -> str:
    """``text`` as Markdown that renders as exactly that text (on one line).

    Parameters
    ----------
    text : object
        Any value (``str()`` is applied), e.g. a query-string value or a column name.
    limit : int or None
        Cut the text after this many characters (an ellipsis marks the cut); None keeps it whole.

    Returns
    -------
    str
        Safe to put anywhere in a Markdown string, e.g. ``f"**Sample:** {md(name)}"``.
    """
    s = _clean(text, limit)
    s = _AUTOLINK.sub(lambda m: (m.group(1) or m.group(2) or "") + WORD_JOINER, s)
    return _PUNCT.sub(r"\\\1", s)


def code(text, limit: int | None = MAX_CHARS) -> str:
    """``text`` as an inline code span that cannot be broken out of.

    The fence is one backtick longer than the longest run of backticks in ``text``; a space pads
    each side (CommonMark strips exactly one), so text that starts or ends with a backtick or a
    space stays intact. Line breaks become spaces. Inside a code span CommonMark interprets
    nothing; Streamlit still rewrites ``:material/name:`` there (checked in Chromium by
    tests/test_browser_safe.py), so an invisible word joiner (U+2060) follows such a colon.
    """
    s = _ICON.sub(":" + WORD_JOINER, _clean(text, limit))
    longest = max((len(m) for m in _TICKS.findall(s)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {s} {fence}"
