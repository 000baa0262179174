"""Playing with a trained GRU in headless Chromium (marked ``browser``): Lab, Gates, Runs, and
the Train page in presentation mode at projector size.

From a fresh session: train a tiny run (fast settings through the share link), then on Lab add a
spike and a clamp and see the forecast change, record a gate tape and scrub it to epoch 1 and
back; on Gates step and play the timestep cursor; on Runs overlay the two runs (the Train run and
the tape's replay). A second test trains in presentation mode at 1280 x 720 and checks that Start
and the live loss chart are on the first screen. Skips without Chromium or Playwright, except
under CI=true (as tests/test_browser.py). Screenshots: ``artifacts/screenshots/lab_*.png``.
"""
from __future__ import annotations

import re

import pytest

import browser_helpers as bh
from browser_fixtures import PROJECTOR, expect
from browser_fixtures import assert_clean as _clean
from browser_fixtures import shots as _shots

pytestmark = pytest.mark.browser

SERVER_LOG = "streamlit_lab.log"   # fixtures app_server / page: tests/browser_fixtures.py
NEEDS_PAGES = ("lab", "gates", "runs")
TIMEOUT_MS = 60_000
FAST_TRAIN = {"source": "generator", "gen": "sine", "gen_length": 300, "lookback": 16, "horizon": 4,
              "hidden_size": 8, "batch_size": 32, "epochs": 2, "patience": 0, "device": "cpu",
              "transform": "none"}
CHANGE = re.compile(r"Largest forecast change:\s*([-+\d.e]+)")


def _button(pg, key: str):
    return pg.locator(f".st-key-{key} button")


def _train(pg, base: str, query: dict) -> None:
    bh.goto(pg, base, "train", query)
    expect(pg.locator(".st-key-epochs input")).to_have_value(str(query["epochs"]))
    _button(pg, "btn_start").click()
    expect(pg.locator(bh.SIDEBAR)).to_contain_text(re.compile(r"Run\s*·\s*finished"),
                                                   timeout=120_000)
    bh.wait_ready(pg)
    expect(_button(pg, "btn_start")).to_be_enabled()


def _change(pg) -> float:
    """The what-if caption's largest forecast change (waits for the newest copy to settle)."""
    bh.wait_ready(pg)
    text = pg.locator(bh.MAIN).get_by_text(CHANGE).last.inner_text()
    return float(CHANGE.search(text).group(1))


def _trace_names(pg, scope: str) -> set[str]:
    return {t["name"] for c in bh.charts(pg, scope) if c["visible"] for t in c["traces"]}


def _wait_trace(pg, scope: str, name: str) -> None:
    bh.wait_until(lambda: name in _trace_names(pg, scope), timeout=60,
                  message=f"a trace {name!r} under {scope}")


_CURSOR_JS = """(sel) => {
  const gd = document.querySelector(sel);
  const s = gd && gd.layout && gd.layout.shapes;
  return s && s.length ? String(s[0].x0) : null;
}"""


