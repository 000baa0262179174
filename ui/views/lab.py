"""Lab page drawing: what-if edits and gate clamps on one window, and the gate tape scrubber.

Numbers come from ``gru_core.intervene`` (``what_if``: edited window -> clamped trace -> forecast,
data units) and ``gru_core.tape`` (frames recorded at each epoch end); figures from
``gru_core.charts.lab`` and ``gru_core.charts``. Edits and clamps are kept in session state
(``lab_edits``, ``lab_clamps``) as ``Edit`` / ``Clamp`` objects.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core import charts
from gru_core.charts import lab as charts_lab
from gru_core.intervene import EDITS, MODES, Clamp, Edit, apply_edits, what_if, window_values
from ui import page, runs
from ui.views import runs as runs_view

GATE_WORDS = {"z": "z (update; 1 = keep)", "r": "r (reset; 0 = ignore old h)"}   # short: a narrow column


def window_choice(t: runs.Trained) -> int:
    """The test window everything on the page is computed on."""
    n = len(t.dataset.test.starts)
    return st.slider("Test window", 0, n - 1, 0, key="lab_window",
                     help="Which test window to experiment on (0 = the first one after the "
                          "validation part). The gate tape records this window too.")


# ------------------------------------------------------------------------------------ what-if
def _add_edit(L: int) -> None:
    """on_click: the edit the controls describe now (read from session state at click time)."""
    ss = st.session_state
    at = int(ss["lab_edit_at"])
    ss.setdefault("lab_edits", []).append(Edit(ss["lab_edit_kind"], at, min(
        at + int(ss["lab_edit_len"]), L), float(ss["lab_edit_amount"])))


def _add_clamp(L: int) -> None:
    """on_click: the clamp the controls describe now."""
    ss = st.session_state
    lo, hi = ss["lab_clamp_steps"]
    ss.setdefault("lab_clamps", []).append(Clamp(
        ss["lab_clamp_gate"], float(ss["lab_clamp_value"]), tuple(ss["lab_clamp_units"]) or None,
        (lo, hi) if hi > lo else (min(lo, L - 1), min(lo, L - 1) + 1)))


def edit_controls(L: int) -> list[Edit]:
    """Controls that add an input edit (two compact rows); returns the edits so far."""
    c1, c2 = st.columns(2)
    kind = c1.selectbox("Edit", list(EDITS), key="lab_edit_kind", help="; ".join(
        f"{k}: {v}" for k, v in EDITS.items()))
    c2.slider("At timestep", 0, L - 1, L - 1, key="lab_edit_at",
              help="0 = the oldest input, the last one is the newest.")
    c1, c2 = st.columns(2)
    c1.number_input("Over steps", 1, L, 1, key="lab_edit_len")
    c2.number_input("Amount", value=1.0 if kind == "scale" else 0.0, key="lab_edit_amount",
                    help="Data units (scale: a factor).", format="%g")
    with st.container(horizontal=True, gap="small"):
        st.button("Add edit", key="lab_add_edit", on_click=_add_edit, args=(L,),
                  icon=":material/add:")
        st.button("Clear edits", key="lab_clear_edits", on_click=st.session_state.pop,
                  args=("lab_edits", None))
    return list(st.session_state.get("lab_edits", []))


def clamp_controls(t: runs.Trained, L: int) -> tuple[list[Clamp], str]:
    """Controls that add a gate clamp; returns (clamps so far, cell mode)."""
    cfg = t.model_cfg
    mode = st.radio("Cell", list(MODES), horizontal=True, key="lab_mode",
                    format_func=lambda m: {"full": "full GRU", "update_only": "update-only (r = 1)",
                                           "reset_only": "reset-only (z = 0)"}[m])
    c1, c2 = st.columns(2)
    c1.selectbox("Clamp gate", ["z", "r"], key="lab_clamp_gate", format_func=GATE_WORDS.get)
    c2.slider("to", 0.0, 1.0, 1.0, 0.05, key="lab_clamp_value")
    c1, c2 = st.columns(2)
    c1.multiselect("Units (none = all)", list(range(cfg.hidden_size)), key="lab_clamp_units")
    c2.slider("Timesteps", 0, L, (0, L), key="lab_clamp_steps")
    with st.container(horizontal=True, gap="small"):
        st.button("Add clamp", key="lab_add_clamp", on_click=_add_clamp, args=(L,),
                  icon=":material/add:", disabled=cfg.bidirectional,
                  help="Bidirectional GRUs cannot be clamped." if cfg.bidirectional else None)
        st.button("Clear clamps", key="lab_clear_clamps", on_click=st.session_state.pop,
                  args=("lab_clamps", None))
    return list(st.session_state.get("lab_clamps", [])), mode


def _describe(edits, clamps, mode) -> str:
    parts = [f"{e.kind} {e.amount:g} at steps {e.start}–{e.stop - 1}" for e in edits]
    parts += [f"{c.gate} = {c.value:g} for units {list(c.units) if c.units else 'all'}, steps "
              f"{c.steps[0]}–{c.steps[1] - 1}" for c in clamps]
    if mode != "full":
        parts.append(MODES[mode])
    return "; ".join(parts) or "nothing changed yet"


def point_editor(t: runs.Trained, i: int) -> np.ndarray:
    """The window's input values as a table to type into (in an expander); (L,) data units."""
    base = window_values(t.dataset, "test", i)                           # (L, C) data units
    with st.expander("Type input values", icon=":material/edit:"):
        typed = st.data_editor(pd.DataFrame({"value": base[:, 0]}), key="lab_points", height=180,
                               column_config={"value": st.column_config.NumberColumn(
                                   "input value (type to change)", format="%.4g")})
    return typed["value"].to_numpy(dtype=np.float64)


