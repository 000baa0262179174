"""Cell page: one GRU cell computed by hand, step by step (gru_core.cell; ui/views/cell.py)."""
import streamlit as st

from ui import page
from ui.views import cell as view

page.header(
    "Cell",
    "One GRU cell of 1 to 4 units reading one number per step: pick its weights (a preset that "
    "saturates one gate, or units of your trained GRU), set the input x_t and the previous state "
    "h_(t−1), and see the reset gate r, the update gate z, the candidate n and the new state h′ "
    "computed with the numbers filled in — in PyTorch's convention and the tutorial one, and with "
    "PyTorch's \"reset after\" beside the paper's \"reset before\". Then step or play through a "
    "short input sequence.\n\n"
    "**What to look for:** with *remembers* (z near 1) h′ barely moves from h whatever x is, with "
    "*forgets* it jumps to the candidate n; with *resets* the candidate ignores h. The two reset "
    "forms differ by a number you can read below, not by a relabelling.")

with page.body("computing the cell"):
    left, right = st.columns([1, 1.4], gap="large")
    with left:
        st.subheader("Weights and inputs")
        w = view.weights()
        x, h = view.state_inputs(w)
        with st.expander("The weights (PyTorch layout: rows r, z, n)", icon=":material/grid_on:"):
            st.dataframe(view.weight_table(w), hide_index=True, width="stretch")
    with right:
        st.subheader("One step, by hand")
        view.one_step(w, x, h)
    st.subheader("Step through a sequence")
    st.markdown("The sequence starts from the h_(t−1) set above. Solid lines: PyTorch's cell; the "
                "dotted state is the paper's reset-before cell run on the same inputs. Gates are "
                "shares (0..1); n and h lie in −1..1.")
    view.sequence(w, h)
