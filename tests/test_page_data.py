"""The Data page through Streamlit's AppTest: default sample, generator, upload, window errors.

AppTest runs the real app.py (navigation, shared sidebar, session state) without a browser.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.state import DEFAULT_SAMPLE, gen_param_key

REPO = Path(__file__).resolve().parents[1]

def _good_csv(n: int = 120) -> bytes:
    rows = ["month,widgets_sold,price"]
    for i in range(n):
        rows.append(f"{2010 + i // 12}-{i % 12 + 1:02d},{100 + (i % 12) * 3 + i * 0.5:.1f},"
                    f"{5 + (i % 7) * 0.1:.2f}")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def at():
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def charts(at) -> list[dict]:
    """The Plotly figures on the page, as dicts."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def metric(at, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise KeyError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_default_sample_is_preselected_with_a_chart(at):
    assert at.session_state["source"] == "sample"
    assert at.session_state["sample"] == DEFAULT_SAMPLE
    assert not errors(at)
    figs = charts(at)
    assert figs, "no plotly chart on the Data page"
    names = [t.get("name") for t in figs[0]["data"]]
    assert any(n.startswith("window inputs (lookback L = 24") for n in names)
    assert any(n.startswith("window targets (horizon H = 6") for n in names)
    assert int(metric(at, "Points").replace(",", "")) == 309   # yearly sunspots 1700-2008
    assert int(metric(at, "Train windows")) > 0
    assert any("Source:" in c.value for c in at.caption), "sample provenance not shown"


def windows_by_hand(T: int, L: int, H: int, S: int, train: float, val: float) -> list[int]:
    """Train / validation / test window counts from the split rule, by a naive loop over starts.

    The parts are [0, round(T*train)), [.., round(T*(train+val))), [.., T); a window (inputs
    s..s+L-1, targets s+L..s+L+H-1) belongs to the part holding all its targets, its inputs
    within the series; each part takes every S-th of its valid starts, from the first.
    """
    cuts = [0, round(T * train), round(T * (train + val)), T]
    counts = []
    for a, b in zip(cuts, cuts[1:]):
        valid = [s for s in range(T) if s >= 0 and all(a <= t < b for t in range(s + L, s + L + H))]
        counts.append(len(valid[::S]))
    return counts


def window_counts(at) -> list[int]:
    return [int(metric(at, f"{p} windows").replace(",", "")) for p in ("Train", "Validation", "Test")]


def test_window_counts_follow_the_split_rule(at):
    T = int(metric(at, "Points").replace(",", ""))
    assert window_counts(at) == windows_by_hand(T, 24, 6, 1, 0.7, 0.15)
    at.number_input(key="lookback").set_value(10).run()
    at.number_input(key="horizon").set_value(4).run()
    at.number_input(key="stride").set_value(3).run()
    at.slider(key="train_frac").set_value(0.6).run()
    at.slider(key="val_frac").set_value(0.2).run()
    assert not at.exception and not errors(at), errors(at)
    assert window_counts(at) == windows_by_hand(T, 10, 4, 3, 0.6, 0.2)
    assert int(at.slider(key="example_window").max) == sum(window_counts(at))


def test_generator_parameter_changes_the_data(at):
    at.segmented_control(key="source").set_value("generator").run()
    assert not at.exception and not errors(at)
    gen = at.session_state["gen"]
    before = charts(at)[0]["data"][0]["y"]
    assert metric(at, "Points") == f"{at.session_state['gen_length']:,}"

    # A parameter slider of the chosen generator changes the plotted series.
    first = at.slider(key=gen_param_key(gen, "amplitude_1"))
    first.set_value(3.0).run()
    assert not at.exception and not errors(at)
    assert charts(at)[0]["data"][0]["y"] != before

    # Length changes the number of points.
    at.number_input(key="gen_length").set_value(500).run()
    assert metric(at, "Points") == "500"

    # Another generator shows its own parameters.
    at.selectbox(key="gen").set_value("sine").run()
    assert not at.exception and not errors(at)
    assert at.slider(key=gen_param_key("sine", "phase")) is not None


