"""What the Forecast page draws: scores and verdict, intervals, the rolling-origin backtest (one
score per forecast origin), step and window views, direct vs recursive, the future, downloads and
model bundles.

Every number comes from ``gru_core`` (``evaluate``, ``metrics.METRICS``, ``verdict``) on the
dataset the model was trained on, cached per model with ``ui.runs.model_cache``; this module only
lays it out. Figures go through ``gru_core.charts``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core import charts
from gru_core.backtest import best_overall, interpret, origin_table, rolling_origin
from gru_core.errors import DataError
from gru_core.evaluate import (evaluate, forecast_future, mae, predictions_table,
                               recursive_forecast)
from gru_core.intervals import conformal_bands, coverage_note
from gru_core.metrics import METRICS
from gru_core.verdict import SPLIT_NAMES, best_baseline, steps_sentence, verdict
from ui import page, runs
from ui.guard import error_text
from ui.safe import md
from ui.widgets import int_slider

UPLOAD_KEY = "fc_bundle_upload"


def _mae(y, p) -> str:
    """MAE of ``p`` against ``y`` in the registry's format (same decimals as the table)."""
    return METRICS["MAE"].fmt % mae(y, p)


# ------------------------------------------------------------------------------ inputs and guard
def restore_uploaded_bundle() -> None:
    """Restore a model from a newly uploaded bundle (once per file); keep the outcome to show."""
    up = st.session_state.get(UPLOAD_KEY)
    if up is None or st.session_state.get("_fc_bundle_done") == up.file_id:
        return
    st.session_state["_fc_bundle_done"] = up.file_id
    try:
        t = runs.restore_bundle(up.getvalue(), up.name)
        st.session_state["_fc_bundle_msg"] = ("success", f"Restored: {t.label}.")
    except DataError as exc:  # BundleError included: the message says what to do
        kept = " Your current model is kept." if runs.trained() is not None else ""
        st.session_state["_fc_bundle_msg"] = ("error", f"Could not use {md(up.name)}: "
                                                       f"{error_text(exc)}{kept}")


def missing_model() -> tuple[str, str]:
    """(message, icon) of the empty state: a run in progress, or nothing trained yet."""
    if runs.is_running():
        return ("A model is training right now. Its forecasts appear here when the run ends (or "
                "when you stop it).", ":material/hourglass_top:")
    return ("No trained model yet. Train one on the Train page — a few seconds on the default "
            "settings — or restore a saved model bundle below.", ":material/info:")


def choices() -> tuple[str, str]:
    """The windows to score and the metric the verdict compares on."""
    left, right = st.columns(2)
    split = left.segmented_control(
        "Windows to score", ["test", "val"], default="test", required=True, key="fc_split",
        format_func=lambda s: {"test": "Test part", "val": "Validation part"}[s],
        persist_state="session",
        help="Test windows were never used in training; validation windows chose when to stop.")
    metric = right.segmented_control(
        "Verdict on", list(METRICS), default="MAE", required=True, key="fc_metric",
        persist_state="session", help="The metric the model and the best baseline are compared on.")
    return split, metric


# ------------------------------------------------------------------------------ the action
def draw(t: runs.Trained, split: str, metric: str) -> None:
    """Everything below the inputs, for the trained model ``t``."""
    ds = t.dataset
    units = str(getattr(ds.series, "target", "value"))    # a column name: md() it in Markdown
    name = t.model_cfg.cell.upper()
    st.caption(f"**Model** · {t.label} · target **{md(units)}**, lookback {ds.window.lookback}, "
               f"horizon {ds.window.horizon}, {len(ds.test)} test windows.")
    if t.auto is not None:
        from ui.views.train import auto_choice
        auto_choice(t.auto)
    ev = runs.model_cache(t, f"eval:{split}", lambda: evaluate(t.model, ds, split))
    scores(ev, split, metric, units)
    bands = intervals(t, ev, split, units)
    backtest_section(t, ev, split, units, name)
    step_view(t, ev, split, units, name, bands)
    rec, rec_error = None, None
    try:
        rec = runs.model_cache(t, f"recursive:{split}", lambda: recursive_forecast(t.model, ds, split))
    except DataError as exc:
        rec_error = error_text(exc)
    window_view(t, ev, split, units, name, rec, bands)
    direct_vs_recursive(ev, rec, rec_error, units, name)
    future(t, units, name)
    downloads(t, ev, split)


