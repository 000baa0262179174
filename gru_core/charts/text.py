"""The Text page's Plotly figures, in GRU Lab's one theme (``gru_core.charts``).

Figures take plain numbers from a run's ``Progress`` (losses = mean cross-entropy per character,
nats) and draw **perplexity** = exp(loss): the number of equally likely characters the model is,
on average, choosing between. The coloured passage is HTML, not a figure: ``gru_core.text.render``.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from gru_core.charts.theme import COLORS, LEGEND_BELOW, as_f32, line, themed

__all__ = ["perplexity_figure", "unit_figure"]

MAX_POINTS = 600          # per-step curve thinned to about this many points for display


def _thin_mean(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket means of (x, y) so that at most ``max_points`` remain (display only)."""
    n = y.shape[0]
    if n <= max_points:
        return x, y
    edges = np.linspace(0, n, max_points + 1).astype(int)
    counts = np.diff(edges)
    keep = counts > 0
    starts = edges[:-1][keep]
    return np.add.reduceat(x, starts) / counts[keep], np.add.reduceat(y, starts) / counts[keep]


def perplexity_figure(steps, step_loss, epoch_steps, epoch_train, epoch_val, *, vocab_size: int,
                      tokens_per_step: int, log_y: bool = True, height: int = 380) -> go.Figure:
    """Train and validation perplexity while training.

    Parameters
    ----------
    steps, step_loss : array-like (S,)
        Optimiser steps and each step's training loss (mean cross-entropy per character, nats).
    epoch_steps, epoch_train, epoch_val : array-like (E,)
        Step count at each epoch end, that epoch's mean training loss and its validation loss.
    vocab_size : int
        V: a model that guesses uniformly has perplexity V (drawn as a reference line).
    tokens_per_step : int
        B * T, for the hover text (characters trained on so far).
    """
    s = np.asarray(steps, dtype=np.float64)
    loss = np.asarray(step_loss, dtype=np.float64)
    fig = go.Figure()
    if loss.shape[0]:
        sx, sy = _thin_mean(s, loss, MAX_POINTS)
        fig.add_trace(line(as_f32(sx), np.exp(sy), name="train (per step, averaged)",
                           color=COLORS["train"], width=1.6, opacity=0.75,
                           customdata=as_f32(sx * tokens_per_step),
                           hovertemplate="step %{x:.0f} · %{customdata:,.0f} characters<br>"
                                         "train perplexity %{y:.2f}<extra></extra>"))
    ep = np.asarray(epoch_steps, dtype=np.float32)
    if ep.shape[0]:
        epochs = np.arange(1, ep.shape[0] + 1)
        fig.add_trace(go.Scatter(x=ep, y=as_f32(np.exp(np.asarray(epoch_train, dtype=np.float64))),
                                 name="train (epoch mean)", mode="markers",
                                 marker=dict(color=COLORS["train"], size=7, symbol="circle-open"),
                                 customdata=epochs,
                                 hovertemplate="epoch %{customdata}: train %{y:.2f}<extra></extra>"))
        fig.add_trace(go.Scatter(x=ep, y=as_f32(np.exp(np.asarray(epoch_val, dtype=np.float64))),
                                 name="validation (per epoch)", mode="lines+markers",
                                 line=dict(color=COLORS["val"], width=2.4), marker=dict(size=8),
                                 customdata=epochs,
                                 hovertemplate="epoch %{customdata}: validation %{y:.2f}<extra></extra>"))
    fig.add_hline(y=vocab_size, line=dict(color=COLORS["naive"], dash="dot", width=1))
    fig.add_annotation(x=1.0, xref="paper", xanchor="right", yanchor="bottom", showarrow=False,
                       y=math.log10(vocab_size) if log_y else vocab_size,   # log axes place by log10
                       text=f"uniform guess = {vocab_size} (vocabulary size)",
                       font=dict(size=12, color=COLORS["naive"]))
    themed(fig, title="Perplexity per character (lower is better; 1 = certain)", height=height,
           x_title="optimiser step", y_title="perplexity" + (" (log scale)" if log_y else ""))
    fig.update_layout(hovermode="closest", uirevision="ppl",
                      legend=LEGEND_BELOW)
    if log_y:
        top = max(vocab_size * 1.5, 2.0)
        ticks = [t for t in (1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500)
                 if t <= top]
        fig.update_yaxes(type="log", range=[0.0, math.log10(top)], tickvals=ticks,
                         ticktext=[f"{t:g}" for t in ticks])
    return fig


def unit_figure(text: str, values, *, quantity: str, unit: int, mask=None, mask_name: str = "",
                height: int = 230) -> go.Figure:
    """One unit's value at every character of a passage, characters of a class marked.

    Parameters
    ----------
    text : str
        T characters (the hover shows each).
    values : array-like (T,)
    mask : array-like of bool (T,), optional
        Characters of the class being looked at (drawn as dots).
    """
    v = as_f32(values).reshape(-1)
    t = np.arange(v.shape[0], dtype=np.float32)
    shown = [{"\n": "↵", " ": "␣"}.get(c, c) for c in text]
    fig = go.Figure(line(t, v, name=f"{quantity} of unit {unit}", color=COLORS.get(quantity, COLORS["h"]),
                         customdata=shown, hovertemplate="char %{x:.0f} '%{customdata}': %{y:.3f}<extra></extra>"))
    if mask is not None and np.any(mask):
        m = np.asarray(mask, dtype=bool)
        fig.add_trace(go.Scatter(x=t[m], y=v[m], mode="markers", name=mask_name or "class",
                                 marker=dict(color=COLORS["series"], size=5),
                                 hoverinfo="skip"))
    themed(fig, height=height, x_title="character position in the passage", y_title=quantity)
    fig.update_layout(hovermode="closest")
    return fig
