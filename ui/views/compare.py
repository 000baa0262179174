"""The Compare page's job and drawing: GRU vs LSTM vs plain RNN on the same data and budget.

:class:`CompareJob` is plain Python (no ``st.*``): up to one ``gru_core.train.TrainingRun`` per
registered cell, submitted to the server's scheduler like every run -- "one after another" as ONE
queue entry (one training slot, the cells in turn), "all at once" as a group of one entry per cell
-- and kept in session state and the session's record under ``compare_job`` (the forecasting
``job`` of the other pages is never touched). It
remembers each model's initial weights so gradients can be shown at initialisation and after
training. Widget keys start with ``cmp_``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st
import torch

from gru_core.charts import cell as charts_cell
from gru_core.data import series_from_array
from gru_core.evaluate import evaluate
from gru_core.generators import generate
from gru_core.gradients import grad_through_time
from gru_core.model import CELLS, Forecaster, ModelConfig
from gru_core.train import TrainConfig
from gru_core.windows import Dataset, SplitConfig, WindowConfig, make_dataset
from ui import data_source, page
from ui.views.compare_job import (CellSpec, ClipSpec, CompareJob, SequenceRun,  # noqa: F401
                                  SequenceSpec)

ss = st.session_state
JOB_KEY = "compare_job"
ECHO, CURRENT = "echo", "current"
MODES = {"sequential": "one after another", "parallel": "all at once"}


# ------------------------------------------------------------------------------------ the job
def matched_hidden(cells: list[str], hidden: int, base: ModelConfig) -> dict[str, int]:
    """Hidden size per cell whose parameter count is closest to the GRU's (or the first cell's)
    at ``hidden`` units: equal budgets in weights rather than in units."""
    ref_cell = "gru" if "gru" in cells else cells[0]
    count = lambda c, u: Forecaster(dataclasses.replace(base, cell=c, hidden_size=u)).n_params()  # noqa: E731
    target = count(ref_cell, hidden)
    return {c: hidden if c == ref_cell else
            min(range(1, 4 * hidden + 8), key=lambda u: (abs(count(c, u) - target), u)) for c in cells}


# ------------------------------------------------------------------------------------ buttons
def on_start(ds, source, configs, tc, mode) -> None:
    """Queue a comparison of ``configs`` for this session (a message in ``cmp_error`` if it cannot:
    another run of this session is going -- press again to stop it -- a full queue, a limit)."""
    from gru_core.errors import DataError
    from ui import server

    ss["cmp_error"] = None
    job = CompareJob(ds, configs, tc, mode, source)
    try:
        job.submit(lambda specs: server.submit(specs, label=f"compare: {source}", page="compare"))
    except DataError as exc:                     # SessionBusy and QueueFull are DataErrors too
        ss["cmp_error"] = str(exc)
        return
    server.keep(JOB_KEY, job)


def on_stop() -> None:
    if (job := ss.get(JOB_KEY)) is not None:
        job.stop()


def limits(ds, configs, tc, mode) -> bool:
    """The server's limits beside this comparison's size and time, before Start (False past one)."""
    from ui import server

    if not configs:
        return True
    cells = [CellSpec(ds, cfg, tc) for cfg in configs.values()]
    spec = SequenceSpec(cells) if mode == "sequential" else max(cells, key=lambda c: c.work())
    return server.limits_caption(spec)


def wait_line(job: CompareJob) -> str | None:
    from ui import server

    return server.wait_line(job.queued())


def poll_s(job: CompareJob | None) -> float | None:
    """The live view's refresh: every 2 s while queued, every second while a cell trains."""
    from ui import server

    return None if job is None else server.poll_s(job.jobs, 1.0)


# ------------------------------------------------------------------------------------ settings
def dataset_choice() -> tuple[Dataset, str]:
    """The data of the comparison: the echo task (default) or the current data."""
    kind = st.segmented_control("Data", [ECHO, CURRENT], default=ECHO, required=True, key="cmp_data",
                                persist_state="session",
                                format_func={ECHO: "Long-range task: delayed echo",
                                             CURRENT: "The current data (Data page)"}.get)
    if kind == CURRENT:
        return data_source.current_dataset(), data_source.source_label()
    a, b, c = st.columns(3)
    k = a.number_input("Echo delay k (steps)", 2, 200, 20, key="cmp_delay", persist_state="session",
                       help="Each value comes back k steps later: the forecast needs the input k−1 steps "
                            "before the last one.")
    L = b.number_input("Lookback L", 3, 400, 25, key="cmp_lookback", persist_state="session",
                       help="Must be at least k for the echo to be inside the window.")
    n = c.number_input("Series length", 300, 20_000, 3000, step=100, key="cmp_length", persist_state="session")
    y = generate("echo", length=int(n), seed=0, delay=int(k), pulse_rate=1.0)
    ds = make_dataset(series_from_array(y, name="echo"), WindowConfig(int(L), 1), SplitConfig(0.7, 0.15, 0.15))
    if L < k:
        st.warning(f"The lookback L = {L} is shorter than the delay k = {k}: the value the forecast needs "
                   "is not in the window, so no cell can learn it. Use L ≥ k.", icon=":material/warning:")
    return ds, f"echo task (k = {k}, gain 0.9, {n} points, forecast 1 step)"


