"""Every Plotly figure GRU Lab draws, built in one place so all pages share one theme.

Functions take plain numpy / pandas data (never Streamlit objects) and return a
``plotly.graph_objects.Figure``; pages only call ``st.plotly_chart(fig)``. Arrays are passed to
Plotly as float32 numpy arrays (compact encoding; DESIGN.md §4), long lines use ``Scattergl``.

Sections: theme -> data -> training -> forecast -> gates.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

# --------------------------------------------------------------------------------------- theme
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


# ---------------------------------------------------------------------------------------- data
WINDOW_COLORS = {"input": "#0284c7", "target": "#dc2626"}   # the example window's two parts
SPLIT_LABELS = {"train": "train", "val": "validation", "test": "test"}
DISPLAY_POINTS = 5_000        # a series is drawn with at most about this many points (display only)


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


def _x_values(x) -> np.ndarray:
    """Plotly-friendly x: datetimes stay datetimes, anything else becomes float32 numbers."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.datetime64):
        return x.astype("datetime64[ns]")
    return x.astype(np.float32) if np.issubdtype(x.dtype, np.number) else x


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
    x = _x_values(x)
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
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0))
    fig.update_xaxes(range=[edges[0], edges[-1]])   # labels must not stretch the axis
    return fig


def window_figure(x, y, *, name: str, start: int, lookback: int, horizon: int,
                  x_title: str = "time step", title: str | None = None, height: int = 300) -> go.Figure:
    """Close-up of one window with some context: what the model reads and what it must predict."""
    L, H = lookback, horizon
    T = len(y)
    pad = max(2, (L + H) // 4)
    a, b = max(0, start - pad), min(T, start + L + H + pad)
    x = _x_values(x)[a:b]
    y = np.asarray(y, dtype=np.float32)[a:b]
    fig = go.Figure()
    fig.add_trace(line(x, y, name=name, color="#94a3b8", width=1.2))
    edges = _edges(x)
    _mark_window(fig, x, y, edges, start - a, L, H)
    themed(fig, title=title, height=height, x_title=x_title, y_title=name)
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(range=[edges[0], edges[-1]])
    return fig


# ------------------------------------------------------------------------------------ training
LOSS_POINTS = 500             # the live per-step curve is drawn with at most this many points


def ema(values, weight: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average: s_t = w s_{t-1} + (1 - w) v_t, divided by 1 - w^t.

    Meant for display curves of at most a few thousand points (a plain loop).
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    s = 0.0
    for t, value in enumerate(v):
        s = weight * s + (1.0 - weight) * value
        out[t] = s / (1.0 - weight ** (t + 1))
    return out


def _bucket_means(x, y, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) averaged over equal buckets so that at most ``max_points`` remain (as is if fewer)."""
    n = y.shape[0]
    if n <= max_points:
        return x, y
    edges = np.linspace(0, n, max_points + 1).astype(int)      # (max_points+1,) bucket edges
    counts = np.diff(edges)
    keep = counts > 0
    starts = edges[:-1][keep]
    return (np.add.reduceat(x, starts) / counts[keep], np.add.reduceat(y, starts) / counts[keep])


def loss_figure(steps, step_loss, epoch_steps, epoch_train, epoch_val, *, log_y: bool = False,
                best_epoch: int | None = None, max_points: int = LOSS_POINTS,
                title: str | None = None, height: int = 440) -> go.Figure:
    """Live loss curves: per-step training loss (raw and smoothed) and per-epoch losses.

    Parameters
    ----------
    steps, step_loss : array-like (S,)
        Optimiser step numbers and the training loss of each step (scaled units).
    epoch_steps, epoch_train, epoch_val : array-like (E,)
        Step count at each epoch end, mean training loss and validation loss of that epoch
        (NaN where validation was skipped).
    log_y : bool
        Logarithmic loss axis.
    best_epoch : int, optional
        1-based epoch of the best validation loss, marked with a star.
    max_points : int
        The per-step curves are thinned for display to at most this many points each.
    """
    steps = np.asarray(steps, dtype=np.float64)
    loss = np.asarray(step_loss, dtype=np.float64)
    ep_steps = np.asarray(epoch_steps, dtype=np.float32)
    epochs = np.arange(1, ep_steps.shape[0] + 1)
    fig = go.Figure()
    if loss.shape[0]:
        raw = display_indices(loss, max_points)
        sx, sy = _bucket_means(steps, loss, max_points)
        fig.add_trace(go.Scatter(x=steps[raw].astype(np.float32), y=loss[raw].astype(np.float32),
                                 name="train loss, per step", mode="lines",
                                 line=dict(color=COLORS["train"], width=1), opacity=0.3))
        fig.add_trace(go.Scatter(x=sx.astype(np.float32), y=ema(sy).astype(np.float32),
                                 name="train loss, smoothed", mode="lines",
                                 line=dict(color=COLORS["train"], width=2.2)))
    if ep_steps.shape[0]:
        fig.add_trace(go.Scatter(x=ep_steps, y=np.asarray(epoch_train, dtype=np.float32),
                                 name="train loss, epoch mean", mode="lines+markers",
                                 line=dict(color=COLORS["train"], width=1.2, dash="dot"),
                                 marker=dict(size=5), customdata=epochs,
                                 hovertemplate="epoch %{customdata}: %{y:.4g}<extra>train</extra>"))
        fig.add_trace(go.Scatter(x=ep_steps, y=np.asarray(epoch_val, dtype=np.float32),
                                 name="validation loss, per epoch", mode="lines+markers",
                                 line=dict(color=COLORS["val"], width=2.2), marker=dict(size=6),
                                 customdata=epochs,
                                 hovertemplate="epoch %{customdata}: %{y:.4g}<extra>validation</extra>"))
        if best_epoch is not None and 1 <= best_epoch <= ep_steps.shape[0]:
            i = best_epoch - 1
            fig.add_trace(go.Scatter(x=ep_steps[i:i + 1], y=np.asarray(epoch_val, np.float32)[i:i + 1],
                                     name=f"best validation (epoch {best_epoch})", mode="markers",
                                     marker=dict(color=COLORS["val"], size=14, symbol="star",
                                                 line=dict(color="#14213d", width=1))))
    themed(fig, title=title, height=height, x_title="optimiser step",
           y_title="MSE loss (scaled units)" + (", log scale" if log_y else ""))
    fig.update_layout(hovermode="closest", uirevision="loss",   # legend under the plot, clear of the title
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0))
    if log_y:
        fig.update_yaxes(type="log")
    if steps.shape[0] and steps[-1] < 10:
        fig.update_xaxes(dtick=1)                               # whole steps only
    return fig


# ------------------------------------------------------------------------------------ forecast
def _units_label(units: str) -> str:
    return f"{units}" if units else "value (data units)"


def forecast_step_figure(x, actual, predicted, naive=None, *, step: int, units: str = "",
                         model_name: str = "GRU", split: str = "test") -> go.Figure:
    """Actual versus predicted value of horizon step ``step`` for every window of a split.

    Parameters
    ----------
    x : array-like
        (N,) target dates or positions (the date each step-``step`` forecast is for).
    actual, predicted, naive : array-like
        (N,) in the data's units; ``naive`` optional (last value repeated).
    step : int
        Horizon step, 1-based, for the title.
    """
    fig = go.Figure()
    fig.add_trace(line(x, actual, name="actual", color=COLORS["series"], width=2.0))
    if naive is not None:
        fig.add_trace(line(x, naive, name="naive (last value)", color=COLORS["naive"],
                           dash="dot", width=1.4))
    fig.add_trace(line(x, predicted, name=f"{model_name} forecast", color=COLORS["model"]))
    return themed(fig, title=f"{split.capitalize()} part: {step}-step-ahead forecast vs actual",
                  x_title="target date" if _is_dates(x) else "target position",
                  y_title=_units_label(units))


def forecast_window_figure(input_x, input_y, target_x, actual, predicted, naive=None,
                           recursive=None, *, units: str = "", model_name: str = "GRU",
                           title: str | None = None) -> go.Figure:
    """One window: its lookback inputs, then all H forecast steps against the actual values.

    Parameters
    ----------
    input_x, input_y : array-like
        (L,) dates/positions and target values of the lookback the model reads.
    target_x, actual, predicted : array-like
        (H,) dates/positions and values of the horizon the model predicts.
    naive, recursive : array-like, optional
        (H,) baselines / the recursive (one-step rollout) forecast of the same window.
    """
    fig = go.Figure()
    fig.add_vrect(x0=target_x[0], x1=target_x[-1], fillcolor=SPLIT_FILL["test"], line_width=0,
                  layer="below")
    fig.add_trace(go.Scatter(x=input_x, y=as_f32(input_y), name="lookback input (what the model reads)",
                             mode="lines+markers", marker=dict(size=4),
                             line=dict(color=COLORS["series"], width=1.6)))
    fig.add_trace(go.Scatter(x=target_x, y=as_f32(actual), name="actual", mode="lines+markers",
                             marker=dict(size=5), line=dict(color=COLORS["series"], width=2.0, dash="dash")))
    if naive is not None:
        fig.add_trace(line(target_x, naive, name="naive", color=COLORS["naive"], dash="dot", width=1.4))
    if recursive is not None:
        fig.add_trace(go.Scatter(x=target_x, y=as_f32(recursive), name=f"{model_name} recursive",
                                 mode="lines+markers", marker=dict(size=5, symbol="diamond"),
                                 line=dict(color=COLORS["val"], width=1.6)))
    fig.add_trace(go.Scatter(x=target_x, y=as_f32(predicted), name=f"{model_name} direct forecast",
                             mode="lines+markers", marker=dict(size=6),
                             line=dict(color=COLORS["model"], width=2.2)))
    themed(fig, title=title, x_title="date" if _is_dates(input_x) else "position",
           y_title=_units_label(units), height=420)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0.0))
    return fig


def residual_figures(x, residuals, *, units: str = "", step: int = 1) -> tuple[go.Figure, go.Figure]:
    """Residuals (actual - predicted) over time and their histogram, in the data's units."""
    res = as_f32(residuals)
    over = go.Figure(line(x, res, name="residual", color=COLORS["model"], width=1.4))
    over.add_hline(y=0.0, line=dict(color=COLORS["naive"], width=1, dash="dot"))
    themed(over, title=f"Residuals of the {step}-step forecast over time (actual − predicted)",
           x_title="target date" if _is_dates(x) else "target position",
           y_title=_units_label(units), height=300)
    hist = go.Figure(go.Histogram(x=res, name="residual", marker=dict(color=COLORS["model"]),
                                  opacity=0.8, nbinsx=int(min(40, max(6, res.size // 3)))))
    hist.add_vline(x=0.0, line=dict(color=COLORS["naive"], width=1, dash="dot"))
    themed(hist, title="Histogram of residuals", x_title=f"residual ({_units_label(units)})",
           y_title="windows", height=300)
    hist.update_layout(hovermode="closest", showlegend=False)
    return over, hist


def mae_by_step_figure(curves: dict, *, units: str = "") -> go.Figure:
    """Mean absolute error per horizon step for several forecasters (``{name: (H,) array}``)."""
    palette = {"direct": COLORS["model"], "recursive": COLORS["val"], "naive": COLORS["naive"],
               "seasonal naive": COLORS["seasonal"]}
    fig = go.Figure()
    for name, vals in curves.items():
        vals = as_f32(vals)
        color = next((c for k, c in palette.items() if name.lower().startswith(k)), COLORS["test"])
        fig.add_trace(go.Scatter(x=np.arange(1, vals.size + 1), y=vals, name=name,
                                 mode="lines+markers", line=dict(color=color, width=2)))
    themed(fig, title=f"MAE by horizon step, same windows ({_units_label(units)})",
           x_title="horizon step", y_title="MAE", height=340)
    fig.update_xaxes(dtick=1 if len(next(iter(curves.values()), [])) <= 24 else None)
    return fig


def future_figure(tail_x, tail_y, future_x, future_y, *, units: str = "",
                  model_name: str = "GRU") -> go.Figure:
    """The end of the series followed by the forecast past its last point."""
    fig = go.Figure()
    fig.add_trace(line(tail_x, tail_y, name="series (last part)", color=COLORS["series"]))
    fig.add_vrect(x0=future_x[0], x1=future_x[-1], fillcolor=SPLIT_FILL["test"], line_width=0,
                  layer="below")
    fig.add_trace(go.Scatter(x=[tail_x[-1], future_x[0]], y=as_f32([tail_y[-1], future_y[0]]),
                             mode="lines", line=dict(color=COLORS["model"], width=1.5, dash="dot"),
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=future_x, y=as_f32(future_y), name=f"{model_name} forecast past the end",
                             mode="lines+markers", marker=dict(size=5),
                             line=dict(color=COLORS["model"], width=2.2)))
    return themed(fig, title="Forecast past the end of the data",
                  x_title="date" if _is_dates(tail_x) else "position", y_title=_units_label(units))


def _is_dates(x) -> bool:
    """True for datetime-like axes (pandas DatetimeIndex, datetime64 arrays)."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and np.issubdtype(dtype, np.datetime64)


# --------------------------------------------------------------------------------------- gates
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
    fig.update_xaxes(title_text="date" if _is_dates(x) else "position in the series",
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
    fig.update_xaxes(title_text="date" if _is_dates(x) else "position in the series", row=rows, col=1)
    return fig
