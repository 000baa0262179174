"""One view module per page: the drawing that would make a page file long (ui/page.py skeleton)."""
