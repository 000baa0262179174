"""Figures of the Cell, Compare and Memory pages, in the shared GRU Lab theme.

Each function takes plain numpy data (never Streamlit objects) and returns a Plotly figure whose
title and axis titles name the convention and units. Imports the theme from
``gru_core.charts`` (themed, line, COLORS, FONT, as_f32).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gru_core.charts.theme import COLORS, FONT, LEGEND_BELOW, as_f32, line, themed

CELL_COLORS = {"gru": "#7c3aed", "lstm": "#0f766e", "rnn": "#dc2626"}   # Compare page lines
UNIT_COLORS = ("#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0284c7", "#dc2626", "#64748b")
LOG_FLOOR = 1e-300            # values at or below this are not drawn on a log axis


def _legend_below(fig: go.Figure) -> go.Figure:
    """Legend under the plot, so a long legend never covers the title."""
    fig.update_layout(legend=LEGEND_BELOW,
                      margin=dict(b=60))
    return fig


def cell_color(key: str, i: int = 0) -> str:
    """The Compare page colour of a registered cell (a unit colour for cells added later)."""
    return CELL_COLORS.get(key, UNIT_COLORS[i % len(UNIT_COLORS)])


def _positive(v) -> np.ndarray:
    """float32 copy with values <= LOG_FLOOR (or non-finite) as NaN, for log axes."""
    a = np.asarray(v, dtype=np.float64)
    return as_f32(np.where(np.isfinite(a) & (a > LOG_FLOOR), a, np.nan))


# ------------------------------------------------------------------------------------ cell page
def cell_sequence_figure(run, step: int, *, tutorial: bool = False, height: int = 560) -> go.Figure:
    """Input, gates r and z, candidate n and state h of a :class:`gru_core.cell.CellRun`.

    ``step`` (0-based) is marked with a vertical line; steps after it are drawn faded so the
    stepper "plays" the sequence. ``tutorial`` plots z' = 1 - z instead of PyTorch's z.
    """
    T, U = run.h.shape
    t = np.arange(T)
    zname = "z′ = 1 − z (tutorial: share written)" if tutorial else "z (PyTorch: share kept)"
    rows = (("input x_t", [(run.xs, "x_t", COLORS["series"], None)]),
            ("reset gate r", [(run.r[:, j], f"r unit {j}", UNIT_COLORS[j], None) for j in range(U)]),
            (zname, [((1 - run.z[:, j]) if tutorial else run.z[:, j], f"z unit {j}", UNIT_COLORS[j], None)
                     for j in range(U)]),
            ("candidate n (PyTorch)", [(run.n[:, j], f"n unit {j}", UNIT_COLORS[j], None) for j in range(U)]),
            ("state h (solid: PyTorch reset-after; dotted: paper reset-before)",
             [(run.h[:, j], f"h unit {j}", UNIT_COLORS[j], None) for j in range(U)]
             + [(run.h_before[:, j], f"h unit {j} (reset before)", UNIT_COLORS[j], "dot") for j in range(U)]))
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[r[0] for r in rows])
    shown = slice(0, step + 1)
    for i, (_, traces) in enumerate(rows, start=1):
        for y, name, color, dash in traces:
            y = np.asarray(y)
            fig.add_trace(go.Scatter(x=t, y=as_f32(y), mode="lines", name=name, opacity=0.25,
                                     line=dict(color=color, dash=dash, width=1.2), showlegend=False,
                                     hoverinfo="skip"), row=i, col=1)
            fig.add_trace(go.Scatter(x=t[shown], y=as_f32(y[shown]), mode="lines+markers", name=name,
                                     line=dict(color=color, dash=dash, width=2), marker=dict(size=5),
                                     showlegend=(i == len(rows) and dash is None)), row=i, col=1)
        if i in (2, 3):
            fig.update_yaxes(range=[-0.05, 1.05], row=i, col=1)
    fig.add_vline(x=step, line=dict(color="#14213d", width=1, dash="dash"))
    themed(fig, title=f"The cell over {T} steps (now: step {step}); values are dimensionless",
           height=height)
    fig.update_xaxes(title_text="step t", row=len(rows), col=1)
    fig.update_annotations(font=dict(size=12, color=FONT["color"]), x=0.0, xanchor="left")
    return fig


# --------------------------------------------------------------------------------- compare page
def loss_overlay_figure(curves: dict, *, height: int = 360) -> go.Figure:
    """Per-epoch train (dotted) and validation (solid) loss of several runs.

    ``curves``: label -> (color, epoch_train list, epoch_val list). MSE in scaled units, log y.
    """
    fig = go.Figure()
    for label, (color, train, val) in curves.items():
        ep = np.arange(1, len(val) + 1)
        fig.add_trace(go.Scatter(x=ep, y=_positive(val), name=f"{label} validation", mode="lines+markers",
                                 line=dict(color=color, width=2)))
        fig.add_trace(go.Scatter(x=np.arange(1, len(train) + 1), y=_positive(train), name=f"{label} train",
                                 mode="lines", line=dict(color=color, width=1.2, dash="dot")))
    themed(fig, title="Loss per epoch (MSE in scaled units, log axis; lower is better)", height=height,
           x_title="epoch", y_title="MSE (scaled)")
    fig.update_yaxes(type="log")
    fig.update_xaxes(dtick=1 if max((len(v[2]) for v in curves.values()), default=0) <= 12 else None)
    return _legend_below(fig)


def grad_time_figure(curves: dict, *, title: str, height: int = 380) -> go.Figure:
    """||dL/dh_t|| against t on a log axis, one line per entry.

    ``curves``: label -> (color, dash, values (T,)). t = 0 is the oldest input; the forecast is
    made after t = T-1.
    """
    fig = go.Figure()
    T = 0
    for label, (color, dash, g) in curves.items():
        g = np.asarray(g)
        T = max(T, g.shape[0])
        fig.add_trace(go.Scatter(x=np.arange(g.shape[0]), y=_positive(g), name=label, mode="lines",
                                 line=dict(color=color, dash=dash, width=2)))
    themed(fig, title=title, height=height,
           x_title=f"input timestep t (0 = oldest, {T - 1} = last, where the forecast is made)",
           y_title="‖∂loss/∂h_t‖ (log)")
    fig.update_yaxes(type="log", exponentformat="power")
    return _legend_below(fig)


def clipping_figure(free, clipped=None, *, height: int = 420) -> go.Figure:
    """Gradient norm (before clipping) and loss per SGD step, without and (optionally) with
    clipping: two :class:`gru_core.gradients.ClipHistory`."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=["global gradient norm before clipping (log)",
                                        "training loss (MSE, scaled units, log)"])
    runs = [(free, "no clipping", COLORS["model"])]
    if clipped is not None:
        runs.append((clipped, f"clipped to norm {clipped.clip:g}", COLORS["train"]))
    for hist, label, color in runs:
        steps = np.arange(1, len(hist.grad_norm) + 1)
        fig.add_trace(go.Scatter(x=steps, y=_positive(hist.grad_norm), name=label, mode="lines",
                                 line=dict(color=color, width=2)), row=1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=_positive(hist.loss), name=label, mode="lines", showlegend=False,
                                 line=dict(color=color, width=2)), row=2, col=1)
        if hist.diverged_at is not None:
            fig.add_vline(x=hist.diverged_at, line=dict(color=color, dash="dash"))
            fig.add_annotation(x=hist.diverged_at, y=0.0, yref="paper", text=f"{label}: loss not finite "
                               f"at step {hist.diverged_at} ", showarrow=False, xanchor="right",
                               yanchor="bottom", font=dict(color=color, size=11))
    if clipped is not None:
        fig.add_hline(y=clipped.clip, line=dict(color=COLORS["train"], dash="dot"), row=1, col=1)
    themed(fig, title="Exploding gradients: the same plain-SGD run without and with clipping", height=height)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="SGD step", row=2, col=1)
    fig.update_annotations(font=dict(size=12))
    return fig


