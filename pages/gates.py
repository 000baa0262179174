"""Gates page: the GRU's reset (r) and update (z) gates, candidate (n) and state (h), step by step.

Every value comes from ``gru_core.gates.trace_gates`` run on the model's own weights and the
dataset's scaled inputs (cached per model and span in session state, so display options never
re-trace); ``gru_core.explain`` fills one unit's numbers into the equations.
"""
import numpy as np
import streamlit as st

from gru_core import charts
from gru_core.explain import SATURATION, explain_step, unit_summary
from gru_core.gates import trace_gates
from ui import runs
from ui.guard import friendly_errors
from ui.widgets import int_slider

MAX_SPAN = 5_000        # longest span traced and drawn at once
BIG_HEATMAP = 100_000   # cells (steps x units) above which only two heatmaps show at first
HEATMAP_SETS = {"rz": "gates r and z", "nh": "candidate n and state h", "all": "all four"}
TORCH, TUTORIAL = "torch", "tutorial"
CONVENTIONS = {TORCH: "z (PyTorch): share of the old state kept",
               TUTORIAL: "1 − z (tutorial): share of the candidate written"}

st.title("Gates")
st.markdown(
    "A GRU unit decides at every step how much of its old state to keep (**update gate z**) and "
    "how much of the old state to use when proposing a new value (**reset gate r**). This page "
    "re-runs the trained GRU's own weights step by step over a stretch of your data and shows "
    "every gate of every unit: heatmaps (time × unit), chosen units under the input series, a "
    "per-unit summary, and one step's arithmetic with the real numbers filled in. Choose what to "
    "trace below; then compare units that keep their state for long (z near 1) with units that "
    "follow the input (z near 0)."
)