def scores(ev, split: str, metric: str, units: str) -> None:
    st.subheader("Scores against the baselines")
    table = ev.metrics.reset_index(names="forecaster")
    config = {m.name: st.column_config.NumberColumn(
        f"{m.name} ({units})" if m.unit == "data" else m.name, format=m.fmt, help=m.help)
        for m in METRICS.values()}
    st.dataframe(table, hide_index=True, column_config=config, width="content")
    st.markdown(verdict(ev.metrics, metric, split, md(units)))
    per_step = steps_sentence(ev, metric)
    if per_step:
        st.markdown(per_step)
    seasonal = f"season-{ev.mase_season} " if ev.mase_season > 1 else ""
    st.caption(f"Lower is better for every column; hover a header for its definition. MASE divides "
               f"the MAE by the in-sample error of a {seasonal}naive forecast on the training part. "
               f"{len(ev.starts)} windows × {ev.y_true.shape[1]} steps. " + " ".join(map(md, ev.notes)))


def backtest(t: runs.Trained, ev, split: str):
    """``gru_core.backtest.rolling_origin`` on the evaluated windows, origins labelled by date or
    step; cached per model and split (no retraining: a fixed model, so it costs one pass)."""
    def compute():
        origins = ev.starts + t.dataset.window.lookback - 1                    # (N,) last input step
        labels = [runs.time_label(t.dataset, o) for o in origins]
        return rolling_origin(ev.y_true, ev.forecasts(), origins, str(ev.metrics.index[0]), labels)
    return runs.model_cache(t, f"backtest:{split}", compute)


def backtest_section(t: runs.Trained, ev, split: str, units: str, name: str) -> None:
    """Rolling origin: one MAE per non-overlapping forecast origin, its spread and wins k/n."""
    st.subheader("One score per forecast origin (rolling origin)")
    try:
        bt = backtest(t, ev, split)
    except DataError as exc:
        st.info(f"No rolling-origin backtest: {error_text(exc)}", icon=":material/info:")
        return
    fmt = METRICS["MAE"].fmt
    st.dataframe(origin_table(bt), hide_index=True, width="content", column_config={
        f"{bt.model} MAE": st.column_config.NumberColumn(f"{bt.model} MAE ({units})", format=fmt),
        "its MAE": st.column_config.NumberColumn(f"its MAE ({units})", format=fmt)})
    m, b = bt.summary.loc[bt.model], best_overall(bt)
    sb = bt.summary.loc[b]
    st.markdown(f"**{name}** MAE {fmt % m['mean']} ± {fmt % m['std']} (min–max {fmt % m['min']}–"
                f"{fmt % m['max']}) · best baseline overall, {md(b)}: {fmt % sb['mean']} ± "
                f"{fmt % sb['std']} (min–max {fmt % sb['min']}–{fmt % sb['max']}) · "
                f"**{name} wins {bt.wins}/{bt.n}** origins")
    st.markdown(md(interpret(bt), limit=None))
    st.caption(f"Origins one horizon ({ev.y_true.shape[1]} steps) apart over the "
               f"{SPLIT_NAMES[split]} part, so the {bt.n} forecasts do not overlap; each row's best "
               "baseline is the best of that origin, ± is the standard deviation over origins. "
               "**Fixed model, no refit per origin**: the weights trained once (and every "
               "baseline's parameters, fitted on the training part) forecast each origin from the "
               "series up to it; an expanding-window refit would retrain the GRU at every origin.")


BAND_FILL = {0.8: "rgba(220,38,38,0.22)", 0.95: "rgba(220,38,38,0.10)"}   # model colour, lighter = wider


def intervals(t: runs.Trained, ev, split: str, units: str) -> list:
    """Split-conformal 80 % / 95 % bands (``gru_core.intervals``) from the validation residuals,
    with their empirical coverage on ``split`` beside the nominal level; [] if none can be made."""
    try:
        ev_val = ev if split == "val" else runs.model_cache(t, "eval:val", lambda: evaluate(t.model, t.dataset, "val"))
        bands = conformal_bands(ev_val.y_true, ev_val.y_pred, ev.y_pred, ev.y_true)
    except DataError as exc:
        st.info(f"No prediction intervals: {error_text(exc)}", icon=":material/info:")
        return []
    st.markdown("**Prediction intervals** (split conformal, per horizon step, from the validation "
                "residuals): the share of actual values inside each band.")
    st.dataframe(pd.DataFrame({
        "band": [f"{b.level:.0%}" for b in bands],
        "nominal coverage": [b.level for b in bands],
        f"empirical coverage ({SPLIT_NAMES[split]})": [b.coverage for b in bands],
        f"half-width, step 1 ({units})": [float(b.q[0]) for b in bands],
        f"half-width, step H ({units})": [float(b.q[-1]) for b in bands]}),
        hide_index=True, width="content", column_config={
            "nominal coverage": st.column_config.NumberColumn(format="percent"),
            f"empirical coverage ({SPLIT_NAMES[split]})": st.column_config.NumberColumn(format="percent")})
    if split == "val":
        st.caption("On the validation part the coverage is close to nominal by construction (the "
                   "bands were computed from it); the test part is the honest check.")
    else:
        note = coverage_note(bands, len(ev.y_true))
        if note:
            st.warning(note, icon=":material/warning:")
        else:
            st.caption("Both bands cover as stated on this part (within 5 points plus sampling noise).")
    return bands


