"""The Cell page's drawing: weight choice, one step with its numbers, and the sequence player.

All arithmetic is ``gru_core.cell`` (tested against ``nn.GRUCell``); this module only places
widgets and shows what it returns. Widget keys start with ``cell_``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.charts import cell as charts_cell
from gru_core.cell import (MAX_UNITS, PRESETS, SEQUENCES, CellWeights, gru_step, input_sequence,
                           preset_weights, run_cell, step_latex, weights_from_gru)
from ui import data_source, page, runs
from ui.widgets import int_slider

ss = st.session_state
TRAINED = "trained"
PLAY_EVERY_S = 0.6           # seconds between two steps while playing


# ------------------------------------------------------------------------------------ weights
def weights() -> CellWeights:
    """The weight source widgets; returns the cell's weights."""
    t = runs.trained()
    gru = t.model.rnn if (t is not None and t.model_cfg.cell == "gru") else None
    options = list(PRESETS) + ([TRAINED] if gru is not None else [])
    if ss.get("cell_preset") not in options:
        ss["cell_preset"] = "random"
    preset = st.segmented_control(
        "Weights", options, key="cell_preset", required=True, persist_state="session",
        format_func=lambda p: "trained GRU" if p == TRAINED else p,
        help="Presets saturate one gate so its effect is easy to see; 'from the trained GRU' "
             "loads chosen units of the trained model's first layer.")
    if preset == TRAINED:
        pick = st.multiselect(f"Units of the trained GRU (1 to {MAX_UNITS})", list(range(gru.hidden_size)),
                              default=[0], max_selections=MAX_UNITS, key="cell_units_pick",
                              persist_state="session")
        w = weights_from_gru(gru, pick or [0])
        st.caption(f"**Weights** · {w.source}. Model: {t.label}.")
        return w
    if gru is None:
        st.caption("Train a GRU on the Train page to load one of its units here.")
    a, b = st.columns(2)
    with a:
        U = st.slider("Hidden size U", 1, MAX_UNITS, 2, key="cell_hidden", persist_state="session")
    with b:
        seed = st.number_input("Seed", 0, 10_000, 0, key="cell_seed", persist_state="session")
    w = preset_weights(preset, U, int(seed))
    st.caption(f"**Weights** · {w.source}.")
    return w


def state_inputs(w: CellWeights) -> tuple[float, list[float]]:
    """Sliders for x_t and every unit's h_{t-1}."""
    x = st.slider("Input x_t", -2.0, 2.0, 1.0, 0.05, key="cell_x", persist_state="session")
    cols = st.columns(w.hidden_size)
    h = [c.slider(f"h_(t−1), unit {j}", -1.0, 1.0, 0.5 if j == 0 else 0.0, 0.05, key=f"cell_h{j}",
                  persist_state="session") for j, c in enumerate(cols)]
    return float(x), h


def weight_table(w: CellWeights) -> pd.DataFrame:
    """One row per unit and gate: the weights the step uses (PyTorch's r, z, n blocks)."""
    rows = []
    for gate in "rzn":
        for j in range(w.hidden_size):
            rows.append({"gate": gate, "unit": j, "W_i (x)": float(w.block("W_i", gate)[j, 0]),
                         **{f"W_h (h{m})": float(w.block("W_h", gate)[j, m]) for m in range(w.hidden_size)},
                         "b_i": float(w.block("b_i", gate)[j]), "b_h": float(w.block("b_h", gate)[j])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ one step
def one_step(w: CellWeights, x: float, h: list[float]) -> None:
    """The four equations with the numbers, both z conventions, both reset forms."""
    s = gru_step(w, x, h)
    unit = 0
    if w.hidden_size > 1:
        unit = st.segmented_control("Unit shown in the equations", list(range(w.hidden_size)), default=0,
                                    required=True, key="cell_unit", persist_state="session")
        unit = min(int(unit), w.hidden_size - 1)
    tex = step_latex(s, unit)
    st.markdown("**PyTorch's GRU (z = share of the old state kept), this step:**")
    st.latex(r"\begin{aligned}" + r"\\".join(tex[k] for k in ("r", "z", "n_after", "h_torch"))
             + r"\end{aligned}")
    st.markdown("**The same step in the tutorial convention** (z′ = 1 − z = share of the candidate "
                "written; same model, same h′):")
    st.latex(r"\begin{aligned}" + tex["h_tutorial"] + r"\end{aligned}")
    st.markdown("**Reset after (PyTorch) vs reset before (the paper)**, same x and h:")
    st.latex(r"\begin{aligned}&\text{PyTorch (reset after):}\\" + tex["n_after"]
             + r"\\[4pt] &\text{paper (reset before):}\\" + tex["n_before"] + r"\end{aligned}")
    diff = pd.DataFrame({
        "unit": np.arange(w.hidden_size),
        "r": s.r.numpy(), "z (PyTorch)": s.z.numpy(),
        "n reset after (PyTorch)": s.n.numpy(), "n reset before (paper)": s.n_before.numpy(),
        "n difference": (s.n - s.n_before).numpy(),
        "h′ PyTorch": s.h.numpy(), "h′ paper": s.h_before.numpy(),
        "h′ difference": (s.h - s.h_before).numpy()})
    st.dataframe(diff, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c, format="%.4f")
                                for c in diff.columns if c != "unit"})
    gap = float((s.h - s.h_before).abs().max())
    st.caption(f"Largest |h′ PyTorch − h′ paper| this step: **{gap:.2e}** (state units). The two "
               "forms agree only when r = 1 or the hidden part W_hn h + b_hn is 0; PyTorch also "
               "scales the bias b_hn by r.")


