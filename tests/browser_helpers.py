"""Shared helpers for driving the real GRU Lab app in headless Chromium.

Used by ``tests/test_browser.py`` (pytest, marked ``browser``) and ``bench/bench_app.py`` (a
benchmark, not a test). It starts ``streamlit run app.py`` on a free local port in its own process
group (log in ``artifacts/``), launches Debian's Chromium through Playwright (``playwright
install`` is never used), and knows the Streamlit DOM: the script-state attribute on ``stApp``,
skeletons, exceptions, alerts, sidebar navigation and Plotly charts (``gd._fullData``).

Everything here relies on Streamlit's own ``data-testid`` attributes and on the app's shared
sidebar (``ui/sidebar.py``), never on text a page writes.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}


def _pages_from_app() -> dict[str, tuple[str, str]]:
    """name -> (page file, URL path) for every ``st.Page("<file>", ...)`` in app.py.

    st.navigation infers a page's URL path from its file name; the default page lives at "/".
    Read from app.py so a moved or renamed page folder needs no change here.
    """
    import re as _re

    text = (REPO / "app.py").read_text()
    pages = {}
    for m in _re.finditer(r'st\.Page\(\s*"([^"]+\.py)"([^)]*)\)', text):
        file, args = m.group(1), m.group(2)
        name = Path(file).stem
        default = _re.search(r"default\s*=\s*True", args) is not None
        pages[name] = (file, "" if default else name)
    return pages


PAGES = _pages_from_app() or {
    "data": ("pages/data.py", ""), "train": ("pages/train.py", "train"),
    "forecast": ("pages/forecast.py", "forecast"), "gates": ("pages/gates.py", "gates"),
}
EXPECTED_PAGES = ("data", "train", "forecast", "gates")

READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SKELETON = '[data-testid="stSkeleton"]'
EXCEPTION = '[data-testid="stException"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'
PLOTLY = '[data-testid="stPlotlyChart"] .js-plotly-plot'
SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
UPLOADER_INPUT = '[data-testid="stFileUploader"] input[type="file"]'


def missing_pages() -> list[str]:
    """Pages the tests need that app.py does not list, or whose file is not in the working tree
    (the app cannot start while a listed file is missing)."""
    missing = [f"{n} (not in app.py)" for n in EXPECTED_PAGES if n not in PAGES]
    return missing + [f for f, _ in PAGES.values() if not (REPO / f).is_file()]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


# ------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``streamlit run app.py`` on 127.0.0.1:<free port>, in its own process group.

    Use as a context manager or call :meth:`start` / :meth:`stop`. stdout and stderr go to
    ``artifacts/<log_name>``; :meth:`log_tail` returns the end of it for failure messages.
    """

    def __init__(self, log_name: str = "streamlit.log", port: int | None = None,
                 extra_env: dict | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / log_name
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 60.0) -> "StreamlitServer":
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py",
               "--server.headless", "true", "--server.port", str(self.port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        self._log = open(self.log_path, "w", buffering=1)
        self._log.write("$ " + " ".join(cmd) + "\n")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        health = f"{self.url}/_stcore/health"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode} before it "
                                   f"was healthy; log {self.log_path}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit not healthy at {health} after {timeout:.0f} s; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self) -> None:
        """Kill the whole process group (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                pgid = os.getpgid(self.proc.pid)
                os.killpg(pgid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(pgid, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self._log is not None and not self._log.closed:
            self._log.close()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------------------------------------- browser
def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def page_url(base: str, page: str, query: dict | str | None = None) -> str:
    """URL of page ``page`` ("data", "train", ...) with optional query parameters."""
    from urllib.parse import urlencode

    path = PAGES[page][1]
    url = f"{base}/{path}"
    if query:
        url += "?" + (query if isinstance(query, str) else urlencode(query))
    return url


_READY_JS = """([ready, skeleton]) => {
  const app = document.querySelector(ready);
  if (!app) return false;
  if (document.querySelector(skeleton)) return false;
  // No element left over from the previous run or page (Streamlit marks those data-stale).
  if (document.querySelector('[data-testid="stMain"] [data-stale="true"]')) return false;
  // The first script run has drawn something into the main area.
  return !!document.querySelector('[data-testid="stMain"] [data-testid="stElementContainer"]');
}"""


def wait_ready(page, timeout: float = 60_000) -> None:
    """Wait until the script is not running, no skeleton is shown and the main area has content.

    Fragments flip the script state to running while they poll, so this polls (and callers use
    auto-retrying ``expect`` assertions for what they check next).
    """
    page.wait_for_function(_READY_JS, arg=[READY, SKELETON], timeout=timeout, polling=100)


def goto(page, base: str, name: str, query=None, timeout: float = 60_000) -> None:
    """Open page ``name`` by URL (a new Streamlit session) and wait until it is ready."""
    page.goto(page_url(base, name, query), wait_until="domcontentloaded", timeout=timeout)
    wait_ready(page, timeout)


def nav(page, name: str, timeout: float = 60_000) -> None:
    """Go to page ``name`` by its sidebar link (same Streamlit session) and wait until ready."""
    path = PAGES[name][1]
    links = page.locator('[data-testid="stSidebarNav"] a')
    if path:
        link = page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]')
    else:
        link = links.first
    link.first.click(timeout=timeout)
    page.wait_for_url(re.compile(rf"/{path}(\?|$)"), timeout=timeout)
    # The sidebar marks the new page current once its script run has begun.
    page.wait_for_function(
        """(path) => {
          const a = document.querySelector('[data-testid="stSidebarNav"] a[aria-current="page"]');
          if (!a) return false;
          let p = new URL(a.href).pathname;
          if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
          return p === '/' + path;
        }""",
        arg=path, timeout=timeout)
    wait_ready(page, timeout)


def screenshot(page, name: str, directory: Path = SCREENSHOTS) -> Path:
    """Full-page screenshot to <directory>/<name>.png (default artifacts/screenshots/).

    Streamlit scrolls inside its main container, so the viewport is stretched to the content's
    height for the shot and restored afterwards.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    size = page.viewport_size or VIEWPORT
    height = page.evaluate("""() => {
      const els = [document.querySelector('[data-testid="stMain"]'),
                   document.querySelector('[data-testid="stAppViewContainer"]'),
                   document.scrollingElement];
      let h = 0;
      for (const e of els) if (e) h = Math.max(h, e.scrollHeight);
      return h;
    }""")
    height = int(min(max(height, size["height"]), 12_000))
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(400)  # let Plotly re-lay out
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if height > size["height"]:
            page.set_viewport_size(size)
    return path


