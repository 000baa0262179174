"""The Text page in the real app (``streamlit run app.py``) driven by headless Chromium.

Marked ``browser``; skips without Chromium except under ``CI=true`` (as tests/test_browser.py).
One flow, as a first-time visitor: open the page, press Start on the defaults, see the perplexity
chart and a live sample, stop, generate text from the prefix, and see the coloured passage.
Screenshots: ``artifacts/screenshots/text_*.png`` at 1400x1000 and 1280x720.
"""
from __future__ import annotations

import re

import pytest

import browser_helpers as bh
from browser_fixtures import assert_clean as clean, expect, shots as shoot

pytestmark = pytest.mark.browser

SERVER_LOG = "streamlit_text.log"   # fixtures app_server / page: tests/browser_fixtures.py
NEEDS_PAGES = ("text",)
TIMEOUT_MS = 60_000


def button(page, key: str):
    return page.locator(f".st-key-{key} button")


def test_train_generate_and_colour(page, app_server):
    bh.goto(page, app_server.url, "text")
    expect(page.locator(bh.MAIN)).to_contain_text("No text model yet")
    clean(page)
    shoot(page, "text_default")

    button(page, "text_btn_start").click()
    # live: the perplexity chart fills and a live sample is written (every 3 s of training)
    bh.wait_until(lambda: max((bh.chart_points(c) for c in bh.charts(page, ".st-key-text_ppl_chart")),
                              default=0) >= 10, timeout=90, message="perplexity points")
    expect(page.locator(bh.MAIN)).to_contain_text(re.compile(r"Live sample .*step \d+"), timeout=90_000)
    expect(page.locator(bh.MAIN)).to_contain_text("time traveller")
    shoot(page, "text_training")

    button(page, "text_btn_stop").click()
    # stopped by the button, or by the default 60 s time limit on a slow machine
    expect(page.locator(bh.MAIN)).to_contain_text(re.compile(r"Stopped\.|Time budget used up"),
                                                  timeout=TIMEOUT_MS)
    bh.wait_ready(page)
    expect(button(page, "text_btn_generate")).to_be_enabled()
    button(page, "text_btn_generate").click()
    bh.wait_ready(page)
    # the generated text starts with the prefix, in a code block under the generate button
    expect(page.locator('[data-testid="stCode"]').filter(has_text="time traveller")).not_to_have_count(0)
    # the coloured passage: one span per character, each with its r, z, n, h tooltip
    spans = page.locator('[data-testid="stHtml"] span[title*=" z "]')
    expect(spans.first).to_be_attached()
    bh.wait_ready(page)
    bh.wait_until(lambda: spans.count() >= 500, timeout=60, message="the coloured passage")
    expect(page.locator(bh.ERROR_ALERT)).to_have_count(0)
    assert re.search(r"r [0-9.]+ · z [0-9.]+ · n [-+0-9.]+ · h [-+0-9.]+", spans.first.get_attribute("title"))
    clean(page)
    shoot(page, "text_trained")
