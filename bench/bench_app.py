"""Benchmark: the real app in headless Chromium (a benchmark, not a test: pytest never runs it).

Starts ``streamlit run app.py`` on a free local port and drives Debian's Chromium
(``/usr/bin/chromium``) through Playwright, exactly as ``tests/test_browser.py`` does, and measures:

(a) **first loss point** -- from clicking *Start training* on the Train page (default settings) to
    the first loss point drawn in the browser (polls Plotly's ``gd._fullData`` in the page).
    Target <= 2 s (median over the repeats).
(b) **throughput ratio** -- training windows/s with the Train page open in the browser (the
    figure the page shows when the run ends) divided by windows/s of the same run headless:
    ``gru_core.train.TrainingRun.run()`` in a plain Python process, on the dataset and configs
    built from the default settings the way ``ui/data_source.py`` builds them. Each browser run is
    paired with a headless run just before it; the median of the pair ratios; target >= 0.9.
(c) **Gates page, 2,000 steps x 128 units** -- an untrained GRU with hidden_size 128 on a 3,000-step
    generated series (settings via the share link); from clicking "A range of the series" (its
    default range is the last 2,000 steps) to the gate heatmaps the page shows first (at least
    two; for long spans the page starts with r and z) each holding 2,000 x 128 values, the
    unit-lines chart (key ``gates_lines``) drawn with 2,000 steps and the script state
    ``notRunning``. Target <= 3 s (median).

Run ``python bench/bench_app.py [--repeats N] [--epochs E --patience P]`` (the overrides apply to
(a) and (b) alike; the default run lasts only a few seconds, so its ratio is noisy). Prints every figure with its target and
PASS/FAIL (and the load average: other work on the machine skews the numbers), exits 1 if any
misses. Logs: ``artifacts/bench_streamlit.log``; screenshots ``artifacts/screenshots/bench_*.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import browser_helpers as bh  # noqa: E402

TARGET_FIRST_POINT_S = 2.0
TARGET_THROUGHPUT_RATIO = 0.9
TARGET_GATES_S = 3.0
GATES_QUERY = {"source": "generator", "gen_length": 3000, "hidden_size": 128}
GATES_STEPS, GATES_UNITS = 2000, 128

# The same run as the Train page's default settings, in a plain Python process (no Streamlit
# server). Mirrors ui/data_source.py: current_table -> prepare_series -> make_dataset,
# model_config, train_config (num_threads = data_source.TRAIN_THREADS).
HEADLESS = r"""
import json, logging, sys
logging.disable(logging.WARNING)          # streamlit's "bare mode" warnings
sys.path.insert(0, sys.argv[1])
from gru_core.data import list_samples, load_sample, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui import state
from ui.data_source import TRAIN_THREADS
d = {s.key: s.default for s in state.SETTINGS}
d.update(json.loads(sys.argv[2]))         # --epochs / --patience overrides (also in the page URL)
assert d["source"] == "sample", d["source"]
table = load_sample(d["sample"])
info = list_samples()[d["sample"]]
target = d["target"] if d["target"] in table.numeric_columns else (
    info.target if info.target in table.numeric_columns else table.numeric_columns[0])
inputs = [c for c in d["inputs"] if c in table.numeric_columns and c != target]
series = prepare_series(table, target, inputs, missing=d["missing"])
train, val = float(d["train_frac"]), float(d["val_frac"])
ds = make_dataset(series, WindowConfig(lookback=int(d["lookback"]), horizon=int(d["horizon"]),
                                       stride=int(d["stride"])),
                  SplitConfig(train=train, val=val, test=round(1.0 - train - val, 6)),
                  scaler=d["scaler"])
mc = ModelConfig(input_size=ds.scaled.shape[1], hidden_size=int(d["hidden_size"]),
                 num_layers=int(d["num_layers"]), dropout=float(d["dropout"]),
                 bidirectional=bool(d["bidirectional"]), horizon=ds.window.horizon, cell=d["cell"])
tc = TrainConfig(lr=float(d["lr"]), batch_size=int(d["batch_size"]), epochs=int(d["epochs"]),
                 clip_grad=float(d["clip_grad"]), patience=int(d["patience"]), seed=int(d["seed"]),
                 device=d["device"], num_threads=TRAIN_THREADS)
