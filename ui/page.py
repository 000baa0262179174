"""The skeleton every page is built on: title -> one paragraph -> inputs -> guard -> action.

A new page is a copy of this example (``pages/example.py`` would read)::

    import streamlit as st

    from ui import page, runs

    page.header("Forecast", "How good are the trained model's forecasts? ...")

    with page.body("drawing the forecasts"):            # no traceback ever reaches the browser
        split = st.segmented_control("Windows", ["test", "val"], default="test", key="fc_split")
        t = page.require(runs.trained(),                  # the guard: what is missing, where to get it
                         "No trained model yet: train one on the Train page.",
                         "pages/train.py", "Go to Train")
        view.draw(t, split)                               # the action: one call into a view module

* :func:`header` draws the title and the one-paragraph explanation (Markdown written by us, never
  user text).
* :func:`body` is :func:`ui.guard.friendly_errors`: a :class:`gru_core.DataError` is shown as it
  is, anything else as a short message that says the data and model are kept.
* :func:`require` is the "what to do next" empty state: it returns its value when there is one;
  otherwise it shows the message and a link to the page that provides what is missing, and stops
  the page there (``st.stop``), so the code below may assume the value exists.

Presentation mode (the ``present`` setting, for a projector) has fewer words and larger charts:
:func:`header` then shows the title only, :func:`say` drops non-essential prose (explanatory
captions), and :func:`chart` draws a Plotly figure with every font scaled by
``gru_core.charts.PRESENT_SCALE`` (``gru_core.charts.scale_fonts``). Warnings, errors, numbers
and widget labels always show.
"""
from __future__ import annotations

from typing import TypeVar

import streamlit as st

from gru_core.charts import PRESENT_SCALE, plain_labels, scale_fonts
from ui.guard import friendly_errors
from ui.state import presenting

T = TypeVar("T")

__all__ = ["header", "body", "require", "empty_state", "say", "chart", "presenting",
           "presentation_style"]


def header(title: str, intro: str) -> None:
    """The page title and its one-paragraph explanation (the title only in presentation mode)."""
    st.title(title)
    if not presenting():
        st.markdown(intro)


PRESENT_CSS = ("<style>html { font-size: 20px; } "
               ".stMainBlockContainer { padding: 3.6rem 1.5rem 1rem 1.5rem; } "
               ".stMainBlockContainer h1 { font-size: 2rem; padding: 0 0 0.3rem 0; } "
               ".stMainBlockContainer h3 { font-size: 1.3rem; }</style>")


def presentation_style() -> None:
    """In presentation mode: larger page text, less padding, a smaller-than-usual jump to titles."""
    if presenting():
        st.html(PRESENT_CSS)


def say(text: str) -> None:
    """Non-essential prose (an explanatory caption): shown, except in presentation mode."""
    if not presenting():
        st.caption(text)


def chart(fig, **kwargs):
    """``st.plotly_chart(fig, **kwargs)`` with the fonts presentation mode asks for.

    The figure's fonts are set to ``PRESENT_SCALE`` times their themed size in presentation
    mode and back to 1 otherwise (``scale_fonts`` records the scale, so a cached figure never
    grows twice). Titles and trace names are drawn as plain text (``plain_labels``): a column
    named ``<b>x</b>`` shows those characters, not bold.
    """
    return st.plotly_chart(scale_fonts(plain_labels(fig), PRESENT_SCALE if presenting() else 1.0),
                           **kwargs)


def body(action: str):
    """Context manager around a page's inputs, guard and action (see :func:`ui.guard.friendly_errors`)."""
    return friendly_errors(action)


def empty_state(message: str, link_page: str | None = None, link_label: str | None = None,
                icon: str = ":material/info:") -> None:
    """Say what is missing and link to the page that provides it (does not stop the page)."""
    st.info(message, icon=icon)
    if link_page:
        st.page_link(link_page, label=link_label or "Go there", icon=":material/arrow_forward:")


def require(value: T | None, message: str, link_page: str | None = None,
            link_label: str | None = None, icon: str = ":material/info:") -> T:
    """The guard: ``value`` if it is not None; else the empty state and ``st.stop()``."""
    if value is None:
        empty_state(message, link_page, link_label, icon)
        st.stop()
    return value
