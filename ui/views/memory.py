"""The Memory page's drawing: impulse / step probes of the trained model and its memory map.

Numbers come from ``gru_core.memory`` (tested against finite differences and ``nn.GRU``); this
module picks windows, places widgets and builds tables. Widget keys start with ``mem_``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.charts import cell as charts_cell
from gru_core.memory import PROBES, impulse_response, input_sensitivity, memory_length
from ui import page, runs
from ui.widgets import int_slider

REAL, FLAT = "real", "flat"
MAX_UNITS_SHOWN = 8


def _x_axis(t: runs.Trained, start: int | None, T: int):
    """Time axis of a window: dates/positions of the series for a real window, steps for a flat one."""
    if start is None:
        return np.arange(T), "step of the probe window"
    axis = runs.positions_to_axis(t.dataset, np.arange(start, start + T))
    return axis, "date" if runs.has_dates(t.dataset) else "position in the series"


def probe(t: runs.Trained) -> None:
    """Impulse or step on a real window or a flat baseline; |h − h_baseline| and the z product."""
    ds, L = t.dataset, t.dataset.window.lookback
    C = ds.scaled.shape[1]
    a, b, c = st.columns(3)
    base = a.segmented_control("Baseline", [REAL, FLAT], default=REAL, required=True, key="mem_base",
                               persist_state="session",
                               format_func={REAL: "real test window", FLAT: "flat line (0)"}.get,
                               help="Flat line: every input at 0 in scaled units, i.e. the training mean.")
    kind = b.segmented_control("Probe", list(PROBES), default="impulse", required=True, key="mem_kind",
                               persist_state="session")
    size = c.number_input("Size (scaled units: training std)", -5.0, 5.0, 1.0, 0.25, key="mem_size",
                          persist_state="session")
    if base == REAL:
        i = int_slider("Test window", 1, len(ds.test), 1, key="mem_probe_window") - 1
        start = int(ds.test.starts[i])
        x = ds.scaled[start:start + L].double().numpy()            # (L, C)
    else:
        start = None
        T = int_slider("Probe window length (steps)", max(L, 8), max(L, 300), max(L, 60), key="mem_flat_T")
        x = np.zeros((T, C))
    T = x.shape[0]
    t0 = int_slider("Probe at step t0", 0, T - 2, min(T // 5, T - 2), key="mem_t0")
    if size == 0:
        st.info("A probe of size 0 changes nothing: pick a non-zero size.", icon=":material/info:")
        return
    res = impulse_response(t.model, x, t0, float(size), kind)
    layer_row = 0
    if len(res.layers) > 1:
        layer_row = st.selectbox("Layer", list(range(len(res.layers))), key="mem_layer",
                                 format_func=lambda k: f"layer {k}")
    resp = res.response[layer_row]                                   # (T, U)
    order = np.argsort(-resp[t0:].max(axis=0))
    units = sorted(order[:MAX_UNITS_SHOWN].tolist())
    axis, x_title = _x_axis(t, start, T)
    label = f"layer {res.layers[layer_row]}"
    fig = charts_cell.impulse_figure(axis, res, layer_row, units, layer_label=label)
    fig.update_xaxes(title_text=x_title, row=3 if res.z_product is not None else 2, col=1)
    page.chart(fig, key="mem_probe_chart")
    shown = "" if resp.shape[1] <= MAX_UNITS_SHOWN else f" (the {MAX_UNITS_SHOWN} most responsive of {resp.shape[1]})"
    st.caption(f"Units shown{shown}: {', '.join(map(str, units))}. |h − h_baseline| is in state units "
               "(h lies in −1..1); the input is in scaled units. "
               + ("" if res.z_product is not None else
                  f"The z product exists only for a GRU; this {t.model_cfg.cell.upper()} shows its last layer."))
    st.dataframe(memory_table(res, layer_row), hide_index=True, width="content")


def memory_table(res, layer_row: int) -> pd.DataFrame:
    """Per unit: peak response and the steps it lasts (and the z product's) above 10 % of peak."""
    resp = res.response[layer_row]                                    # (T, U)
    T = resp.shape[0]
    table = pd.DataFrame({"unit": np.arange(resp.shape[1]),
                          "peak |Δh|": resp[res.t0:].max(axis=0),
                          "response lasts (steps)": memory_length(resp.T, res.t0)})
    if res.z_product is not None:
        table["z product above 0.1 for (steps)"] = memory_length(res.z_product[layer_row].T, res.t0)
    table = table.sort_values("response lasts (steps)", ascending=False)
    table.attrs["note"] = f"{T - 1 - res.t0} steps follow t0 in this window"
    return table


def memory_map(t: runs.Trained) -> None:
    """dy_hat_k/dx_t for one test window as a heatmap, with the column sums."""
    ds, L = t.dataset, t.dataset.window.lookback
    a, b = st.columns([3, 1])
    with a:
        i = int_slider("Test window", 1, len(ds.test), 1, key="mem_map_window") - 1
    column = 0
    if ds.scaled.shape[1] > 1:
        with b:
            column = st.selectbox("Input column", list(range(ds.scaled.shape[1])), key="mem_column",
                                  format_func=lambda k: ds.series.columns[k])
    start = int(ds.test.starts[i])
    x = ds.scaled[start:start + L].double().numpy()                  # (L, C)
    S = input_sensitivity(t.model, x, column)                        # (H, L)
    axis, x_title = _x_axis(t, start, L)
    page.chart(charts_cell.sensitivity_figure(axis, x[:, column], S, x_title=x_title), key="mem_map_chart")
    sums = np.abs(S).sum(axis=0)
    top = np.argsort(-sums)[:3]
    steps_back = ", ".join(f"{L - 1 - int(k)}" for k in top)
    st.caption(f"Test window {i + 1} of {len(ds.test)} ({runs.time_label(ds, start)} to "
               f"{runs.time_label(ds, start + L - 1)}). The numbers are gradients of the **scaled** forecast "
               f"with respect to the **scaled** input ({ds.series.columns[column]}): how much forecast step k "
               "would move for a small nudge of one input, at this window. They are local — other windows "
               f"or large changes can differ. The inputs that matter most here are {steps_back} step(s) "
               "before the last one.")