def _subject() -> runs.Trained:
    """The trained GRU, or an untrained one of the current settings (clearly labelled)."""
    t = runs.trained()
    if t is not None and t.model_cfg.cell == "gru":
        st.caption(f"**Model** · {t.label}")
        return t
    if t is not None:
        st.warning(
            f"The current model is an **{t.model_cfg.cell.upper()}**: this page shows the gates of "
            "a GRU, which an LSTM or a plain RNN does not have (an LSTM has input, forget and output "
            "gates; a plain RNN none). To see trained gates, choose the GRU cell on the Train page "
            "and train again. Meanwhile, below: a GRU with random weights of the same size.",
            icon=":material/warning:")
    elif runs.is_running():
        st.info("A model is training right now; its gates appear here when the run ends. "
                "Meanwhile, below: the same GRU with its random starting weights.",
                icon=":material/hourglass_top:")
    else:
        st.info("No trained GRU yet: train one on the Train page (a few seconds on the default "
                "settings). Meanwhile, below: a GRU of the current settings with random starting "
                "weights on the current data — the equations work the same, the gates just mean "
                "nothing yet.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    u = runs.untrained_gru()
    rest = u.label.removeprefix("untrained (random weights) ")
    st.caption(f"**Model** · :orange-badge[untrained (random weights)] {rest}")
    return u


def _equations() -> None:
    with st.expander("The equations PyTorch computes", expanded=True, icon=":material/function:"):
        st.latex(r"""\begin{aligned}
r_t &= \sigma\left(W_{ir}\,x_t + b_{ir} + W_{hr}\,h_{t-1} + b_{hr}\right) && \text{reset gate}\\
z_t &= \sigma\left(W_{iz}\,x_t + b_{iz} + W_{hz}\,h_{t-1} + b_{hz}\right) && \text{update gate}\\
n_t &= \tanh\left(W_{in}\,x_t + b_{in} + r_t \odot \left(W_{hn}\,h_{t-1} + b_{hn}\right)\right)
    && \text{candidate}\\
h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1} && \text{new state}
\end{aligned}""")
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


def _span(t: runs.Trained):
    """Pick what to trace; return (key, first position, end position, description)."""
    ds = t.dataset
    T = ds.scaled.shape[0]
    L = ds.window.lookback
    val_end = ds.bounds[1]
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
        cut = " (first 5,000 steps)" if T - val_end > MAX_SPAN else ""
        desc = f"the whole test part{cut}, {b - a} steps in one pass from a zero state"
    else:
        default = (max(0, T - 2000), T - 1)
        lo, hi = st.slider("Steps to trace (positions in the series)", 0, T - 1, default,
                           key=f"gates_range_{T}")
        a, b = int(lo), int(hi) + 1
        if b - a > MAX_SPAN:
            b = a + MAX_SPAN
            st.caption(f"Traced the first {MAX_SPAN:,} steps of that range.")
        if b - a < 2:
            b = min(T, a + 2)
            a = b - 2
        desc = f"positions {a}..{b - 1}, {b - a} steps in one pass from a zero state"
    return f"span:{a}:{b}", a, b, desc + (". The model itself only ever reads " f"{L}-step windows; "
                                          "over a longer stretch its state simply carries on.")


def _trace(t: runs.Trained, key: str, a: int, b: int) -> dict:
    """Trace the model's GRU on scaled inputs a..b-1 (cached per model and span)."""
    def compute():
        rnn = t.model.rnn.eval()
        w = rnn.weight_ih_l0
        x = t.dataset.scaled[a:b].unsqueeze(0).to(device=w.device, dtype=w.dtype)  # (1, T, C)
        tr = trace_gates(rnn, x)
        return {"trace": tr, "x": x}
    return runs.model_cache(t, f"trace:{key}", compute, keep=3, bucket="trace")


def _arrays(tr, layer: int, direction: int) -> dict[str, np.ndarray]:
    """(T, H) float32 numpy arrays of r, z, n, h for one layer and direction."""
    sfx = "_reverse" if direction else ""
    return {g: getattr(tr, g + sfx)[layer, 0].detach().cpu().float().numpy() for g in "rznh"}


def _num(v: float) -> str:
    s = f"{v:.4f}"
    return f"({s})" if v < 0 else s


@st.fragment
def _explanation(t: runs.Trained, got: dict, layer: int, direction: int, pos0: int,
                 torch_z: bool) -> None:
    """One unit at one step with its numbers (a fragment: moving its slider redraws only this)."""
    with friendly_errors("filling in one step's numbers"):
        _explanation_body(t, got, layer, direction, pos0, torch_z)


def _explanation_body(t: runs.Trained, got: dict, layer: int, direction: int, pos0: int,
                      torch_z: bool) -> None:
    st.subheader("One step, with the numbers filled in")
    T = got["x"].shape[1]
    H = t.model_cfg.hidden_size
    c1, c2 = st.columns(2)
    with c1:
        step = int_slider("Timestep in the traced span", 1, T, max(1, T // 2), key="gates_ex_t")
    if st.session_state.get("gates_ex_unit") not in range(H):
        st.session_state.pop("gates_ex_unit", None)
    unit = c2.selectbox("Unit", list(range(H)), key="gates_ex_unit", format_func=lambda u: f"unit {u}")
    e = explain_step(t.model.rnn, got["x"], got["trace"], layer, step - 1, unit, direction=direction)
    prev = "h_{t-1}" if direction == 0 else "h_{t+1}"
    where = f"layer {layer}" + (", backward direction" if direction else "")
    first = (step == 1 and direction == 0) or (step == T and direction == 1)
    if layer == 0 and len(e.x) <= 4:
        xdesc = "$x_t$ = [" + ", ".join(f"{v:.4f}" for v in e.x) + "] (the scaled input)"
    else:
        xdesc = (f"$x_t$ = layer {layer - 1}'s state at this step ({len(e.x)} values)" if layer
                 else f"$x_t$ = the {len(e.x)} scaled input columns")
    st.markdown(f"Step {step} of the span ({runs.time_label(t.dataset, pos0 + step - 1)}), {where}, "
                f"unit {unit}: {xdesc}; this unit's previous state ${prev}[{unit}]$ = "
                f"{e.h_prev:.4f}" + (" (the zero initial state)" if first else "") + ".")
    j = f"[{unit}]"
    lines = [
        rf"r_t{j} &= \sigma\big((W_{{ir}}x_t + b_{{ir}}) + (W_{{hr}}{prev} + b_{{hr}})\big)",
        rf"&= \sigma\big(({_num(e.wx_r)} + {_num(e.b_ir)}) + ({_num(e.wh_r)} + {_num(e.b_hr)})\big)"
        rf" = \sigma({e.r_pre:.4f}) = \mathbf{{{e.r:.4f}}}",
        rf"z_t{j} &= \sigma\big((W_{{iz}}x_t + b_{{iz}}) + (W_{{hz}}{prev} + b_{{hz}})\big)",
        rf"&= \sigma\big(({_num(e.wx_z)} + {_num(e.b_iz)}) + ({_num(e.wh_z)} + {_num(e.b_hz)})\big)"
        rf" = \sigma({e.z_pre:.4f}) = \mathbf{{{e.z:.4f}}}",
        rf"n_t{j} &= \tanh\big((W_{{in}}x_t + b_{{in}}) + r_t{j}\,(W_{{hn}}{prev} + b_{{hn}})\big)",
        rf"&= \tanh\big(({_num(e.wx_n)} + {_num(e.b_in)}) + {e.r:.4f}\cdot({_num(e.wh_n)} + "
        rf"{_num(e.b_hn)})\big) = \tanh({e.n_pre:.4f}) = \mathbf{{{e.n:.4f}}}",
        rf"h_t{j} &= (1 - z_t{j})\,n_t{j} + z_t{j}\,{prev}{j}",
        rf"&= (1 - {e.z:.4f})\cdot{_num(e.n)} + {e.z:.4f}\cdot{_num(e.h_prev)}"
        rf" = \mathbf{{{e.h:.4f}}}",
    ]
    if not torch_z:
        lines += [
            rf"z^{{\mathrm{{tut}}}}_t{j} &= 1 - z_t{j} = \mathbf{{{e.z_write:.4f}}}"
            rf"\quad\text{{(tutorial convention: share of the candidate written)}}",
            rf"h_t{j} &= (1 - z^{{\mathrm{{tut}}}}_t{j})\,{prev}{j} + z^{{\mathrm{{tut}}}}_t{j}\,n_t{j}"
            rf" = {1 - e.z_write:.4f}\cdot{_num(e.h_prev)} + {e.z_write:.4f}\cdot{_num(e.n)}"
            rf" = \mathbf{{{e.h:.4f}}}",
        ]
    st.latex(r"\begin{aligned}" + r"\\".join(lines) + r"\end{aligned}")
    st.caption(
        "Each bracket is this unit's row of a weight matrix times a vector, plus a bias, computed "
        "from the model's weights; the results agree with the trace to "
        f"{e.max_abs_diff:.1e} (rounding). Numbers are rounded to 4 decimals here"
        + ("; the backward direction reads time in reverse, so its previous state is the one at "
           "t+1." if direction else "."))


@st.fragment
def _unit_lines(t: runs.Trained, tag: str, xs, target, arr: dict, zs, z_axis: str, z_name: str,
                default_units: list) -> None:
    """Chosen units' r, z and h under the input (a fragment: picking units redraws only this)."""
    with friendly_errors("drawing the chosen units"):
        st.subheader("Chosen units under the input")
        H = t.model_cfg.hidden_size
        picked = [u for u in st.session_state.get("gates_units", default_units) if u < H]
        st.session_state["gates_units"] = picked
        units = st.multiselect("Units to plot", list(range(H)), key="gates_units",
                               format_func=lambda u: f"unit {u}", max_selections=10)
        if not units:
            st.caption("Pick one or more units to plot their gates under the input series.")
            return
        idx = np.asarray(units)
        panels = [("r", "r (reset)", arr["r"][:, idx]), ("z", z_axis, zs[:, idx]),
                  ("h", "h (state)", arr["h"][:, idx])]
        st.plotly_chart(charts.gate_lines_figure(
            xs, target, str(t.dataset.series.target), panels, units,
            title=f"{tag}Input series, then r, {z_name} and h of the chosen units (same time axis)"),
            key="gates_lines")


with friendly_errors("tracing the GRU's gates"):
    t = _subject()
    _equations()
    cfg = t.model_cfg
    ds = t.dataset

    st.subheader("What to trace")
    key, a, b, desc = _span(t)
    c1, c2, _ = st.columns([1, 1, 2])
    if st.session_state.get("gates_layer") not in range(cfg.num_layers):
        st.session_state.pop("gates_layer", None)
    layer = c1.selectbox("Layer", list(range(cfg.num_layers)), key="gates_layer",
                         format_func=lambda k: f"layer {k}" + (" (reads the data)" if k == 0 else
                                                               f" (reads layer {k - 1})"))
    direction = 0
    if cfg.bidirectional:
        direction = c2.segmented_control("Direction", [0, 1], default=0, required=True,
                                         key="gates_direction",
                                         format_func=lambda d: "backward" if d else "forward")
    conv = st.segmented_control("z convention", [TORCH, TUTORIAL], default=TORCH, required=True,
                                key="gates_convention", persist_state="session",
                                format_func=CONVENTIONS.get,
                                help="Changes labels and plotted values only; the model is the same.")
    torch_z = conv == TORCH
    st.caption(f"Tracing {desc}")
    st.markdown("The two conventions describe the same model: "
                r"$z^{\mathrm{tutorial}} = 1 - z^{\mathrm{torch}}$ and "
                r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$ (PyTorch's z). Showing **"
                + CONVENTIONS[conv] + "**.")

    got = _trace(t, key, a, b)
    arr = _arrays(got["trace"], layer, direction)
    zs = arr["z"] if torch_z else 1.0 - arr["z"]                   # (T, H) displayed update gate
    z_name = "z" if torch_z else "1 − z"
    z_label = "z (PyTorch): share of old state kept" if torch_z else \
        "1 − z (tutorial z): share of candidate written"
    positions = np.arange(a, b)
    xs = runs.positions_to_axis(ds, positions)
    target = np.asarray(ds.series.values, dtype=np.float64)[a:b, 0]
    series_name = str(ds.series.target)

    summary = runs.model_cache(t, f"summary:{key}:{layer}:{direction}",
                               lambda: unit_summary(arr["r"], arr["z"]))
    sort_opts = {"unit": "unit number", "tau": "memory τ (longest first)",
                 "mean_z": f"mean {z_name} (highest first)",
                 "z_saturated": f"share of time {z_name} is saturated (highest first)",
                 "mean_r": "mean r (highest first)"}
    sort_by = st.selectbox("Order the units (heatmap rows, from the top) by", list(sort_opts),
                           format_func=sort_opts.get, key="gates_sort")
    shown_mean_z = summary["mean_z"] if torch_z else 1.0 - summary["mean_z"]
    sort_vals = {"unit": -summary["unit"].to_numpy(), "tau": summary["tau"].to_numpy(),
                 "mean_z": shown_mean_z.to_numpy(), "z_saturated": summary["z_saturated"].to_numpy(),
                 "mean_r": summary["mean_r"].to_numpy()}[sort_by]
    order = np.argsort(-sort_vals, kind="stable")                  # (H,) unit per heatmap row

    st.subheader("Heatmaps: every unit at every step")
    tag = "Untrained (random weights) · " if t.key.startswith("untrained:") else ""
    heat = [("r", arr["r"], "Reset gate r: 0 = ignore the old state in the candidate, 1 = use it", "r"),
            ("z", zs, f"Update gate, shown as {CONVENTIONS[conv]}", z_label.split(":")[0]),
            ("n", arr["n"], "Candidate n (tanh, −1..1): the proposed new value", "n"),
            ("h", arr["h"], "Hidden state h (−1..1): what the unit carries forward", "h")]
    # Every heatmap cell is sent as an exact float32; the browser's cost grows with the cells, so
    # a long span shows r and z first (n and h one click away) and stays quick to draw.
    big = arr["z"].size > BIG_HEATMAP
    which = st.segmented_control(
        "Heatmaps of", list(HEATMAP_SETS), default="rz" if big else "all", required=True,
        format_func=HEATMAP_SETS.get, key=f"gates_heat_set_{'big' if big else 'small'}",
        persist_state="session",
        help="Long spans start with r and z only, so the page stays quick; pick n and h, or all four.")
    heat = [h for h in heat if h[0] in which.replace("all", "rznh")]
    # one figure, built once per (span, layer, direction, convention, order, set): switching
    # display options back and forth only re-sends it
    fig_key = f"heat:{key}:{layer}:{direction}:{conv}:{sort_by}:{which}"
    fig = runs.model_cache(
        t, fig_key, lambda: charts.gate_heatmaps(
            xs, target, series_name, [(g, title, v[:, order], cbar) for g, v, title, cbar in heat],
            order.tolist(), title=tag.rstrip(" ·") + " GRU" if tag else None),
        keep=6, bucket="fig")
    st.plotly_chart(fig, key="gates_heatmaps")
    st.caption("The heatmaps share the time axis with the input on top: zoom into a stretch of "
               "time (drag on any panel) and the others follow; double-click to zoom out. Colour "
               "scales are fixed: 0..1 for the gates, −1..1 for n and h.")

    _unit_lines(t, tag, xs, target, arr, zs, z_label.split(":")[0], z_name, order[:3].tolist())

    st.subheader("Per-unit summary")
    low, high = SATURATION
    table = summary.assign(mean_z=shown_mean_z, z_saturated=100 * summary["z_saturated"],
                           z_keeps=100 * summary["z_keeps"], z_writes=100 * summary["z_writes"],
                           r_saturated=100 * summary["r_saturated"]).iloc[order]
    pct = lambda label, hlp: st.column_config.NumberColumn(label, format="%.1f %%", help=hlp)  # noqa: E731
    st.dataframe(table, hide_index=True, column_config={
        "unit": st.column_config.NumberColumn("unit", format="%d"),
        "mean_z": st.column_config.NumberColumn(f"mean {z_name}", format="%.3f"),
        "z_saturated": pct(f"{z_name} saturated", f"share of steps with z below {low} or above {high}"),
        "z_keeps": pct("keeps (z_torch > 0.95)", "old state kept almost unchanged"),
        "z_writes": pct("writes (z_torch < 0.05)", "candidate written almost entirely"),
        "tau": st.column_config.NumberColumn("memory τ (steps)", format="%.1f",
                                             help="1 / (1 − mean z), PyTorch's z"),
        "mean_r": st.column_config.NumberColumn("mean r", format="%.3f"),
        "r_saturated": pct("r saturated", f"share of steps with r below {low} or above {high}"),
    })
    st.caption("Click a column header to sort. Memory τ = 1 / (1 − mean z) steps with PyTorch's z "
               "(= 1 / mean z_tutorial): the old state is multiplied by z at every step, so its "
               "share decays like zᵏ and lasts about τ steps (∞ when z stays at 1). Saturated = "
               f"below {low} or above {high}: the gate is fully shut or open there.")

    _explanation(t, got, layer, direction, a, torch_z)
