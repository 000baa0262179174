"""The app's shared settings: one registry, kept in ``st.session_state`` and mirrored in the URL.

Every setting a user can change (data source, generator parameters, model and training options,
seed) is declared once in :data:`SETTINGS`. Widgets use the setting's name as their ``key``, so
the value lives in ``st.session_state[name]`` and every page sees it. :func:`init` runs at the top
of every script run (from ``app.py``):

1. on a session's first run it reads the URL's query parameters (a shared link) into the settings,
   reporting values it could not use;
2. it keeps a copy of every setting under a key no widget owns and restores values Streamlit
   dropped (it forgets a widget's value once the user leaves the widget's page);
3. it writes the settings that differ from their defaults back to the URL, so the address bar is
   always a link that reproduces the current setup.

Generator parameters are dynamic: ``gp_<generator>_<param>`` in session state, ``gp_<param>`` in
the URL (only the chosen generator's).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from gru_core.generators import GENERATORS

DEFAULT_SAMPLE = "sunspots"          # a GRU clearly beats both baselines here with the defaults


@dataclass(frozen=True)
class Setting:
    """One user setting: its session-state / URL key, default and type."""

    key: str
    default: Any

    def parse(self, text: str) -> Any:
        """Turn a URL string into this setting's type; ``ValueError`` if it cannot."""
        d = self.default
        if isinstance(d, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(d, int):
            return int(text)
        if isinstance(d, float):
            return float(text)
        if isinstance(d, list):
            return [t for t in text.split(",") if t]
        return text

    def format(self, value: Any) -> str:
        if isinstance(value, list):
            return ",".join(map(str, value))
        return str(value)


SETTINGS: tuple[Setting, ...] = (
    # data
    Setting("source", "sample"),          # "sample" | "generator" | "upload"
    Setting("sample", DEFAULT_SAMPLE),
    Setting("gen", "sum_of_sines"),
    Setting("gen_length", 1200),
    Setting("gen_seed", 0),
    Setting("target", ""),                # "" = the source's default target
    Setting("inputs", []),                # extra input columns
    Setting("missing", "interpolate"),
    # windows and split
    Setting("lookback", 24),
    Setting("horizon", 6),
    Setting("stride", 1),
    Setting("train_frac", 0.7),
    Setting("val_frac", 0.15),
    Setting("scaler", "standard"),
    # model
    Setting("cell", "gru"),
    Setting("hidden_size", 32),
    Setting("num_layers", 1),
    Setting("dropout", 0.0),
    Setting("bidirectional", False),
    # training
    Setting("lr", 0.005),
    Setting("batch_size", 32),
    Setting("epochs", 60),
    Setting("clip_grad", 1.0),
    Setting("patience", 15),
    Setting("seed", 0),
    Setting("device", "auto"),
)
BY_KEY = {s.key: s for s in SETTINGS}


def gen_param_key(gen: str, param: str) -> str:
    """Session-state key of a generator parameter."""
    return f"gp_{gen}_{param}"


def _gen_param_keys() -> list[str]:
    return [gen_param_key(g.key, p.name) for g in GENERATORS.values() for p in g.params]


def _gen_param_default(gen: str, param: str):
    for p in GENERATORS[gen].params:
        if p.name == param:
            return p.default
    raise KeyError(param)


def init() -> None:
    """Prepare session state for this script run (see module docstring)."""
    ss = st.session_state
    if not ss.get("_state_ready"):
        for s in SETTINGS:
            ss.setdefault(s.key, list(s.default) if isinstance(s.default, list) else s.default)
        for g in GENERATORS.values():
            for p in g.params:
                ss.setdefault(gen_param_key(g.key, p.name), p.default)
        ss["url_problems"] = apply_query_params(dict(st.query_params))
        ss["_state_ready"] = True
    # Keep widget values alive while their page is not shown: re-assigning a value makes it the
    # session's own (Streamlit drops a widget's value at the end of a run that did not draw the
    # widget); the copy under "_settings", which no widget owns, restores any value that was
    # dropped anyway (e.g. a run that bypassed app.py).
    shadow = ss.setdefault("_settings", {})
    for key in [s.key for s in SETTINGS] + _gen_param_keys():
        if key in ss:
            shadow[key] = ss[key] = ss[key]
        elif key in shadow:
            ss[key] = shadow[key]
    st.query_params.from_dict(share_params())


def apply_query_params(params: dict[str, str]) -> list[str]:
    """Copy a shared link's parameters into session state; return what could not be used."""
    ss = st.session_state
    problems = []
    gen = params.get("gen", ss.get("gen"))
    for name, text in params.items():
        if name in BY_KEY:
            try:
                ss[name] = BY_KEY[name].parse(text)
            except ValueError:
                problems.append(f"`{name}={text}` is not a valid value; kept {ss[name]!r}.")
        elif name.startswith("gp_") and gen in GENERATORS:
            param = name[3:]
            try:
                default = _gen_param_default(gen, param)
            except KeyError:
                problems.append(f"`{name}` is not a parameter of generator {gen!r}; ignored.")
                continue
            try:
                ss[gen_param_key(gen, param)] = type(default)(float(text)) if isinstance(default, int) else float(text)
            except ValueError:
                problems.append(f"`{name}={text}` is not a number; kept the default.")
        else:
            problems.append(f"Unknown link parameter `{name}`; ignored.")
    if ss.get("gen") not in GENERATORS:
        problems.append(f"Unknown generator {ss.get('gen')!r}; using the default.")
        ss["gen"] = BY_KEY["gen"].default
    return problems


def share_params() -> dict[str, str]:
    """The settings that differ from their defaults, as URL query parameters."""
    ss = st.session_state
    out = {}
    for s in SETTINGS:
        value = ss.get(s.key, s.default)
        if value != s.default:
            out[s.key] = s.format(value)
    gen = ss.get("gen")
    if ss.get("source") == "generator" and gen in GENERATORS:
        for p in GENERATORS[gen].params:
            value = ss.get(gen_param_key(gen, p.name), p.default)
            if value != p.default:
                out[f"gp_{p.name}"] = str(value)
    return out


def share_url(page_path: str = "") -> str:
    """Absolute link reproducing the current setup (best effort for the host part)."""
    base = (st.context.url or "").split("?")[0] if hasattr(st, "context") else ""
    query = urlencode(share_params())
    return f"{base}?{query}" if query else base


def fit_number(key: str, lo: float, hi: float, kind: type = float) -> None:
    """Before drawing a numeric widget: make ``st.session_state[key]`` a ``kind`` inside [lo, hi].

    A value from a shared link or from another source may be out of the widget's range or of the
    wrong type (int vs float), which Streamlit refuses; this clamps and casts it quietly.
    """
    ss = st.session_state
    try:
        value = kind(ss.get(key, lo))
    except (TypeError, ValueError):
        value = kind(lo)
    ss[key] = kind(min(max(value, lo), hi))


def ensure_option(key: str, options, fallback=None) -> None:
    """Before drawing a choice widget: reset ``st.session_state[key]`` if it is not an option."""
    ss = st.session_state
    options = list(options)
    if ss.get(key) not in options:
        default = BY_KEY[key].default if key in BY_KEY else None
        ss[key] = fallback if fallback is not None else (default if default in options else options[0])


def gen_params(gen: str) -> dict[str, float | int]:
    """Current parameter values of generator ``gen``."""
    ss = st.session_state
    return {p.name: ss.get(gen_param_key(gen, p.name), p.default) for p in GENERATORS[gen].params}
