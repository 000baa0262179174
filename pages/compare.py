"""Compare page: GRU vs LSTM vs plain RNN on the same data and budget, gradients through time,
and exploding gradients tamed by clipping (ui/views/compare.py; gru_core.gradients)."""
import streamlit as st

from gru_core.charts import cell as charts_cell
from gru_core.model import CELLS
from ui import page
from ui.views import compare as view

ss = st.session_state

page.header(
    "Compare",
    "Why gates? Train every registered cell — the GRU, an LSTM and a plain tanh RNN — on the same "
    "data, split, seed and budget, and compare their test errors. Then look inside training: how much "
    "of the loss's gradient reaches each earlier state h_t (backpropagation through time), and what a "
    "too-large recurrent weight does to the gradient, with and without clipping.\n\n"
    "**What to look for:** on the delayed-echo task the forecast needs the value k−1 steps back; the "
    "plain RNN's gradient line falls by many orders of magnitude over those steps while the trained "
    "GRU's stays flatter, and the cell whose gradient reaches back wins. In the clipping experiment "
    "the unclipped gradient norm shoots up and the loss explodes, while the clipped run stays finite.")


with page.body("comparing the cells"):
    st.subheader("Setup")
    ds, source = view.dataset_choice()
    configs, tc, mode = view.settings(ds)
    job = ss.get(view.JOB_KEY)
    running = job is not None and job.running
    fits = view.limits(ds, configs, tc, mode)
    with st.container(horizontal=True, gap="small"):
        st.button("Train and compare", key="cmp_start", type="primary", icon=":material/play_arrow:",
                  on_click=view.on_start, args=(ds, source, configs, tc, mode),
                  disabled=running or not configs or not fits)
        st.button("Stop", key="cmp_stop", icon=":material/stop:", on_click=view.on_stop,
                  disabled=not running)
    if ss.get("cmp_error"):
        st.error(ss["cmp_error"], icon=":material/error:")
    st.caption(" · ".join(f"{CELLS[c].label}: hidden {cfg.hidden_size}" for c, cfg in configs.items())
               + f" · {len(ds.train):,} training windows · {tc.epochs} epochs · batch {tc.batch_size} · "
               f"Adam lr {tc.lr:g} · clip 1 · seed {tc.seed}")

    st.subheader("Training")
    if job is None:
        page.empty_state("Nothing compared yet: press **Train and compare** (the defaults take about a "
                         "minute on two CPU cores).")
    else:
        every = view.poll_s(job)

        @st.fragment(run_every=every)
        def live() -> None:
            snaps = job.snapshots()
            if running and not job.running and ss.get("_cmp_done") != job.started:
                ss["_cmp_done"] = job.started
                st.rerun()
            waiting = view.wait_line(job)
            if waiting is None and job.running and every != view.poll_s(job):
                st.rerun()                             # it has left the queue: poll faster
            if waiting is not None:
                st.info(waiting, icon=":material/hourglass_top:")
                return
            st.caption(f"**Data** · {job.source} · " + " · ".join(
                f"{CELLS[c].label}: {p.state.replace('_', ' ')}, epoch {p.epoch}/{p.epochs}"
                for c, p in snaps.items()))
            curves = {CELLS[c].label: (charts_cell.cell_color(c, i), p.epoch_train, p.epoch_val)
                      for i, (c, p) in enumerate(snaps.items())}
            page.chart(charts_cell.loss_overlay_figure(curves), key="cmp_loss_chart")
        live()

    if job is not None and not running and job.evicted:
        st.info("The trained models of this comparison were removed from the server to free "
                "memory (it keeps the most recently used results). Train and compare again.",
                icon=":material/info:")
    elif job is not None and not running:
        table = view.results_table(job)
        if not table.empty:
            st.markdown(view.verdict(table))
            st.dataframe(table, hide_index=True, width="stretch", column_config={
                c: st.column_config.NumberColumn(c, format="%.4g") for c in ("MAE", "RMSE", "sMAPE %", "MASE")}
                | {"s / epoch": st.column_config.NumberColumn("s / epoch", format="%.2f")})
            st.caption("Test windows, errors in the data's units; naive = last value repeated, seasonal "
                       "naive = the value one season back (the echo delay, when it is detected).")
        st.subheader("Gradients through time")
        T = st.slider("Window length for the gradient (steps)", 20, 300, 150, key="cmp_grad_T",
                      persist_state="session")
        curves = view.grad_curves(job, int(T))
        page.chart(charts_cell.grad_time_figure(
            curves, title=f"‖∂loss/∂h_t‖ over a {T}-step stretch of the test part (MSE in scaled units; "
                          "last layer; log axis)"), key="cmp_grad_chart")
        st.dataframe(view.decay_table(curves), hide_index=True, width="stretch", column_config={
            c: st.column_config.NumberColumn(c, format="%.2e") for c in ("‖∂L/∂h‖ at the last step", "at t = 0")}
            | {"orders of magnitude lost": st.column_config.NumberColumn(format="%.1f")})
        st.caption("Orders of magnitude lost = log10(‖∂L/∂h_(T−1)‖ / ‖∂L/∂h_0‖); negative means the "
                   "gradient grows backwards. PyTorch starts a GRU with z ≈ 0.5, so at initialisation "
                   "its gradient fades about as fast as the RNN's; training is what opens the long path.")

    st.subheader("Exploding gradients and clipping")
    st.markdown("A plain RNN whose recurrent weights are multiplied by a gain, trained with plain SGD "
                "on the windows above, twice from the same start on the same batches: once as it is, "
                "once with the gradient rescaled to a maximum norm before each step.")
    a, b, c, d = st.columns(4)
    gain = a.number_input("Recurrent weight gain", 0.5, 10.0, 2.0, 0.5, key="cmp_gain", persist_state="session")
    lr = b.number_input("SGD learning rate", 0.01, 5.0, 0.5, 0.05, key="cmp_sgd_lr", persist_state="session")
    clip = c.number_input("Clip to norm", 0.1, 100.0, 1.0, 0.1, key="cmp_clip_norm", persist_state="session")
    show = d.toggle("Show the clipped run", value=True, key="cmp_clip", persist_state="session")
    st.button("Run the clipping experiment", key="cmp_explode_run", icon=":material/bolt:",
              on_click=view.on_explode, args=(ds, source, "rnn", 16, float(gain), float(lr),
                                              float(clip), 60, tc.seed))
    view.explode_view((source, "rnn", 16, float(gain), float(lr), float(clip), 60, tc.seed), show)
