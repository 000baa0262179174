"""gru_core.charts: the package re-exports every figure helper the pages call, and its display
helpers agree with naive loops written here."""
from __future__ import annotations

import numpy as np
import pytest

from gru_core import charts

PUBLIC = ["COLORS", "FONT", "SPLIT_FILL", "themed", "line", "as_f32", "display_indices",
          "series_figure", "window_figure", "ema", "loss_figure", "forecast_step_figure",
          "forecast_window_figure", "residual_figures", "mae_by_step_figure", "future_figure",
          "gate_heatmaps", "gate_lines_figure", "GATE_RANGE", "LOSS_POINTS", "DISPLAY_POINTS",
          "scale_fonts", "PRESENT_SCALE", "LEGEND_BELOW", "set_cursor", "CURSOR"]


def test_every_page_name_is_reexported():
    for name in PUBLIC:
        assert hasattr(charts, name), name
    assert set(charts.__all__) >= set(PUBLIC)
    for name in charts.__all__:
        assert getattr(charts, name) is not None


def test_ema_equals_a_naive_loop():
    rng = np.random.default_rng(0)
    v = rng.normal(size=50)
    w = 0.8
    s, want = 0.0, []
    for t, x in enumerate(v, start=1):
        s = w * s + (1 - w) * x
        want.append(s / (1 - w ** t))
    np.testing.assert_allclose(charts.ema(v, w), want, rtol=1e-12)
    assert charts.ema([3.0], 0.9)[0] == pytest.approx(3.0)   # bias-corrected: first value as is


def test_display_indices_keep_every_bucket_extreme():
    rng = np.random.default_rng(1)
    y = rng.normal(size=10_003)
    y[4321] = 50.0                                          # a spike must survive
    idx = charts.display_indices(y, 1000)
    assert len(idx) <= 1000 and np.all(np.diff(idx) > 0) and 4321 in idx
    k = -(-len(y) // 500)                                   # bucket size, as documented
    for start in range(0, len(y), k):
        seg = y[start:start + k]
        assert start + int(seg.argmin()) in idx and start + int(seg.argmax()) in idx
    np.testing.assert_array_equal(charts.display_indices(y[:10], 1000), np.arange(10))


def test_gate_heatmap_cells_are_the_values_given():
    x = np.arange(7)
    vals = np.random.default_rng(2).uniform(size=(7, 3))    # (T, U)
    fig = charts.gate_heatmaps(x, np.sin(x), "s", [("z", "title", vals, "z")], [2, 0, 1])
    hm = [t for t in fig.data if t.type == "heatmap"][0]
    np.testing.assert_array_equal(np.asarray(hm.z), vals.T.astype(np.float32))
    assert list(hm.y) == ["unit 2", "unit 0", "unit 1"] and (hm.zmin, hm.zmax) == (0.0, 1.0)


def _font_sizes(fig) -> dict:
    lay = fig.layout
    return {"base": lay.font.size, "title": lay.title.font.size, "ticks": lay.xaxis.tickfont.size,
            "legend": lay.legend.font.size,
            "annotations": [a.font.size for a in lay.annotations],
            "colorbars": [tr.colorbar.title.font.size for tr in fig.data
                          if getattr(tr, "colorbar", None) is not None], "height": lay.height}


def test_scale_fonts_scales_every_font_once_and_back():
    x = np.arange(20)
    fig = charts.gate_heatmaps(x, np.sin(x), "y", [("z", "z", np.random.default_rng(0).random((20, 3)),
                                                    "z")], [0, 1, 2], title="T")
    fig.update_traces(colorbar_title_font_size=12, selector=dict(type="heatmap"))
    plain = _font_sizes(fig)
    assert plain["base"] == charts.FONT["size"] and plain["title"] == 15
    k = charts.PRESENT_SCALE
    charts.scale_fonts(fig, k)
    charts.scale_fonts(fig, k)                   # again (a cached figure): no compounding
    big = _font_sizes(fig)
    assert big["base"] == pytest.approx(plain["base"] * k)
    assert big["title"] == pytest.approx(plain["title"] * k)
    assert big["annotations"] == pytest.approx([s * k for s in plain["annotations"]])
    assert big["colorbars"] == pytest.approx([s * k for s in plain["colorbars"]])
    assert big["height"] > plain["height"]
    assert plain["ticks"] is None and plain["legend"] is None    # unset: Streamlit's theme fills them
    assert big["ticks"] == pytest.approx(plain["base"] * k)          # set, and scaled
    assert big["legend"] == pytest.approx(plain["base"] * (1 + (k - 1) * charts.theme.LEGEND_GROWTH))
    charts.scale_fonts(fig, 1.0)                 # presentation off: exactly the themed sizes
    assert _font_sizes(fig) == plain


def test_set_cursor_draws_one_line_at_that_time():
    import pandas as pd

    dates = pd.date_range("2020-01-01", periods=10, freq="D")
    fig = charts.gate_heatmaps(dates, np.arange(10.0), "y", [("r", "r", np.zeros((10, 2)), "r")],
                               [0, 1])
    charts.set_cursor(fig, dates[3])
    charts.set_cursor(fig, dates[4])             # moves it: still one line
    (shape,) = fig.layout.shapes
    assert pd.Timestamp(shape.x0) == pd.Timestamp(shape.x1) == dates[4]
    assert (shape.yref, shape.y0, shape.y1) == ("paper", 0, 1)
    fig2 = charts.gate_heatmaps(np.arange(10), np.arange(10.0), "y",
                                [("r", "r", np.zeros((10, 2)), "r")], [0, 1])
    assert charts.set_cursor(fig2, np.int64(7)).layout.shapes[0].x0 == 7.0


def test_plain_labels_makes_user_names_literal_once():
    import plotly.graph_objects as go

    from gru_core.charts import plain_labels, themed
    name = "<b>sales</b> & <a href='http://evil.example'>x</a>"
    fig = themed(go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name=name)), title=name, x_title="<br>t",
                 y_title="a&lt;b")
    fig.update_layout(legend_title_text="<i>legend</i>")
    for _ in range(3):                                          # a cached figure drawn again
        plain_labels(fig)
    entities = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}

    def decoded(s):                                             # what plotly.js draws
        import re
        return re.sub("&amp;|&lt;|&gt;", lambda m: entities[m.group(0)], s)
    assert "<" not in fig.data[0].name and decoded(fig.data[0].name) == name
    assert decoded(fig.layout.title.text) == name
    assert decoded(fig.layout.xaxis.title.text) == "<br>t"
    assert decoded(fig.layout.yaxis.title.text) == "a&lt;b"         # shown as typed, not as "a<b"
    assert decoded(fig.layout.legend.title.text) == "<i>legend</i>"
