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
# A legend under the plot, placed from the figure's bottom-left corner: plotly then reserves room
# for it under the x-axis title, whatever the font size (a paper-referenced y=-0.2 overlaps it
# when fonts grow or the plot shrinks), and wraps its entries at the figure's full width.
LEGEND_BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0.0, xref="container",
                    xanchor="left", x=0.0)
LEGEND_GROWTH = 0.25          # legends grow by this share of the scale's growth (1.4 -> 1.1)
PRESENT_SCALE = 1.4           # presentation mode (a projector): every chart font this much larger


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


def _font_slots(fig: go.Figure) -> dict:
    """name -> font object of every text slot of ``fig`` whose size presentation mode scales."""
    lay = fig.layout
    slots = {"font": lay.font, "legend": lay.legend.font}
    if lay.title.text:
        slots["title"] = lay.title.font
    for i, a in enumerate(lay.annotations):
        slots[f"annotation{i}"] = a.font
    for name in [n for n in lay if n.startswith(("xaxis", "yaxis"))]:
        slots[f"{name}.title"] = lay[name].title.font
        slots[f"{name}.tick"] = lay[name].tickfont
    for i, tr in enumerate(fig.data):
        cb = getattr(tr, "colorbar", None)
        if cb is not None:
            slots[f"trace{i}.colorbar.title"] = cb.title.font
            slots[f"trace{i}.colorbar.tick"] = cb.tickfont
    return slots


def scale_fonts(fig: go.Figure, scale: float) -> go.Figure:
    """Set every font of ``fig`` to ``scale`` times its themed size (in place; returns ``fig``).

    Presentation mode calls it with :data:`PRESENT_SCALE`, a normal view with 1.0. Scaled: the
    base font, the title, subplot titles and other annotations, axis titles and ticks, colour
    bars, and the legend by :data:`LEGEND_GROWTH` of that (under a plot its rows take the plot's
    height). A slot the figure leaves unset (it inherits, or Streamlit's chart theme
    fills it in) gets ``scale`` times the base size, and is unset again at scale 1. The themed
    sizes are kept in ``fig.layout.meta``, so calling it again on a cached figure (with the same
    or another scale) never compounds; taller text gets a taller figure.
    """
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    if float(meta.get("font_scale", 1.0)) == scale:
        return fig
    slots = _font_slots(fig)
    themed_sizes = meta.setdefault("font_sizes_1", {k: f.size for k, f in slots.items()})
    base = themed_sizes.get("font") or FONT["size"]
    for k, font in slots.items():
        size, s = themed_sizes.get(k), scale
        if k == "legend":           # a legend under a plot wraps into rows that take its height
            s = 1.0 + (scale - 1.0) * LEGEND_GROWTH
        if size is None and k != "font":
            font.size = None if s == 1.0 else round(base * s, 2)
        else:
            font.size = round((size or FONT["size"]) * s, 2)
    if fig.layout.height:                            # room for the larger text
        meta.setdefault("height_1", fig.layout.height)
        fig.layout.height = int(round(meta["height_1"] * (1 + (scale - 1) * 0.3)))
    fig.update_layout(meta={**meta, "font_scale": scale})
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


def _plain(text):
    """``text`` with ``&``, ``<`` and ``>`` as HTML entities, so plotly.js draws it literally (it
    reads ``<b>``, ``<a href>``, ``<br>``, ``&lt;``... in titles and names as markup)."""
    if not isinstance(text, str) or not any(ch in text for ch in "&<>"):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_labels(fig: go.Figure) -> go.Figure:
    """Make every title, axis title, legend title and trace name of ``fig`` plain text, in place.

    Those are where names from a user's data land (a CSV's column names, a file name). GRU Lab's
    own markup lives only in hover templates and annotations, which this leaves alone. A figure
    is converted once (``layout.meta["plain_labels"]`` marks it), so a cached figure drawn again by
    ``ui.page.chart`` is not escaped twice.
    """
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    if meta.get("plain_labels"):
        return fig
    lay = fig.layout
    if lay.title and lay.title.text:
        lay.title.text = _plain(lay.title.text)
    if lay.legend and lay.legend.title and lay.legend.title.text:
        lay.legend.title.text = _plain(lay.legend.title.text)
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        if axis.title and axis.title.text:
            axis.title.text = _plain(axis.title.text)
    for trace in fig.data:
        name = getattr(trace, "name", None)
        if name:
            trace.name = _plain(name)
    fig.update_layout(meta={**meta, "plain_labels": True})
    return fig