def _add_bands(fig, x, bands, pick) -> None:
    """Shade each band on ``fig`` (widest first); ``pick(a)`` selects the (N, H) array's slice."""
    import plotly.graph_objects as go
    for b in sorted(bands, key=lambda b: -b.level):
        if not np.all(np.isfinite(b.q)):
            continue
        name = f"{b.level:.0%} interval"
        fig.add_trace(go.Scatter(x=x, y=pick(b.lower), mode="lines", line=dict(width=0),
                                 legendgroup=name, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=pick(b.upper), mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=BAND_FILL.get(b.level, "rgba(220,38,38,0.15)"), name=name,
                                 legendgroup=name, hoverinfo="skip"))


def _step_caption(ev, j: int, units: str) -> str:
    parts = [f"{row} {_mae(ev.y_true[:, j], f[:, j])}" for row, f in ev.forecasts().items()]
    return f"Step {j + 1}, MAE ({md(units)}): " + ", ".join(parts) + "."


def step_view(t: runs.Trained, ev, split: str, units: str, name: str, bands=()) -> None:
    H = ev.y_true.shape[1]
    st.subheader("Forecast vs actual, one horizon step at a time")
    step = int_slider("Horizon step (how many steps ahead)", 1, H, 1, key="fc_step",
                      help="Step 1 is the next value after each window; step H the last one.")
    j = step - 1
    x = runs.positions_to_axis(t.dataset, ev.target_index[:, j])
    fig = charts.forecast_step_figure(x, ev.y_true[:, j], ev.y_pred[:, j], ev.naive[:, j], step=step,
                                      units=units, model_name=name, split=SPLIT_NAMES[split])
    if ev.seasonal is not None:        # the other baseline, one legend click away
        fig.add_trace(charts.line(x, ev.seasonal[:, j], name=f"seasonal naive (m={ev.season})",
                                  color=charts.COLORS["seasonal"], dash="dash", width=1.4,
                                  visible="legendonly"))
    _add_bands(fig, x, bands, lambda a: a[:, j])
    page.chart(fig, key="fc_step_chart")
    over, hist = charts.residual_figures(x, ev.y_true[:, j] - ev.y_pred[:, j], units=units, step=step)
    left, right = st.columns([3, 2])
    left.plotly_chart(over, key="fc_resid_time")
    right.plotly_chart(hist, key="fc_resid_hist")
    st.caption(_step_caption(ev, j, units))


def window_view(t: runs.Trained, ev, split: str, units: str, name: str, rec, bands=()) -> None:
    ds = t.dataset
    L, H, N = ds.window.lookback, ds.window.horizon, len(ev.starts)
    st.subheader("All horizon steps from one window")
    i = int_slider(f"Window (1 = first of the {SPLIT_NAMES[split]} part)", 1, N, 1,
                   key="fc_window") - 1
    s = int(ev.starts[i])
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    in_pos, tgt = np.arange(s, s + L), ev.target_index[i]
    origin = runs.time_label(ds, s + L - 1)
    fig = charts.forecast_window_figure(
        runs.positions_to_axis(ds, in_pos), y[in_pos], runs.positions_to_axis(ds, tgt),
        ev.y_true[i], ev.y_pred[i], ev.naive[i], None if rec is None else rec[i],
        units=units, model_name=name,
        title=f"Window {i + 1} of {N}: reads {L} steps up to {origin}, forecasts the next {H}")
    _add_bands(fig, runs.positions_to_axis(ds, tgt), bands, lambda a: a[i])
    page.chart(fig, key="fc_window_chart")
    st.caption(f"Shaded: the {H} steps forecast from {origin}. Window MAE ({md(units)}): {name} direct "
               f"{_mae(ev.y_true[i], ev.y_pred[i])}"
               + (f", recursive {_mae(ev.y_true[i], rec[i])}" if rec is not None else "")
               + f", naive {_mae(ev.y_true[i], ev.naive[i])}"
               + (f", seasonal naive {_mae(ev.y_true[i], ev.seasonal[i])}"
                  if ev.seasonal is not None else "") + ".")