def whatif(t: runs.Trained, i: int, typed: np.ndarray, edits, clamps, mode: str):
    """Window ``i``'s input and forecast before and after; returns (before, after) ``what_if``s."""
    ds = t.dataset
    L, H = ds.window.lookback, ds.window.horizon
    base = window_values(ds, "test", i)                                  # (L, C) data units
    edited = base.copy()
    edited[:, 0] = typed
    edited = apply_edits(edited, edits)
    before = runs.model_cache(t, f"lab_before:{i}", lambda: what_if(t.model, ds, base))
    after = what_if(t.model, ds, edited, clamps, mode)
    s = int(ds.test.starts[i])
    x_in, x_out = np.arange(s, s + L), np.arange(s + L, s + L + H)
    actual = ds.series.values[s + L:s + L + H, 0]
    units = str(ds.series.target)
    st.caption(f"**Changes:** {_describe(edits, clamps, mode)}. Largest forecast change: "
               f"**{np.abs(after.forecast - before.forecast).max():.4g} {units}**.")
    page.chart(charts_lab.whatif_figure(x_in, base[:, 0], edited[:, 0], x_out, before.forecast,
                                        after.forecast, actual, units=units,
                                        title="Input and forecast, before and after"),
               key="lab_whatif_chart")
    return before, after


def whatif_gates(t: runs.Trained, before, after) -> None:
    """Chosen units' z, r and h of the last layer, before (dotted) and after (solid)."""
    L = t.dataset.window.lookback
    layer = t.model_cfg.num_layers - 1
    zb = before.trace.z[layer, 0].numpy()                                 # (L, U)
    za = after.trace.z[layer, 0].numpy()
    memory = [int(u) for u in np.argsort(-zb.mean(axis=0))[:3]]          # most "keeping" units
    shown = st.multiselect("Units to follow", list(range(zb.shape[1])), default=memory,
                           key="lab_units", help="Default: the three units with the highest mean z "
                                                 "on this window (the memory units).")
    if shown:
        panels = [("z (share kept)", zb[:, shown], za[:, shown], 0.0, 1.0),
                  ("r (reset)", before.trace.r[layer, 0].numpy()[:, shown],
                   after.trace.r[layer, 0].numpy()[:, shown], 0.0, 1.0),
                  ("h (state)", before.trace.h[layer, 0].numpy()[:, shown],
                   after.trace.h[layer, 0].numpy()[:, shown], -1.0, 1.0)]
        page.chart(charts_lab.gate_before_after_figure(
            np.arange(L), panels, shown, title=f"Layer {layer + 1}: gates before (dotted) and "
                                               "after (solid)"), key="lab_gates_chart")


