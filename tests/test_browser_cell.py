"""The Cell, Compare and Memory pages in headless Chromium (marked ``browser``).

Skips without Chromium or Playwright, except under CI=true (as tests/test_browser.py). Screenshots
at 1400x1000 and 1280x720: ``artifacts/screenshots/cell_*.png``, ``compare_*.png``, ``memory_*.png``.
"""
from __future__ import annotations

import re

import pytest

import browser_helpers as bh
from browser_fixtures import assert_clean as _clean, expect, shots as _shots

pytestmark = pytest.mark.browser

SERVER_LOG = "streamlit_cell.log"   # fixtures app_server / page: tests/browser_fixtures.py
NEEDS_PAGES = ("cell", "compare", "memory")
TIMEOUT_MS = 60_000
FAST_TRAIN = {"source": "generator", "gen": "sine", "gen_length": 600, "lookback": 16, "horizon": 4,
              "hidden_size": 8, "batch_size": 32, "epochs": 3, "patience": 0, "device": "cpu",
              "transform": "none"}


def _wait_charts(pg, pattern: str, n: int = 1):
    rx = re.compile(pattern)
    return bh.wait_until(lambda: len([c for c in bh.charts(pg, bh.MAIN) if c["visible"]
                                      and rx.search(bh.chart_text(c))]) >= n,
                         timeout=120, message=f"{n} chart(s) matching {pattern!r}")


def test_cell_page_step_and_play(page, app_server):
    bh.goto(page, app_server.url, "cell", timeout=120_000)
    _wait_charts(page, "The cell over")
    expect(page.locator(bh.MAIN)).to_contain_text("reset before")
    page.locator(".st-key-cell_step button").click()
    expect(page.locator(bh.MAIN)).to_contain_text("Step 1 of")
    page.locator(".st-key-cell_play button").click()
    expect(page.locator(bh.MAIN)).to_contain_text(re.compile(r"Step ([3-9]|\d\d) of"))
    page.locator(".st-key-cell_pause button").click()
    expect(page.locator(".st-key-cell_play button")).to_be_enabled()
    expect(page.locator(bh.MAIN)).not_to_contain_text("· playing")
    _clean(page)
    _shots(page, "cell_page")


def test_compare_page_trains_and_shows_gradients(page, app_server):
    bh.goto(page, app_server.url, "compare", {"source": "generator"})
    page.locator(".st-key-cmp_length input").fill("600")
    page.locator(".st-key-cmp_length input").press("Enter")
    bh.wait_ready(page)
    page.locator(".st-key-cmp_epochs input").fill("2")
    page.locator(".st-key-cmp_epochs input").press("Enter")
    bh.wait_ready(page)
    page.locator(".st-key-cmp_start button").click()
    _wait_charts(page, "∂loss/∂h_t", 1)
    _wait_charts(page, "Loss per epoch", 1)
    page.locator(".st-key-cmp_explode_run button").click()
    _wait_charts(page, "Exploding gradients", 1)
    bh.wait_ready(page)
    _clean(page)
    _shots(page, "compare_page")


def test_memory_page_after_training(page, app_server):
    bh.goto(page, app_server.url, "train", FAST_TRAIN)
    page.locator(".st-key-btn_start button").click()
    expect(page.locator(bh.SIDEBAR)).to_contain_text(re.compile(r"Run\s*·\s*finished"), timeout=120_000)
    bh.nav(page, "memory")
    _wait_charts(page, "Memory map", 1)
    _wait_charts(page, "How long the state answers", 1)
    _clean(page)
    _shots(page, "memory_page")
    bh.nav(page, "cell")
    page.locator(".st-key-cell_preset").get_by_role("radio", name=re.compile("trained")).click()
    expect(page.locator(bh.MAIN)).to_contain_text("trained GRU, layer 0")
    _clean(page)
    _shots(page, "cell_trained_unit")