# ---------------------------------------------------------------------------------- memory page
def impulse_figure(x_axis, res, layer_row: int, units, *, layer_label: str, height: int = 560) -> go.Figure:
    """Probe input, |h - h_baseline| per unit and (GRU) the running product of z after t0."""
    panels = 3 if res.z_product is not None else 2
    titles = ["input (scaled): baseline grey, probed black",
              f"|h_t − h_t baseline| per unit, {layer_label} (state units, −1..1 scale)"]
    if panels == 3:
        titles.append("running product of z after t0 (PyTorch z = share kept): z_{t0+1}·…·z_t")
    fig = make_subplots(rows=panels, cols=1, shared_xaxes=True, vertical_spacing=0.07, subplot_titles=titles)
    c = res.column
    fig.add_trace(line(x_axis, res.x_base[:, c], name="baseline input", color=COLORS["naive"]), row=1, col=1)
    fig.add_trace(line(x_axis, res.x_probe[:, c], name="probed input", color=COLORS["series"]), row=1, col=1)
    for i, j in enumerate(units):
        color = UNIT_COLORS[i % len(UNIT_COLORS)]
        fig.add_trace(line(x_axis, res.response[layer_row, :, j], name=f"unit {j}", color=color), row=2, col=1)
        if panels == 3:
            fig.add_trace(line(x_axis, res.z_product[layer_row, :, j], name=f"unit {j}", color=color,
                               showlegend=False), row=3, col=1)
    if panels == 3:
        fig.update_yaxes(range=[0, 1.02], row=3, col=1)
    fig.add_vline(x=x_axis[res.t0], line=dict(color="#14213d", dash="dash", width=1))
    article = "an" if res.kind[0] in "aeiou" else "a"
    themed(fig, title=f"How long the state answers {article} {res.kind} of size {res.size:g} at step {res.t0}",
           height=height)
    fig.update_annotations(font=dict(size=12), x=0.0, xanchor="left")
    return _legend_below(fig)


