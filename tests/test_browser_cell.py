"""The Cell, Compare and Memory pages in headless Chromium (marked ``browser``).

Skips without Chromium or Playwright, except under CI=true (as tests/test_browser.py). Screenshots
at 1400x1000 and 1280x720: ``artifacts/screenshots/cell_*.png``, ``compare_*.png``, ``memory_*.png``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import browser_helpers as bh

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

TIMEOUT_MS = 60_000
SMALL = {"width": 1280, "height": 720}
FAST_TRAIN = {"source": "generator", "gen": "sine", "gen_length": 600, "lookback": 16, "horizon": 4,
              "hidden_size": 8, "batch_size": 32, "epochs": 3, "patience": 0, "device": "cpu",
              "transform": "none"}


def _unavailable(reason: str):
    if bh.in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(bh.CHROMIUM).exists():
        _unavailable(f"{bh.CHROMIUM} not found (apt-get install chromium)")
    s = bh.StreamlitServer("streamlit_cell.log")
    try:
        s.start(timeout=60)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield s
    s.stop()


@pytest.fixture
def page(server):
    with sync_playwright() as p:
        b = bh.launch_chromium(p)
        ctx = b.new_context(viewport=bh.VIEWPORT)
        pg = ctx.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        yield pg
        ctx.close()
        b.close()
        assert not errors, errors


def _clean(pg) -> None:
    expect(pg.locator(bh.EXCEPTION)).to_have_count(0)
    alerts = pg.locator(bh.ERROR_ALERT)
    assert alerts.count() == 0, alerts.all_inner_texts()


def _shots(pg, name: str) -> None:
    bh.screenshot(pg, name)
    pg.set_viewport_size(SMALL)
    pg.wait_for_timeout(400)
    bh.screenshot(pg, name + "_1280")
    pg.set_viewport_size(bh.VIEWPORT)


def _wait_charts(pg, pattern: str, n: int = 1):
    rx = re.compile(pattern)
    return bh.wait_until(lambda: len([c for c in bh.charts(pg, bh.MAIN) if c["visible"]
                                      and rx.search(bh.chart_text(c))]) >= n,
                         timeout=120, message=f"{n} chart(s) matching {pattern!r}")


def test_cell_page_step_and_play(page, server):
    bh.goto(page, server.url, "cell", timeout=120_000)
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


def test_compare_page_trains_and_shows_gradients(page, server):
    bh.goto(page, server.url, "compare", {"source": "generator"})
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


def test_memory_page_after_training(page, server):
    bh.goto(page, server.url, "train", FAST_TRAIN)
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
