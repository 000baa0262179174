"""Forecast page: the trained model's forecasts against the actual values, beside naive baselines.

Everything is computed on the dataset the model was trained on (its own scaler, windows and split)
by ``gru_core.evaluate`` and cached per model; the page only picks what to show. The model bundle
can be downloaded here, and an uploaded bundle restores a model (``ui.runs.restore_bundle``).
"""
import numpy as np
import streamlit as st

from gru_core import charts
from gru_core.errors import DataError
from gru_core.evaluate import evaluate, forecast_future, mae, recursive_forecast
from ui import runs
from ui.guard import friendly_errors
from ui.widgets import int_slider

UPLOAD_KEY = "fc_bundle_upload"

st.title("Forecast")
st.markdown(
    "How good are the trained model's forecasts? Every number here comes from windows the model "
    "never trained on (the **test** part, or the **validation** part), in the data's own units, "
    "next to two forecasts that need no learning at all: **naive** (repeat the last value) and "
    "**seasonal naive** (repeat the value one season back). Pick a horizon step to follow it "
    "through time, or a window to see all its steps at once; then download the predictions or "
    "the model. Next: open **Gates** to see what the GRU's reset and update gates did."
)


def _handle_upload() -> None:
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
        st.session_state["_fc_bundle_msg"] = ("error", f"Could not use {up.name}: {exc}{kept}")


def _metrics(t: runs.Trained, units: str):
    st.subheader("Scores against the baselines")
    split = st.segmented_control(
        "Windows to score", ["test", "val"], default="test", required=True, key="fc_split",
        format_func=lambda s: {"test": "Test part", "val": "Validation part"}[s],
        persist_state="session",
        help="Test windows were never used in training; validation windows chose when to stop.")
    ev = runs.model_cache(t, f"eval:{split}", lambda: evaluate(t.model, t.dataset, split))
    table = ev.metrics.reset_index(names="forecaster")
    fmt = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("MAE", "RMSE", "MASE")}
    fmt["sMAPE %"] = st.column_config.NumberColumn("sMAPE %", format="%.2f")
    st.dataframe(table, hide_index=True, column_config=fmt, width="content")
    st.markdown(runs.verdict(ev.metrics, split, units))
    seasonal = f"season-{ev.mase_season} " if ev.mase_season > 1 else ""
    st.caption(
        f"MAE and RMSE are in the data's units ({units}); sMAPE is a percentage (0–200); MASE "
        f"divides the MAE by the in-sample error of a {seasonal}naive forecast on the training "
        "part (below 1 = better than that). "
        f"{len(ev.starts)} windows × {ev.y_true.shape[1]} steps. " + " ".join(ev.notes))
    return split, ev


def _step_view(t: runs.Trained, ev, split: str, units: str, name: str) -> None:
    ds = t.dataset
    H = ev.y_true.shape[1]
    st.subheader("Forecast vs actual, one horizon step at a time")
    step = int_slider("Horizon step (how many steps ahead)", 1, H, 1, key="fc_step",
                     help="Step 1 is the next value after each window; step H the last one.")
    j = step - 1
    x = runs.positions_to_axis(ds, ev.target_index[:, j])
    st.plotly_chart(charts.forecast_step_figure(x, ev.y_true[:, j], ev.y_pred[:, j], ev.naive[:, j],
                                                step=step, units=units, model_name=name,
                                                split=runs.SPLIT_NAMES[split]), key="fc_step_chart")
    over, hist = charts.residual_figures(x, ev.y_true[:, j] - ev.y_pred[:, j], units=units, step=step)
    left, right = st.columns([3, 2])
    left.plotly_chart(over, key="fc_resid_time")
    right.plotly_chart(hist, key="fc_resid_hist")
    st.caption(f"Step {step}: MAE {mae(ev.y_true[:, j], ev.y_pred[:, j]):.4g} {units} "
               f"(naive {mae(ev.y_true[:, j], ev.naive[:, j]):.4g}).")


def _window_view(t: runs.Trained, ev, split: str, units: str, name: str, rec) -> None:
    ds = t.dataset
    L, H = ds.window.lookback, ds.window.horizon
    N = len(ev.starts)
    st.subheader("All horizon steps from one window")
    i = int_slider(f"Window (1 = first of the {runs.SPLIT_NAMES[split]} part)", 1, N, 1,
                key="fc_window") - 1
    s = int(ev.starts[i])
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    in_pos = np.arange(s, s + L)
    tgt = ev.target_index[i]
    origin = runs.time_label(ds, s + L - 1)
    fig = charts.forecast_window_figure(
        runs.positions_to_axis(ds, in_pos), y[in_pos], runs.positions_to_axis(ds, tgt),
        ev.y_true[i], ev.y_pred[i], ev.naive[i], None if rec is None else rec[i],
        units=units, model_name=name,
        title=f"Window {i + 1} of {N}: reads {L} steps up to {origin}, forecasts the next {H}")
    st.plotly_chart(fig, key="fc_window_chart")
    st.caption(f"Shaded: the {H} steps forecast from {origin}. Window MAE: {name} direct "
               f"{mae(ev.y_true[i], ev.y_pred[i]):.4g}"
               + (f", recursive {mae(ev.y_true[i], rec[i]):.4g}" if rec is not None else "")
               + f", naive {mae(ev.y_true[i], ev.naive[i]):.4g} {units}.")


