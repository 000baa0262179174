"""Error types of gru_core.

Every problem a user can cause (a bad file, a too-short series, an impossible setting, a damaged
model bundle) raises one of these. Each message says what is wrong *and* how to fix it, so the app
can show it verbatim in an ``st.error`` box.
"""


class DataError(ValueError):
    """Bad user input: the message says what is wrong and how to fix it."""


class BundleError(DataError):
    """A model bundle that cannot be loaded safely (wrong format, damaged, tampered or malicious)."""
