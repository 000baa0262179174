"""Memory page: how far back the trained model remembers (gru_core.memory; ui/views/memory.py)."""
import streamlit as st

from ui import page, runs
from ui.views import memory as view

page.header(
    "Memory",
    "How many steps does this model remember, and which units do it? Nudge one input of a window "
    "(an impulse, or a step that stays) and watch how long each unit's state answers, beside the "
    "running product of the update gate z that a GRU unit multiplies its old state by. Then the "
    "memory map: how strongly each forecast step depends on each input step of a test window.\n\n"
    "**What to look for:** units whose response (and z product) stays up for many steps carry the "
    "long memory; units that drop at once follow the input. In the memory map, bright columns far "
    "from the end are old inputs the forecast still uses — on seasonal data, typically one season back.")

with page.body("probing the model's memory"):
    t = page.require(runs.trained(), "No trained model yet: train one on the Train page (a few seconds "
                     "with the default settings), then come back.", "pages/train.py", "Go to Train")
    st.caption(f"**Model** · {t.label}")
    if t.model_cfg.bidirectional:
        st.warning("This model is bidirectional: it also reads every window backwards, so 'how far back' "
                   "has no single answer. Train it with Bidirectional off to probe its memory.",
                   icon=":material/warning:")
        st.stop()
    st.subheader("Impulse and step response")
    view.probe(t)
    st.subheader("Memory map")
    view.memory_map(t)
