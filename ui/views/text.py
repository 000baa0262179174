"""The Text page's view: its settings, its own training job, the live view, writing, coloured gates.

The page keeps its run under ``st.session_state["text_job"]`` -- never under the forecaster's
``"job"`` -- so training a language model leaves the Train, Forecast and Gates pages' run and
results alone. Every widget key starts with ``text_``; :func:`keep_settings` remembers them when
the user visits another page (Streamlit forgets a widget's value once its page is left).

The job (``ui/views/text_job.py``) is a plain-Python :class:`TextJob` around the server
scheduler's handle of a ``gru_core.train.TrainingRun.for_task`` with a ``gru_core.text.LMTask``:
it waits in the server's queue like every other run (its place in line is shown), and the
training thread never calls Streamlit. Its ``LiveSampler`` writes a sample from the user's prefix
every few seconds *in the training thread* (the weights are then consistent); the page only
reads it.
"""
from __future__ import annotations

import hashlib
import math

import streamlit as st

from gru_core.charts import text as charts_text
from gru_core.errors import DataError
from gru_core.model import CELLS
from gru_core.text import (CHAR_CLASSES, MAX_GENERATE, MAX_PASSAGE, MAX_TEXT_BYTES, QUANTITIES,
                           SampleSettings, TextConfig, char_classes, char_gates, compare_speed,
                           decode_text, generate, load_time_machine, mean_ce, rank_units,
                           text_dataset)
from gru_core.text.render import legend_html, passage_html
from gru_core.train import TrainConfig
from ui import page, server
from ui.data_source import TRAIN_THREADS
from ui.views.text_job import (JOB, SAMPLE_EVERY_S, TextJob, TextSpec, is_running,  # noqa: F401
                               job, on_control, on_start, poll_s, start, weights_stable)

ss = st.session_state
PASSAGE_CHARS = 900                   # default passage length for the coloured view
DEFAULTS = {                          # every Text setting: key -> default (measured: words in < 1 min)
    "text_source": "time_machine", "text_vocab": "letters", "text_seq_len": 32,
    "text_batch": 32, "text_hidden": 128, "text_layers": 1, "text_cell": "gru",
    "text_sampling": "sequential", "text_embed": 0, "text_lr": 0.01, "text_clip_on": True,
    "text_clip": 1.0, "text_epochs": 20, "text_budget_on": True, "text_budget": 60,
    "text_seed": 0, "text_scratch": False, "text_prefix": "time traveller", "text_temp": 0.7,
    "text_len": 200, "text_greedy": False, "text_topk": 0, "text_gen_seed": 0,
    "text_q": "z", "text_class": "space", "text_layer": 1,
}
SOURCES = {"time_machine": "The Time Machine", "upload": "Upload .txt"}


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


# ----------------------------------------------------------------------------- settings
def keep_settings() -> None:
    """Restore this page's settings (defaults on a first visit) and remember them where Streamlit
    does not forget them. Call before any widget: at the start of a run session state already
    holds the values the user just set."""
    kept = ss.setdefault("_text_kept", {})
    for key, default in DEFAULTS.items():
        if key not in ss:
            ss[key] = kept.get(key, default)
    for key in ("text_unit", "text_passage"):            # no default: set when a model exists
        if key not in ss and key in kept:
            ss[key] = kept[key]
    ss["_text_kept"] = {key: ss[key] for key in (*DEFAULTS, "text_unit", "text_passage") if key in ss}


@st.cache_data(show_spinner=False, max_entries=1)
def time_machine() -> str:
    return load_time_machine()


def on_upload() -> None:
    """Decode the uploaded file once, when it changes (messages instead of tracebacks)."""
    f = ss.get("text_upload_file")
    ss["text_upload_error"] = None
    if f is None:
        return
    try:
        text, encoding = decode_text(f.getvalue(), f.name)
        ss["text_uploaded"] = {"name": f.name, "text": text, "encoding": encoding}
    except DataError as exc:
        ss["text_upload_error"] = str(exc)


def source_picker() -> tuple[str | None, str]:
    """The corpus (None while an upload is missing) and its label."""
    st.segmented_control("Text", list(SOURCES), key="text_source", required=True,
                         format_func=SOURCES.get, width="stretch")
    if ss["text_source"] == "time_machine":
        return time_machine(), "The Time Machine"
    mb = MAX_TEXT_BYTES // 2**20
    st.file_uploader(f"Plain-text file (.txt, UTF-8 or Latin-1, up to {mb} MiB)", type=["txt", "md"],
                     key="text_upload_file", on_change=on_upload, max_upload_size=mb,
                     help="Any long plain text: a novel from Project Gutenberg (its licence header "
                          "is removed), lecture notes, code. At least a few pages.")
    if ss.get("text_upload_error"):
        st.error(ss["text_upload_error"], icon=":material/error:")
    up = ss.get("text_uploaded")
    if up is None:
        return None, ""
    st.caption(f"Using **{up['name']}** ({len(up['text']):,} characters, {up['encoding']}).")
    return up["text"], f"upload: {up['name']}"


