"""gru_core.text.render and gru_core.charts.text: the coloured passage is escaped; colours follow the scale."""
from __future__ import annotations

import html
import re

import numpy as np
import pytest

from gru_core.charts.text import perplexity_figure, unit_figure
from gru_core.errors import DataError
from gru_core.text.render import color_for, legend_html, passage_html

HOSTILE = '<script>alert("x")</script> & \'q\' <img src=x onerror=alert(1)>\n'


def test_every_character_and_tooltip_is_escaped():
    tips = [f'<b>"{c}"</b>' for c in HOSTILE]
    out = passage_html(HOSTILE, np.linspace(0, 1, len(HOSTILE)), "z", tips)
    assert "<script" not in out and "<img" not in out and "<b>" not in out
    assert out.count("<span") == len(HOSTILE)
    # the spans, unescaped, give back the text (line ends shown as the ↵ mark)
    texts = [html.unescape(t) for t in re.findall(r"<span[^>]*>(.*?)</span>", out)]
    assert "".join(texts) == HOSTILE.replace("\n", "\u21b5")
    titles = [html.unescape(t) for t in re.findall(r'title="([^"]*)"', out)]
    assert titles == tips


@pytest.mark.parametrize("q, value, rgb", [("z", 0.0, (255, 255, 255)), ("z", 1.0, (219, 39, 119)),
                                           ("z", 7.0, (219, 39, 119)), ("r", 0.5, (146, 177, 245)),
                                           ("h", -1.0, (37, 99, 235)), ("h", 0.0, (255, 255, 255)),
                                           ("h", 1.0, (220, 38, 38))])
def test_colour_scale(q, value, rgb):
    assert color_for(q, value) == f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"


def test_mismatched_lengths_are_refused():
    with pytest.raises(DataError, match="one value per character"):
        passage_html("abc", [0.1, 0.2], "z")


def test_legend_names_the_convention():
    assert "keeps its old state" in legend_html("z", 3, 1) and "unit 3" in legend_html("z", 3, 1)


def test_perplexity_figure_draws_exp_of_the_losses():
    fig = perplexity_figure([1, 2, 3], [np.log(20.0), np.log(10.0), np.log(5.0)], [3], [np.log(9.0)],
                            [np.log(8.0)], vocab_size=28, tokens_per_step=64)
    assert np.allclose(fig.data[0].y, [20, 10, 5], rtol=1e-5)
    assert np.allclose(fig.data[2].y, [8.0], rtol=1e-5)
    assert any("28" in a.text for a in fig.layout.annotations)
    assert unit_figure("ab c", [0.1, 0.2, 0.9, 0.3], quantity="z", unit=2,
                       mask=[False, False, True, False]).data[1].x.tolist() == [2.0]