# ------------------------------------------------------------------------------------ sequence
def _on_play() -> None:
    ss["cell_playing"] = True


def _on_pause() -> None:
    ss["cell_playing"] = False


def _on_step() -> None:
    ss["cell_playing"] = False
    ss["cell_t"] = ss.get("cell_t", 0) + 1


def _on_reset() -> None:
    ss["cell_playing"] = False
    ss["cell_t"] = 0


def _window_values(T: int):
    """The first test window of the current data, scaled target, or None if the data is not ready."""
    try:
        ds = data_source.current_dataset()
    except Exception:  # noqa: BLE001 -- the page offers the other sequences then
        return None
    if len(ds.test) == 0:
        return None
    return ds.test.X[0, :, 0].numpy()


def sequence(w: CellWeights, h0: list[float]) -> None:
    """Step / play through a short input sequence; state and gates plotted over the steps."""
    a, b = st.columns([2, 1])
    with a:
        kind = st.segmented_control("Input sequence", list(SEQUENCES), default="step", required=True,
                                    key="cell_seq", persist_state="session", format_func=SEQUENCES.get)
    with b:
        T = int_slider("Steps", 6, 60, 24, key="cell_len")
    xs = input_sequence(kind, T, window=_window_values(T) if kind == "window" else None)
    run = run_cell(w, xs, h0)
    T = xs.shape[0]
    tutorial = st.toggle("Plot z in the tutorial convention (z′ = 1 − z)", key="cell_tutorial",
                         persist_state="session")
    playing = bool(ss.get("cell_playing"))
    with st.container(horizontal=True, gap="small"):
        st.button("Play", key="cell_play", icon=":material/play_arrow:", on_click=_on_play, disabled=playing)
        st.button("Pause", key="cell_pause", icon=":material/pause:", on_click=_on_pause, disabled=not playing)
        st.button("Step", key="cell_step", icon=":material/skip_next:", on_click=_on_step)
        st.button("Reset", key="cell_reset", icon=":material/replay:", on_click=_on_reset)

    @st.fragment(run_every=PLAY_EVERY_S if playing else None)
    def player() -> None:
        t = int(ss.get("cell_t", 0))
        if ss.get("cell_playing"):
            t = t + 1 if t < T - 1 else t
            if t >= T - 1:
                ss["cell_playing"] = False
        t = min(max(t, 0), T - 1)
        ss["cell_t"] = t
        s = gru_step(w, xs[t], run.h[t - 1] if t > 0 else h0)
        st.caption(f"**Step {t} of {T - 1}** · x_t = {xs[t]:.3f} · r = {np.round(s.r.numpy(), 3).tolist()} · "
                   f"z (PyTorch) = {np.round(s.z.numpy(), 3).tolist()} · h′ = {np.round(s.h.numpy(), 3).tolist()}"
                   + (" · playing" if ss.get("cell_playing") else ""))
        page.chart(charts_cell.cell_sequence_figure(run, t, tutorial=tutorial), key="cell_chart")
        if playing and not ss.get("cell_playing"):
            st.rerun()              # the end of the sequence: leave the playing state once
    player()