def settings_panel() -> None:
    """All model and training controls (values land in ``st.session_state['text_*']``)."""
    st.subheader("Model")
    st.segmented_control("Vocabulary", ["letters", "all"], key="text_vocab", required=True,
                         format_func={"letters": "letters + space", "all": "all characters"}.get,
                         help="letters + space: lower-case a-z and one space for everything else, as in "
                              "the textbook (28 symbols with <unk>). All characters keeps case, "
                              "punctuation, quotes and line ends (needed to find a quote or line-end unit).")
    st.segmented_control("Cell", list(CELLS), key="text_cell", required=True,
                         format_func=lambda c: CELLS[c].label,
                         help="The coloured gates exist for the GRU only; LSTM and plain RNN are for comparison.")
    a, b = st.columns(2)
    a.number_input("Hidden units", 8, 1024, step=8, key="text_hidden")
    b.number_input("Layers", 1, 4, step=1, key="text_layers")
    st.toggle("From-scratch GRU (the four equations in plain tensor code)", key="text_scratch",
              disabled=ss["text_cell"] != "gru",
              help="Same maths and weights as nn.GRU, written out step by step: slower. Compare the "
                   "speed below.")
    st.subheader("Training")
    a, b = st.columns(2)
    a.number_input("Sequence length T", 4, 512, step=4, key="text_seq_len",
                   help="Characters per training sequence: how far back gradients flow.")
    b.number_input("Batch size B", 1, 512, step=8, key="text_batch", help="Sequences per step.")
    a.number_input("Learning rate", 1e-4, 0.1, step=1e-3, format="%.4f", key="text_lr",
                   help="Adam. 0.01 learns characters quickly; lower it if the perplexity jumps.")
    b.number_input("Seed", 0, 2**31 - 1, step=1, key="text_seed",
                   help="Initial weights and batches: the same seed gives the same run.")
    a.toggle("Clipping", key="text_clip_on",
             help="Rescale the gradient when its norm exceeds the maximum: keeps a recurrent net from "
                  "exploding.")
    b.number_input("Max grad norm", 0.1, 100.0, step=0.5, key="text_clip",
                   disabled=not ss["text_clip_on"])
    a.toggle("Time limit", key="text_budget_on", help="Stop after this many seconds of training "
             "(pauses not counted), even if epochs remain.")
    b.number_input("Seconds", 5, 3600, step=15, key="text_budget", disabled=not ss["text_budget_on"])
    a.number_input("Epochs", 1, 500, step=1, key="text_epochs", help="Passes over the training text.")
    st.segmented_control("Batches", ["sequential", "random"], key="text_sampling", required=True,
                         help="Sequential: each batch continues the previous one, and the hidden state "
                              "is carried over (detached). Random: shuffled pieces, zero state each.")


def configs() -> tuple[TextConfig, TrainConfig, float | None]:
    """The settings as configs (validated) and the time budget in seconds (None = off)."""
    cfg = TextConfig(vocab=ss["text_vocab"], seq_len=int(ss["text_seq_len"]),
                     batch_size=int(ss["text_batch"]), sampling=ss["text_sampling"],
                     embed_dim=int(ss["text_embed"]), hidden_size=int(ss["text_hidden"]),
                     num_layers=int(ss["text_layers"]), cell=ss["text_cell"],
                     scratch=bool(ss["text_scratch"]) and ss["text_cell"] == "gru").validate()
    tc = TrainConfig(lr=float(ss["text_lr"]), epochs=int(ss["text_epochs"]), patience=0,
                     clip_grad=float(ss["text_clip"]) if ss["text_clip_on"] else 0.0,
                     seed=int(ss["text_seed"]), device="auto", num_threads=TRAIN_THREADS).validate()
    return cfg, tc, float(ss["text_budget"]) if ss["text_budget_on"] else None


@st.cache_data(show_spinner=False, max_entries=4)
def corpus_sizes(text: str, vocab: str) -> tuple[int, int, int]:
    """Training characters, validation characters and vocabulary size of ``text`` (cached)."""
    d = text_dataset(text, TextConfig(vocab=vocab, seq_len=1, batch_size=1))
    return d.train.numel(), d.val.numel(), len(d.vocab)


