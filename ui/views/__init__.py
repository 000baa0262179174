"""One view module per page: the Streamlit drawing a page delegates to (``ui/views/<page>.py``)."""
