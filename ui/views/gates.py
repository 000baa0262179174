"""Gates page drawing: which GRU is shown, what to trace, and the heatmaps, unit lines, per-unit
summary and one filled-in step.

Numbers come from ``gru_core``: :func:`gru_core.gates.trace_gates` on the model's own weights and
the dataset's scaled inputs (cached per model and span, so display options never re-trace),
:mod:`gru_core.explain` for summaries, unit order and the filled-in LaTeX, :mod:`gru_core.charts`
for the figures. This module only lays them out. Shapes: T traced steps, U units.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st
import torch

from gru_core import charts
from gru_core.explain import (SATURATION, explain_step, gate_arrays, step_latex, unit_order,
                              unit_summary)
from gru_core.gates import equations_latex, trace_gates
from gru_core.model import CELLS, Forecaster, ModelConfig
from gru_core.windows import Dataset
from ui import data_source, page, runs
from ui.guard import friendly_errors
from ui.widgets import int_slider

MAX_SPAN = 5_000        # longest span traced and drawn at once
BIG_HEATMAP = 100_000   # cells (steps x units) above which only two heatmaps show at first
HEATMAP_SETS = {"rz": "gates r and z", "nh": "candidate n and state h", "all": "all four"}
TORCH, TUTORIAL = "torch", "tutorial"
CONVENTIONS = {TORCH: "z (PyTorch): share of the old state kept",
               TUTORIAL: "1 − z (tutorial): share of the candidate written"}
UNTRAINED = "untrained (random weights)"
STEP_KEY, PLAY_KEY = "gates_ex_t", "gates_playing"   # the cursor (1-based timestep), playing?
PLAY_EVERY_S = 0.7      # seconds between two timesteps while playing


# ---------------------------------------------------------------------------- which GRU is shown
def _shape(cfg: ModelConfig) -> str:
    return (f"{cfg.input_size} input column(s), {cfg.num_layers} layer(s) × {cfg.hidden_size} "
            f"units, {'bidirectional' if cfg.bidirectional else 'one direction'}, "
            f"horizon {cfg.horizon}")


def untrained_like(cfg: ModelConfig, ds: Dataset, seed: int, origin: str, key: str) -> runs.Trained:
    """An untrained GRU with ``cfg``'s sizes (cell forced to GRU) on ``ds``, seeded like a run.

    Built as ``TrainingRun`` builds its model (``torch.manual_seed(seed)``, then ``Forecaster``), so
    for a GRU configuration these are exactly the weights that run started from. Kept in session
    state per ``key`` (the model it mirrors).
    """
    held = st.session_state.get("_gates_untrained")
    if held is not None and held[0] == (key, seed):
        return held[1]
    gru_cfg = dataclasses.replace(cfg, cell="gru")
    data_source.check_model(gru_cfg, ds, what=f"The untrained GRU of {origin}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Forecaster(gru_cfg).eval()
    t = runs.Trained(model=model, dataset=ds, model_cfg=gru_cfg,
                     label=f"{UNTRAINED} GRU of {origin}: {_shape(gru_cfg)}, seed {seed}",
                     key=f"untrained-of:{key}:{seed}")
    st.session_state["_gates_untrained"] = ((key, seed), t)
    return t


def subject() -> runs.Trained:
    """The trained GRU; otherwise an untrained GRU, with a notice that says exactly which."""
    t = runs.trained()
    if t is not None and t.model_cfg.cell == "gru":
        st.caption(f"**Model** · {t.label}")
        return t
    if t is not None:
        cell = CELLS[t.model_cfg.cell].label
        st.warning(
            f"The current model is an **{cell}**: this page shows the gates of a GRU, which an "
            "LSTM or a plain RNN does not have (an LSTM has input, forget and output gates; a plain "
            "RNN none). To see trained gates, choose the GRU cell on the Train page and train "
            f"again. Meanwhile, below: an untrained GRU (random weights) with the {cell} model's "
            f"configuration ({_shape(t.model_cfg)}) on the {cell} model's data.",
            icon=":material/warning:")
        seed = t.train_cfg.seed if t.train_cfg is not None else 0
        u = untrained_like(t.model_cfg, t.dataset, seed, f"the {cell} model's size", t.key)
    elif runs.is_running():
        j = runs.job()
        same = "the same GRU with the random weights it started from" if j.model_cfg.cell == "gru" \
            else f"an untrained GRU with the running {CELLS[j.model_cfg.cell].label}'s configuration"
        st.info(f"A model is training right now; its gates appear here when the run ends. "
                f"Meanwhile, below: {same}, on the run's data.", icon=":material/hourglass_top:")
        u = untrained_like(j.model_cfg, j.dataset, j.train_cfg.seed, "the running model's size",
                           f"run:{id(j.run)}:{j.started}")
    else:
        st.info("No trained GRU yet: train one on the Train page (a few seconds on the default "
                "settings). Meanwhile, below: a GRU of the current settings with random starting "
                "weights on the current data — the equations work the same, the gates just mean "
                "nothing yet.", icon=":material/info:")
        u = runs.untrained_gru()
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.caption(f"**Model** · :orange-badge[{UNTRAINED}] {u.label.removeprefix(UNTRAINED + ' ')}")
    return u


def equations() -> None:
    """The equations PyTorch computes (``gru_core.gates.EQUATIONS``) and the two z conventions
    (collapsed: the filled-in step under the heatmaps writes the same equations with numbers)."""
    with st.expander("The equations PyTorch computes", icon=":material/function:"):
        st.latex(equations_latex())
        st.markdown(
            r"$\sigma$ is the logistic sigmoid (0..1) and $\odot$ multiplies unit by unit; each "
            "unit has its own row of every W and b. **z near 1 keeps the old state**, z near 0 "
            "writes the candidate. Many tutorials write the last line the other way round, "
            r"$h_t = (1 - z_t) \odot h_{t-1} + z_t \odot n_t$: the same model with the label "
            r"flipped, $z^{\mathrm{tutorial}} = 1 - z^{\mathrm{torch}}$. The z-convention switch "
            "below changes the charts between the two; the model never changes.\n\n"
            "**Where PyTorch differs from the paper:** PyTorch applies the reset gate *after* the "
            r"matrix product, $r_t \odot (W_{hn} h_{t-1} + b_{hn})$ (as cuDNN does), while the "
            r"original GRU paper (Cho et al., 2014) and d2l compute $W_{hn} (r_t \odot h_{t-1})$. "
            "That is a genuinely different function (the reset gate also scales the bias "
            r"$b_{hn}$), not a relabelling; this page shows what PyTorch computes.")


# --------------------------------------------------------------------------------- the inputs
def pick_span(t: runs.Trained) -> tuple[str, int, int, str]:
    """Pick what to trace; return (cache key, first position, end position, description)."""
    ds = t.dataset
    T, L, val_end = ds.scaled.shape[0], ds.window.lookback, ds.bounds[1]
    mode = st.segmented_control(
        "What to trace", ["window", "test", "range"], default="window", required=True,
        key="gates_span_mode", persist_state="session",
        format_func={"window": "One test window (what the model reads)",
                     "test": "The whole test part", "range": "A range of the series"}.get)
    if mode == "window":
        N = len(ds.test)
        i = int_slider("Test window", 1, N, 1, key="gates_window") - 1
        a = int(ds.test.starts[i])
        return f"win:{a}", a, a + L, (
            f"test window {i + 1} of {N} ({runs.time_label(ds, a)} to "
            f"{runs.time_label(ds, a + L - 1)}): the {L} input steps one forecast reads, from a "
            "zero state, exactly as the model reads them.")
    if mode == "test":
        a, b = val_end, min(T, val_end + MAX_SPAN)
        cut = f" (first {MAX_SPAN:,} steps)" if T - val_end > MAX_SPAN else ""
        desc = f"the whole test part{cut}, {b - a} steps in one pass from a zero state"
    else:
        lo, hi = st.slider("Steps to trace (positions in the series)", 0, T - 1,
                           (max(0, T - 2000), T - 1), key=f"gates_range_{T}")
        a, b = int(lo), int(hi) + 1
        if b - a > MAX_SPAN:
            b = a + MAX_SPAN
            st.caption(f"Traced the first {MAX_SPAN:,} steps of that range.")
        if b - a < 2:
            b = min(T, a + 2)
            a = b - 2
        desc = f"positions {a}..{b - 1}, {b - a} steps in one pass from a zero state"
    return f"span:{a}:{b}", a, b, desc + (f". The model itself only ever reads {L}-step windows; "
                                          "over a longer stretch its state simply carries on.")


def pick_layer(cfg: ModelConfig) -> tuple[int, int]:
    """Pick the layer and (bidirectional GRUs) the direction to show."""
    if st.session_state.get("gates_layer") not in range(cfg.num_layers):
        st.session_state.pop("gates_layer", None)
    layer = st.selectbox("Layer", list(range(cfg.num_layers)), key="gates_layer",
                         format_func=lambda k: f"layer {k}" + (" (reads the data)" if k == 0 else
                                                               f" (reads layer {k - 1})"))
    direction = 0
    if cfg.bidirectional:
        direction = st.segmented_control("Direction", [0, 1], default=0, required=True,
                                         key="gates_direction",
                                         format_func=lambda d: "backward" if d else "forward")
    return layer, direction


def pick_convention() -> bool:
    """The z convention switch; True for PyTorch's z (share of the old state kept)."""
    conv = st.segmented_control("z convention", [TORCH, TUTORIAL], default=TORCH, required=True,
                                key="gates_convention", persist_state="session",
                                format_func=CONVENTIONS.get,
                                help="Changes labels and plotted values only; the model is the same.")
    page.say("The two conventions describe the same model: "
             r"$z^{\mathrm{tutorial}} = 1 - z^{\mathrm{torch}}$ and "
             r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$ (PyTorch's z). Showing **"
             + CONVENTIONS[conv] + "**.")
    return conv == TORCH


# --------------------------------------------------------------------------------- the action
def _trace(t: runs.Trained, key: str, a: int, b: int) -> dict:
    """Trace the model's GRU on scaled inputs a..b-1 (cached per model and span)."""
    def compute():
        rnn = t.model.rnn.eval()
        w = rnn.weight_ih_l0
        x = t.dataset.scaled[a:b].unsqueeze(0).to(device=w.device, dtype=w.dtype)  # (1, T, C)
        if getattr(t.model_cfg, "window_norm", "none") != "none":   # what the GRU actually reads:
            x = t.model.normalise(x)[0]                              # the span relative to its end (1, T, C)
        return {"trace": trace_gates(rnn, x), "x": x}
    return runs.model_cache(t, f"trace:{key}", compute, keep=3, bucket="trace")


def draw(t: runs.Trained, key: str, a: int, b: int, layer: int, direction: int,
         torch_z: bool) -> None:
    """Heatmaps, chosen units, the per-unit summary and one filled-in step of span a..b-1."""
    ds = t.dataset
    got = _trace(t, key, a, b)
    arr = gate_arrays(got["trace"], layer, direction)                  # (T, U) each
    zs = arr["z"] if torch_z else 1.0 - arr["z"]                       # (T, U) displayed z
    z_name = "z" if torch_z else "1 − z"
    z_short = "z (PyTorch)" if torch_z else "1 − z (tutorial z)"
    xs = runs.positions_to_axis(ds, np.arange(a, b))
    target = np.asarray(ds.series.values, dtype=np.float64)[a:b, 0]
    series_name = str(ds.series.target)
    summary = runs.model_cache(t, f"summary:{key}:{layer}:{direction}",
                               lambda: unit_summary(arr["r"], arr["z"], reverse=bool(direction)))
    sort_opts = {"unit": "unit number", "memory": "measured memory (longest first)",
                 "mean_z": f"mean {z_name} (highest first)",
                 "z_saturated": f"share of time {z_name} is saturated (highest first)",
                 "mean_r": "mean r (highest first)"}
    st.subheader("Heatmaps: every unit at every step")
    set_col, sort_col = st.columns(2, gap="large")
    sort_by = sort_col.selectbox("Order the units (heatmap rows, from the top) by",
                                 list(sort_opts), format_func=sort_opts.get, key="gates_sort")
    order = unit_order(summary, sort_by, tutorial=not torch_z)          # (U,) unit per row

    tag = "Untrained (random weights) · " if t.key.startswith("untrained") else ""
    heat = [("r", arr["r"], "Reset gate r: 0 = ignore the old state in the candidate, 1 = use it", "r"),
            ("z", zs, f"Update gate, shown as {CONVENTIONS[TORCH if torch_z else TUTORIAL]}", z_short),
            ("n", arr["n"], "Candidate n (tanh, −1..1): the proposed new value", "n"),
            ("h", arr["h"], "Hidden state h (−1..1): what the unit carries forward", "h")]
    # Every cell is sent as an exact float32; the browser's cost grows with the cells, so a long
    # span shows r and z first (n and h one click away) and stays quick to draw.
    big = arr["z"].size > BIG_HEATMAP
    which = set_col.segmented_control(
        "Heatmaps of", list(HEATMAP_SETS), default="rz" if big else "all", required=True,
        format_func=HEATMAP_SETS.get, key=f"gates_heat_set_{'big' if big else 'small'}",
        persist_state="session",
        help="Long spans start with r and z only, so the page stays quick; pick n and h, or all four.")
    heat = [h for h in heat if h[0] in which.replace("all", "rznh")]
    # one figure per (span, layer, direction, convention, order, set): switching back re-sends it
    fig = runs.model_cache(
        t, f"heat:{key}:{layer}:{direction}:{torch_z}:{sort_by}:{which}", lambda: charts.gate_heatmaps(
            xs, target, series_name, [(g, title, v[:, order], cbar) for g, v, title, cbar in heat],
            order.tolist(), title=tag.rstrip(" ·") + " GRU" if tag else None),
        keep=6, bucket="fig")
    _player(t, got, fig, xs, layer, direction, a, torch_z, slow=big)
    _unit_lines(t, tag, xs, target, arr, zs, z_short, z_name, order[:3].tolist())
    _summary_table(summary, order, torch_z, z_name, b - a)


@st.fragment
def _unit_lines(t: runs.Trained, tag: str, xs, target, arr: dict, zs, z_axis: str, z_name: str,
                default_units: list) -> None:
    """Chosen units' r, z and h under the input (a fragment: picking units redraws only this)."""
    with friendly_errors("drawing the chosen units"):
        st.subheader("Chosen units under the input")
        U = t.model_cfg.hidden_size
        st.session_state["gates_units"] = [u for u in st.session_state.get("gates_units", default_units)
                                           if u < U]
        units = st.multiselect("Units to plot", list(range(U)), key="gates_units",
                               format_func=lambda u: f"unit {u}", max_selections=10)
        if not units:
            st.caption("Pick one or more units to plot their gates under the input series.")
            return
        idx = np.asarray(units)
        panels = [("r", "r (reset)", arr["r"][:, idx]), ("z", z_axis, zs[:, idx]),
                  ("h", "h (state)", arr["h"][:, idx])]
        page.chart(charts.gate_lines_figure(
            xs, target, str(t.dataset.series.target), panels, units,
            title=f"{tag}Input series, then r, {z_name} and h of the chosen units (same time axis)"),
            key="gates_lines")


def _summary_table(summary, order, torch_z: bool, z_name: str, T: int) -> None:
    st.subheader("Per-unit summary")
    low, high = SATURATION
    table = summary.assign(
        mean_z=summary["mean_z"] if torch_z else 1.0 - summary["mean_z"],
        **{c: 100 * summary[c] for c in ("z_saturated", "z_keeps", "z_writes", "memory_censored",
                                         "r_saturated")}).iloc[order]
    pct = lambda label, hlp: st.column_config.NumberColumn(label, format="%.1f %%", help=hlp)  # noqa: E731
    st.dataframe(table, hide_index=True, column_order=[
        "unit", "memory", "memory_censored", "tau_const", "mean_z", "z_saturated", "z_keeps",
        "z_writes", "mean_r", "r_saturated"], column_config={
        "unit": st.column_config.NumberColumn("unit", format="%d"),
        "mean_z": st.column_config.NumberColumn(f"mean {z_name}", format="%.3f"),
        "z_saturated": pct(f"{z_name} saturated", f"share of steps with z below {low} or above {high}"),
        "z_keeps": pct(f"keeps (z_torch > {high})", "old state kept almost unchanged"),
        "z_writes": pct(f"writes (z_torch < {low})", "candidate written almost entirely"),
        "memory": st.column_config.NumberColumn(
            "memory (steps, measured)", format="%.1f",
            help="Mean over start steps t of the first k with z_{t+1}·…·z_{t+k} < 1/e (PyTorch's z)"),
        "memory_censored": pct("censored (span ended first)", "share of start steps whose memory "
                               "ran to the end of the span: memory is then a lower bound"),
        "tau_const": st.column_config.NumberColumn(
            "approximation for constant z", format="%.1f",
            help="1 / (1 − mean z) steps (PyTorch's z): right only when z stays constant; "
                 "misleads for units whose z varies"),
        "mean_r": st.column_config.NumberColumn("mean r", format="%.3f"),
        "r_saturated": pct("r saturated", f"share of steps with r below {low} or above {high}"),
    })
    page.say(
        "Click a column header to sort. **Memory** is measured on this trace: with PyTorch's z the "
        "old state is multiplied by z at every step, so the share of $h_t$ still in the state k "
        r"steps later is $z_{t+1} \cdots z_{t+k}$; memory is the mean, over every start step t, of "
        f"the first k at which that share drops below 1/e (≈ 37 %). Over these {T} steps a start "
        "near the end has few steps left: if the share never dropped, it counts the steps left "
        "(censored; that share of starts is in the next column, and memory is then a lower "
        r"bound). The approximation for constant z is $1/(1 - \bar z)$ steps: right only when z "
        "does not vary. Saturated = "
        f"below {low} or above {high}: the gate is fully shut or open there.")


# ------------------------------------------------------------------- stepping through time
def _on_play(T: int) -> None:
    """on_click: play from the cursor (from the first step when the cursor is at the end)."""
    ss = st.session_state
    if int(ss.get(STEP_KEY, 1)) >= T:
        ss[STEP_KEY] = 1
    ss[PLAY_KEY] = True


def _on_pause() -> None:
    st.session_state[PLAY_KEY] = False


def _on_step(T: int, by: int) -> None:
    """on_click: pause and move the cursor ``by`` steps (kept inside 1..T)."""
    ss = st.session_state
    ss[PLAY_KEY] = False
    ss[STEP_KEY] = min(max(int(ss.get(STEP_KEY, 1)) + by, 1), T)


def _player(t: runs.Trained, got: dict, fig, xs, layer: int, direction: int, pos0: int,
            torch_z: bool, slow: bool) -> None:
    """Play / step through the traced span: a cursor on the heatmaps and that step's equations.

    The timestep lives in session state (``gates_ex_t``, 1-based) and the slider shows it; Play
    starts a fragment that advances it every :data:`PLAY_EVERY_S` seconds (twice that for big
    heatmaps, which are re-sent with every step) and redraws only the heatmaps' cursor and the
    filled-in step, and stops at the last step.
    """
    ss = st.session_state
    T = got["x"].shape[1]
    playing = bool(ss.get(PLAY_KEY))
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.button("Play", key="gates_play", icon=":material/play_arrow:", on_click=_on_play,
                  args=(T,), disabled=playing or T < 2)
        st.button("Pause", key="gates_pause", icon=":material/pause:", on_click=_on_pause,
                  disabled=not playing)
        st.button("Back", key="gates_back", icon=":material/skip_previous:", on_click=_on_step,
                  args=(T, -1))
        st.button("Step", key="gates_step", icon=":material/skip_next:", on_click=_on_step,
                  args=(T, 1))

    @st.fragment(run_every=(2 * PLAY_EVERY_S if slow else PLAY_EVERY_S) if playing else None)
    def frame() -> None:
        with friendly_errors("drawing this timestep"):
            step = int(ss.get(STEP_KEY, max(1, T // 2)))
            if ss.get(PLAY_KEY):
                step = min(step + 1, T)
                if step >= T:
                    ss[PLAY_KEY] = False          # the end of the span: stop there
            ss[STEP_KEY] = min(max(step, 1), T)
            step = int_slider("Timestep in the traced span (the cursor on the heatmaps)", 1, T,
                              max(1, T // 2), key=STEP_KEY)
            charts.set_cursor(fig, xs[step - 1])
            page.chart(fig, key="gates_heatmaps")
            page.say("The heatmaps share the time axis with the input on top: zoom into a stretch "
                     "of time (drag on any panel) and the others follow; double-click to zoom out. "
                     "Colour scales are fixed: 0..1 for the gates, −1..1 for n and h. The dark "
                     "line is the timestep filled in below.")
            _explanation(t, got, layer, direction, pos0, torch_z, step)
            if playing and not ss.get(PLAY_KEY):
                st.rerun()                        # leave the playing state once (buttons redraw)
    frame()


def _explanation(t: runs.Trained, got: dict, layer: int, direction: int, pos0: int,
                 torch_z: bool, step: int) -> None:
    """One unit at timestep ``step`` (1-based) with its numbers filled in."""
    st.subheader("One step, with the numbers filled in")
    T = got["x"].shape[1]
    U = t.model_cfg.hidden_size
    if st.session_state.get("gates_ex_unit") not in range(U):
        st.session_state.pop("gates_ex_unit", None)
    unit = st.selectbox("Unit", list(range(U)), key="gates_ex_unit",
                        format_func=lambda u: f"unit {u}", width=200)
    e = explain_step(t.model.rnn, got["x"], got["trace"], layer, step - 1, unit,
                     direction=direction)
    prev = "h_{t-1}" if direction == 0 else "h_{t+1}"
    where = f"layer {layer}" + (", backward direction" if direction else "")
    first = (step == 1 and direction == 0) or (step == T and direction == 1)
    if layer == 0 and len(e.x) <= 4:
        xdesc = "$x_t$ = [" + ", ".join(f"{v:.4f}" for v in e.x) + "] (the scaled input)"
    else:
        xdesc = (f"$x_t$ = layer {layer - 1}'s state at this step ({len(e.x)} values)" if layer
                 else f"$x_t$ = the {len(e.x)} scaled input columns")
    st.markdown(f"Step {step} of {T} ({runs.time_label(t.dataset, pos0 + step - 1)}), "
                f"{where}, unit {unit}: {xdesc}; this unit's previous state ${prev}[{unit}]$ = "
                f"{e.h_prev:.4f}" + (" (the zero initial state)" if first else "") + ".")
    st.latex(step_latex(e, tutorial=not torch_z))
    page.say(
        "Each bracket is this unit's row of a weight matrix times a vector, plus a bias, "
        "computed from the model's weights; the results agree with the trace to "
        f"{e.max_abs_diff:.1e} (rounding). Numbers are rounded to 4 decimals here"
        + ("; the backward direction reads time in reverse, so its previous state is the one "
           "at t+1." if direction else "."))