def test_good_upload_becomes_the_data(at):
    at.segmented_control(key="source").set_value("upload").run()
    assert not at.exception
    assert not errors(at), "no file yet must be an explanation, not an error"
    at.file_uploader[0].set_value(("sales.csv", _good_csv(), "text/csv")).run()
    assert not at.exception and not errors(at), errors(at)
    assert at.session_state["upload_name"] == "sales.csv"
    assert metric(at, "Points") == "120"
    assert metric(at, "Frequency") == "monthly"
    y_title = charts(at)[0]["layout"]["yaxis"]["title"]["text"]
    assert y_title == "widgets_sold"
    assert at.session_state["source"] == "upload"
    assert any("upload: sales.csv" in c.value for c in at.sidebar.caption), "sidebar must name the file"

    # The extra column can be used as an input.
    at.multiselect(key="inputs").set_value(["price"]).run()
    assert not at.exception and not errors(at)


@pytest.mark.parametrize("name, payload", [
    ("binary.csv", b"PK\x03\x04" + bytes(range(256)) * 8),
    ("empty.csv", b""),
    ("header_only.csv", b"date,value\n"),
])
def test_bad_upload_shows_error_and_keeps_previous_data(at, name, payload):
    at.segmented_control(key="source").set_value("upload").run()
    at.file_uploader[0].set_value(("sales.csv", _good_csv(), "text/csv")).run()
    assert metric(at, "Points") == "120"

    at.file_uploader[0].set_value((name, payload, "text/csv")).run()
    assert not at.exception
    assert errors(at), f"a bad upload ({name}) must show an st.error"
    assert "sales.csv" in errors(at)[0]                       # says what is kept
    assert at.session_state["upload_name"] == "sales.csv"
    assert metric(at, "Points") == "120"
    assert charts(at), "the previous data's chart must stay"


def test_first_upload_bad_shows_error_only(at):
    at.segmented_control(key="source").set_value("upload").run()
    at.file_uploader[0].set_value(("junk.csv", b"\x00\x01\x02\xff" * 100, "text/csv")).run()
    assert not at.exception
    assert errors(at)
    assert not at.get("plotly_chart")


def test_too_short_series_states_the_minimum_length(at):
    at.number_input(key="lookback").set_value(300).run()
    assert not at.exception
    msgs = errors(at)
    assert msgs and "needs at least" in msgs[0], msgs
    assert charts(at), "the series is still drawn, without windows"


def test_split_that_leaves_no_test_part_is_explained(at):
    at.slider(key="train_frac").set_value(0.85).run()
    at.slider(key="val_frac").set_value(0.15).run()
    assert not at.exception
    assert any("test part" in m for m in errors(at))


def test_missing_values_are_counted_and_handled(at):
    at.selectbox(key="sample").set_value("co2_weekly").run()
    assert not at.exception and not errors(at)
    assert metric(at, "Missing values") == "59"
    points_interp = int(metric(at, "Points").replace(",", ""))
    at.selectbox(key="missing").set_value("drop").run()
    assert not at.exception and not errors(at)
    assert int(metric(at, "Points").replace(",", "")) == points_interp - 59


def test_settings_survive_a_page_change(at):
    at.number_input(key="horizon").set_value(6).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert at.number_input(key="horizon").value == 6


def test_bad_generator_parameters_show_the_fix(at):
    at.segmented_control(key="source").set_value("generator").run()
    at.selectbox(key="gen").set_value("ar").run()
    at.slider(key=gen_param_key("ar", "phi1")).set_value(1.5).run()     # with phi2 = -0.5 ...
    at.slider(key=gen_param_key("ar", "phi2")).set_value(0.5).run()     # ... non-stationary
    assert not at.exception
    msgs = errors(at)
    assert msgs and "not stationary" in msgs[0], msgs
    # The generator controls stay on screen so the user can fix it.
    at.slider(key=gen_param_key("ar", "phi1")).set_value(0.6).run()
    at.slider(key=gen_param_key("ar", "phi2")).set_value(0.2).run()
    assert not at.exception and not errors(at)
    assert charts(at)
