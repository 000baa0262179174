"""The Sweep page in headless Chromium: a 2-trial grid runs through the server's scheduler, the
results table, the parallel-coordinates plot and the chosen config appear, and "use this config"
carries the choice to the Train page. Marked ``browser``; skips without Chromium except under
CI=true (the skip logic of tests/test_browser.py). Screenshots: artifacts/screenshots/sweep_*.png.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import browser_helpers as bh

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    sync_playwright = None

TIMEOUT_MS = 30_000
if sync_playwright is not None:
    expect.set_options(timeout=TIMEOUT_MS)

# Tiny data and model through the share-link parameters (ui/state.py SETTINGS): 2 quick trials
# (the sweep's default hidden sizes 16 and 32; the Train setting 4 is neither, so loading the
# chosen config visibly changes it).
TINY = {"source": "generator", "gen": "sine", "gen_length": 300, "lookback": 12, "horizon": 3,
        "hidden_size": 4, "batch_size": 32, "epochs": 3, "patience": 0, "device": "cpu"}


def _unavailable(reason: str):
    if bh.in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def app_server():
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(bh.CHROMIUM).exists():
        _unavailable(f"{bh.CHROMIUM} not found (apt-get install chromium)")
    missing = bh.missing_pages()
    if missing:
        _unavailable(f"app.py lists page files that do not exist yet: {', '.join(missing)}")
    server = bh.StreamlitServer("streamlit_sweep.log")
    try:
        server.start(timeout=60)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def page(app_server):
    with sync_playwright() as p:
        browser = bh.launch_chromium(p)
        context = browser.new_context(viewport=bh.VIEWPORT)
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        yield pg
        context.close()
        browser.close()
        assert not errors, f"uncaught JavaScript errors in the page: {errors}"


def test_a_sweep_runs_in_the_browser_and_its_choice_reaches_the_train_page(page, app_server):
    bh.goto(page, app_server.url, "sweep", TINY)
    expect(page.locator(bh.MAIN)).to_contain_text("2 trial(s)")
    expect(page.locator(bh.MAIN)).to_contain_text("wall time ≤")
    bh.screenshot(page, "sweep_before")
    page.get_by_role("button", name=re.compile("Start sweep")).click()
    chosen = page.locator(bh.MAIN).get_by_text(re.compile(r"Chosen \(lowest validation RMSE"))
    expect(chosen).to_be_visible(timeout=180_000)
    expect(page.locator(bh.MAIN)).to_contain_text("Test score of the chosen config")
    assert page.locator(bh.EXCEPTION).count() == 0
    kinds = bh.wait_until(lambda: [t["type"] for c in bh.charts(page) for t in c["traces"]
                                   if c["visible"]] or None, timeout=60,
                          message="the parallel-coordinates plot")
    assert "parcoords" in kinds
    text = page.locator('[data-testid="stAlertContentSuccess"]').first.inner_text()
    hidden = int(re.search(r"— (\d+) units", text).group(1))
    bh.wait_ready(page)
    bh.screenshot(page, "sweep_done")
    page.set_viewport_size({"width": 1280, "height": 720})
    bh.screenshot(page, "sweep_done_1280")
    page.get_by_role("button", name=re.compile("Use this config")).click()
    link = page.get_by_role("link", name=re.compile("Settings loaded: go to Train"))
    expect(link).to_be_visible()
    bh.nav(page, "train")
    assert hidden in (16, 32)
    expect(page.get_by_role("spinbutton", name="Hidden units")).to_have_value(str(hidden))
