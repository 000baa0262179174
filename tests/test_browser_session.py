"""Sessions in headless Chromium: F5 restores an uploaded file, the settings and the run; a closed
tab's run stops once its lease lapses (the server's CPU goes idle). The server here runs with a
5-second lease (GRU_LAB_LEASE_S) so the test does not wait a minute. Marked ``browser``; skips
without Chromium except under CI=true (the skip logic of tests/test_browser.py)."""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

import browser_helpers as bh
from browser_fixtures import expect, new_page

pytestmark = pytest.mark.browser

LEASE_S = 5
SERVER_LOG = "streamlit_session.log"   # fixtures app_server / browser: tests/browser_fixtures.py
SERVER_ENV = {"GRU_LAB_LEASE_S": str(LEASE_S)}
TIMEOUT_MS = 60_000
LONG = {"source": "generator", "gen": "sine", "gen_length": 600, "lookback": 16, "horizon": 4,
        "hidden_size": 8, "batch_size": 16, "epochs": 3000, "patience": 0, "device": "cpu",
        "transform": "none"}


def run_line(pg) -> str:
    m = re.search(r"Run\s*·\s*([a-z ]+)", bh.sidebar_text(pg))
    return m.group(1).strip() if m else ""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_reload_restores_the_upload_the_settings_and_the_run(browser, app_server, tmp_path):
    csv = tmp_path / "class_data.csv"
    csv.write_text("day,visitors\n" + "\n".join(f"{i},{50 + (i % 7) * 4 + i * 0.2:.2f}"
                                                 for i in range(300)) + "\n")
    ctx, pg = new_page(browser, sys.modules[__name__])
    try:
        bh.goto(pg, app_server.url, "data", {"transform": "none"})    # train at once, no "auto" search
        pg.locator(".st-key-source").get_by_role("radio", name=re.compile("upload", re.I)).click()
        expect(pg.locator(bh.UPLOADER_INPUT)).to_be_attached()
        pg.locator(bh.UPLOADER_INPUT).set_input_files(str(csv))
        expect(pg.locator(bh.SIDEBAR)).to_contain_text("upload: class_data.csv")
        bh.nav(pg, "train")
        pg.locator(".st-key-hidden_size input").fill("6")
        pg.locator(".st-key-hidden_size input").press("Enter")
        bh.wait_ready(pg)
        pg.locator(".st-key-epochs input").fill("400")
        pg.locator(".st-key-epochs input").press("Enter")
        bh.wait_ready(pg)
        pg.locator(".st-key-btn_start button").click()
        expect(pg.locator(bh.SIDEBAR)).to_contain_text(re.compile(r"Run\s*·\s*(running|queued)"))
        assert "s=" in pg.url
        pg.reload(wait_until="domcontentloaded")                       # F5 mid-run
        bh.wait_ready(pg)
        expect(pg.locator(bh.SIDEBAR)).to_contain_text("upload: class_data.csv")
        expect(pg.locator(bh.SIDEBAR)).to_contain_text(re.compile(r"Run\s*·\s*(running|queued|finished)"))
        expect(pg.locator(".st-key-hidden_size input")).to_have_value("6")
        pg.locator(".st-key-btn_stop button").click()
        expect(pg.locator(bh.SIDEBAR)).to_contain_text(re.compile(r"Run\s*·\s*stopped"))
        bh.nav(pg, "forecast")
        expect(pg.locator(bh.MAIN)).not_to_contain_text("No trained model")
        assert pg.locator(bh.EXCEPTION).count() == 0
    finally:
        ctx.close()


def test_a_closed_tab_leaves_no_work_behind(browser, app_server):
    ctx, pg = new_page(browser, sys.modules[__name__])
    bh.goto(pg, app_server.url, "train", LONG)
    pg.locator(".st-key-btn_start button").click()
    expect(pg.locator(bh.SIDEBAR)).to_contain_text(re.compile(r"Run\s*·\s*running"))
    pid = app_server.proc.pid
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    time.sleep(2.0)
    busy = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    assert busy > 0.2, f"the run does not seem to train (server CPU {busy:.0%} of a core)"
    ctx.close()                                                      # the tab is closed mid-run
    closed = time.monotonic()

    def idle():
        a, ta = cpu_seconds(pid), time.monotonic()
        time.sleep(2.0)
        return (cpu_seconds(pid) - a) / (time.monotonic() - ta) < 0.05
    bh.wait_until(idle, timeout=LEASE_S + 60, interval=0.0,
                  message="the server's CPU to go idle after the tab closed")
    assert time.monotonic() - closed >= LEASE_S - 1                 # it stopped by the lease
