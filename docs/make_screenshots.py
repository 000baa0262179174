"""Take the README's screenshots: the default setup, one default training run, every page.

    python docs/make_screenshots.py      # needs Debian's chromium (apt-get install chromium)
    python docs/make_screenshots.py gates lab runs train_projector   # only these shots

Starts the app on a free local port and, in ONE browser session (so the trained model carries
from page to page): opens Data as a new visitor sees it, trains the default model on Train, then
visits every other page app.py lists, pressing the page's own start button where it has one
(Text trains for a few seconds and generates; Compare is shown before its run; Runs rewinds the
trained run once, so two runs stand side by side). Each shot is the first screen at 1400 x 1000
(what a visitor sees without scrolling), saved to docs/screenshots/ as a 256-colour PNG so each
stays small enough for the repository (~100-300 KB). The Train page is also shot in presentation
mode at the projector size 1280 x 720 (``train_projector``). Names given on the command line
limit the shots to those (the default run still trains first).
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import browser_helpers as bh  # noqa: E402

OUT = HERE / "screenshots"
PROJECTOR = {"width": 1280, "height": 720}


WANTED: set[str] = set()     # shot names from the command line; empty = every shot


def shot(page, name: str) -> Path | None:
    """The current first screen as a small palette PNG (skipped when not wanted)."""
    from PIL import Image

    if WANTED and name not in WANTED:
        return None
    OUT.mkdir(exist_ok=True)
    page.mouse.move(1, 1)                         # no hover label or chart toolbar in the shot
    page.wait_for_timeout(1500)                   # let Plotly finish drawing
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        path, optimize=True)
    print(f"  {path.name}: {path.stat().st_size / 1024:.0f} KB")
    return path


def click(page, key: str) -> None:
    button = page.locator(f".st-key-{key} button")
    if button.count():
        button.first.click()
        bh.wait_ready(page)


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    with bh.StreamlitServer("screenshots_streamlit.log") as server, sync_playwright() as p:
        browser = bh.launch_chromium(p)
        page = browser.new_page(viewport=bh.VIEWPORT)
        bh.goto(page, server.url, "data")
        shot(page, "data")
        bh.nav(page, "train")
        click(page, "btn_start")
        expect(page.get_by_text("Finished.").or_(page.get_by_text("Early-stopped."))).to_be_visible(
            timeout=300_000)
        bh.wait_ready(page)
        shot(page, "train")
        page.locator(".st-key-present label").first.click()
        bh.wait_ready(page)                       # presentation mode on, at projector size
        page.set_viewport_size(PROJECTOR)
        shot(page, "train_projector")
        page.set_viewport_size(bh.VIEWPORT)
        page.locator(".st-key-present label").first.click()
        bh.wait_ready(page)
        for name in bh.PAGES:
            if name in ("data", "train") or (WANTED and name not in WANTED):
                continue
            bh.nav(page, name)
            if name == "runs":
                click(page, "runs_rewind")         # a second run (same seed, one knob changed)
                expect(page.locator(".st-key-runs_loss_chart")).to_be_visible(timeout=300_000)
                bh.wait_ready(page)
            if name == "text":
                click(page, "text_btn_start")
                page.wait_for_timeout(25_000)      # a few seconds of training: words appear
                click(page, "text_btn_stop")
                click(page, "text_btn_generate")
            shot(page, name)
        browser.close()
    print("saved", ", ".join(sorted(f.name for f in OUT.glob("*.png"))))


if __name__ == "__main__":
    WANTED.update(sys.argv[1:])
    main()
