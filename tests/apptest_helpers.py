"""AppTest helpers shared by the page tests: open a page of the real app, check it is clean."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


def open_page(page: str, job=None) -> AppTest:
    """Run app.py, optionally hand the session a finished ``ui.runs.Job``, and switch to ``page``."""
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if job is not None:
        at.session_state["job"] = job
        at.session_state["model_source"] = "run"
    at.switch_page(page)
    return at.run()


def assert_no_failures(at: AppTest) -> None:
    """No uncaught exception and no st.error on the page."""
    assert not at.exception
    assert not at.error, [e.value for e in at.error]


def plotly_figures(at: AppTest) -> list[dict]:
    """Every ``st.plotly_chart`` on the page as its Plotly JSON (``{"data": [...], "layout": ...}``)."""
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def plotly_array(v):
    """A Plotly JSON array as numpy: a list, or plotly's typed-array form ``{dtype, bdata, shape}``."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            a = a.reshape([int(n) for n in str(v["shape"]).split(",")])
        return a
    return np.asarray(v, dtype=np.float64)