def corpus_summary(text: str, vocab: str) -> tuple[str, int]:
    """One line on the split and vocabulary of ``text``, and the vocabulary size."""
    n_train, n_val, v = corpus_sizes(text, vocab)
    return (f"**{n_train:,}** training / **{n_val:,}** validation characters "
            f"(the last tenth, never trained on) · vocabulary **{v}** symbols incl. "
            "<unk>"), v


def sample_settings() -> SampleSettings:
    return SampleSettings(prefix=ss["text_prefix"] or " ", length=min(int(ss["text_len"]), 160),
                          temperature=0.0 if ss["text_greedy"] else float(ss["text_temp"]),
                          top_k=int(ss["text_topk"]) or None, seed=int(ss["text_gen_seed"]))


# ----------------------------------------------------------------------------- the job
def limits(text: str | None) -> bool:
    """The server's limits beside this run's size and time, before Start; False past one."""
    if text is None:
        return True
    try:
        cfg, tc, budget = configs()
    except DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return False
    n_train, _, v = corpus_sizes(text, cfg.vocab)
    return server.limits_caption(TextSpec(cfg, tc, n_train, v, budget))


def controls(text: str | None, source: str) -> None:
    running, j = is_running(), job()
    paused = running and j.run.snapshot().state == "paused"
    fits = limits(text)
    with st.container(horizontal=True, gap="small"):
        st.button("Start", key="text_btn_start", type="primary", icon=":material/play_arrow:",
                  on_click=on_start, args=(text, source),
                  disabled=running or text is None or not fits)
        st.button("Pause", key="text_btn_pause", icon=":material/pause:", on_click=on_control,
                  args=("pause",), disabled=not running or paused)
        st.button("Resume", key="text_btn_resume", icon=":material/resume:", on_click=on_control,
                  args=("resume",), disabled=not paused)
        st.button("Stop", key="text_btn_stop", icon=":material/stop:", on_click=on_control,
                  args=("stop",), disabled=not running)
    if ss.get("text_start_error"):
        st.error(ss["text_start_error"], icon=":material/error:")


# ----------------------------------------------------------------------------- live view
def _ppl(loss: float | None) -> str:
    return "—" if loss is None or not math.isfinite(loss) else f"{math.exp(loss):.2f}"


def end_message(j: TextJob, p) -> None:
    if p.state == "stopped" and j.live.budget_hit:
        st.success(f"**Time budget used up** ({fmt_s(j.budget_s)} of training, {p.step:,} steps, "
                   f"epoch {p.epoch + 1}). Write with the model and colour its gates below.")
    else:
        box = {"finished": st.success, "stopped": st.info, "diverged": st.warning}.get(p.state, st.error)
        box(f"**{p.state.replace('_', ' ').capitalize()}.** {p.reason}")


def final_val(j: TextJob) -> float:
    """Mean validation cross-entropy of the run's kept weights (computed once per run)."""
    key = ("_text_final_val", j.started)
    if ss.get("_text_final_val_for") != key:
        ss["_text_final_val"] = mean_ce(j.model, j.data.val)
        ss["_text_final_val_for"] = key
    return ss["_text_final_val"]


