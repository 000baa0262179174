"""GRU Lab: the Streamlit entry script.

Run with ``streamlit run app.py``. It prepares the shared settings (``ui.state.init``: session
state, shared links), draws the sidebar that every page shares, and hands over to the page the
user picked. Pages live in ``pages/``; with ``st.navigation`` each one is listed here.
"""
import streamlit as st

from ui import sidebar, state

st.set_page_config(page_title="GRU Lab", page_icon=":material/memory:", layout="wide")

PAGES = [
    st.Page("pages/data.py", title="Data", icon=":material/table_chart:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/forecast.py", title="Forecast", icon=":material/query_stats:"),
    st.Page("pages/gates.py", title="Gates", icon=":material/tune:"),
    st.Page("pages/lab.py", title="Lab", icon=":material/science:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/compare:"),
    st.Page("pages/cell.py", title="Cell", icon=":material/calculate:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/memory.py", title="Memory", icon=":material/history:"),
    st.Page("pages/text.py", title="Text", icon=":material/article:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/grid_view:"),
]

state.init()
page = st.navigation(PAGES)
sidebar.draw()
page.run()