def settings(ds: Dataset) -> tuple[dict[str, ModelConfig], TrainConfig, str]:
    cells = st.multiselect("Cells", list(CELLS), default=list(CELLS), key="cmp_cells", persist_state="session",
                           format_func=lambda c: CELLS[c].label)
    a, b, c, d = st.columns(4)
    hidden = a.number_input("Hidden units", 2, 256, 24, key="cmp_hidden", persist_state="session")
    epochs = b.number_input("Epochs", 1, 500, 10, key="cmp_epochs", persist_state="session")
    lr = c.number_input("Learning rate (Adam)", 1e-4, 0.1, 0.01, step=0.001, format="%.4f", key="cmp_lr",
                        persist_state="session")
    seed = d.number_input("Seed", 0, 10_000, 0, key="cmp_seed", persist_state="session")
    e, f = st.columns(2)
    equal = e.toggle("Equal parameter count", key="cmp_equal", persist_state="session",
                     help="Give each cell the hidden size whose number of weights is closest to the GRU's.")
    mode = f.segmented_control("Run", list(MODES), default="sequential", required=True, key="cmp_mode",
                               persist_state="session", format_func=MODES.get)
    base = ModelConfig(input_size=ds.scaled.shape[1], hidden_size=int(hidden), num_layers=1,
                       horizon=ds.window.horizon)
    sizes = matched_hidden(cells, int(hidden), base) if (equal and cells) else {c: int(hidden) for c in cells}
    configs = {c: dataclasses.replace(base, cell=c, hidden_size=sizes[c]) for c in cells}
    tc = TrainConfig(lr=float(lr), batch_size=32, epochs=int(epochs), clip_grad=1.0, patience=0,
                     seed=int(seed), device="cpu", num_threads=1)
    return configs, tc, mode


# ------------------------------------------------------------------------------------ results
def _metrics(job: CompareJob) -> pd.DataFrame:
    rows = []
    baselines = None
    for c, r in job.runs.items():
        p = r.snapshot()
        if p.step == 0:
            continue
        ev = evaluate(r.model, job.dataset, "test")
        m = ev.metrics
        rows.append({"model": CELLS[c].label, "hidden": job.configs[c].hidden_size,
                     "parameters": r.model.n_params(), **m.iloc[0].to_dict(),
                     "s / epoch": p.elapsed_s / max(p.epoch, 1), "state": p.state})
        baselines = m.iloc[1:]
    table = pd.DataFrame(rows)
    if baselines is not None:
        extra = baselines.reset_index().rename(columns={baselines.index.name or "index": "model"})
        table = pd.concat([table, extra], ignore_index=True)
    return table


def results_table(job: CompareJob) -> pd.DataFrame:
    """Test metrics of every trained cell beside the naive baselines (computed once per job)."""
    if "metrics" not in job.cache:
        job.cache["metrics"] = _metrics(job)
    return job.cache["metrics"]


def verdict(table: pd.DataFrame) -> str:
    models = table[table["parameters"].notna()]
    if models.empty:
        return ""
    best = models.loc[models["MAE"].idxmin()]
    others = ", ".join(f"{r.model} {r.MAE:.3g}" for r in models.itertuples() if r.model != best.model)
    return (f"Lowest test MAE: **{best.model}** ({best.MAE:.3g}{'; ' + others if others else ''}; data "
            "units). On the echo task the forecast needs a value k−1 steps back; the gradient plot below "
            "shows which cell's learning signal reaches that far.")