def live_body() -> None:
    j = job()
    if j is None:
        st.info("No text model yet: press **Start**. Within a minute the perplexity falls and the "
                "sample below turns from random letters into words.", icon=":material/info:")
        return
    server.renew()
    p = j.run.snapshot()
    if (waiting := server.wait_line(j.run)) is not None:      # queued on the server's scheduler
        st.caption(f"**This run:** {j.source}, waiting to start.")
        st.info(waiting, icon=":material/hourglass_top:")
        return
    if p.done and ss.get("_text_ended") != j.started:
        ss["_text_ended"] = j.started                  # once: leave the running state
        st.rerun()
    j.live.set_settings(sample_settings())
    c, tc = j.cfg, j.train_cfg
    st.caption(f"**This run:** {'scratch ' if c.scratch else ''}{CELLS[c.cell].label}, "
               f"{c.hidden_size} units × {c.num_layers} layer(s), {c.vocab} vocabulary "
               f"({len(j.data.vocab)}), T = {c.seq_len}, B = {c.batch_size}, lr {tc.lr:g}, "
               f"clip {tc.clip_grad:g}{' (off)' if not tc.clip_grad else ''}, seed {tc.seed}, "
               f"{j.source}.")
    if p.done:
        end_message(j, p)
    elif p.state == "paused":
        st.info("Paused: the model can be used below. **Resume** to go on.", icon=":material/pause:")
    eta = p.eta_s
    if j.budget_s is not None and not p.done:
        eta = min(eta if eta is not None else math.inf, max(j.budget_s - p.elapsed_s, 0.0))
    frac = p.step / p.total_steps if p.total_steps else 0.0
    if j.budget_s is not None:
        frac = max(frac, min(p.elapsed_s / j.budget_s, 1.0))
    where = (f"{p.epoch} of {p.epochs} epochs completed" if p.done else
             f"Epoch {p.epoch + 1}/{p.epochs} · ETA {fmt_s(eta)}")
    st.progress(1.0 if p.state == "finished" else min(frac, 1.0),
                text=f"{where} · step {p.step:,} · elapsed {fmt_s(p.elapsed_s)} · "
                     f"{p.device.upper()} ({p.threads} thread{'s' if p.threads != 1 else ''})")
    val, val_help = p.val_loss, "after each epoch"
    if (p.done and p.step > 0 and (not p.epoch_steps or p.epoch_steps[-1] != p.step)
            and j.model is not None):
        val, val_help = final_val(j), "of the final weights, scored when the run ended"
    m = st.columns(3)
    m[0].metric("Train perplexity", _ppl(p.train_loss), help="exp(mean cross-entropy per character) "
                "of the last step. 1 = certain; the vocabulary size = a uniform guess.")
    m[1].metric("Validation perplexity", _ppl(val), help="The same on the held-out last tenth of the "
                f"text, {val_help}. Best after an epoch: {_ppl(p.best_val)}.")
    m[2].metric("Characters / s", f"{p.windows_per_s:,.0f}", help="Training throughput (tokens = "
                "characters), validation time included.")
    fig = charts_text.perplexity_figure(p.steps, p.step_loss, p.epoch_steps, p.epoch_train,
                                        p.epoch_val, vocab_size=len(j.data.vocab),
                                        tokens_per_step=c.seq_len * c.batch_size)
    page.chart(fig, key="text_ppl_chart")
    s = j.live.latest()
    st.markdown(f"**Live sample** (from the prefix below, rewritten every {SAMPLE_EVERY_S:g} s"
                + (f"; step {s.step:,}, {fmt_s(s.elapsed_s)})" if s else ")"))
    if j.live.error:
        st.warning(j.live.error)
    st.code(s.text if s else "(the first sample appears after a few seconds)", language=None,
            wrap_lines=True)


def live_view() -> None:
    """The run as it is now: refreshes every 2 s while queued, every second while training."""
    every = poll_s()

    @st.fragment(run_every=every)
    def view() -> None:
        if every is not None and every != poll_s():          # it left the queue (or ended)
            st.rerun()
        live_body()

    view()


# ----------------------------------------------------------------------------- speed
def speed_panel(vocab_size: int) -> None:
    st.caption("**nn.GRU vs the from-scratch GRU**: the same equations and weights; one timed "
               "training step (forward + backward) each, on these settings.")
    if st.button("Compare their speed", key="text_btn_speed", icon=":material/speed:"):
        cfg, _, _ = configs()
        with st.spinner("Timing one training step of each ..."):
            ss["text_speed"] = compare_speed(cfg, vocab_size)
    r = ss.get("text_speed")
    if r:
        a, b = st.columns(2)
        a.metric("nn.GRU", f"{r['nn.GRU']:,.0f} chars/s")
        b.metric("From scratch", f"{r['scratch']:,.0f} chars/s",
                 delta=f"{r['speedup']:.1f}× slower", delta_color="off")
        st.caption(f"Largest difference between their outputs: {r['max_abs_diff']:.1e} (rounding).")


# ----------------------------------------------------------------------------- writing
def generate_panel(j: TextJob | None) -> None:
    a, b, c = st.columns([3, 2, 2])
    a.text_input("Prefix", key="text_prefix", max_chars=200,
                 help="The model reads this, then writes on. The live sample uses it too.")
    b.slider("Temperature", 0.1, 2.0, step=0.05, key="text_temp", disabled=ss["text_greedy"],
             help="Below 1: safer, repetitive. Above 1: wilder. Greedy always takes the likeliest character.")
    c.slider("Length (characters)", 10, MAX_GENERATE, step=10, key="text_len")
    a, b, c = st.columns([3, 2, 2])
    a.toggle("Greedy (always the most likely character)", key="text_greedy")
    b.number_input("Top-k (0 = off)", 0, 200, step=1, key="text_topk", disabled=ss["text_greedy"],
                   help="Sample only among the k most likely characters.")
    c.number_input("Sampling seed", 0, 2**31 - 1, step=1, key="text_gen_seed",
                   help="The same seed, prefix and settings write the same text.")
    ready = j is not None and weights_stable(j) and j.run.snapshot().step > 0
    if st.button("Generate", key="text_btn_generate", icon=":material/edit_note:", disabled=not ready):
        ss["text_generated"] = generate(j.model, j.data.vocab, ss["text_prefix"], int(ss["text_len"]),
                                        0.0 if ss["text_greedy"] else float(ss["text_temp"]),
                                        int(ss["text_topk"]) or None, int(ss["text_gen_seed"]))
    if not ready:
        st.caption("Train (or pause) a model first; while it trains, the live sample above uses these settings.")
    if ss.get("text_generated"):
        st.code(ss["text_generated"], language=None, wrap_lines=True)


