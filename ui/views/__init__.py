"""One view module per page: the page's drawing logic, so the page file reads top to bottom."""