def gradient_window(ds: Dataset, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A stretch of T scaled inputs and the H scaled targets after it, at the start of the test part."""
    H = ds.window.horizon
    total = ds.scaled.shape[0]
    s = max(0, min(ds.bounds[1] - T, total - T - H))
    x = ds.scaled[s:s + T].unsqueeze(0)                  # (1, T, C)
    y = ds.scaled[s + T:s + T + H, 0].unsqueeze(0)       # (1, H)
    return x, y


def grad_curves(job: CompareJob, T: int) -> dict:
    """||dL/dh_t|| per cell at initialisation (dashed) and after training (solid), cached per T."""
    key = ("grads", T)
    if key not in job.cache:
        x, y = gradient_window(job.dataset, T)
        curves = {}
        for i, (c, r) in enumerate(job.runs.items()):
            color = charts_cell.cell_color(c, i)
            curves[f"{CELLS[c].label} at initialisation"] = (color, "dash",
                                                             grad_through_time(job.initial_model(c), x, y)[-1])
            if r.snapshot().step > 0:
                curves[f"{CELLS[c].label} after training"] = (color, None,
                                                              grad_through_time(r.model.eval(), x, y)[-1])
        job.cache[key] = curves
    return job.cache[key]


def decay_table(curves: dict) -> pd.DataFrame:
    """Orders of magnitude the gradient loses from the last step back to t = 0, per curve."""
    rows = []
    for label, (_, _, g) in curves.items():
        g = np.asarray(g, dtype=np.float64)
        lost = np.log10(g[-1] / g[0]) if g[0] > 0 and g[-1] > 0 else np.inf
        rows.append({"curve": label, "‖∂L/∂h‖ at the last step": g[-1], "at t = 0": g[0],
                     "orders of magnitude lost": lost})
    return pd.DataFrame(rows)


def on_explode(ds: Dataset, ds_key: str, cell: str, hidden: int, gain: float, lr: float,
               clip: float, steps: int, seed: int) -> None:
    """Queue the clipping experiment on the comparison's training windows for this session (a
    message in ``cmp_clip_error`` if it cannot start: another run of this session -- press again
    to stop it --, a full queue, a limit)."""
    from gru_core.errors import DataError
    from ui import server

    ss["cmp_clip_error"] = None
    cfg = ModelConfig(input_size=ds.scaled.shape[1], hidden_size=hidden, num_layers=1,
                      horizon=ds.window.horizon, cell=cell)
    spec = ClipSpec(ds.train.X, ds.train.Y, cfg, lr=lr, gain=gain, clip=clip, steps=steps, seed=seed)
    try:
        h, = server.submit([spec], label="compare: clipping experiment", page="compare_clip")
    except DataError as exc:
        ss["cmp_clip_error"] = str(exc)
        return
    ss["_cmp_explode"] = ((ds_key, cell, hidden, gain, lr, clip, steps, seed), h)


def explode_view(key: tuple, show: bool) -> None:
    """The clipping experiment's curves once it has run (its place in line while it waits); polls
    every 2 s while queued, twice a second while it runs."""
    from ui import server

    if ss.get("cmp_clip_error"):
        st.error(ss["cmp_clip_error"], icon=":material/error:")
    held = ss.get("_cmp_explode")
    if held is None:
        return
    h = held[1]
    every = server.poll_s([h], 0.5)

    @st.fragment(run_every=every)
    def view() -> None:
        if (waiting := server.wait_line(h)) is not None:
            st.info(f"Clipping experiment: {waiting}", icon=":material/hourglass_top:")
            return
        p = h.snapshot()
        if not p.done:
            st.info("Training the two runs of the clipping experiment ...", icon=":material/bolt:")
            return
        run = h.run
        if run is None or getattr(run, "result", None) is None:
            st.info(p.reason or "The experiment did not run.", icon=":material/info:")
            return
        free, clipped = run.result
        if held[0] != key:
            st.caption("These curves are for the settings when the button was pressed; press it "
                       "again to run the new ones.")
        page.chart(charts_cell.clipping_figure(free, clipped if show else None),
                        key="cmp_clip_chart")
        st.caption(explode_caption(free, clipped if show else None))
    view()


def explode_caption(free, clipped) -> str:
    """One line per run: the largest gradient norm and how the loss ended."""
    def line(h, name):
        end = (f"the loss became non-finite at step {h.diverged_at}" if h.diverged_at is not None
               else f"final loss {h.loss[-1]:.3g}" if h.loss else "no step")
        return f"**{name}**: largest gradient norm {max(h.grad_norm, default=float('nan')):.3g}, {end}"
    parts = [line(free, "No clipping")]
    if clipped is not None:
        parts.append(line(clipped, f"Clipped to {clipped.clip:g}") + " (norms shown before clipping)")
    return " · ".join(parts) + ". Losses are MSE in scaled units."
