"""Data page figures: the series with its split shaded and one example window, and its close-up.

Shapes: T time steps; a window reads L (lookback) inputs and predicts H (horizon) targets.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gru_core.charts.theme import (COLORS, LEGEND_BELOW, SPLIT_FILL, display_indices, line,
                                   themed, x_values)

WINDOW_COLORS = {"input": "#0284c7", "target": "#dc2626"}   # the example window's two parts
SPLIT_LABELS = {"train": "train", "val": "validation", "test": "test"}
DISPLAY_POINTS = 5_000        # a series is drawn with at most about this many points (display only)


def _edges(x) -> np.ndarray:
    """(n+1,) boundaries between consecutive x positions (half-way), extended at both ends.

    Works for numbers and datetimes, so a shaded span covers its points exactly.
    """
    x = np.asarray(x)
    is_time = np.issubdtype(x.dtype, np.datetime64)
    v = x.astype("datetime64[ns]").astype(np.int64).astype(np.float64) if is_time else x.astype(np.float64)
    if v.shape[0] == 1:
        e = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        mid = (v[1:] + v[:-1]) / 2
        e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    if is_time:                                                 # ISO strings: plain JSON for shapes
        return np.datetime_as_string(e.astype(np.int64).astype("datetime64[ns]"), unit="s")
    return e


def _shade_splits(fig: go.Figure, edges: np.ndarray, bounds: tuple[int, int], T: int) -> None:
    """Shade train / validation / test (colors SPLIT_FILL), each named with its size in the legend
    (in-chart labels would collide where a part is narrow)."""
    train_end, val_end = bounds
    for key, a, b in (("train", 0, train_end), ("val", train_end, val_end), ("test", val_end, T)):
        if b <= a:
            continue
        fig.add_vrect(x0=edges[a], x1=edges[b], fillcolor=SPLIT_FILL[key], line_width=0, layer="below")
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers",
                                 name=f"{SPLIT_LABELS[key]} part ({b - a:,} points)",
                                 marker=dict(symbol="square", size=13, color=COLORS[key], opacity=0.3),
                                 hoverinfo="skip"))


def _json_x(v):
    """One x position as plain JSON: an ISO string for a datetime, else a float."""
    if isinstance(v, np.datetime64):
        return str(np.datetime_as_string(v.astype("datetime64[ns]"), unit="s"))
    return float(v)


def _mark_window(fig: go.Figure, x, y, edges, start: int, lookback: int, horizon: int) -> None:
    """Draw one window: its L inputs and H targets as coloured spans with markers, each labelled
    at the top of its span (the target label one line lower, so narrow spans never collide)."""
    L, H = lookback, horizon
    spans = (("input", start, start + L, f"lookback L = {L}", 1.0),
             ("target", start + L, start + L + H, f"horizon H = {H}", 0.92))
    for part, a, b, text, label_y in spans:
        color = WINDOW_COLORS[part]
        fig.add_vrect(x0=edges[a], x1=edges[b], fillcolor=color, opacity=0.10, line_width=1,
                      line_color=color, line_dash="dot", layer="below")
        fig.add_trace(go.Scatter(x=x[a:b], y=np.asarray(y[a:b], dtype=np.float32), mode="markers",
                                 name=f"window inputs ({text})" if part == "input" else
                                 f"window targets ({text})",
                                 marker=dict(color=color, size=6, symbol="circle" if part == "input"
                                             else "diamond")))
        fig.add_annotation(x=_json_x(x[(a + b) // 2]), y=label_y, xref="x", yref="paper",
                           xanchor="center", yanchor="top", text=f"<b>{text}</b>", showarrow=False,
                           font=dict(size=11, color=color), bgcolor="rgba(255,255,255,0.8)")


def series_figure(x, y, *, name: str, bounds: tuple[int, int] | None = None,
                  window: tuple[int, int, int] | None = None, x_title: str = "time step",
                  title: str | None = None, height: int = 440) -> go.Figure:
    """The target series with the split shaded and one example window marked.

    Parameters
    ----------
    x, y : array-like (T,)
        Positions (numbers or datetimes) and values of the series.
    name : str
        Series name, also the y-axis title.
    bounds : (train_end, val_end), optional
        Split boundaries as in ``gru_core.windows.Dataset.bounds``; None draws no split.
    window : (start, lookback, horizon), optional
        The example window: inputs ``[start, start+L)``, targets ``[start+L, start+L+H)``.
    """
    x = x_values(x)
    y = np.asarray(y, dtype=np.float32)
    T = y.shape[0]
    keep = display_indices(y, DISPLAY_POINTS)
    fig = go.Figure()
    fig.add_trace(line(x[keep], y[keep], name=name, color=COLORS["series"], width=1.4))
    edges = _edges(x)
    if bounds is not None:
        _shade_splits(fig, edges, bounds, T)
    if window is not None:
        _mark_window(fig, x, y, edges, *window)
    themed(fig, title=title, height=height, x_title=x_title, y_title=name)
    fig.update_layout(hovermode="closest",           # legend under the plot: it never hides the title
                      legend=LEGEND_BELOW)
    fig.update_xaxes(range=[edges[0], edges[-1]])   # labels must not stretch the axis
    return fig


def window_figure(x, y, *, name: str, start: int, lookback: int, horizon: int,
                  x_title: str = "time step", title: str | None = None, height: int = 300) -> go.Figure:
    """Close-up of one window with some context: what the model reads and what it must predict."""
    L, H = lookback, horizon
    T = len(y)
    pad = max(2, (L + H) // 4)
    a, b = max(0, start - pad), min(T, start + L + H + pad)
    x = x_values(x)[a:b]
    y = np.asarray(y, dtype=np.float32)[a:b]
    fig = go.Figure()
    fig.add_trace(line(x, y, name=name, color="#94a3b8", width=1.2))
    edges = _edges(x)
    _mark_window(fig, x, y, edges, start - a, L, H)
    themed(fig, title=title, height=height, x_title=x_title, y_title=name)
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(range=[edges[0], edges[-1]])
    return fig
