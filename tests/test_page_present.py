"""Presentation mode (the ``present`` setting) in AppTest: fewer words, larger chart text.

The same page is opened with the setting off and on: the intro paragraph and the explanatory
captions (``ui.page.say``) go, every chart's fonts are ``PRESENT_SCALE`` times the themed ones
(read from the Plotly figure the page sends), and turning it off restores the exact sizes.
"""
from __future__ import annotations

import pytest

from gru_core.charts import FONT, PRESENT_SCALE

from apptest_helpers import assert_no_failures, open_page, plotly_figures
from test_page_lab import _job as lab_job
from test_page_train import TINY, open_train_page, wait_for

GATES_INTRO = "A GRU unit decides at every step"
GATES_CAPTION = "The heatmaps share the time axis"


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def _base_font(fig: dict) -> float:
    return fig["layout"]["font"]["size"]


def _present(at, on: bool):
    at.sidebar.toggle(key="present").set_value(on).run()
    assert_no_failures(at)
    return at


def test_gates_page_drops_prose_and_enlarges_chart_text():
    at = open_page("pages/gates.py")
    assert_no_failures(at)
    assert GATES_INTRO in _texts(at) and GATES_CAPTION in _texts(at)
    heat = plotly_figures(at)[0]
    assert _base_font(heat) == FONT["size"]
    title_size = heat["layout"]["annotations"][0]["font"]["size"]
    _present(at, True)
    assert GATES_INTRO not in _texts(at) and GATES_CAPTION not in _texts(at)
    assert any(h.value == "Gates" for h in at.title)                 # the title stays
    heat = plotly_figures(at)[0]
    assert _base_font(heat) == pytest.approx(FONT["size"] * PRESENT_SCALE)
    assert heat["layout"]["annotations"][0]["font"]["size"] == pytest.approx(title_size * PRESENT_SCALE)
    assert at.latex                                                  # the numbers stay
    _present(at, True)                                               # a rerun: no compounding
    assert _base_font(plotly_figures(at)[0]) == pytest.approx(FONT["size"] * PRESENT_SCALE)
    _present(at, False)
    assert GATES_INTRO in _texts(at)
    assert _base_font(plotly_figures(at)[0]) == FONT["size"]


def test_train_page_in_presentation_keeps_the_controls_and_the_loss_chart():
    at = open_train_page({**TINY, "present": True})
    at.button(key="btn_start").click().run()
    assert wait_for(at, {"finished", "early_stopped", "stopped", "diverged", "failed"}) == "finished"
    at.run()
    assert_no_failures(at)
    assert not at.button(key="btn_start").disabled
    assert not any(c.value.startswith("**This run:**") for c in at.caption)   # fewer words
    assert not at.metric                                      # one short line instead of metrics
    (loss,) = [f for f in plotly_figures(at) if "Loss while training" in f["layout"]["title"]["text"]]
    assert _base_font(loss) == pytest.approx(FONT["size"] * PRESENT_SCALE)
    _present(at, False)
    assert any(c.value.startswith("**This run:**") for c in at.caption)
    assert at.metric
    (loss,) = [f for f in plotly_figures(at) if "Loss while training" in f["layout"]["title"]["text"]]
    assert _base_font(loss) == FONT["size"]


def test_lab_page_charts_grow_in_presentation():
    at = open_page("pages/lab.py", lab_job())
    before = {f["layout"]["title"]["text"]: _base_font(f) for f in plotly_figures(at)}
    _present(at, True)
    after = {f["layout"]["title"]["text"]: _base_font(f) for f in plotly_figures(at)}
    assert after.keys() == before.keys() and len(after) >= 2
    assert all(after[k] == pytest.approx(before[k] * PRESENT_SCALE) for k in after)