def sensitivity_figure(x_axis, window, S, *, x_title: str, height: int = 620) -> go.Figure:
    """The memory map: input window, heatmap of dy_hat_k/dx_t (horizon step x input time) and
    the column sums sum_k |dy_hat_k/dx_t|, on one shared time axis."""
    S = np.asarray(S, dtype=np.float64)
    H = S.shape[0]
    lim = float(np.max(np.abs(S))) or 1.0
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.25, 0.5, 0.25],
                        subplot_titles=["the input window (scaled target)",
                                        "∂ŷ_k/∂x_t: scaled forecast per scaled input (red +, blue −)",
                                        "which past steps matter: Σ_k |∂ŷ_k/∂x_t|"])
    fig.add_trace(line(x_axis, window, name="input (scaled)", color=COLORS["series"]), row=1, col=1)
    fig.add_trace(go.Heatmap(x=x_axis, y=np.arange(1, H + 1), z=as_f32(S), zmin=-lim, zmax=lim,
                             colorscale="RdBu_r", name="∂ŷ/∂x",
                             colorbar=dict(title="∂ŷ_k/∂x_t", len=0.5, y=0.5),
                             hovertemplate="t=%{x}<br>forecast step %{y}<br>∂ŷ/∂x=%{z:.3g}<extra></extra>"),
                  row=2, col=1)
    fig.add_trace(line(x_axis, np.abs(S).sum(axis=0), name="Σ_k |∂ŷ_k/∂x_t|", color=COLORS["model"]),
                  row=3, col=1)
    fig.update_yaxes(title_text="forecast step k", row=2, col=1)
    themed(fig, title="Memory map: how each forecast step depends on each input step (local gradients)",
           height=height)
    fig.update_xaxes(title_text=x_title, row=3, col=1)
    fig.update_layout(hovermode="closest")
    fig.update_annotations(font=dict(size=12), x=0.0, xanchor="left")
    return _legend_below(fig)
