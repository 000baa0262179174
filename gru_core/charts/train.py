"""Train page figure: the live loss curves (per step, smoothed, per epoch) and their smoothing."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gru_core.charts.theme import COLORS, LEGEND_BELOW, display_indices, themed

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
                title: str | None = None, height: int = 440,
                y_title: str = "MSE loss (scaled units)") -> go.Figure:
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
           y_title=y_title + (", log scale" if log_y else ""))
    fig.update_layout(hovermode="closest", uirevision="loss",   # legend under the plot, clear of the title
                      legend=LEGEND_BELOW)
    if log_y:
        fig.update_yaxes(type="log")
    if steps.shape[0] and steps[-1] < 10:
        fig.update_xaxes(dtick=1)                               # whole steps only
    return fig
