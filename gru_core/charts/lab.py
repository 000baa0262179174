"""Figures of the Lab and Runs pages: what-if before/after, gate tape frames, runs side by side.

Same theme as :mod:`gru_core.charts` (``themed``, ``line``, ``COLORS``, ``FONT``); plain numpy in,
a Plotly figure out. "Before" is always dotted grey-blue, "after" solid in the quantity's colour.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gru_core.charts.theme import COLORS, LEGEND_BELOW, as_f32, line, themed

__all__ = ["BEFORE", "RUN_COLORS", "whatif_figure", "gate_before_after_figure",
           "tape_loss_figure", "overlay_loss_figure", "overlay_forecast_figure",
           "probe_forecast_figure"]

BEFORE = "#94a3b8"                                    # every "before" line
RUN_COLORS = ["#2563eb", "#dc2626", "#059669"]        # runs side by side (at most three)


def whatif_figure(x_in, before_in, after_in, x_out, before_fc, after_fc, actual=None, *,
                  units: str = "value", title: str | None = None, height: int = 460) -> go.Figure:
    """The window's input and forecast before and after an intervention, on one time axis.

    Parameters
    ----------
    x_in : array-like (L,)
        Positions (or dates) of the inputs; ``x_out`` (H,) those of the forecast steps.
    before_in, after_in : array-like (L,)
        The target column as the data had it and as edited (data units).
    before_fc, after_fc : array-like (H,)
        The model's forecast for the original window and under the edits / clamps.
    actual : array-like (H,), optional
        What really came next.
    """
    fig = go.Figure()
    fig.add_trace(line(x_in, before_in, name="input, original", color=BEFORE, dash="dot", width=2))
    fig.add_trace(line(x_in, after_in, name="input, edited", color=COLORS["series"], width=2))
    if actual is not None:
        fig.add_trace(go.Scatter(x=x_out, y=as_f32(actual), name="actual", mode="lines+markers",
                                 line=dict(color="#64748b", dash="dash", width=1.5)))
    fig.add_trace(go.Scatter(x=x_out, y=as_f32(before_fc), name="forecast, before",
                             mode="lines+markers", line=dict(color=BEFORE, dash="dot", width=2.5)))
    fig.add_trace(go.Scatter(x=x_out, y=as_f32(after_fc), name="forecast, after",
                             mode="lines+markers", line=dict(color=COLORS["model"], width=2.5)))
    themed(fig, title=title, height=height, x_title="position in the series", y_title=units)
    fig.update_layout(legend=LEGEND_BELOW)          # under the plot: clear of the title
    return fig


def gate_before_after_figure(x, panels, units, *, title: str | None = None) -> go.Figure:
    """Chosen units' gates before (dotted) and after (solid) an intervention.

    Parameters
    ----------
    x : array-like (L,)
        Timesteps or positions.
    panels : list of (label, before (L, U'), after (L, U'), lo, hi)
        One row per quantity; columns follow ``units``.
    units : sequence of int
        (U',) unit numbers.
    """
    palette = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2"]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for p, (label, before, after, lo, hi) in enumerate(panels, start=1):
        b, a = as_f32(before), as_f32(after)
        for i, u in enumerate(units):
            c = palette[i % len(palette)]
            fig.add_trace(line(x, b[:, i], name=f"unit {u}, before", color=c, dash="dot",
                               width=1.4, legendgroup=f"u{u}b", showlegend=p == 1, opacity=0.6),
                          row=p, col=1)
            fig.add_trace(line(x, a[:, i], name=f"unit {u}, after", color=c, width=2.2,
                               legendgroup=f"u{u}", showlegend=p == 1), row=p, col=1)
        pad = 0.05 * (hi - lo)
        fig.update_yaxes(title_text=label, range=[lo - pad, hi + pad], row=p, col=1)
    themed(fig, title=title, height=150 + 190 * len(panels))
    fig.update_xaxes(title_text="timestep in the window (0 = oldest input)", row=len(panels), col=1)
    return fig


def tape_loss_figure(epoch_train, epoch_val, epoch: int, *, height: int = 300,
                     title: str | None = None) -> go.Figure:
    """Per-epoch losses with the shown tape frame's epoch marked (a line and its two points)."""
    tr, va = np.asarray(epoch_train, np.float64), np.asarray(epoch_val, np.float64)
    ep = np.arange(1, tr.shape[0] + 1)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ep, y=tr.astype(np.float32), name="train loss", mode="lines+markers",
                             line=dict(color=COLORS["train"], width=2), marker=dict(size=4)))
    fig.add_trace(go.Scatter(x=ep, y=va.astype(np.float32), name="validation loss",
                             mode="lines+markers", line=dict(color=COLORS["val"], width=2),
                             marker=dict(size=4)))
    fig.add_vline(x=epoch, line=dict(color=COLORS["model"], width=2, dash="dash"))
    if 1 <= epoch <= tr.shape[0]:
        i = epoch - 1
        fig.add_trace(go.Scatter(x=[epoch, epoch], y=np.array([tr[i], va[i]], np.float32),
                                 name=f"epoch {epoch}", mode="markers",
                                 marker=dict(color=COLORS["model"], size=12, symbol="diamond")))
    themed(fig, title=title, height=height, x_title="epoch (0 = before training)",
           y_title="MSE loss (scaled units)")
    fig.update_xaxes(range=[-0.5, max(tr.shape[0], 1) + 0.5])
    return fig