p = TrainingRun(ds, mc, tc).run()
print(json.dumps({"windows_per_s": p.windows_per_s, "state": p.state, "epoch": p.epoch,
                  "step": p.step, "elapsed_s": p.elapsed_s, "train_windows": len(ds.train),
                  "num_threads": TRAIN_THREADS}))
"""

# Done when: script idle, no skeleton, every heatmap trace on the page holds >= minPoints cells and
# there are at least minHeatmaps of them (the page may group them in one figure and, for long
# spans, show r and z first), and the unit-lines chart (key "gates_lines") has >= minSteps points.
_GATES_DONE_JS = """([ready, skeleton, minHeatmaps, minPoints, minSteps]) => {
  if (!document.querySelector(ready) || document.querySelector(skeleton)) return false;
  if (document.querySelector('[data-testid="stMain"] [data-stale="true"]')) return false;
  const count = (a) => {
    if (!a) return 0;
    if (a.length && (Array.isArray(a[0]) || ArrayBuffer.isView(a[0])))
      return a.reduce((s, r) => s + r.length, 0);
    return a.length || 0;
  };
  const heat = [];
  for (const gd of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot'))
    for (const t of (gd._fullData || [])) if (t.type === 'heatmap') heat.push(count(t.z));
  if (heat.length < minHeatmaps || heat.some((n) => n < minPoints)) return false;
  const lines = document.querySelector('.st-key-gates_lines .js-plotly-plot');
  if (!lines || !lines._fullData) return false;
  return lines._fullData.some((t) => count(t.x) >= minSteps || count(t.y) >= minSteps);
}"""



def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def headless_run(overrides: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", HEADLESS, str(REPO), json.dumps(overrides)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"headless run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def new_page(browser):
    ctx = browser.new_context(viewport=bh.VIEWPORT)
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    return ctx, page


def check_clean(page, where: str) -> None:
    n = page.locator(bh.EXCEPTION).count()
    if n:
        raise RuntimeError(f"{where}: {n} exception box(es) on the page: "
                           + " | ".join(page.locator(bh.EXCEPTION).all_inner_texts())[:2000])


def train_in_browser(browser, i: int, overrides: dict) -> tuple[float, float, str]:
    """(a) and the browser half of (b): Start on the Train page (defaults), in a fresh session."""
    ctx, page = new_page(browser)
    try:
        bh.goto(page, server_url, "train", overrides or None)
        check_clean(page, "Train page")
        start = page.locator(".st-key-btn_start button")
        start.wait_for(state="visible")
        if bh.loss_points(page):
            raise RuntimeError("the loss chart has points before Start")
        t0 = time.perf_counter()
        start.click()
        page.wait_for_function(bh.LOSS_POINTS_ABOVE_JS, arg=[bh.LOSS_PLOTLY, 0], polling=10,
                               timeout=120_000)
        first = time.perf_counter() - t0
        # Wait for the run to end: the sidebar's run line leaves running / paused.
        page.wait_for_function(
            """(sel) => { const t = (document.querySelector(sel) || {}).innerText || '';
                          return /Run\\s*·\\s*(finished|early stopped|stopped|diverged|failed)/.test(t); }""",
            arg=bh.SIDEBAR, timeout=600_000, polling=200)
        bh.wait_ready(page, timeout=60_000)
        check_clean(page, "Train page after the run")
        text = page.locator(bh.MAIN).inner_text()
        m = re.search(r"([\d,]+(?:\.\d+)?)\s*windows/s", text)
        if not m:
            raise RuntimeError("the Train page shows no 'windows/s' figure after the run")
        wps = float(m.group(1).replace(",", ""))
        state = re.search(r"Run\s*·\s*([a-z ]+)", bh.sidebar_text(page))
        if i == 0:
            bh.screenshot(page, "bench_train_done")
        return first, wps, state.group(1).strip() if state else "?"
    finally:
        ctx.close()


def gates_in_browser(browser, i: int) -> float:
    """(c): the Gates page tracing 2,000 steps of an untrained hidden-128 GRU."""
    ctx, page = new_page(browser)
    try:
        bh.goto(page, server_url, "gates", GATES_QUERY)
        check_clean(page, "Gates page")
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot'))
                       .some((gd) => (gd._fullData || []).some((t) => t.type === 'heatmap'))""",
            polling=100)
        option = page.locator(".st-key-gates_span_mode").get_by_role(
            "radio", name=re.compile("range of the series", re.I))
        t0 = time.perf_counter()
        option.click()
        page.wait_for_function(
            _GATES_DONE_JS,
            arg=[bh.READY, bh.SKELETON, 2, GATES_STEPS * GATES_UNITS, GATES_STEPS],
            polling=20, timeout=120_000)
        took = time.perf_counter() - t0
        check_clean(page, "Gates page (2,000 steps)")
        if i == 0:
            bh.screenshot(page, "bench_gates_2000x128")
        return took
    finally:
        ctx.close()


