"""The pytest fixtures every browser test file shares (registered in tests/conftest.py).

A browser test module sets, at module level, what its server needs and then just asks for the
fixtures::

    SERVER_LOG = "streamlit_text.log"         # artifacts/<log>; one server per module
    SERVER_ENV = {"GRU_LAB_LEASE_S": "5"}     # optional: extra environment for the server
    NEEDS_PAGES = ("text",)                   # optional: pages app.py must list
    TIMEOUT_MS = 60_000                       # optional: Playwright and expect() timeouts

    def test_something(page, app_server): ...

- ``app_server`` (module scope): ``streamlit run app.py`` on a free port. Without Playwright,
  Chromium or a listed page file the module's tests skip, except under ``CI=true``, where they
  fail (CI must really run them).
- ``browser`` (module scope): Debian's Chromium through Playwright. Only one ``sync_playwright()``
  may be alive in a process, so it lives exactly as long as the module's tests.
- ``page`` (per test): a fresh browser context -- a fresh Streamlit session -- at 1400x1000.
  Uncaught JavaScript errors fail the test; a failing test leaves
  ``artifacts/screenshots/FAILED-<test>.png``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import browser_helpers as bh

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    expect = sync_playwright = None

DEFAULT_TIMEOUT_MS = 30_000
_old_failures_removed = False


def unavailable(reason: str):
    """Skip locally; fail under CI=true, where the browser tests must run."""
    if bh.in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def require_browser(pages: tuple[str, ...] = ()) -> None:
    """Skip (or, in CI, fail) unless Playwright, Chromium and every page file app.py lists exist."""
    if sync_playwright is None:
        unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(bh.CHROMIUM).exists():
        unavailable(f"{bh.CHROMIUM} not found (apt-get install chromium)")
    absent = [p for p in pages if p not in bh.PAGES]
    if absent:
        unavailable(f"app.py does not list page(s) {', '.join(absent)}")
    missing = bh.missing_pages()
    if missing:
        unavailable(f"app.py lists page files that do not exist yet: {', '.join(missing)}")


def module_timeout_ms(module) -> int:
    return int(getattr(module, "TIMEOUT_MS", DEFAULT_TIMEOUT_MS))


@pytest.fixture(scope="module")
def app_server(request):
    """The real app for this module's tests (see the module docstring for its settings)."""
    global _old_failures_removed
    module = request.module
    require_browser(tuple(getattr(module, "NEEDS_PAGES", ())))
    if not _old_failures_removed:                       # FAILED-*.png from an earlier pytest run
        for old in bh.SCREENSHOTS.glob("FAILED-*.png"):
            old.unlink()
        _old_failures_removed = True
    expect.set_options(timeout=module_timeout_ms(module))
    server = bh.StreamlitServer(getattr(module, "SERVER_LOG", "streamlit.log"),
                                extra_env=dict(getattr(module, "SERVER_ENV", {})))
    try:
        server.start(timeout=90)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(app_server):
    with sync_playwright() as p:
        b = bh.launch_chromium(p)
        yield b
        b.close()


def new_page(browser, module=None):
    """A fresh context (= Streamlit session) and its page at 1400x1000: ``(context, page)``."""
    context = browser.new_context(viewport=bh.VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(module_timeout_ms(module))
    return context, pg


@pytest.fixture
def page(browser, app_server, request):
    context, pg = new_page(browser, request.module)
    js_errors: list[str] = []
    pg.on("pageerror", lambda exc: js_errors.append(str(exc)))
    failed_before = request.session.testsfailed
    yield pg
    if request.session.testsfailed > failed_before:
        try:
            bh.screenshot(pg, "FAILED-" + re.sub(r"[^\w.-]+", "_", request.node.name))
        except Exception:  # noqa: BLE001 -- best effort
            pass
    context.close()
    assert not js_errors, f"uncaught JavaScript errors in the page: {js_errors}"


def assert_clean(pg, allow_errors: bool = False) -> None:
    """No Python exception box anywhere; and (unless allowed) no st.error."""
    expect(pg.locator(bh.EXCEPTION)).to_have_count(0)
    if not allow_errors:
        errors = pg.locator(bh.ERROR_ALERT)
        if errors.count():
            raise AssertionError("unexpected st.error on the page: " + " | ".join(errors.all_inner_texts()))


PROJECTOR = {"width": 1280, "height": 720}


def shots(pg, name: str) -> None:
    """Screenshots ``<name>.png`` at 1400x1000 (full page) and ``<name>_1280.png`` at the
    projector size 1280x720 (full page), into artifacts/screenshots/."""
    size = pg.viewport_size or bh.VIEWPORT
    bh.screenshot(pg, name)
    pg.set_viewport_size(PROJECTOR)
    pg.wait_for_timeout(400)                            # let Plotly re-lay out
    bh.screenshot(pg, name + "_1280")
    pg.set_viewport_size(size)
