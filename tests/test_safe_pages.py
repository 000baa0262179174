"""Markdown and HTML payloads through the real pages: share-link settings, an uploaded CSV's file
and column names, a model bundle's columns. Nothing may render as a link, an image or HTML.

Every element on every page is read from its protobuf (each ``body``, ``label`` and ``help`` text:
markdown, captions, alerts, metrics, widget labels and help, expander titles, page links) and
checked by :func:`unsafe`, a small CommonMark reader written here: backslash escapes are dropped,
code spans (CommonMark's backtick-run rule) are set aside, and what is left must hold no ``](``,
``![``, ``<img``, ``http://`` and no backtick run that opens a code span without closing it.
"""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from gru_core.bundle import save_bundle
from gru_core.data import load_table, prepare_series
from gru_core.model import ModelConfig
from gru_core.train import TrainConfig, TrainingRun
from gru_core.windows import SplitConfig, WindowConfig, make_dataset
from ui.state import SETTINGS

from apptest_helpers import APP
from test_safe import PAYLOADS

# Starts by closing a code span it may be pasted into, so a raw `{value}` leaves the link outside.
PAYLOAD = ("x` " + PAYLOADS[0] + " **bold** <img src=x onerror=alert(1)> :red[alarm] "
           "http://evil.example/bare ``y")
PAGES = ("pages/data.py", "pages/train.py", "pages/forecast.py", "pages/gates.py")
TEXT_FIELDS = {"body", "label", "help"}
FORBIDDEN = ("](", "![", "<img", "http://", ":red[")
# Settings whose link value is a string or a choice (numbers and toggles are parsed to numbers).
TEXT_SETTINGS = [s.key for s in SETTINGS if s.kind in (str, list) or s.options is not None
                 and s.kind is not bool]


