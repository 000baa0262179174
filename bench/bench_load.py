"""Load test: N browser sessions on one GRU Lab server (a benchmark script, not a unit test).

Starts ``streamlit run app.py`` (the real server, its scheduler with its defaults: as many runs at
once as the machine has cores) and opens N sessions as separate Chromium browser contexts
(``tests/browser_helpers.py``). Each session opens the Train page with a small setup and its own
seed (through the share-link parameters) and presses *Start training*; then, by its number:

    i % 4 == 1   closes its tab mid-run           (its run must stop: no orphan work)
    i % 4 == 2   reloads (F5) mid-run              (the run and its settings must come back)
    otherwise    stays, moving between the Data and Train pages, until its run ends

It reports

* page latency per session -- sidebar link click to the page drawn (script idle, a chart for the
  Data page) -- p50 / p95 over the samples taken while at least one run was waiting in the queue,
  and a fresh visitor's Data page (a new context, first load) in the same period;
* runs completed, and each finished run's "Val loss" and "Best val" (4 significant digits, as the
  page shows them) against a headless ``TrainingRun`` of the same settings and seed;
* the server's RSS and thread count over time (``/proc``), and its CPU after every session has
  closed: seconds until it is idle (< 5 % of a core over 3 s); target <= 90 s.

Run ``python bench/bench_load.py [--sessions N] [--epochs E]``; prints the report, writes
``artifacts/bench_load.json``, exits 1 if a check fails. Needs Debian's Chromium.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import browser_helpers as bh  # noqa: E402

THREADS = "1"                 # the server's and the headless runs' training thread count
IDLE_TARGET_S = 90.0
IDLE_CPU = 5.0                # percent of one core
SETUP = {"source": "generator", "gen": "sine", "gen_length": 800, "lookback": 16, "horizon": 4,
         "hidden_size": 12, "batch_size": 16, "patience": 0, "device": "cpu"}
RUN_STATE = re.compile(r"Run\s*·\s*([a-z ]+)")


# ----------------------------------------------------------------------------- the server process
class ProcMonitor(threading.Thread):
    """Samples the server's RSS, threads and CPU (percent of one core) once a second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")

    def _read(self):
        status = Path(f"/proc/{self.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return rss, threads, (int(fields[11]) + int(fields[12])) / self.tick

    def run(self):
        t0 = time.monotonic()
        _, _, cpu0 = self._read()
        while not self._stop.wait(1.0):
            try:
                rss, threads, cpu = self._read()
            except (OSError, AttributeError):
                return
            now = time.monotonic() - t0
            dt = now - (self.samples[-1]["t"] if self.samples else 0.0)
            self.samples.append({"t": now, "rss_mib": rss, "threads": threads,
                                 "cpu_pct": 100.0 * (cpu - cpu0) / max(dt, 1e-6)})
            cpu0 = cpu

    def stop(self):
        self._stop.set()


# ----------------------------------------------------------------------------- one browser session
async def ready(page, timeout=180_000):
    await page.wait_for_function(bh._READY_JS, arg=[bh.READY, bh.SKELETON], timeout=timeout,
                                 polling=100)


async def run_state(page) -> str:
    m = RUN_STATE.search(await page.locator(bh.SIDEBAR).inner_text())
    return m.group(1).strip() if m else ""


async def metrics(page) -> dict:
    out = {}
    for text in await page.locator('[data-testid="stMetric"]').all_inner_texts():
        label, _, value = text.partition("\n")
        out[label.split(" (")[0].strip()] = value.strip()
    return out


async def nav(page, name: str) -> float:
    """Sidebar link to page ``name``; seconds until it is drawn."""
    t0 = time.monotonic()
    path = bh.PAGES[name][1]
    sel = f'[data-testid="stSidebarNav"] a[href$="/{path}"]' if path else \
        '[data-testid="stSidebarNav"] a'
    await page.locator(sel).first.click()
    await page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
    await ready(page)
    if name == "data":
        await page.wait_for_function(
            "(sel) => [...document.querySelectorAll(sel)].some(g => (g._fullData || []).length)",
            arg=bh.PLOTLY, timeout=180_000, polling=100)
    return time.monotonic() - t0


async def session(i: int, browser, base: str, epochs: int, shared: dict) -> dict:
    role = {1: "close", 2: "reload"}.get(i % 4, "stay")
    rec = {"session": i, "role": role, "seed": i, "latency": [], "state": "", "metrics": {}}
    ctx = await browser.new_context(viewport=bh.VIEWPORT)
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    try:
        return await _session(i, role, rec, ctx, page, base, epochs, shared)
    except Exception as exc:  # noqa: BLE001 -- report it, keep the other sessions going
        rec["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        shared["states"][i] = "error"
        try:
            await page.screenshot(path=str(bh.ARTIFACTS / f"bench_load_session{i}.png"))
            await ctx.close()
        except Exception:  # noqa: BLE001
            pass
        rec["closed_at"] = time.monotonic()
        return rec


async def _session(i, role, rec, ctx, page, base, epochs, shared) -> dict:
    await asyncio.sleep(1.0 * i)                    # a class joins over a few seconds
    await page.goto(bh.page_url(base, "train", {**SETUP, "epochs": epochs, "seed": i}),
                    wait_until="domcontentloaded")
    await ready(page)
    await page.locator(".st-key-btn_start button").click()
    await page.wait_for_function("(sel) => /Run\\s*·/.test(document.querySelector(sel).innerText)",
                                 arg=bh.SIDEBAR, polling=200)
    shared["states"][i] = await run_state(page)
    if role == "close":
        await asyncio.sleep(4)
        rec["state"] = await run_state(page)
        await ctx.close()
        shared["states"][i] = "closed"
        rec["closed_at"] = time.monotonic()
        return rec
    if role == "reload":
        await asyncio.sleep(4)
        before = await run_state(page)
        await page.reload(wait_until="domcontentloaded")
        await ready(page)
        rec["after_reload"] = after = await run_state(page)
        rec["restored"] = bool(after) and (after == before or after in ("running", "finished"))
    while True:                                             # until the run ends
        state = await run_state(page)
        shared["states"][i] = state
        if state and not state.startswith(("queued", "running", "paused")):
            break
        if role == "stay":
            queued = any(s.startswith("queued") for s in shared["states"].values())
            for name in ("data", "train"):
                rec["latency"].append({"s": await nav(page, name), "page": name, "queued": queued})
        else:
            await asyncio.sleep(1.0)
    rec["state"] = state
    if bh.PAGES["train"][1] not in page.url:
        await nav(page, "train")
    await page.wait_for_function("(sel) => document.querySelectorAll(sel).length >= 4",
                                 arg='[data-testid="stMetric"]', polling=200)
    rec["metrics"] = await metrics(page)
    await ctx.close()
    rec["closed_at"] = time.monotonic()
    return rec


async def visitor(browser, base: str, shared: dict, out: list) -> None:
    """A fresh visitor's Data page, every few seconds while a run is waiting in the queue."""
    while not shared["done"]:
        if any(s.startswith("queued") for s in shared["states"].values()):
            ctx = await browser.new_context(viewport=bh.VIEWPORT)
            page = await ctx.new_page()
            t0 = time.monotonic()
            await page.goto(bh.page_url(base, "data"), wait_until="domcontentloaded")
            await ready(page)
            await page.wait_for_function(
                "(sel) => [...document.querySelectorAll(sel)].some(g => (g._fullData || []).length)",
                arg=bh.PLOTLY, timeout=180_000, polling=100)
            out.append(time.monotonic() - t0)
            await ctx.close()
        await asyncio.sleep(3.0)


async def drive(base: str, n: int, epochs: int) -> tuple[list, list]:
    from playwright.async_api import async_playwright

    shared = {"states": {}, "done": False}
    fresh: list[float] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=bh.CHROMIUM, args=bh.CHROMIUM_ARGS)
        # The teacher opens the app first: a fresh server's first requests must not all be deep
        # links at once (Streamlit's legacy pages/ mode until app.py's st.navigation has run).
        ctx = await browser.new_context(viewport=bh.VIEWPORT)
        page = await ctx.new_page()
        await page.goto(bh.page_url(base, "data"), wait_until="domcontentloaded")
        await ready(page)
        await ctx.close()
        vis = asyncio.create_task(visitor(browser, base, shared, fresh))
        results = await asyncio.gather(*(session(i, browser, base, epochs, shared)
                                         for i in range(n)))
        shared["done"] = True
        await vis
        await browser.close()
    return results, fresh


# ----------------------------------------------------------------------------- headless reference
def headless(seed: int, epochs: int) -> dict:
    """The same run without a server: ui/data_source.py's path, by hand."""
    import numpy as np
    import pandas as pd

    from gru_core.data import Table, prepare_series
    from gru_core.generators import GENERATORS, generate
    from gru_core.model import ModelConfig
    from gru_core.train import TrainConfig, TrainingRun, train_threads
    from gru_core.windows import SplitConfig, WindowConfig, make_dataset
    from ui import state

    train_threads(int(THREADS))
    d = {**{s.key: s.default for s in state.SETTINGS}, **SETUP, "epochs": epochs, "seed": seed}
    params = {p.name: p.default for p in GENERATORS[d["gen"]].params}
    values = generate(d["gen"], length=int(d["gen_length"]), seed=int(d["gen_seed"]), **params)
    table = Table(frame=pd.DataFrame({"value": values.astype(np.float64)}), numeric_columns=["value"],
                  date_column=None, missing={"value": 0}, duplicates=0, frequency=None, notes=[])
    series = prepare_series(table, "value", [], missing=d["missing"])
    tr, va = float(d["train_frac"]), float(d["val_frac"])
    ds = make_dataset(series, WindowConfig(int(d["lookback"]), int(d["horizon"]), int(d["stride"])),
                      SplitConfig(tr, va, round(1.0 - tr - va, 6)), scaler=d["scaler"])
    mc = ModelConfig(input_size=1, hidden_size=int(d["hidden_size"]), num_layers=int(d["num_layers"]),
                     dropout=float(d["dropout"]), bidirectional=bool(d["bidirectional"]),
                     horizon=int(d["horizon"]), cell=d["cell"])
    tc = TrainConfig(lr=float(d["lr"]), batch_size=int(d["batch_size"]), epochs=epochs,
                     clip_grad=float(d["clip_grad"]), patience=int(d["patience"]), seed=seed,
                     device="cpu", num_threads=int(THREADS))
    p = TrainingRun(ds, mc, tc).run()
    return {"Val loss": f"{p.val_loss:.4g}", "Best val": f"{p.best_val:.4g}", "state": p.state}


def pct(values, q):
    values = sorted(values)
    return values[min(int(round(q * (len(values) - 1))), len(values) - 1)] if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()
    server = bh.StreamlitServer("bench_load_streamlit.log",
                                extra_env={"GRU_LAB_TRAIN_THREADS": THREADS})
    server.start(timeout=120)
    mon = ProcMonitor(server.proc.pid)
    mon.start()
    t_start = time.monotonic()
    try:
        results, fresh = asyncio.run(drive(server.url, args.sessions, args.epochs))
        t_closed = max(r["closed_at"] for r in results)
        idle_after = None
        while time.monotonic() - t_closed < IDLE_TARGET_S + 60:
            time.sleep(1.0)
            last = [s["cpu_pct"] for s in mon.samples[-3:]]
            if len(last) == 3 and max(last) < IDLE_CPU:
                idle_after = time.monotonic() - t_closed
                break
    finally:
        mon.stop()
        server.stop()
    lat = [x["s"] for r in results for x in r["latency"] if x["queued"]]
    done = [r for r in results if r["role"] != "close"]
    finished = [r for r in done if r["state"] == "finished"]
    print(f"GRU Lab load test: {args.sessions} sessions, {args.epochs} epochs each, "
          f"{os.cpu_count()} cores, load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    ok = True
    for r in results:
        l = [x["s"] for x in r["latency"] if x["queued"]]
        extra = f", restored after F5: {r.get('restored')} ({r.get('after_reload')})" \
            if r["role"] == "reload" else ""
        print(f"  session {r['session']} ({r['role']:6s}): end {r['state'] or '-':9s} "
              f"page latency while queued p50 {pct(l, .5):5.2f} s p95 {pct(l, .95):5.2f} s "
              f"({len(l)} samples){extra}{' ERROR ' + r['error'] if 'error' in r else ''}")
        ok &= (r["role"] != "reload" or bool(r.get("restored"))) and "error" not in r
    print(f"page latency while a run was queued (all staying sessions): p50 {pct(lat, .5):.2f} s, "
          f"p95 {pct(lat, .95):.2f} s over {len(lat)} page loads")
    print(f"fresh visitor's Data page while a run was queued: {len(fresh)} loads, "
          f"p50 {pct(fresh, .5):.2f} s, max {max(fresh, default=float('nan')):.2f} s")
    print(f"runs completed: {len(finished)} of {len(done)} kept sessions "
          f"({args.sessions - len(done)} closed mid-run)")
    same = 0
    for r in finished:
        ref = headless(r["seed"], args.epochs)
        match = all(r["metrics"].get(k) == ref[k] for k in ("Val loss", "Best val"))
        same += match
        print(f"  seed {r['seed']}: page val {r['metrics'].get('Val loss')} best "
              f"{r['metrics'].get('Best val')} | headless {ref['Val loss']} / {ref['Best val']} "
              f"{'equal' if match else 'DIFFERENT'}")
    ok &= same == len(finished) and len(finished) == len(done)
    print("server over time (t s: RSS MiB, threads, CPU % of a core):")
    for s in mon.samples[::10]:
        print(f"  t={s['t']:5.0f}: {s['rss_mib']:6.0f} MiB, {s['threads']:3d} threads, "
              f"{s['cpu_pct']:5.0f} %")
    peak = max(mon.samples, key=lambda s: s["rss_mib"]) if mon.samples else None
    if peak:
        print(f"peak RSS {peak['rss_mib']:.0f} MiB; threads at the end {mon.samples[-1]['threads']}")
    verdict = idle_after is not None and idle_after <= IDLE_TARGET_S
    print(f"CPU idle (< {IDLE_CPU:.0f} % over 3 s) {idle_after if idle_after is None else round(idle_after)} s "
          f"after the last session closed (target <= {IDLE_TARGET_S:.0f} s) "
          f"{'PASS' if verdict else 'FAIL'}")
    ok &= verdict
    bh.ARTIFACTS.mkdir(exist_ok=True)
    (bh.ARTIFACTS / "bench_load.json").write_text(json.dumps(
        {"results": results, "fresh": fresh, "samples": mon.samples, "idle_after_s": idle_after,
         "elapsed_s": time.monotonic() - t_start}, indent=1, default=str))
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