def _direct_vs_recursive(ev, rec, rec_error: str | None, units: str, name: str) -> None:
    st.subheader("Direct vs recursive forecasts")
    st.markdown(
        f"The model's head emits all {ev.y_true.shape[1]} steps at once (**direct**). The "
        "alternative is **recursive**: keep only step 1, append it to the input as if it had been "
        "observed, and forecast again — errors then feed on themselves. Same model, same windows.")
    if rec is None:
        st.info(rec_error or "No recursive forecast for this model.", icon=":material/info:")
        return
    curves = {f"direct ({name})": np.mean(np.abs(ev.y_true - ev.y_pred), axis=0),
              f"recursive ({name})": np.mean(np.abs(ev.y_true - rec), axis=0),
              "naive": np.mean(np.abs(ev.y_true - ev.naive), axis=0)}
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Direct MAE ({units})", f"{mae(ev.y_true, ev.y_pred):.4g}")
    c2.metric(f"Recursive MAE ({units})", f"{mae(ev.y_true, rec):.4g}")
    c3.metric(f"Naive MAE ({units})", f"{mae(ev.y_true, ev.naive):.4g}")
    st.plotly_chart(charts.mae_by_step_figure(curves, units=units), key="fc_rec_chart")


def _future(t: runs.Trained, units: str, name: str) -> None:
    ds = t.dataset
    st.subheader("Past the end of the data")
    fut = runs.model_cache(t, "future", lambda: forecast_future(t.model, ds))
    T = ds.scaled.shape[0]
    tail = np.arange(max(0, T - max(4 * ds.window.horizon, 2 * ds.window.lookback)), T)
    y = np.asarray(ds.series.values, dtype=np.float64)[:, 0]
    fig = charts.future_figure(runs.positions_to_axis(ds, tail), y[tail], np.asarray(fut.index),
                               fut["forecast"].to_numpy(), units=units, model_name=name)
    st.plotly_chart(fig, key="fc_future_chart")
    st.caption(f"The last {ds.window.lookback} points go in; the {len(fut)} steps after the last "
               "one come out. No actual values exist there yet, so nothing can score them.")


def _downloads(t: runs.Trained, ev, split: str) -> None:
    st.subheader("Downloads")
    c1, c2 = st.columns(2)
    csv = runs.model_cache(t, f"csv:{split}",
                           lambda: runs.predictions_table(ev, t.dataset).to_csv(index=False).encode())
    c1.download_button(f"Predictions ({runs.SPLIT_NAMES[split]} part, CSV)", csv,
                       file_name=f"gru_lab_predictions_{split}.csv", mime="text/csv",
                       on_click="ignore", icon=":material/download:", key="fc_dl_csv")
    c1.caption("One row per window and horizon step: window start, step, target date/position, "
               "actual, predicted, naive.")
    c2.download_button("Save model (.pt bundle)", runs.bundle_bytes(t),
                       file_name=runs.bundle_file_name(t), mime="application/octet-stream",
                       on_click="ignore", icon=":material/download:", key="fc_dl_bundle")
    c2.caption("Weights, model and window settings, the fitted scaler and column names: upload it "
               "below (here or in another session) to get this model back.")


def _bundle_upload(t: runs.Trained | None) -> None:
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


with friendly_errors("drawing the forecasts"):
    _handle_upload()
    t = runs.trained()
    if t is None:
        if runs.is_running():
            st.info("A model is training right now. Its forecasts appear here when the run ends "
                    "(or when you stop it).", icon=":material/hourglass_top:")
        else:
            st.info("No trained model yet. Train one on the Train page — a few seconds on the "
                    "default settings — or restore a saved model bundle below.",
                    icon=":material/info:")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    else:
        ds = t.dataset
        units = str(getattr(ds.series, "target", "value"))
        name = t.model_cfg.cell.upper()
        st.caption(f"**Model** · {t.label} · target **{units}**, lookback {ds.window.lookback}, "
                   f"horizon {ds.window.horizon}, {len(ds.test)} test windows.")
        split, ev = _metrics(t, units)
        _step_view(t, ev, split, units, name)
        rec, rec_error = None, None
        try:
            rec = runs.model_cache(t, f"recursive:{split}",
                                   lambda: recursive_forecast(t.model, ds, split))
        except DataError as exc:
            rec_error = str(exc)
        _window_view(t, ev, split, units, name, rec)
        _direct_vs_recursive(ev, rec, rec_error, units, name)
        _future(t, units, name)
        _downloads(t, ev, split)
    _bundle_upload(t)
