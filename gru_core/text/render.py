"""A passage as HTML, every character's background set by one unit's gate value.

The text is the user's (an upload, a typed passage), so **every character and every tooltip is
escaped** with ``html.escape(..., quote=True)``: nothing the text holds can become markup. The
HTML uses only ``<div>``, ``<span>`` and ``<br>``-free ``white-space: pre-wrap`` (line ends stay
line ends, shown as a faint ↵), inline styles and ``title`` tooltips: no script, no class names.

Colour scales, one per quantity (the legend from :func:`legend_html` says which):

* z and r lie in [0, 1]: white (0) -> the gate's colour (1), linear in the value;
* n and h lie in [-1, 1]: blue (-1) -> white (0) -> red (+1).
"""
from __future__ import annotations

import html

import numpy as np

from gru_core.errors import DataError

__all__ = ["SCALES", "color_for", "legend_html", "passage_html"]

_WHITE = (255, 255, 255)
_BLUE, _RED = (37, 99, 235), (220, 38, 38)
SCALES = {  # quantity -> (low value, high value, low colour, mid colour or None, high colour)
    "z": (0.0, 1.0, _WHITE, None, (219, 39, 119)),
    "r": (0.0, 1.0, _WHITE, None, (37, 99, 235)),
    "n": (-1.0, 1.0, _BLUE, _WHITE, _RED),
    "h": (-1.0, 1.0, _BLUE, _WHITE, _RED),
}
MEANING = {
    "z": "update gate z in PyTorch's convention: 1 = the unit keeps its old state, 0 = it writes "
         "the new candidate (tutorials call 1 - z the update gate)",
    "r": "reset gate r: 1 = the old state is used in the candidate, 0 = it is ignored",
    "n": "candidate n: the new value the unit proposes, from -1 to 1",
    "h": "hidden state h after reading the character, from -1 to 1",
}


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def color_for(quantity: str, value: float) -> str:
    """``rgb(r, g, b)`` of ``value`` on the quantity's scale (clipped to its range)."""
    if quantity not in SCALES:
        raise DataError(f"Unknown quantity {quantity!r}: choose one of {', '.join(SCALES)}.")
    lo, hi, c_lo, c_mid, c_hi = SCALES[quantity]
    t = (min(max(float(value), lo), hi) - lo) / (hi - lo)         # 0..1
    if c_mid is None:
        rgb = _mix(c_lo, c_hi, t)
    else:
        rgb = _mix(c_lo, c_mid, 2 * t) if t < 0.5 else _mix(c_mid, c_hi, 2 * t - 1)
    return f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"


def _shown(c: str) -> str:
    return {"\n": "\u21b5", "\t": "\u21e5"}.get(c, c)


def passage_html(text: str, values, quantity: str, tooltips: list[str] | None = None,
                 font_px: int = 19) -> str:
    """The passage as escaped HTML spans coloured by ``values``.

    Parameters
    ----------
    text : str
        T characters.
    values : array-like (T,)
        One unit's value of ``quantity`` at every character.
    quantity : str
        "z", "r", "n" or "h" (picks the colour scale).
    tooltips : list of str, optional
        T hover texts (escaped here too).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.shape[0] != len(text):
        raise DataError(f"{len(text)} characters but {v.shape[0]} values: pass one value per "
                        "character.")
    if tooltips is not None and len(tooltips) != len(text):
        raise DataError(f"{len(text)} characters but {len(tooltips)} tooltips.")
    parts = [f'<div style="font-family: ui-monospace, Menlo, Consolas, monospace; '
             f'font-size: {int(font_px)}px; line-height: 1.75; white-space: pre-wrap; '
             f'color: #14213d; overflow-wrap: anywhere;">']
    for t, c in enumerate(text):
        tip = f' title="{html.escape(tooltips[t], quote=True)}"' if tooltips else ""
        style = f"background: {color_for(quantity, v[t])}; border-radius: 2px;"
        if c == "\n":
            style += " color: #94a3b8;"
        parts.append(f'<span style="{style}"{tip}>{html.escape(_shown(c), quote=True)}</span>')
        if c == "\n":
            parts.append("\n")
    parts.append("</div>")
    return "".join(parts)


def legend_html(quantity: str, unit: int, layer: int) -> str:
    """A colour bar with its end values and what the quantity means (no user text inside)."""
    lo, hi = SCALES[quantity][0], SCALES[quantity][1]
    stops = ", ".join(color_for(quantity, lo + (hi - lo) * i / 8) for i in range(9))
    mid = f" · white = {(lo + hi) / 2:g}" if SCALES[quantity][3] is not None else ""
    return (f'<div style="font-size: 14px; color: #14213d; margin: 4px 0 10px 0;">'
            f'<b>Background = {html.escape(quantity)} of unit {int(unit)}, layer {int(layer)}</b>'
            f' — {html.escape(MEANING[quantity])}.'
            f'<div style="display: flex; align-items: center; gap: 8px; margin-top: 6px;">'
            f'<span>{lo:g}</span><div style="width: 260px; height: 14px; border: 1px solid #cbd5e1;'
            f' background: linear-gradient(to right, {stops});"></div><span>{hi:g}</span>'
            f'<span style="color: #64748b;">{mid} · hover a character for its r, z, n, h</span>'
            f'</div></div>')
