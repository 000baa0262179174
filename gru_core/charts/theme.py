"""The one GRU Lab look: colours, fonts, the layout every figure gets, and small display helpers.

Every figure module of :mod:`gru_core.charts` builds on these, so all pages share one theme. Arrays
go to Plotly as float32 numpy arrays (compact encoding; DESIGN.md §4), long lines use ``Scattergl``.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

COLORS = {
    "series": "#14213d",      # the data
    "train": "#0f766e",       # training part / training loss
    "val": "#d97706",         # validation part / validation loss
    "test": "#7c3aed",        # test part
    "model": "#dc2626",       # the recurrent model's predictions
    "naive": "#64748b",       # baselines
    "seasonal": "#94a3b8",
    "r": "#2563eb",           # reset gate
    "z": "#db2777",           # update gate
    "n": "#059669",           # candidate
    "h": "#7c3aed",           # hidden state
}
SPLIT_FILL = {"train": "rgba(15,118,110,0.08)", "val": "rgba(217,119,6,0.10)",
              "test": "rgba(124,58,237,0.10)"}
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13, color="#14213d")
LONG_LINE = 5_000             # above this many points a line is drawn with Scattergl


def themed(fig: go.Figure, *, title: str | None = None, height: int = 360,
           x_title: str | None = None, y_title: str | None = None) -> go.Figure:
    """Apply the GRU Lab look (fonts, margins, grid, legend on top) to ``fig``."""
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left", font=dict(size=15)) if title else None,
        height=height,
        font=FONT,
        template="plotly_white",
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0),
        hovermode="x unified",
    )
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    fig.update_xaxes(showgrid=True, gridcolor="#e5e7eb", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#e5e7eb", zeroline=False)
    return fig


def line(x, y, *, name: str, color: str, dash: str | None = None, width: float = 1.8,
         **kwargs) -> go.Scatter | go.Scattergl:
    """A line trace; ``Scattergl`` for long series. ``y`` is sent as float32."""
    y = np.asarray(y, dtype=np.float32)
    cls = go.Scattergl if y.size > LONG_LINE else go.Scatter
    return cls(x=x, y=y, name=name, mode="lines",
               line=dict(color=color, dash=dash, width=width), **kwargs)


def as_f32(a) -> np.ndarray:
    """Float32 numpy copy of ``a`` (tensor or array) for compact figure encoding."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float32)



def display_indices(y, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep the look of the line ``y``.

    Min/max decimation: the series is cut into ``max_points // 2`` equal buckets and each bucket
    keeps its lowest and highest point, so spikes survive. For display only, never for metrics.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    k = -(-n // buckets)                                        # bucket size, ceil(n / buckets)
    pad = buckets * k - n
    lo = np.pad(np.where(np.isnan(y), np.inf, y), (0, pad), constant_values=np.inf).reshape(buckets, k)
    hi = np.pad(np.where(np.isnan(y), -np.inf, y), (0, pad), constant_values=-np.inf).reshape(buckets, k)
    base = np.arange(buckets) * k                               # (buckets,) first index per bucket
    idx = np.concatenate([base + lo.argmin(axis=1), base + hi.argmax(axis=1)])
    return np.unique(np.clip(idx, 0, n - 1))


def x_values(x) -> np.ndarray:
    """Plotly-friendly x: datetimes stay datetimes, anything else becomes float32 numbers."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.datetime64):
        return x.astype("datetime64[ns]")
    return x.astype(np.float32) if np.issubdtype(x.dtype, np.number) else x


def is_dates(x) -> bool:
    """True for datetime-like axes (pandas DatetimeIndex, datetime64 arrays)."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and np.issubdtype(dtype, np.datetime64)


def units_label(units: str) -> str:
    """Axis title for values in the data's units: ``units`` if given, else "value (data units)"."""
    return f"{units}" if units else "value (data units)"