# ----------------------------------------------------------------------------- coloured gates
def _gates(j: TextJob, passage: str):
    """The passage's per-character gates, cached per run, weights (step) and passage."""
    key = (j.started, j.run.snapshot().step, hashlib.sha1(passage.encode()).hexdigest())
    cache = ss.setdefault("_text_gates", {})
    if key not in cache:
        cache.clear()
        cache[key] = char_gates(j.model, j.data.vocab, passage)
    return cache[key]


def default_passage(j: TextJob) -> str:
    """A validation excerpt starting at a line (or word) start."""
    val = j.data.val_text
    i = val.find("\n\n", 0, 3000)
    i = i + 2 if i >= 0 else max(val.find(" "), 0) + 1
    return val[i:i + PASSAGE_CHARS]


def gates_panel(j: TextJob) -> None:
    # a new run, or no passage (emptied, or lost when a click interrupted the run that set it)
    if ss.get("_text_passage_for") != j.started or not str(ss.get("text_passage", "")).strip():
        ss["text_passage"] = default_passage(j)
        ss["_text_passage_for"] = j.started
    st.text_area(f"Passage (up to {MAX_PASSAGE:,} characters; empty = an excerpt of the validation "
                 "text, unseen in training)", key="text_passage", height=110, max_chars=MAX_PASSAGE)
    g = _gates(j, ss["text_passage"])
    K, _, U = g.z.shape
    a, b, c, d = st.columns([2, 2, 1.2, 1.2])
    a.segmented_control("Colour by", list(QUANTITIES), key="text_q", required=True,
                        format_func={"z": "z (update)", "r": "r (reset)", "n": "n", "h": "h"}.get)
    b.selectbox("Find units for", list(CHAR_CLASSES), key="text_class", format_func=CHAR_CLASSES.get)
    if int(ss["text_layer"]) > K:
        ss["text_layer"] = K
    c.number_input("Layer", 1, K, step=1, key="text_layer", disabled=K == 1)
    q, cls, layer = ss["text_q"], ss["text_class"], int(ss["text_layer"])
    try:
        ranked = rank_units(g, q, cls, layer=layer - 1, top=8)
    except DataError as exc:
        st.info(str(exc), icon=":material/info:")
        ranked = []
    pick = [r.unit for r in ranked] or list(range(U))
    if ss.get("text_unit") not in range(U) or ss.get("_text_rank_for") != (q, cls, layer, g.text):
        ss["text_unit"] = pick[0]                      # the best unit for a new question
        ss["_text_rank_for"] = (q, cls, layer, g.text)
    d.number_input(f"Unit (0-{U - 1})", 0, U - 1, step=1, key="text_unit")
    if ranked:
        st.caption(f"Units whose **{q}** differs most on {CHAR_CLASSES[cls]} (effect = difference of "
                   "means in pooled standard deviations): " + " · ".join(
                       f"**{r.unit}**: {r.effect:+.2f} ({r.mean_in:.2f} vs {r.mean_out:.2f})"
                       for r in ranked[:6]))
    unit = int(ss["text_unit"])
    vals = g.values(q, layer - 1)[:, unit]
    tips = [f"{c!r} · char {t} · r {g.r[layer - 1, t, unit]:.3f} · z {g.z[layer - 1, t, unit]:.3f} · "
            f"n {g.n[layer - 1, t, unit]:+.3f} · h {g.h[layer - 1, t, unit]:+.3f}"
            for t, c in enumerate(g.text)]
    st.html(legend_html(q, unit, layer))
    st.html(passage_html(g.text, vals, q, tips))
    fig = charts_text.unit_figure(g.text, vals, quantity=q, unit=unit,
                                  mask=char_classes(g.text)[cls], mask_name=CHAR_CLASSES[cls])
    page.chart(fig, key="text_unit_chart")