def test_lab_gates_and_runs_after_training(page, app_server):
    pg = page
    _train(pg, app_server.url, FAST_TRAIN)

    # ---- Lab, what if: a spike, then a clamp, each changes the forecast
    bh.nav(pg, "lab")
    _wait_trace(pg, ".st-key-lab_whatif_chart", "forecast, after")
    assert _change(pg) == 0.0                                  # nothing changed yet
    pg.locator(".st-key-lab_edit_kind").click()
    pg.get_by_role("option", name="spike", exact=True).click()
    bh.wait_ready(pg)
    amount = pg.locator(".st-key-lab_edit_amount input")
    amount.fill("3")
    amount.press("Enter")
    bh.wait_ready(pg)
    _button(pg, "lab_add_edit").click()
    expect(pg.locator(bh.MAIN).get_by_text(re.compile(r"Changes:.*spike 3"))).to_be_visible()
    spiked = _change(pg)
    assert spiked > 0, spiked
    _button(pg, "lab_clear_edits").click()
    expect(pg.locator(bh.MAIN).get_by_text(re.compile(r"nothing changed yet"))).to_be_visible()
    _button(pg, "lab_add_clamp").click()                       # default: z = 1, all units
    expect(pg.locator(bh.MAIN).get_by_text(re.compile(r"Changes:.*z = 1 for units all"))
           ).to_be_visible()
    clamped = _change(pg)
    assert clamped > 0 and clamped != spiked, (spiked, clamped)
    _clean(pg)
    _shots(pg, "lab_whatif")

    # ---- Lab, gate tape: record (a replay with the tape on), scrub to epoch 1 and back
    pg.get_by_role("tab", name="Gate tape").click()
    pg.locator(".st-key-lab_record").get_by_role(
        "button", name=re.compile("Record a gate tape")).click()
    frame = pg.locator(".st-key-lab_frame")
    expect(frame).to_be_visible(timeout=120_000)
    last = f"forecast, epoch {FAST_TRAIN['epochs']}"
    _wait_trace(pg, ".st-key-lab_tape_fc", last)
    thumb = frame.get_by_role("slider")
    thumb.focus()
    thumb.press("Home")
    bh.wait_ready(pg)
    thumb.press("ArrowRight")
    _wait_trace(pg, ".st-key-lab_tape_fc", "forecast, epoch 1")
    expect(frame).to_contain_text("1")
    assert last not in _trace_names(pg, ".st-key-lab_tape_fc")
    thumb.focus()
    thumb.press("End")
    _wait_trace(pg, ".st-key-lab_tape_fc", last)
    _clean(pg)
    _shots(pg, "lab_tape")

    # ---- Gates: step and play the timestep cursor
    bh.nav(pg, "gates")
    L = FAST_TRAIN["lookback"]
    main = pg.locator(bh.MAIN)
    expect(main).to_contain_text(f"Step {L // 2} of {L}")
    heat = ".st-key-gates_heatmaps .js-plotly-plot"
    x0 = bh.wait_until(lambda: pg.evaluate(_CURSOR_JS, heat), message="the cursor line")
    _button(pg, "gates_step").click()
    expect(main).to_contain_text(f"Step {L // 2 + 1} of {L}")
    bh.wait_until(lambda: pg.evaluate(_CURSOR_JS, heat) not in (None, x0),
                  message="the cursor moving one step")
    cursor = pg.locator(".st-key-gates_ex_t").get_by_role("slider")
    cursor.focus()
    cursor.press("End")                                        # to the end, then two back
    expect(main).to_contain_text(f"Step {L} of {L}")
    for back in (1, 2):              # one click at a time: each waits for its own redraw, so the
        bh.wait_ready(pg)            # slider the next click sends is the one the page last drew
        _button(pg, "gates_back").click()
        expect(main).to_contain_text(f"Step {L - back} of {L}")
    _button(pg, "gates_play").click()
    expect(main).to_contain_text(f"Step {L} of {L}", timeout=60_000)    # played to the end
    expect(_button(pg, "gates_play")).to_be_enabled()                     # and stopped
    _clean(pg)
    _shots(pg, "lab_gates_played")

    # ---- Runs: the Train run and the replay side by side
    bh.nav(pg, "runs")
    _wait_trace(pg, ".st-key-runs_loss_chart", "run 1 · validation")
    names = _trace_names(pg, ".st-key-runs_loss_chart")
    assert {"run 1 · validation", "run 2 · validation"} <= names, names
    _clean(pg)
    _shots(pg, "lab_runs")


def test_train_in_presentation_mode_fits_the_projector(page, app_server):
    pg = page
    pg.set_viewport_size(PROJECTOR)
    _train(pg, app_server.url, {**FAST_TRAIN, "present": "true"})
    bh.wait_until(lambda: bh.loss_points(pg) > 0, message="the loss chart")
    bh.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(bh.SCREENSHOTS / "lab_train_present_1280.png"))
    for what, sel in (("Start", ".st-key-btn_start button"),
                      ("the loss chart", f"{bh.LOSS_PLOTLY} .main-svg")):
        box = pg.locator(sel).first.bounding_box()
        assert box is not None, what
        assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"], (
            f"{what} is not on the first screen at 1280x720: {box}")
    expect(pg.locator(bh.MAIN)).not_to_contain_text("This run:")    # fewer words
    _clean(pg)
