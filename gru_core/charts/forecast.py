"""Forecast page figures: forecasts against the actual values, residuals, error by horizon step,
and the forecast past the end of the data. Values are in the data's units; H is the horizon."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gru_core.charts.theme import (COLORS, LEGEND_BELOW, SPLIT_FILL, as_f32, is_dates, line,
                                   themed, units_label)


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
    themed(fig, title=f"{split.capitalize()} part: {step}-step-ahead forecast vs actual",
           x_title="target date" if is_dates(x) else "target position", y_title=units_label(units))
    fig.update_layout(legend=LEGEND_BELOW)     # the page adds baselines and bands: a top legend
    return fig                                 # would run into the title


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
    themed(fig, title=title, x_title="date" if is_dates(input_x) else "position",
           y_title=units_label(units), height=420)
    fig.update_layout(legend=LEGEND_BELOW)
    return fig


def residual_figures(x, residuals, *, units: str = "", step: int = 1) -> tuple[go.Figure, go.Figure]:
    """Residuals (actual - predicted) over time and their histogram, in the data's units."""
    res = as_f32(residuals)
    over = go.Figure(line(x, res, name="residual", color=COLORS["model"], width=1.4))
    over.add_hline(y=0.0, line=dict(color=COLORS["naive"], width=1, dash="dot"))
    themed(over, title=f"Residuals of the {step}-step forecast over time (actual − predicted)",
           x_title="target date" if is_dates(x) else "target position",
           y_title=units_label(units), height=300)
    hist = go.Figure(go.Histogram(x=res, name="residual", marker=dict(color=COLORS["model"]),
                                  opacity=0.8, nbinsx=int(min(40, max(6, res.size // 3)))))
    hist.add_vline(x=0.0, line=dict(color=COLORS["naive"], width=1, dash="dot"))
    themed(hist, title="Histogram of residuals", x_title=f"residual ({units_label(units)})",
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
    themed(fig, title=f"MAE by horizon step, same windows ({units_label(units)})",
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
                  x_title="date" if is_dates(tail_x) else "position", y_title=units_label(units))
