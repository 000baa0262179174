"""The Sweep page's inputs, button callbacks and live results (table, parallel coordinates, the
chosen config and its test score). The sweep itself is ``gru_core.sweep``; its trials go through
the server's scheduler (``ui.server``) as one job group of this session."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from gru_core import charts
from gru_core.errors import DataError
from gru_core.jobs import describe_wait
from gru_core.scheduler import SessionBusy
from gru_core.sweep import MAX_TRIALS, Sweep, SweepBase, SweepSpace, grid, random_search, \
    transforms_available
from ui import data_source, page, server

ss = st.session_state
HIDDEN = [4, 8, 16, 32, 64, 128]
LAYERS = [1, 2, 3]
LRS = [1e-3, 3e-3, 5e-3, 1e-2, 3e-2]
AXES = (("hidden_size", "hidden units"), ("num_layers", "layers"), ("lookback", "lookback L"),
        ("lr", "learning rate (log10)"), ("transform", "transform"), ("seed", "seed"))
NAMES = {"hidden_size": "hidden units", "num_layers": "layers", "lookback": "lookback",
         "lr": "learning rate", "transform": "transform", "seed": "seed"}


def current() -> Sweep | None:
    """This session's sweep (kept in the server-side record, so a reload finds it)."""
    sweep = ss.get("sweep")
    if sweep is None:
        sweep = server.record().extra.get("sweep")
        if sweep is not None:
            ss["sweep"] = sweep
    return sweep


def running() -> bool:
    sweep = current()
    return bool(sweep is not None and sweep.jobs and not sweep.done)