# ------------------------------------------------------------------------------ the checker
def _drop_escapes(s: str) -> str:
    r"""CommonMark: ``\`` before ASCII punctuation makes it literal; drop both characters."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and 33 <= ord(s[i + 1]) <= 126 and not s[i + 1].isalnum():
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def _outside_code(s: str) -> str:
    """``s`` with its code spans removed; AssertionError for a backtick run that never closes."""
    out, i = [], 0
    while i < len(s):
        if s[i] != "`":
            out.append(s[i])
            i += 1
            continue
        j = i
        while j < len(s) and s[j] == "`":
            j += 1
        n, k = j - i, j
        while True:                               # the next run of exactly n backticks closes it
            k = s.find("`" * n, k)
            if k < 0:
                raise AssertionError(f"unbalanced backtick run of {n} at {i}: {s!r}")
            end = k + n
            if (end == len(s) or s[end] != "`") and (k == 0 or s[k - 1] != "`"):
                break
            while end < len(s) and s[end] == "`":
                end += 1
            k = end
        i = k + n
    return "".join(out)


def unsafe(body: str) -> list[str]:
    """What in one Markdown body would render as a link, image, HTML or directive."""
    text = _outside_code(_drop_escapes(body))
    return [f for f in FORBIDDEN if f in text]


def _texts(msg, out: list[str]) -> None:
    for field, value in msg.ListFields():
        if field.type == field.TYPE_MESSAGE:
            items = [value] if hasattr(value, "ListFields") else (
                value.values() if hasattr(value, "keys") else value)        # one, a map, a list
            for v in items:
                if hasattr(v, "ListFields"):
                    _texts(v, out)
        elif field.name in TEXT_FIELDS and isinstance(value, str):
            out.append(value)


def page_texts(at: AppTest) -> list[str]:
    """Every body / label / help string of every element and block on the page and sidebar."""
    out: list[str] = []

    def walk(node):
        if getattr(node, "proto", None) is not None:
            _texts(node.proto, out)
        for child in getattr(node, "children", {}).values():
            walk(child)
    walk(at._tree)
    return out


def assert_safe(at: AppTest, where: str) -> None:
    assert not at.exception, (where, at.exception)
    texts = page_texts(at)
    assert texts, "no text found: the walker is broken"
    latex = lambda t: t.startswith("$$") and t.rstrip().endswith("$$")   # noqa: E731 st.latex, ours
    bad = [(t, unsafe(t)) for t in texts if not latex(t) and unsafe(t)]
    assert not bad, (where, bad)


def test_checker_catches_raw_payloads_and_passes_escaped_ones():
    from ui.safe import code, md
    for raw in (PAYLOAD.replace("`", ""), "[x](y)", "![i](y)", "<img src=x>", "see http://e.x"):
        assert unsafe(raw), raw
    with pytest.raises(AssertionError, match="unbalanced"):
        unsafe("a `b")
    assert not unsafe("`[x](y)` and ``a ` b``")
    for p in PAYLOADS + [PAYLOAD]:
        assert not unsafe(md(p)) and not unsafe(f"x {code(p)} y"), p


def visit_all(at: AppTest, what: str) -> None:
    for page in PAGES:
        at.switch_page(page).run()
        assert_safe(at, f"{what} on {page}")


# ------------------------------------------------------------------------- share-link values
@pytest.mark.parametrize("key", TEXT_SETTINGS + ["gp_" + PAYLOAD, PAYLOAD])
def test_share_link_values_are_shown_escaped(key):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params[key] = PAYLOAD
    at.run()
    problems = at.session_state["url_problems"]
    assert_safe(at, f"link {key}")
    if key in ("source", "sample", "gen", "missing", "scaler", "cell", "device") or key not in TEXT_SETTINGS:
        assert problems, f"{key}={PAYLOAD!r} should be reported"
        shown = [w.proto.body for w in at.sidebar.warning]
        assert shown and all(not unsafe(w) for w in shown)
    visit_all(at, f"link {key}")


# ------------------------------------------------------------------ uploaded CSV and bundle
COLS = (PAYLOAD, "![b](http://evil.example/c.png) `", "<img src=y onerror=alert(2)>")
FILE_NAME = "![f](http://evil.example/f.png) [x](http://evil.example/).csv"
TINY = {"lookback": 12, "horizon": 3, "hidden_size": 4, "num_layers": 1, "batch_size": 32,
        "epochs": 1, "patience": 0, "device": "cpu"}


def _csv(n: int = 120) -> bytes:
    quoted = ",".join('"' + c.replace('"', '""') + '"' for c in COLS)
    rows = [f"month,{quoted}"]
    for i in range(n):
        rows.append(f"{2010 + i // 12}-{i % 12 + 1:02d},{100 + (i % 12) * 3 + i * 0.5:.1f},"
                    f"{5 + (i % 7) * 0.1:.2f},{(i % 5) or ''}")        # gaps in the last column
    return ("\n".join(rows) + "\n").encode()


def _upload(at: AppTest) -> None:
    at.switch_page("pages/data.py").run()
    at.segmented_control(key="source").set_value("upload").run()
    at.file_uploader(key="upload_file").set_value((FILE_NAME, _csv(), "text/csv")).run()
    assert at.session_state["upload_name"] == FILE_NAME, [e.value for e in at.error]
    assert list(load_table(_csv(), name="x.csv").numeric_columns) == list(COLS)


def test_uploaded_file_and_column_names_are_shown_escaped():
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    for k, v in TINY.items():
        at.session_state[k] = v
    _upload(at)
    assert_safe(at, "upload on the data page")
    at.selectbox(key="target").set_value(COLS[1]).run()
    at.multiselect(key="inputs").set_value([COLS[0], COLS[2]]).run()
    assert_safe(at, "payload target and inputs")
    at.switch_page("pages/train.py").run()
    assert_safe(at, "train page before the run")
    at.button(key="btn_start").click().run()
    deadline = time.monotonic() + 60
    while at.session_state["job"].run.running:
        assert time.monotonic() < deadline, "the tiny run did not finish"
        time.sleep(0.2)
        at.run()
    at.run()
    assert at.session_state["job"].run.snapshot().step > 0
    assert_safe(at, "train page after the run")
    visit_all(at, "trained on the payload columns")


def test_bundle_column_names_and_file_name_are_shown_escaped():
    table = load_table(_csv(), name="x.csv")
    series = prepare_series(table, COLS[0], [COLS[1]])
    ds = make_dataset(series, WindowConfig(12, 3), SplitConfig(0.7, 0.15, 0.15))
    tc = TrainConfig(epochs=1, batch_size=32, device="cpu", patience=0)
    run = TrainingRun(ds, ModelConfig(input_size=2, hidden_size=4, horizon=3), tc)
    run.run()
    data = save_bundle(run.model, ds, tc)
    name = "![n](http://evil.example/n.png) `bundle.pt"

    at = AppTest.from_file(str(APP), default_timeout=60).run()      # the default sample: no such
    at.switch_page("pages/forecast.py").run()                       # columns, so an error that
    at.file_uploader(key="fc_bundle_upload").set_value((name, data, "application/octet-stream"))
    at.run()                                                        # quotes them
    assert at.error, "a bundle whose columns the data lacks must be refused"
    assert_safe(at, "bundle refused")

    _upload(at)                                                     # now the data has them
    at.switch_page("pages/forecast.py").run()
    at.file_uploader(key="fc_bundle_upload").set_value(("again " + name, data,
                                                        "application/octet-stream"))
    at.run()
    assert at.success and at.session_state["model_source"] == "bundle", [e.value for e in at.error]
    assert_safe(at, "bundle restored")
    visit_all(at, "restored bundle")
