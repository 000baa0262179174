"""Text page: a character-level GRU language model on The Time Machine, trained live, its gates per character."""
import streamlit as st

from ui import page
from ui.views import text as view

page.header(
    "Text",
    "A **character-level language model**: a GRU reads a book one character at a time and learns to "
    "predict the next one -- the classic textbook example on H. G. Wells' *The Time Machine*. Press "
    "**Start** and watch the **perplexity** fall (exp of the mean cross-entropy per character: how "
    "many characters the model is still choosing between) while the live sample turns from noise "
    "into words. Then let it write from your own prefix, and colour the text by a unit's gates to "
    "find units that track spaces, line ends or quotes.")

view.keep_settings()
left, right = st.columns([1.25, 2], gap="large")
text, source, vocab_size = None, "", 28
with left, page.body("reading the text settings"):
    text, source = view.source_picker()
    if text is not None:
        line, vocab_size = view.corpus_summary(text, st.session_state["text_vocab"])
        st.caption(line)
    view.settings_panel()
    with st.expander("Speed: nn.GRU vs from scratch", icon=":material/speed:"):
        view.speed_panel(vocab_size)

with right:
    with page.body("controlling the text run"):
        if text is None:
            page.empty_state("Upload a plain-text file on the left (or pick The Time Machine) to train on.")
        view.controls(text, source)
    with page.body("showing the text run"):
        view.live_view()

st.divider()
st.subheader("Write with the model")
with page.body("generating text"):
    view.generate_panel(view.job())

st.subheader("The text coloured by a gate")
with page.body("colouring the passage"):
    j = page.require(view.job() if view.job() and view.weights_stable(view.job()) else None,
                     "Train a model (or pause the run) to see its gates on every character.")
    page.require(j if j.cfg.cell == "gru" else None,
                 "This run is not a GRU: only a GRU has reset and update gates. Pick the GRU cell "
                 "and train again.")
    view.gates_panel(j)
