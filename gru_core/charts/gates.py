"""Gates page figures: gate heatmaps (time x unit) and chosen units' gates, under the input series.

Shapes: T traced time steps, U units. Colour ranges are fixed: [0, 1] for r and z, [-1, 1] for n, h.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gru_core.charts.theme import COLORS, FONT, as_f32, is_dates, line, themed

GATE_RANGE = {"r": (0.0, 1.0), "z": (0.0, 1.0), "n": (-1.0, 1.0), "h": (-1.0, 1.0)}
FAST_HEATMAP = 20_000         # above this many cells a heatmap is drawn as one scaled image
GATE_SCALE = {
    "r": [[0.0, "#f8fafc"], [1.0, "#1d4ed8"]],
    "z": [[0.0, "#f8fafc"], [1.0, "#be185d"]],
    "n": "RdBu_r",
    "h": "RdBu_r",
}


def gate_heatmaps(x, series_y, series_name: str, panels: list, units, *,
                  title: str | None = None) -> go.Figure:
    """The input series, then one heatmap per gate, stacked in one figure on one time axis.

    One figure (not four) so that every heatmap lines up with the input step for step, zooming
    or panning the time axis moves all of them together, and the browser lays it out once.

    Parameters
    ----------
    x : array-like
        (T,) dates or positions of the traced inputs.
    series_y : array-like
        (T,) the input series (target column) in the data's units, drawn in a strip on top.
    series_name : str
        Its name (the strip's axis title).
    panels : list of (gate, title, values, colorbar_title)
        ``gate`` in r/z/n/h fixes the colour range ([0, 1] for gates, [-1, 1] for n and h);
        ``values`` is (T, U) with columns in the order to draw the rows (top first). Each heatmap
        trace is named ``colorbar_title``.
    units : sequence of int
        (U,) unit numbers, labelling the rows.
    """
    from plotly.subplots import make_subplots

    labels = [f"unit {u}" for u in units]
    n = len(labels)
    heat_px = int(min(480, max(200, 30 + 6 * n)))          # one heatmap's height
    strip_px, gap_px = 120, 48
    heights = [strip_px] + [heat_px] * len(panels)
    total = sum(heights) + gap_px * len(panels)
    fig = make_subplots(rows=len(heights), cols=1, shared_xaxes=True,
                        vertical_spacing=gap_px / total, row_heights=heights,
                        subplot_titles=[f"Input: {series_name} (data units)"]
                        + [p[1] for p in panels])
    fig.add_trace(line(x, series_y, name=series_name, color=COLORS["series"], width=1.3,
                       showlegend=False), row=1, col=1)
    fig.update_yaxes(title_text=series_name, nticks=4, row=1, col=1)
    for r, (gate, _, values, cbar) in enumerate(panels, start=2):
        z = np.ascontiguousarray(as_f32(values).T)          # (U, T) rows = units
        lo, hi = GATE_RANGE[gate]
        dom = fig.layout[f"yaxis{r}"].domain                 # where this row sits (paper units)
        fig.add_trace(go.Heatmap(
            z=z, x=x, y=labels, zmin=lo, zmax=hi, colorscale=GATE_SCALE[gate], name=cbar,
            colorbar=dict(title=dict(text=cbar, side="right"), thickness=14, x=1.01,
                          xanchor="left", y=(dom[0] + dom[1]) / 2, yanchor="middle",
                          len=dom[1] - dom[0]),
            hovertemplate=f"{cbar}<br>%{{y}}<br>%{{x}}<br>value %{{z:.3f}}<extra></extra>",
            zsmooth="fast" if z.size > FAST_HEATMAP else False,  # one image, not one brick per cell
        ), row=r, col=1)
        fig.update_yaxes(type="category", autorange="reversed", showgrid=False,
                         showticklabels=n <= 40, title_text="unit" if n > 40 else None,
                         row=r, col=1)
    themed(fig, title=title, height=total + 90)
    fig.update_layout(margin=dict(l=110, r=120, t=60 if title else 40, b=10), hovermode="closest")
    fig.update_annotations(font=dict(size=14, color=FONT["color"]), x=0.0, xanchor="left")
    fig.update_xaxes(showgrid=False)
    fig.update_xaxes(title_text="date" if is_dates(x) else "position in the series",
                     row=len(heights), col=1)
    return fig


def gate_lines_figure(x, series_y, series_name: str, panels: list, units, *,
                      title: str | None = None) -> go.Figure:
    """Chosen units' gates under the input series, all on one shared time axis.

    Parameters
    ----------
    x : array-like
        (T,) dates or positions.
    series_y : array-like
        (T,) the input series (target column) in the data's units.
    panels : list of (gate, label, values)
        ``gate`` in r/z/n/h (colour range), ``label`` the panel's axis title and ``values``
        (T, U) for the chosen units.
    units : sequence of int
        (U,) unit numbers (legend names).
    """
    from plotly.subplots import make_subplots

    rows = 1 + len(panels)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[1.3] + [1.0] * len(panels))
    fig.add_trace(line(x, series_y, name=series_name, color=COLORS["series"], showlegend=False),
                  row=1, col=1)
    fig.update_yaxes(title_text=series_name, row=1, col=1)
    palette = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626",
               "#65a30d", "#9333ea", "#0f766e"]
    for p, (gate, label, values) in enumerate(panels, start=2):
        v = as_f32(values)
        for i, u in enumerate(units):
            fig.add_trace(line(x, v[:, i], name=f"unit {u}", color=palette[i % len(palette)],
                               legendgroup=f"u{u}", showlegend=p == 2, width=1.5),
                          row=p, col=1)
        lo, hi = GATE_RANGE[gate]
        fig.update_yaxes(title_text=label, range=[lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)],
                         row=p, col=1)
    themed(fig, title=title, height=170 + 150 * rows)
    fig.update_xaxes(title_text="date" if is_dates(x) else "position in the series", row=rows, col=1)
    return fig


CURSOR = dict(color="#111827", width=2)


def set_cursor(fig: go.Figure, x) -> go.Figure:
    """Mark time ``x`` on :func:`gate_heatmaps`' figure with one vertical line (in place).

    All panels share one time axis, so one line spanning the figure's height crosses the input
    strip and every heatmap at the same step. Any earlier cursor is replaced; returns ``fig``.
    """
    x = x.isoformat() if hasattr(x, "isoformat") else (str(x) if isinstance(x, np.datetime64) else
                                                      float(x))
    fig.layout.shapes = [dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                              line=CURSOR, layer="above", name="cursor")]
    return fig