# ------------------------------------------------------------------------------------ the tape
def tape_records():
    return [r for r in runs_view.history().runs() if r.tape is not None and len(r.tape)]


def record_button(t: runs.Trained, i: int) -> None:
    """Replay the shown run with a gate tape on (same data, configs and seed)."""
    ok = t.train_cfg is not None and t.model_cfg.cell == "gru"
    if st.button("Record a gate tape: train this run again with the tape on", key="lab_record",
                 disabled=not ok or runs_view.lab_running() or runs.is_running(),
                 help="Same data, settings and seed: the same training, with the gates of the "
                      "chosen window kept at every epoch." if ok else
                 "Needs a GRU trained in this session (its training settings)."):
        runs_view.start_lab_run(t.dataset, t.model_cfg, t.train_cfg, i,
                                f"replay with the gate tape, test window {i}", t.label)
        st.rerun()


def tape_player(rec) -> None:
    """Scrub or play through a record's tape: loss marker, r/z heatmaps, probe forecast."""
    frames = rec.tape.frames()
    epochs = [f.epoch for f in frames]
    playing = st.toggle("Play", key="lab_play", help="Step through the frames (loops).")

    @st.fragment(run_every=0.8 if playing else None)
    def _frame():
        ss = st.session_state
        if ss.get("lab_frame") not in epochs:
            ss["lab_frame"] = epochs[-1]
        if playing:
            ss["lab_frame"] = epochs[(epochs.index(ss["lab_frame"]) + 1) % len(epochs)]
        epoch = st.select_slider("Epoch (tape frame)", epochs, key="lab_frame")
        f = frames[epochs.index(epoch)]
        ds = rec.dataset
        page.chart(charts_lab.tape_loss_figure(rec.epoch_train, rec.epoch_val, epoch,
                                               title="Loss, with this frame's epoch marked"),
                   key="lab_tape_loss")
        x = f.trace.h.shape[2]
        probe = rec.tape.probe_x[0, :, 0].numpy()
        y_in = ds.scaler.inverse_target(probe)
        layer = f.trace.z.shape[0] - 1
        panels = [(g, f"{g} of layer {layer + 1} at epoch {epoch}",
                   getattr(f.trace, g)[layer, 0].numpy(), g) for g in ("z", "r")]
        page.chart(charts.gate_heatmaps(np.arange(x), y_in, str(ds.series.target), panels,
                                        range(panels[0][2].shape[1])), key="lab_tape_heat")
        L, H = ds.window.lookback, ds.window.horizon
        page.chart(charts_lab.probe_forecast_figure(
            np.arange(L), y_in, np.arange(L, L + H), _probe_actual(rec),
            ds.scaler.inverse_target(f.forecast), ds.scaler.inverse_target(frames[-1].forecast),
            epoch=epoch, units=str(ds.series.target)), key="lab_tape_fc")
    _frame()
    page.say(f"{len(frames)} frames ({rec.tape.label}), {rec.tape.memory_bytes() / 1e6:.2f} MB; "
             "each frame is the weights at the end of that epoch (0 = before training) and the "
             "gates trace_gates computes with them. Timesteps: 0 = the oldest input.")


def _probe_actual(rec) -> np.ndarray:
    """What followed the probe window, data units (found by matching the window in the test part)."""
    ds, probe = rec.dataset, rec.tape.probe_x[0]
    for j in range(len(ds.test.starts)):
        if bool((ds.test.X[j] == probe).all()):
            return ds.scaler.inverse_target(ds.test.Y[j].numpy())
    return np.full(ds.window.horizon, np.nan)
