"""Browser check of ui.safe: Chromium renders md()/code() of Markdown and HTML payloads through
Streamlit's real Markdown renderer, and the page shows exactly the literal text -- no image, no
link, no request to the payloads' host. Marked ``browser``; skips without Chromium except under
CI=true (same rule as tests/test_browser.py)."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import browser_helpers as bh
from test_safe import PAYLOADS, literal
from ui.safe import WORD_JOINER

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    sync_playwright = None

SCRIPT = """
import streamlit as st
from ui.safe import code, md
PAYLOADS = {payloads!r}
for p in PAYLOADS:
    st.markdown("Value: " + md(p))
for p in PAYLOADS:
    st.caption(code(p))
"""


def _unavailable(reason: str):
    if bh.in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


class ScriptServer(bh.StreamlitServer):
    """``streamlit run <script>`` instead of app.py (same process-group handling and log)."""

    def __init__(self, script: Path):
        super().__init__("streamlit-safe.log")
        self.script = script

    def start(self, timeout: float = 60.0) -> "ScriptServer":
        cmd = [sys.executable, "-m", "streamlit", "run", str(self.script), "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self._log = open(self.log_path, "w", buffering=1)
        self.proc = subprocess.Popen(cmd, cwd=bh.REPO, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"streamlit did not start; log:\n{self.log_tail()}")


def squash(s: str) -> str:
    return " ".join(s.split())                     # HTML collapses runs of white space


@contextlib.contextmanager
def served(tmp_path, name: str, source: str):
    """``streamlit run`` of ``source`` (written to tmp_path/name) opened in Chromium: yields
    ``(page, requests)``, every URL the page requested appended to ``requests``."""
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(bh.CHROMIUM).exists():
        _unavailable(f"{bh.CHROMIUM} not found (apt-get install chromium)")
    script = tmp_path / name
    script.write_text(source)
    requests: list[str] = []
    with ScriptServer(script) as server, sync_playwright() as p:
        browser = bh.launch_chromium(p)
        try:
            page = browser.new_page(viewport=bh.VIEWPORT)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server.url, wait_until="domcontentloaded", timeout=60_000)
            yield page, requests
        finally:
            browser.close()


def test_payloads_render_as_literal_text(tmp_path):
    with served(tmp_path, "safe_app.py", SCRIPT.format(payloads=PAYLOADS)) as (page, requests):
        main = page.locator('[data-testid="stMain"]')
        captions = main.locator('[data-testid="stCaptionContainer"]')
        captions.nth(len(PAYLOADS) - 1).wait_for(timeout=60_000)
        bh.wait_ready(page)
        # A caption can be in the DOM before its Markdown is drawn (CI once read one as ""):
        # wait until every caption shows text before reading them.
        bh.wait_until(lambda: all(t.strip() for t in captions.all_inner_texts()), timeout=30,
                      message="every caption to draw its text")
        texts = main.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
        values = [t.replace(WORD_JOINER, "") for t in texts if t.startswith("Value:")]
        shown_code = [squash(c.replace(WORD_JOINER, "")) for c in captions.all_inner_texts()]
        n_img, n_links = main.locator("img").count(), main.locator("a").count()
        n_code = main.locator('[data-testid="stCaptionContainer"] code').count()
        bh.screenshot(page, "safe-payloads")
    assert [squash(v) for v in values] == [squash("Value: " + literal(p)) for p in PAYLOADS]
    assert shown_code == [squash(literal(p)) for p in PAYLOADS]
    assert n_code == len(PAYLOADS)                     # each caption is exactly one code span
    assert n_img == 0 and n_links == 0
    assert not [u for u in requests if "evil.example" in u]


CHART_SCRIPT = """
import plotly.graph_objects as go
from gru_core.charts import themed
from ui import page
NAMES = {names!r}
fig = go.Figure([go.Scatter(x=[0, 1], y=[i, i + 1], name=n) for i, n in enumerate(NAMES)])
page.chart(themed(fig, title=NAMES[0], y_title=NAMES[1]), key="chart")
"""
CHART_NAMES = ["<b>bold</b>", "<a href='http://evil.example/c'>click</a>", "a <br> b", "x &lt; y & z",
               "<img src=http://evil.example/z.png>"]


def test_chart_titles_and_trace_names_render_as_literal_text(tmp_path):
    """A CSV's column names land in chart titles and legends: plotly.js must draw them as typed
    (ui.page.chart applies gru_core.charts.plain_labels), with no link, no bold, no request.
    Drawn with a bare st.plotly_chart, the first name shows as a bold "bold" (checked by hand)."""
    with served(tmp_path, "chart_app.py", CHART_SCRIPT.format(names=CHART_NAMES)) as (page, requests):
        plot = page.locator(bh.PLOTLY)
        plot.locator(".legendtext").nth(len(CHART_NAMES) - 1).wait_for(timeout=60_000)
        legend = bh.wait_until(lambda: (plot.locator(".legendtext").all_text_contents() == CHART_NAMES
                                        and plot.locator(".legendtext").all_text_contents()),
                               timeout=30, message=f"the legend to read {CHART_NAMES}")
        title = plot.locator(".gtitle").text_content()
        y_title = plot.locator(".ytitle").text_content()
        n_links = plot.locator("a").count()
        n_bold = plot.locator(".legendtext tspan[style*='bold']").count()
        bh.screenshot(page, "safe-chart-names")
    assert legend == CHART_NAMES
    assert title == CHART_NAMES[0] and y_title == CHART_NAMES[1]
    assert n_links == 0 and n_bold == 0
    assert not [u for u in requests if "evil.example" in u]