# ------------------------------------------------------------------------------------ charts
# Every Plotly chart on the page: title, axis titles and, per trace, name / type / number of points
# (from gd._fullData, where plotly.js has already decoded plotly 7's typed-array specs).
_CHARTS_JS = """(sel) => {
  const n = (a) => {
    if (a == null) return 0;
    if (Array.isArray(a) || ArrayBuffer.isView(a)) {
      if (a.length && (Array.isArray(a[0]) || ArrayBuffer.isView(a[0])))
        return a.reduce((s, r) => s + r.length, 0);      // 2-D (heatmap z)
      return a.length;
    }
    if (typeof a === 'object' && a.bdata) {               // undecoded typed-array spec
      const bytes = {f8: 8, f4: 4, i4: 4, u4: 4, i2: 2, u2: 2, i1: 1, u1: 1, u1c: 1};
      const raw = Math.floor(a.bdata.length * 3 / 4) - (a.bdata.endsWith('==') ? 2 : a.bdata.endsWith('=') ? 1 : 0);
      return Math.floor(raw / (bytes[a.dtype] || 8));
    }
    return 0;
  };
  const txt = (t) => (t && typeof t === 'object') ? (t.text || '') : (t || '');
  return Array.from(document.querySelectorAll(sel)).map((gd) => {
    const full = (gd._fullData && gd._fullData.length) ? gd._fullData : (gd.data || []);
    const lay = gd._fullLayout || gd.layout || {};
    const axes = Object.keys(lay).filter(k => /^[xy]axis\\d*$/.test(k)).map(k => txt(lay[k].title));
    return {
      title: txt(lay.title),
      axes: axes,
      visible: gd.offsetWidth > 0 && gd.offsetHeight > 0,
      traces: full.map((t) => ({
        name: t.name || '', type: t.type || '',
        points: t.type === 'heatmap' ? n(t.z) : Math.max(n(t.y), n(t.x)),
      })),
    };
  });
}"""


def charts(page, scope: str = "") -> list[dict]:
    """A summary of every Plotly chart on the page, or under CSS selector ``scope``."""
    return page.evaluate(_CHARTS_JS, f"{scope} {PLOTLY}".strip())


def chart_points(chart: dict) -> int:
    return sum(t["points"] for t in chart["traces"])


def chart_text(chart: dict) -> str:
    return " ".join([chart["title"], *chart["axes"], *(t["name"] for t in chart["traces"])])


# The Train page draws its live loss chart with st.plotly_chart(..., key="loss_chart"); Streamlit
# puts the key in the element's class list as "st-key-loss_chart".
LOSS_CHART = ".st-key-loss_chart"


def loss_points(page) -> int:
    """Points drawn in the Train page's loss chart (all traces: step loss, epoch curves).

    While a fragment reruns, Streamlit may briefly keep stale copies of the chart in the DOM;
    the newest copy has the most points, so this is the maximum over the copies.
    """
    return max((chart_points(c) for c in charts(page, LOSS_CHART)), default=0)


# JS for page.wait_for_function: true once the loss chart holds more than arg[1] y values
# (reads gd._fullData, where plotly.js has decoded plotly 7's typed-array specs).
LOSS_POINTS_ABOVE_JS = """([sel, above]) => {
  let best = 0;                              // max over (possibly stale) copies of the chart
  for (const gd of document.querySelectorAll(sel)) {
    const data = (gd._fullData && gd._fullData.length) ? gd._fullData : [];
    let total = 0;
    for (const t of data) {
      const a = t.y;
      if (a && (Array.isArray(a) || ArrayBuffer.isView(a))) total += a.length;
    }
    best = Math.max(best, total);
  }
  return best > above;
}"""
LOSS_PLOTLY = f"{LOSS_CHART} {PLOTLY}"


def sidebar_text(page) -> str:
    return page.locator(SIDEBAR).inner_text()


def wait_until(fn, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    """Call ``fn()`` until it returns something truthy; return that, or raise AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 -- a page in the middle of a rerun
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}; last: {last!r}")
        time.sleep(interval)