def overlay_loss_figure(curves: dict, *, height: int = 380, title: str | None = None) -> go.Figure:
    """Loss curves of several runs: ``curves[name] = (epoch_train, epoch_val)``; train dotted."""
    fig = go.Figure()
    for i, (name, (tr, va)) in enumerate(curves.items()):
        c = RUN_COLORS[i % len(RUN_COLORS)]
        ep = np.arange(1, len(tr) + 1)
        fig.add_trace(go.Scatter(x=ep, y=as_f32(tr), name=f"{name} · train", mode="lines",
                                 line=dict(color=c, dash="dot", width=1.6)))
        fig.add_trace(go.Scatter(x=ep, y=as_f32(va), name=f"{name} · validation", mode="lines",
                                 line=dict(color=c, width=2.6)))
    themed(fig, title=title, height=height, x_title="epoch", y_title="MSE loss (scaled units)")
    fig.update_layout(legend=LEGEND_BELOW)
    return fig


def overlay_forecast_figure(x, actual, forecasts: dict, *, units: str = "value", step: int = 1,
                            height: int = 380, title: str | None = None) -> go.Figure:
    """Actual values and several runs' forecasts ``step`` steps ahead over the test windows."""
    fig = go.Figure()
    fig.add_trace(line(x, actual, name="actual", color=COLORS["series"], width=2))
    for i, (name, y) in enumerate(forecasts.items()):
        fig.add_trace(line(x, y, name=name, color=RUN_COLORS[i % len(RUN_COLORS)], width=1.8))
    return themed(fig, title=title, height=height, y_title=units,
                  x_title=f"target position ({step}-step-ahead forecast)")


def probe_forecast_figure(x_in, y_in, x_out, actual, forecast, final=None, *, epoch: int,
                          units: str = "value", height: int = 320) -> go.Figure:
    """The probe window, what came next, and its forecast at one tape frame (and at the end)."""
    fig = go.Figure()
    fig.add_trace(line(x_in, y_in, name="input", color=COLORS["series"], width=2))
    fig.add_trace(go.Scatter(x=x_out, y=as_f32(actual), name="actual", mode="lines+markers",
                             line=dict(color="#64748b", dash="dash", width=1.5)))
    if final is not None:
        fig.add_trace(go.Scatter(x=x_out, y=as_f32(final), name="forecast, last frame",
                                 mode="lines+markers", line=dict(color=BEFORE, dash="dot", width=2)))
    fig.add_trace(go.Scatter(x=x_out, y=as_f32(forecast), name=f"forecast, epoch {epoch}",
                             mode="lines+markers", line=dict(color=COLORS["model"], width=2.5)))
    return themed(fig, height=height, x_title="position in the series", y_title=units)
