"""Page logic that draws: one view module per page (``ui/views/<page>.py``)."""
