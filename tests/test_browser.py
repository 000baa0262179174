"""End-to-end tests: the real app (``streamlit run app.py``) driven in headless Chromium.

Marked ``browser``. They need Debian's Chromium at ``/usr/bin/chromium`` (``.ci/run`` installs
it); without it they skip, except under ``CI=true`` where they fail (CI must really run them).
The same holds while a page file app.py lists is missing.

One Streamlit server serves the whole session (log: ``artifacts/streamlit.log``); every test gets
a fresh browser context, i.e. a fresh Streamlit session. Opening a URL starts a new session, so a
flow that needs its session state (a trained model) moves between pages by the sidebar links.
Screenshots of every page: ``artifacts/screenshots/<name>.png``.

Fragments flip the script state to running while they poll, so every check is an auto-retrying
``expect(...)`` or a polling wait, never a single read.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

import browser_helpers as bh
from browser_fixtures import assert_clean, expect, new_page

pytestmark = pytest.mark.browser

SERVER_LOG = "streamlit.log"   # the fixtures app_server / browser / page: tests/browser_fixtures.py
TIMEOUT_MS = 30_000            # generous: the CI machine has 2 slow cores

# A small, fast training setup, given to the Train page through its share-link parameters
# (ui/state.py SETTINGS). Long enough (epochs) that pause / resume / stop happen mid-run.
FAST_TRAIN = {
    "source": "generator", "gen": "sine", "gen_length": 600,
    "lookback": 16, "horizon": 4, "hidden_size": 8, "batch_size": 16,
    "epochs": 300, "patience": 0, "device": "cpu", "transform": "none",   # no "auto" pre-search
}


def wait_chart(page, min_points: int = 1, match: re.Pattern | None = None,
               timeout: float = 60, scope: str = "") -> list[dict]:
    """Wait for a visible Plotly chart (optionally matching ``match``, or under CSS ``scope``)
    with >= min_points points; return all such charts."""
    def ok():
        found = [c for c in bh.charts(page, scope)
                 if c["visible"] and bh.chart_points(c) >= min_points
                 and (match is None or match.search(bh.chart_text(c)))]
        return found
    return bh.wait_until(ok, timeout=timeout,
                         message=f"a chart{' matching ' + match.pattern if match else ''} "
                                 f"with >= {min_points} points")


def keyed_button(page, key: str):
    """The button of st.button(..., key=key): Streamlit adds the class ``st-key-<key>``."""
    return page.locator(f".st-key-{key} button")


def run_state(page) -> str:
    """The run state the shared sidebar shows (ui/sidebar.py: "Run · <state>[, epoch e/E]")."""
    m = re.search(r"Run\s*·\s*([a-z ]+)", bh.sidebar_text(page))
    return m.group(1).strip() if m else ""


def expect_run_state(page, state: str, timeout: float = TIMEOUT_MS):
    expect(page.locator(bh.SIDEBAR)).to_contain_text(re.compile(rf"Run\s*·\s*{state}"),
                                                     timeout=timeout)


def write_csv(path: Path, n: int = 120) -> Path:
    import math

    rows = ["month,widgets_sold,price"]
    for i in range(n):
        y, m = 2010 + i // 12, i % 12 + 1
        rows.append(f"{y}-{m:02d}-01,{100 + 10 * math.sin(i / 12 * 2 * math.pi) + i * 0.5:.3f},"
                    f"{5 + (i % 7) * 0.1:.2f}")
    path.write_text("\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------------------------- tests
def test_fresh_session_shows_data_chart(page, app_server):
    """Default URL, no action: the Data page draws the default data and shows no error."""
    bh.goto(page, app_server.url, "data")
    charts = wait_chart(page, min_points=10)
    assert charts, "no chart with data on the Data page"
    assert_clean(page)
    expect(page.locator(bh.SIDEBAR)).to_contain_text("Data")
    bh.screenshot(page, "data_default")


@pytest.mark.parametrize("name", bh.EXPECTED_PAGES)
def test_page_opens(page, app_server, name):
    """Every page opens by its URL in a fresh session without an exception or error."""
    bh.goto(page, app_server.url, name)
    expect(page.locator('[data-testid="stMain"]')).to_be_visible()
    assert_clean(page)
    # The page is marked active in the sidebar navigation.
    path = bh.PAGES[name][1]
    active = page.locator('[data-testid="stSidebarNav"] a[aria-current="page"]')
    if path:
        expect(active).to_have_attribute("href", re.compile(rf"/{path}$"))
    bh.screenshot(page, f"page_{name}")


def _pick_upload_source(page, base: str) -> None:
    """Open the Data page (fresh session), pick the "upload" source, wait for the file uploader."""
    bh.goto(page, base, "data")
    wait_chart(page, min_points=10)
    # st.segmented_control("Data source", key="source"), option label "Upload a CSV".
    page.locator(".st-key-source").get_by_role("radio", name=re.compile("upload", re.I)).click()
    expect(page.locator(bh.UPLOADER_INPUT)).to_be_attached(timeout=60_000)
    bh.wait_ready(page)
    expect(page.locator(bh.SIDEBAR)).to_contain_text("upload: no file yet")


def test_upload_csv_becomes_the_data(page, app_server, tmp_path):
    _pick_upload_source(page, app_server.url)
    csv = write_csv(tmp_path / "gru_lab_upload.csv")
    page.locator(bh.UPLOADER_INPUT).set_input_files(str(csv))
    # The upload is now the data: a chart draws its column, and the sidebar names the file.
    wait_chart(page, min_points=100, match=re.compile("widgets_sold"))
    bh.wait_ready(page)
    expect(page.locator(bh.SIDEBAR)).to_contain_text("upload: gru_lab_upload.csv")
    assert_clean(page)
    bh.screenshot(page, "data_upload")


def test_bad_upload_shows_error_not_exception(page, app_server):
    """Binary bytes (and a zip / xlsx file) named .csv: an st.error that says why, no exception."""
    _pick_upload_source(page, app_server.url)
    uploader = page.locator(bh.UPLOADER_INPUT)
    for name, junk in (("binary.csv", bytes(range(256)) * 8),                # raw binary bytes
                       ("not_a_table.csv", b"PK\x03\x04" + bytes(range(256)) * 8)):  # zip magic
        uploader.set_input_files(files=[{"name": name, "mimeType": "text/csv", "buffer": junk}])
        error = page.locator(bh.ERROR_ALERT).filter(has_text=name)
        expect(error.first).to_be_visible(timeout=60_000)
        bh.wait_ready(page)
        expect(error.first).to_be_visible()
        assert_clean(page, allow_errors=True)
        # The bad file did not become the data.
        expect(page.locator(bh.SIDEBAR)).to_contain_text("upload: no file yet")
        bh.screenshot(page, f"data_bad_upload_{name.split('.')[0]}")


def test_train_pause_resume_stop_then_forecast_and_gates(page, app_server):
    base = app_server.url
    bh.goto(page, base, "train", FAST_TRAIN)
    assert_clean(page)
    # The share-link settings arrived (the Train page's number inputs show them).
    expect(page.locator(".st-key-hidden_size input")).to_have_value("8")
    expect(page.locator(".st-key-epochs input")).to_have_value(str(FAST_TRAIN["epochs"]))
    bh.screenshot(page, "train_before")

    # Start: the loss chart appears and grows.
    start, pause = keyed_button(page, "btn_start"), keyed_button(page, "btn_pause")
    resume, stop = keyed_button(page, "btn_resume"), keyed_button(page, "btn_stop")
    expect(start).to_be_enabled()
    t0 = time.monotonic()
    start.click()
    page.wait_for_function(bh.LOSS_POINTS_ABOVE_JS, arg=[bh.LOSS_PLOTLY, 0], timeout=60_000, polling=50)
    first_point_s = time.monotonic() - t0
    expect_run_state(page, "running")
    n1 = bh.loss_points(page)
    page.wait_for_function(bh.LOSS_POINTS_ABOVE_JS, arg=[bh.LOSS_PLOTLY, n1 + 2], timeout=30_000)
    n2 = bh.loss_points(page)
    print(f"\nfirst loss point {first_point_s:.2f} s after Start; chart grew {n1} -> {n2} points")
    expect(start).to_be_disabled()
    assert_clean(page)
    bh.screenshot(page, "train_running")

    # Pause: the state says paused and the chart stops advancing.
    pause.click()
    expect_run_state(page, "paused")
    expect(resume).to_be_enabled()
    expect(page.locator(bh.MAIN).get_by_text(re.compile(r"^Paused\."))).to_be_visible()
    page.wait_for_timeout(1500)                    # the step in flight and one more redraw
    before = bh.loss_points(page), run_state(page), bh.sidebar_text(page)
    page.wait_for_timeout(2500)
    after = bh.loss_points(page), run_state(page), bh.sidebar_text(page)
    assert before[1] == after[1] == "paused", (before, after)
    assert before[0] == after[0], f"loss chart advanced while paused: {before[0]} -> {after[0]}"
    assert before[2] == after[2], f"sidebar changed while paused: {before[2]!r} -> {after[2]!r}"
    assert_clean(page)
    bh.screenshot(page, "train_paused")

    # Resume: running again, the chart grows again.
    resume.click()
    expect_run_state(page, "running")
    page.wait_for_function(bh.LOSS_POINTS_ABOVE_JS, arg=[bh.LOSS_PLOTLY, before[0]], timeout=30_000)

    # Stop: the state says stopped within about a second.
    t0 = time.monotonic()
    stop.click()
    expect_run_state(page, "stopped", timeout=10_000)
    stop_s = time.monotonic() - t0
    # Within the 10 s deadline above; the latency itself (about 1 s on a quiet machine) is
    # bench/bench_app.py's to measure: on a loaded 2-core CI box it swings past 3 s.
    print(f"'stopped' shown {stop_s:.2f} s after the click")
    bh.wait_ready(page)
    expect(start).to_be_enabled()
    expect(stop).to_be_disabled()
    assert_clean(page)
    n_stop = bh.loss_points(page)
    page.wait_for_timeout(1500)
    assert bh.loss_points(page) == n_stop, "loss chart still growing after stop"
    bh.screenshot(page, "train_stopped")

    # Forecast and Gates show the stopped run's model (same session: sidebar links).
    bh.nav(page, "forecast")
    wait_chart(page, min_points=10, scope=".st-key-fc_step_chart")   # forecast vs actual
    expect(page.locator(".st-key-loss_chart")).to_have_count(0)      # the Train page is gone
    assert_clean(page)
    bh.screenshot(page, "forecast_trained")

    bh.nav(page, "gates")
    # A short span (one test window): heatmaps of all four of r, z, n, h, in one figure or four.
    bh.wait_until(lambda: len([t for c in bh.charts(page, bh.MAIN) for t in c["traces"]
                               if t["type"] == "heatmap" and t["points"] >= 16 * 8]) >= 4,
                  timeout=60, message="four gate heatmaps (r, z, n, h) on the Gates page")
    assert_clean(page)
    # The trained model, not the untrained stand-in.
    expect(page.locator(bh.MAIN)).not_to_contain_text("untrained (random weights)")
    bh.screenshot(page, "gates_trained")


def test_share_link_as_first_request_after_server_start(browser, app_server):
    """A share link to a non-default page, opened first on a freshly started server, gets the app.

    Streamlit keeps a process-wide flag for apps with a ``pages/`` folder: until some session has
    run app.py's ``st.navigation``, a request for ``/train`` runs ``pages/train.py`` on its own
    (legacy multipage mode: no ``state.init``, no shared sidebar, file-name navigation). So this
    test starts its own server and opens a deep link before anything else.
    """
    server = bh.StreamlitServer("streamlit_deeplink.log")
    try:
        server.start(timeout=60)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    context, pg = new_page(browser, sys.modules[__name__])
    try:
        bh.goto(pg, server.url, "train", {"hidden_size": 8})
        bh.screenshot(pg, "train_deep_link_first")
        names = [t.strip().split("\n")[-1] for t in pg.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
        assert names[:4] == ["Data", "Train", "Forecast", "Gates"] and len(names) == len(bh.PAGES), (
            f"a share link opened first after a server start did not get app.py's navigation "
            f"(sidebar pages {names}, app.py lists {len(bh.PAGES)}): Streamlit ran the page file on "
            f"its own in its legacy 'pages/ folder' mode; see ui/legacy_pages.py.")
        expect(pg.locator(bh.SIDEBAR)).to_contain_text("Data ·")          # ui/sidebar.py ran
        expect(pg.locator(".st-key-hidden_size input")).to_have_value("8")  # state.init read the link
        assert_clean(pg)
    finally:
        context.close()
        server.stop()