def main() -> int:
    global server_url
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure (median reported)")
    # The app's default run (60 epochs of the sunspots sample, early stopping) ends in a few seconds: too short for a
    # steady throughput ratio. So by default (a) and (b) use the default settings with 400 epochs
    # and no early stopping (about 20 s); pass --epochs 0 to keep the app's own defaults.
    ap.add_argument("--epochs", type=int, default=400, help="epochs for (a) and (b), in the page "
                    "URL and the headless run alike (0 = the app's default)")
    ap.add_argument("--patience", type=int, default=0, help="early-stopping patience likewise "
                    "(0 = off; -1 = the app's default)")
    args = ap.parse_args()
    overrides = {}
    if args.epochs > 0:
        overrides["epochs"] = args.epochs
    if args.patience >= 0:
        overrides["patience"] = args.patience
    if not Path(bh.CHROMIUM).exists():
        print(f"{bh.CHROMIUM} not found: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    print(f"GRU Lab app benchmark, {args.repeats} repeat(s); cpus {os.cpu_count()}, load {load()}"
          + (f"; settings overridden: {overrides}" if overrides else "; default settings"))

    firsts, wps, headless, ratios, gates = [], [], [], [], []
    with bh.StreamlitServer("bench_streamlit.log") as server, sync_playwright() as p:
        server_url = server.url
        browser = bh.launch_chromium(p)
        try:
            # Warm-up: the default page first (imports, caches; and Streamlit's legacy pages/
            # folder mode is off once app.py's st.navigation has run).
            ctx, page = new_page(browser)
            bh.goto(page, server.url, "data")
            ctx.close()
            # (a) and (b): each browser run is paired with a headless run just before it (the
            # server sits idle then, no page open), so both see the same load on the machine.
            for i in range(args.repeats):
                h = headless_run(overrides)
                headless.append(h)
                first, w, state = train_in_browser(browser, i, overrides)
                firsts.append(first)
                wps.append(w)
                ratios.append(w / h["windows_per_s"])
                print(f"  run {i + 1}: headless {h['windows_per_s']:.0f} windows/s ({h['state']}, "
                      f"epoch {h['epoch']}, {h['elapsed_s']:.2f} s, {h['num_threads']} thread(s)); "
                      f"browser {w:.0f} windows/s ({state}), first loss point {first:.2f} s after "
                      f"Start; ratio {ratios[-1]:.2f}; load {load()}")
            for i in range(args.repeats):
                g = gates_in_browser(browser, i)
                gates.append(g)
                print(f"  gates {i + 1}: {g:.2f} s; load {load()}")
        finally:
            browser.close()

    first_s = statistics.median(firsts)
    ratio = statistics.median(ratios)
    gates_s = statistics.median(gates)
    rows = [
        ("(a) Start -> first loss point drawn", f"{first_s:.2f} s", f"<= {TARGET_FIRST_POINT_S:g} s",
         first_s <= TARGET_FIRST_POINT_S),
        ("(b) throughput, browser / headless", f"{ratio:.2f} (median of pairs; {statistics.median(wps):.0f}"
         f" / {statistics.median(r['windows_per_s'] for r in headless):.0f} windows/s)",
         f">= {TARGET_THROUGHPUT_RATIO:g}", ratio >= TARGET_THROUGHPUT_RATIO),
        ("(c) Gates page, 2,000 steps x 128 units", f"{gates_s:.2f} s", f"<= {TARGET_GATES_S:g} s",
         gates_s <= TARGET_GATES_S),
    ]
    print(f"\nResults (medians of {args.repeats}; load average now {load()}):")
    w = max(len(r[0]) for r in rows)
    for name, value, target, ok in rows:
        print(f"  {name:<{w}}  {value:<32} target {target:<8} {'PASS' if ok else 'FAIL'}")
    failed = [r[0] for r in rows if not r[3]]
    print("\nALL PASS" if not failed else f"\nFAIL: {', '.join(failed)}")
    return 1 if failed else 0


server_url = ""

if __name__ == "__main__":
    sys.exit(main())
