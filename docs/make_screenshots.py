"""Take the README's screenshots: the app's default setup, one default training run, every page.

    python docs/make_screenshots.py      # needs Debian's chromium (apt-get install chromium)

Starts the app on a free local port, opens the Data page as a new visitor sees it, trains the
default model on the Train page, and saves full-page PNGs of Data, Train, Forecast and Gates
to docs/screenshots/.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import browser_helpers as bh  # noqa: E402

OUT = HERE / "screenshots"


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    with bh.StreamlitServer("screenshots_streamlit.log") as server, sync_playwright() as p:
        browser = bh.launch_chromium(p)
        page = browser.new_page(viewport=bh.VIEWPORT)
        bh.goto(page, server.url, "data")
        bh.screenshot(page, "data", OUT)
        bh.nav(page, "train")
        page.locator(".st-key-btn_start button").click()
        expect(page.get_by_text("Finished.").or_(page.get_by_text("Early-stopped."))).to_be_visible(
            timeout=120_000)
        bh.wait_ready(page)
        bh.screenshot(page, "train", OUT)
        for name in ("forecast", "gates"):
            bh.nav(page, name)
            page.wait_for_timeout(1500)           # let Plotly finish drawing
            bh.screenshot(page, name, OUT)
        browser.close()
    print("saved", ", ".join(sorted(f.name for f in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