# ----------------------------------------------------------------------------- inputs
def inputs() -> tuple[list[dict], SweepSpace]:
    """The values to try and the search mode; returns the trials and the space."""
    lookback, lr = int(ss["lookback"]), float(ss["lr"])
    lookbacks = sorted({max(2, lookback // 2), lookback, lookback * 2})
    a, b, c = st.columns(3)
    hidden = a.multiselect("Hidden units", HIDDEN, default=[16, 32], key="sw_hidden")
    layers = b.multiselect("Layers", LAYERS, default=[1], key="sw_layers")
    lbs = c.multiselect("Lookback L (steps)", lookbacks, default=[lookback], key="sw_lookback")
    lr_default = [lr] if lr in LRS else [5e-3]
    lrs = a.multiselect("Learning rate", LRS, default=lr_default, key="sw_lr",
                        format_func=lambda v: f"{v:g}")
    transforms = transforms_available()
    tfs = b.multiselect("Target transform", transforms, default=["none"], key="sw_transform",
                        disabled=len(transforms) == 1,
                        help="Transforms of the target before training (log, differences, ...) "
                             "when this version has them; 'none' trains on the series as it is.")
    n_seeds = c.number_input("Seeds per setting", 1, 5, 1, key="sw_seeds",
                             help="Each setting is trained with seeds s, s+1, ... (s = the Train "
                                  "page's seed): the spread shows how much is luck.")
    seed0 = int(ss["seed"])
    space = SweepSpace(hidden_size=hidden, num_layers=layers, lookback=lbs, lr=lrs,
                       transform=tfs, seed=list(range(seed0, seed0 + int(n_seeds))))
    mode = st.segmented_control("Search", ["grid", "random"], default="grid", key="sw_mode",
                                required=True,
                                help="Grid: every combination. Random: a random subset of them.")
    if not all((hidden, layers, lbs, lrs, tfs)):
        return [], space
    size = space.size()
    if mode == "random" and size > 1:
        n = st.slider("Random trials", 1, min(size, MAX_TRIALS), min(size, 6), key="sw_n")
        return random_search(space, int(n), seed=seed0), space
    return grid(space), space


def base() -> SweepBase:
    """The Data and Train pages' settings that the sweep does not vary."""
    ds = data_source.current_dataset()
    return SweepBase(series=ds.series, window=ds.window, split=ds.split, scaler=ds.scaler.kind,
                     model_cfg=data_source.model_config(ds), train_cfg=data_source.train_config())


def plan(trials: list[dict], b: SweepBase) -> None:
    """What Start will do, with the server's limits, before it is pressed."""
    sched = server.scheduler()
    sweep = Sweep(b, trials)
    seconds = [sched.estimate_s(s) for s in sweep.specs]
    biggest = max(sweep.specs, key=lambda s: s.work())
    over = [r for r in sched.limit_rows(biggest) if not r["within"]]
    asked = b.train_cfg
    used = asked.plan(len(biggest.dataset.train))
    batch = (f"batch {used.batch_size}" if asked.batch_size else
             f"batch auto = {used.batch_size}" + (f" at {used.lr / asked.lr:g}× each learning rate, "
                                                  "with the dense loss" if used.lr != asked.lr else ""))
    st.caption(
        f"**{len(trials)} trial(s)**, each {b.train_cfg.epochs} epochs with the Train page's other "
        f"settings ({batch}, patience {asked.patience}). "
        f"They queue on this server's {sched.max_running} training slot(s) beside other sessions; about "
        f"{sum(seconds) / sched.max_running:.0f} s if the server is free. Limits per trial: size "
        f"(parameters × training windows × epochs) ≤ {sched.config.max_work:.3g} (largest trial "
        f"{biggest.work():.3g}), wall time ≤ {sched.config.wall_limit_s:.0f} s.")
    for row in over:
        st.warning(f"The largest trial is over the limit on {row['limit']}: {row['this run']} "
                   f"> {row['server limit']}. Lower the epochs or the sizes.")


# ----------------------------------------------------------------------------- callbacks
def on_start(trials: list[dict], replace: bool = False) -> None:
    ss["sweep_error"], ss["sweep_busy"] = None, False
    try:
        sweep = Sweep(base(), trials)
        sweep.submit(server.scheduler(), server.token(), replace=replace)
    except SessionBusy as exc:
        ss["sweep_error"], ss["sweep_busy"] = str(exc), True
        return
    except DataError as exc:
        ss["sweep_error"] = str(exc)
        return
    ss["sweep"] = server.record().extra["sweep"] = sweep


def on_stop() -> None:
    if (sweep := current()) is not None:
        sweep.stop()


def on_use(params: dict) -> None:
    """Load a trial's settings into the Train page's settings."""
    for key in ("hidden_size", "num_layers", "lookback", "seed"):
        ss[key] = int(params[key])
    ss["lr"] = float(params["lr"])
    if "transform" in ss:
        ss["transform"] = params["transform"]
    ss["sweep_used"] = params


# ----------------------------------------------------------------------------- results
def varied(table) -> tuple[list[tuple[str, str]], dict]:
    """The swept settings that take more than one value here, and the fixed ones' values."""
    axes = [(k, label) for k, label in AXES if table[k].nunique() > 1]
    fixed = {k: table[k].iloc[0] for k, _ in AXES if table[k].nunique() == 1}
    return axes, fixed


def parallel_figure(table, metric_col: str, units: str) -> go.Figure:
    """Varied settings -> validation error, one line per scored trial (darker = lower error)."""
    dims = []
    for key, label in varied(table)[0]:
        col = table[key]
        if key == "transform":
            cats = sorted(set(col))
            dims.append(dict(label=label, values=[cats.index(v) for v in col],
                             tickvals=list(range(len(cats))), ticktext=cats))
        elif key == "lr":
            dims.append(dict(label=label, values=np.log10(col.to_numpy(float))))
        else:
            dims.append(dict(label=label, values=col.to_numpy(float)))
    err = table[metric_col].to_numpy(float)
    dims.append(dict(label=f"{metric_col} ({units})", values=err))
    fig = go.Figure(go.Parcoords(
        dimensions=dims, labelfont=dict(size=13), tickfont=dict(size=11),
        line=dict(color=err, showscale=True, reversescale=True,
                  colorscale=[[0, "#e2e8f0"], [1, charts.COLORS["train"]]],
                  colorbar=dict(title=dict(text=f"{metric_col}<br>({units})")))))
    charts.themed(fig, title="Settings → validation error (one line per trial)", height=400)
    fig.update_layout(margin=dict(l=60, r=40, t=100, b=30))
    return fig


def results() -> None:
    """The live table, the figure, the chosen config and its test score (polls while running)."""
    sweep = current()              # 2 s while every trial waits in the queue, 1 s while one trains
    every = server.poll_s(sweep.jobs, 1.0) if running() else None

    @st.fragment(run_every=every)
    def live() -> None:
        sweep = current()
        if sweep is None:
            return
        if every is not None and not sweep.done and every != server.poll_s(sweep.jobs, 1.0):
            st.rerun(scope="app")                    # left (or went back to) the queue
        server.renew()
        table = sweep.results()
        metric_col = f"val {sweep.metric}"
        units = str(getattr(sweep.base.series, "target", "data units"))
        ended = sum(not j.running for j in sweep.jobs)
        st.markdown(f"**Trials:** {ended} of {len(sweep.jobs)} ended · validation "
                    f"{sweep.metric} in the data's units ({units}); lower is better.")
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={metric_col: st.column_config.NumberColumn(format="%.4g"),
                                    "lr": st.column_config.NumberColumn(format="%g"),
                                    "best val loss (scaled)": st.column_config.NumberColumn(
                                        format="%.4g")})
        scored = table.dropna(subset=[metric_col])
        if len(scored) >= 2:
            page.chart(parallel_figure(scored, metric_col, units), width="stretch")
            fixed = varied(scored)[1]
            if fixed:
                st.caption("Same in every trial (not drawn): " + ", ".join(
                    f"{NAMES[k]} {v:g}" if isinstance(v, float) else f"{NAMES[k]} {v}"
                    for k, v in fixed.items()) + ".")
        best = sweep.best()
        if best is not None:
            chosen(sweep, best, units, final=sweep.done)
        if sweep.done and ss.get("_sweep_polling"):
            ss["_sweep_polling"] = False
            st.rerun(scope="app")
        ss["_sweep_polling"] = not sweep.done
    live()


def chosen(sweep: Sweep, best: int, units: str, final: bool) -> None:
    params = sweep.trials[best]
    desc = (f"{params['hidden_size']} units × {params['num_layers']} layer(s), lookback "
            f"{params['lookback']}, learning rate {params['lr']:g}, transform "
            f"{params['transform']}, seed {params['seed']}")
    word = "Chosen" if final else "Best so far"
    st.success(f"**{word} (lowest validation {sweep.metric}, "
               f"{sweep.score(best):.4g} {units}): trial {best + 1}** — {desc}.")
    st.button("Use this config on the Train page", icon=":material/input:", key="sw_use",
              on_click=on_use, args=(params,))
    if ss.get("sweep_used") == params:
        st.page_link("pages/train.py", label="Settings loaded: go to Train",
                     icon=":material/arrow_forward:")
    if final:
        st.markdown(f"**Test score of the chosen config** (the test windows were not used to "
                    f"choose it; errors in {units}, sMAPE in %, MASE relative to the in-sample "
                    "naive forecast):")
        st.dataframe(sweep.test_metrics(best).style.format("{:.4g}"), width="stretch")


def status_line() -> None:
    """Queue position of this session's first waiting trial, if any."""
    sweep = current()
    if sweep is None or not sweep.jobs:
        return
    waiting = [j for j in sweep.jobs if j.state == "queued"]
    if waiting and len(waiting) == len(sweep.jobs):
        st.info(f"Waiting for a training slot: {describe_wait(waiting[0].position, waiting[0].eta_s)}.",
                icon=":material/hourglass_top:")
