"""The Text page in the real app (``streamlit run app.py``) driven by headless Chromium.

Marked ``browser``; skips without Chromium except under ``CI=true`` (as tests/test_browser.py).
One flow, as a first-time visitor: open the page, press Start on the defaults, see the perplexity
chart and a live sample, stop, generate text from the prefix, and see the coloured passage.
Screenshots: ``artifacts/screenshots/text_*.png`` at 1400x1000 and 1280x720.
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

TIMEOUT_MS = 60_000
if sync_playwright is not None:
    expect.set_options(timeout=TIMEOUT_MS)


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
    if "text" not in bh.PAGES:
        _unavailable("app.py does not list pages/text.py")
    missing = bh.missing_pages()
    if missing:
        _unavailable(f"app.py lists page files that do not exist yet: {', '.join(missing)}")
    server = bh.StreamlitServer("streamlit_text.log")
    try:
        server.start(timeout=90)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def page(app_server, request):
    with sync_playwright() as p:
        browser = bh.launch_chromium(p)
        context = browser.new_context(viewport=bh.VIEWPORT)
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        js_errors: list[str] = []
        pg.on("pageerror", lambda exc: js_errors.append(str(exc)))
        failed = request.session.testsfailed
        yield pg
        if request.session.testsfailed > failed:
            try:
                bh.screenshot(pg, "FAILED-" + re.sub(r"[^\w.-]+", "_", request.node.name))
            except Exception:  # noqa: BLE001 -- best effort
                pass
        context.close()
        browser.close()
        assert not js_errors, f"uncaught JavaScript errors in the page: {js_errors}"


def clean(page) -> None:
    expect(page.locator(bh.EXCEPTION)).to_have_count(0)
    errors = page.locator(bh.ERROR_ALERT)
    assert errors.count() == 0, errors.all_inner_texts()


def button(page, key: str):
    return page.locator(f".st-key-{key} button")


def shoot(page, name: str) -> None:
    bh.screenshot(page, name)
    size = page.viewport_size
    page.set_viewport_size({"width": 1280, "height": 720})
    page.wait_for_timeout(500)
    page.screenshot(path=str(bh.SCREENSHOTS / f"{name}_1280x720.png"))
    page.set_viewport_size(size)


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