def direct_vs_recursive(ev, rec, rec_error: str | None, units: str, name: str) -> None:
    st.subheader("Direct vs recursive forecasts")
    st.markdown(
        f"The model's head emits all {ev.y_true.shape[1]} steps at once (**direct**). The "
        "alternative is **recursive**: keep only step 1, append it to the input as if it had been "
        "observed, and forecast again — errors then feed on themselves. Same model, same windows.")
    if rec is None:
        st.info(rec_error or "No recursive forecast for this model.", icon=":material/info:")
        return
    per_step = lambda f: np.mean(np.abs(ev.y_true - f), axis=0)        # noqa: E731  (H,)
    curves = {f"direct ({name})": per_step(ev.y_pred), f"recursive ({name})": per_step(rec),
              "naive": per_step(ev.naive)}
    if ev.seasonal is not None:
        curves[f"seasonal naive (m={ev.season})"] = per_step(ev.seasonal)
    best, best_mae = best_baseline(ev.metrics, "MAE")
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Direct MAE ({md(units)})", _mae(ev.y_true, ev.y_pred))
    c2.metric(f"Recursive MAE ({md(units)})", _mae(ev.y_true, rec))
    c3.metric(f"Best baseline MAE ({md(units)})", METRICS["MAE"].fmt % best_mae,
              help=f"{best}, the baseline with the lowest MAE on these windows.")
    page.chart(charts.mae_by_step_figure(curves, units=units), key="fc_rec_chart")


def future(t: runs.Trained, units: str, name: str) -> None:
    ds = t.dataset
    st.subheader("Past the end of the data")
    fut = runs.model_cache(t, "future", lambda: forecast_future(t.model, ds))
    T = ds.scaled.shape[0]
    tail = np.arange(max(0, T - max(4 * ds.window.horizon, 2 * ds.window.lookback)), T)
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    dated = isinstance(fut.index, pd.DatetimeIndex)
    tail_x = runs.positions_to_axis(ds, tail) if dated else tail   # never dates next to positions
    fig = charts.future_figure(tail_x, y[tail], np.asarray(fut.index), fut["forecast"].to_numpy(),
                               units=units, model_name=name)
    page.chart(fig, key="fc_future_chart")
    note = fut.attrs.get("note")
    st.caption(f"The last {ds.window.lookback} points go in; the {len(fut)} steps after the last "
               "one come out. No actual values exist there yet, so nothing can score them."
               + (f" {md(note, limit=None)}" if note else ""))


def downloads(t: runs.Trained, ev, split: str) -> None:
    st.subheader("Downloads")
    c1, c2 = st.columns(2)
    csv = runs.model_cache(t, f"csv:{split}",
                           lambda: predictions_table(ev, t.dataset).to_csv(index=False).encode())
    c1.download_button(f"Predictions ({SPLIT_NAMES[split]} part, CSV)", csv,
                       file_name=f"gru_lab_predictions_{split}.csv", mime="text/csv",
                       on_click="ignore", icon=":material/download:", key="fc_dl_csv")
    c1.caption("One row per window and horizon step: window start, step, target date/position, "
               "actual, predicted, naive (and seasonal naive).")
    c2.download_button("Save model (.pt bundle)", runs.bundle_bytes(t),
                       file_name=runs.bundle_file_name(t), mime="application/octet-stream",
                       on_click="ignore", icon=":material/download:", key="fc_dl_bundle")
    c2.caption("Weights, model and window settings, the fitted scaler and column names: upload it "
               "below (here or in another session) to get this model back.")


def bundle_section(t: runs.Trained | None) -> None:
    st.subheader("Restore a model from a bundle")
    st.file_uploader("Model bundle saved by GRU Lab (.pt)", type=["pt"], key=UPLOAD_KEY,
                     help="It is applied to the current data with the bundle's own scaler and "
                          "window; the data must have the columns the model was trained on.")
    up = st.session_state.get(UPLOAD_KEY)
    shown = up is not None and st.session_state.get("_fc_bundle_done") == up.file_id
    kind, msg = st.session_state.get("_fc_bundle_msg", (None, None)) if shown else (None, None)
    if kind == "error":
        st.error(msg, icon=":material/error:")
    elif kind == "success":
        st.success(msg, icon=":material/check_circle:")
    if st.session_state.get("model_source") == "bundle" and runs.job() is not None:
        st.button("Show my latest training run's model instead", on_click=runs.use_run,
                  key="fc_use_run")
