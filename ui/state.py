"""The app's shared settings: one registry, kept in ``st.session_state`` and mirrored in the URL.

Every setting a user can change (data source, generator parameters, model and training options,
seed) is declared ONCE in :data:`SETTINGS` as a :class:`Setting` that carries everything about it:
key, default, label, help, bounds and step (numbers), options (choices), number format and widget
kind -- the same idea as ``gru_core.generators.Param``, whose generator parameters become
:class:`Setting` objects here too (:func:`setting`). The widget helper
``ui.widgets.setting_input(key)`` draws any of them, and the share-link parser checks a link's
values against the same bounds, so a bound is written in exactly one place.

:func:`init` runs at the top of every script run (from ``app.py``):

1. on a session's first run it reads the URL's query parameters (a shared link) into the settings,
   clamping values outside their bounds and replacing unknown choices, and it reports every value
   it could not use as given (shown in the sidebar);
2. it keeps a copy of every setting under a key no widget owns and restores values Streamlit
   dropped (it forgets a widget's value once the user leaves the widget's page);
3. it writes the settings that differ from their defaults back to the URL, so the address bar is
   always a link that reproduces the current setup -- with the values actually used;
4. session token (``ui.server``): the address bar also carries ``s=<token>``; every run saves the
   settings, the uploaded file and the job in the server-side record behind it, and a session
   whose first URL has a token the server still holds (F5, a reopened tab) gets that record back
   instead of reading the link. The "Share this setup" link (:func:`share_url`) has no token.

Generator parameters are dynamic: ``gp_<generator>_<param>`` in session state, ``gp_<param>`` in
the URL (only the chosen generator's).

How to change things (each is a change in one file plus its test)
-----------------------------------------------------------------
* **A bound, label or help text**: edit the setting's line in :data:`SETTINGS`. The widget, the
  draw-time clamp and the share-link check all read it; ``tests/test_state.py`` (parametrized over
  the registry) checks the default lies within the bounds and that a link value outside them is
  reported and clamped.
* **A new setting**: add one ``Setting(...)`` line to :data:`SETTINGS`, draw it on its page with
  ``setting_input("<key>")`` and read it where it is used (usually ``ui/data_source.py``); the
  parametrized tests cover it without a new line. Add a test that it reaches the model or data.
* **The reproducibility note** (the seed): :data:`REPRODUCIBILITY` below; the training thread count
  it names is ``ui.data_source.TRAIN_THREADS``. Test: ``tests/test_page_train.py``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from gru_core.data import MISSING_METHODS, list_samples
from gru_core.defaults import DEFAULTS
from gru_core.device import device_report
from gru_core.generators import GENERATORS, MAX_LENGTH, MIN_LENGTH, Param
from gru_core.model import CELLS
from gru_core.train import LARGE_BATCH, LARGE_DATA, SMALL_BATCH
from gru_core.transforms import TRANSFORMS
from gru_core.windows import SCALER_KINDS
from ui import server
from ui.safe import code

TOKEN_PARAM = "s"                    # the session token in the address bar (ui/server.py)

DEFAULT_SAMPLE = "sunspots"          # a GRU clearly beats both baselines here with the defaults
MAX_SEED = 2**31 - 1
REPRODUCIBILITY = ("The same seed gives the same run: a shared link reproduces a run bit for bit on "
                   "the same machine and training thread count (this server trains with "
                   "{threads} CPU thread(s)).")

Options = Mapping[Any, str] | Callable[[], Mapping[Any, str]] | None


@dataclass(frozen=True)
class Setting:
    """One user setting: key (session state, URL and widget key), default, and how to show it.

    ``min`` / ``max`` / ``step`` bound a number; ``options`` maps each allowed value of a choice to
    the label shown (a function returning that mapping when the choices are only known at run
    time, e.g. the devices found); ``fmt`` is a number widget's printf format ("%.2f"); ``widget``
    is "number", "slider", "segmented", "select", "toggle" or "multiselect".
    """

    key: str
    default: Any
    label: str = ""
    help: str = ""
    min: float | int | None = None
    max: float | int | None = None
    step: float | int | None = None
    options: Options = None
    fmt: str | None = None
    widget: str = "number"

    @classmethod
    def from_param(cls, key: str, p: Param) -> "Setting":
        """A generator parameter (``gru_core.generators.Param``) as a setting under ``key``."""
        kind = int if p.kind == "int" else float
        decimals = max(0, -math.floor(math.log10(p.step))) if p.step > 0 else 2
        return cls(key, kind(p.default), p.label, p.help, kind(p.min), kind(p.max), kind(p.step),
                   fmt=None if kind is int else f"%.{decimals}f",
                   widget="slider" if (p.max - p.min) / p.step <= 1000 else "number")

    @property
    def kind(self) -> type:
        """The Python type of the value: bool, int, float, list or str."""
        return type(self.default)

    def choices(self) -> dict[Any, str] | None:
        """value -> label of the allowed values, or None when any value of the type goes."""
        opts = self.options() if callable(self.options) else self.options
        return None if opts is None else dict(opts)

    def parse(self, text: str) -> Any:
        """Turn a URL string into this setting's type; ``ValueError`` if it cannot."""
        kind = self.kind
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind in (int, float):
            value = kind(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
        if kind is list:
            return [t for t in text.split(",") if t]
        return text

    def fit(self, value: Any, options: Mapping | None = None) -> tuple[Any, str | None]:
        """``value`` made usable: (the value to use, why it differs from ``value`` or None).

        Numbers are cast to the setting's type and clamped into [min, max]; a choice that is not
        one of ``options`` (default: :meth:`choices`) becomes the default (or the first option).
        """
        kind = self.kind
        if kind is bool:
            return bool(value), None
        if kind in (int, float):
            try:
                v = kind(value)
            except (TypeError, ValueError, OverflowError):
                return self.default, "is not a number"
            if isinstance(v, float) and not math.isfinite(v):
                return self.default, "is not a finite number"
            if self.min is not None and v < self.min:
                return kind(self.min), f"is below the minimum {self.show(kind(self.min))}"
            if self.max is not None and v > self.max:
                return kind(self.max), f"is above the maximum {self.show(kind(self.max))}"
            return v, None
        opts = self.choices() if options is None else dict(options)
        if kind is list:
            items = list(value) if isinstance(value, (list, tuple)) else []
            if opts is None:
                return items, None
            kept = [v for v in items if v in opts]
            dropped = [v for v in items if v not in opts]
            return kept, (f"names {', '.join(map(quote, dropped))}, not among "
                          f"{', '.join(map(str, opts))}" if dropped else None)
        if opts is None or value in opts:
            return value, None
        fallback = self.default if self.default in opts else next(iter(opts), self.default)
        return fallback, f"is not one of {', '.join(map(str, opts))}"

    def show(self, value: Any) -> str:
        """A value as the URL (and a message) writes it."""
        if isinstance(value, list):
            return ",".join(map(str, value))
        return str(value)

    format = show                    # the URL form of a value


_SOURCES = {"sample": "Sample", "generator": "Generator", "upload": "Upload"}      # short: fits at 1280 px
_MISSING_LABELS = {"interpolate": "Interpolate linearly", "ffill": "Repeat the last value",
                   "drop": "Drop incomplete rows"}
_SCALER_LABELS = {"standard": "Standard", "minmax": "Min-max", "none": "None"}
_TRANSFORM_LABELS = {"auto": "Auto (chosen on validation data)", **{k: t.label for k, t in TRANSFORMS.items()}}
_TRANSFORM_HELP = (
    "What the network learns instead of the raw levels; the forecast is mapped back to the data's "
    "units with the exact inverse (no approximation), so scores stay comparable. "
    "**Auto**: Start trains every fitting candidate (and a few lookbacks) and keeps the one with the "
    "lowest validation MAE; the test part is never read. "
    + " ".join(f"**{t.label}**: {t.description}" for t in TRANSFORMS.values()))
R = DEFAULTS                        # gru_core.defaults: the recipe the app, CLI and benchmark share


@st.cache_resource(show_spinner=False)
def devices() -> dict:
    """``gru_core.device.device_report()``, asked once per server process."""
    return device_report()


def _device_options() -> dict[str, str]:
    """The devices found on this machine ("auto" first, labelled with what it picks)."""
    rep = devices()
    found = ["cpu"] + (["cuda"] if rep.get("cuda") else []) + (["mps"] if rep.get("mps") else [])
    return {"auto": f"auto ({str(rep.get('auto', 'cpu')).upper()})", **{d: d.upper() for d in found}}


SETTINGS: tuple[Setting, ...] = (
    # data
    Setting("source", "sample", "Data source", options=_SOURCES, widget="segmented"),
    Setting("sample", DEFAULT_SAMPLE, "Sample dataset", widget="select",
            options=lambda: {k: s.title for k, s in list_samples().items()}),
    Setting("gen", "sum_of_sines", "Generator", widget="select",
            options=lambda: {k: g.label for k, g in GENERATORS.items()}),
    Setting("gen_length", 1200, "Length (points)",
            f"Number of time steps to generate ({MIN_LENGTH} to {MAX_LENGTH:,}).",
            MIN_LENGTH, MAX_LENGTH, 100),
    Setting("gen_seed", 0, "Seed", "The same seed always gives the identical series; change it "
            "for new noise.", 0, MAX_SEED, 1),
    Setting("target", "", "Target column (to forecast)",   # "" = the source's default target;
            "The column the model learns to predict.", widget="select"),   # options: the table's
    Setting("inputs", [], "Extra input columns", "Other columns the model also reads in each "
            "window (their past values only).", widget="multiselect"),
    Setting("missing", "interpolate", "Missing values",
            "How gaps are filled before windowing: a straight line between the neighbours, the "
            "last known value repeated, or the incomplete rows dropped.", widget="select",
            options={m: _MISSING_LABELS.get(m, m) for m in MISSING_METHODS}),
    # windows and split
    Setting("lookback", R.lookback, "Lookback L (steps)",
            "How many past steps the model reads to make one forecast.", 1, 5000, 1),
    Setting("horizon", R.horizon, "Horizon H (steps)", "How many future steps it predicts at once.",
            1, 1000, 1),
    Setting("stride", 1, "Stride (steps)", "Steps between the starts of consecutive windows "
            "(1 = a window at every step).", 1, 1000, 1),
    Setting("train_frac", 0.7, "Train share",
            "Fraction of the series, from the start, used for training.",
            0.05, 0.95, 0.05, fmt="%.2f", widget="slider"),
    Setting("val_frac", 0.15, "Validation share", "The next fraction; early stopping keeps the "
            "epoch that does best on it. The rest is the test part, kept for the final score.",
            0.05, 0.9, 0.05, fmt="%.2f", widget="slider"),
    Setting("transform", R.transform, "Transform", _TRANSFORM_HELP, widget="select",
            options=_TRANSFORM_LABELS),
    Setting("scaler", "standard", "Scaling", "How values are rescaled before training, fitted on "
            "the training part only: standard = mean 0 and standard deviation 1, min-max = range "
            "0 to 1, or none. Forecasts and scores are reported in the data's own units.",
            widget="select", options={k: _SCALER_LABELS.get(k, k) for k in SCALER_KINDS}),
    # model
    Setting("cell", "gru", "Cell type", "GRU is the subject of this app; LSTM and a plain (tanh) "
            "RNN are here for comparison on the same data. The Gates page inspects GRUs only.",
            widget="segmented", options=lambda: {k: c.label for k, c in CELLS.items()}),
    Setting("hidden_size", R.hidden_size, "Hidden units", "Units per layer: the size of the hidden state h, "
            "i.e. how much the network can remember.", 1, 1024, 1),
    Setting("num_layers", R.num_layers, "Layers", "Stacked recurrent layers; layer k reads the hidden states "
            "of layer k-1.", 1, 6, 1, widget="slider"),
    Setting("dropout", 0.0, "Dropout between layers", "Randomly zeroes this share of a layer's "
            "outputs during training. PyTorch applies it between stacked layers only, so it needs "
            "2 or more layers.", 0.0, 0.9, 0.05, fmt="%.2f", widget="slider"),
    Setting("bidirectional", False, "Bidirectional",
            "Also read each window backwards and combine both summaries.", widget="toggle"),
    # training
    Setting("lr", R.lr, "Learning rate", "Step size of the Adam optimiser. Typical: 0.001 to "
            "0.01; too high and the loss jumps or diverges.", 1e-5, 1.0, 5e-4, fmt="%.4f"),
    Setting("batch_size", R.batch_size, "Batch (0 = auto)", "Batch size: windows per optimiser step. "
            f"0 = auto: {SMALL_BATCH}, or from {LARGE_DATA:,} training windows on {LARGE_BATCH} at "
            f"{LARGE_BATCH // SMALL_BATCH}× the learning rate, with the head also trained on the "
            "states of each window's second half (faster to a good model on long series).",
            0, 4096, 1),
    Setting("epochs", R.epochs, "Epochs", "Passes over all training windows.", 1, 5000, 1),
    Setting("clip_grad", R.clip_grad, "Max grad norm", "Gradient clipping: rescale the gradient when its "
            "norm exceeds this; 0 turns clipping off.", 0.0, 100.0, 0.5, fmt="%.1f"),
    Setting("patience", R.patience, "Patience (epochs)", "Early stopping: stop after this many epochs "
            "without a better validation loss and keep the best weights; 0 turns early stopping "
            "off.", 0, 1000, 1),
    Setting("seed", 0, "Seed", "Seeds the initial weights and the shuffling.", 0, MAX_SEED, 1),
    Setting("device", "auto", "Device", "Where the model trains. 'auto' picks a CUDA GPU, else an "
            "Apple GPU (MPS), else the CPU. Only devices found on this machine are offered.",
            widget="segmented", options=_device_options),
)
SETTINGS += (
    Setting("present", False, "Presentation mode", "Larger text for a projector: bigger fonts "
            "and chart labels, fewer words (explanations hidden), less padding; on the Train page "
            "the controls and the live loss chart fit one screen. Kept in the share link.", widget="toggle"),
)
BY_KEY = {s.key: s for s in SETTINGS}


def presenting() -> bool:
    """True in presentation mode (the ``present`` setting): larger text, fewer words."""
    return bool(st.session_state.get("present", False))


def gen_param_key(gen: str, param: str) -> str:
    """Session-state key of a generator parameter."""
    return f"gp_{gen}_{param}"


GEN_PARAMS: dict[str, Setting] = {
    gen_param_key(g.key, p.name): Setting.from_param(gen_param_key(g.key, p.name), p)
    for g in GENERATORS.values() for p in g.params}


def setting(key: str) -> Setting:
    """The :class:`Setting` behind session-state key ``key`` (a setting or a generator parameter)."""
    if key in BY_KEY:
        return BY_KEY[key]
    if key in GEN_PARAMS:
        return GEN_PARAMS[key]
    raise KeyError(f"{key!r} is not a setting (ui/state.py SETTINGS) nor a generator parameter")


def gen_param_keys(gen: str) -> list[str]:
    """Session-state keys of generator ``gen``'s parameters, in the generator's order."""
    return [gen_param_key(gen, p.name) for p in GENERATORS[gen].params]


def _default(s: Setting):
    return list(s.default) if isinstance(s.default, list) else s.default


def init() -> None:
    """Prepare session state for this script run (see module docstring)."""
    ss = st.session_state
    if not ss.get("_state_ready"):
        for s in (*SETTINGS, *GEN_PARAMS.values()):
            ss.setdefault(s.key, _default(s))
        params = dict(st.query_params)
        restored = server.attach(params.pop(TOKEN_PARAM, None))
        ss["url_problems"] = [] if restored else apply_query_params(params)
        ss["_state_ready"] = True
    # Keep widget values alive while their page is not shown: re-assigning a value makes it the
    # session's own (Streamlit drops a widget's value at the end of a run that did not draw the
    # widget); the copy under "_settings", which no widget owns, restores any value that was
    # dropped anyway (e.g. a run that bypassed app.py).
    shadow = ss.setdefault("_settings", {})
    for key in [*BY_KEY, *GEN_PARAMS]:
        if key in ss:
            shadow[key] = ss[key] = ss[key]
        elif key in shadow:
            ss[key] = shadow[key]
    token = server.save([*BY_KEY, *GEN_PARAMS])
    st.query_params.from_dict({**share_params(), TOKEN_PARAM: token})


def quote(value) -> str:
    """A link's name or value as an inline code span for a message: ``ui.safe.code``, written
    without its padding spaces when the value needs none (no backtick, nothing cut or replaced)."""
    text = str(value)
    safe = code(text)
    return f"`{text}`" if text.strip() == text and text and safe == f"` {text} `" else safe


def _use(name: str, text: str, s: Setting, problems: list[str]) -> None:
    """Parse and fit one link value into ``st.session_state[s.key]``, noting any problem."""
    ss = st.session_state
    try:
        value = s.parse(text)
    except ValueError:
        problems.append(f"{quote(f'{name}={text}')} is not a valid value; kept {s.show(ss[s.key])}.")
        return
    used, why = s.fit(value)
    if why:
        problems.append(f"{quote(f'{name}={text}')} {why}; using {s.show(used)}.")
    ss[s.key] = used


def apply_query_params(params: dict[str, str]) -> list[str]:
    """Copy a shared link's parameters into session state; return what could not be used as given.

    Every value is checked against its setting: an unparsable one keeps the current value, one
    outside the bounds is clamped, an unknown choice falls back to the default -- each with a
    message naming the parameter, the value and what is used instead. The messages are Markdown:
    the link's names and values are quoted by :func:`quote` (a code span nothing can break out
    of); what is used instead comes from the registry (numbers within bounds, known options).
    """
    problems: list[str] = []
    for name, text in params.items():             # plain settings first: gp_* depends on gen
        if name in BY_KEY:
            _use(name, text, BY_KEY[name], problems)
    gen = st.session_state.get("gen")
    for name, text in params.items():
        if name in BY_KEY:
            continue
        if name.startswith("gp_"):
            key = gen_param_key(gen, name[3:])
            if key in GEN_PARAMS:
                _use(name, text, GEN_PARAMS[key], problems)
            else:
                problems.append(f"{quote(name)} is not a parameter of generator {gen!r}; ignored.")
        else:
            problems.append(f"Unknown link parameter {quote(name)}; ignored.")
    return problems


def share_params() -> dict[str, str]:
    """The settings that differ from their defaults, as URL query parameters."""
    ss = st.session_state
    out = {}
    for s in SETTINGS:
        value = ss.get(s.key, s.default)
        if value != s.default:
            out[s.key] = s.show(value)
    gen = ss.get("gen")
    if ss.get("source") == "generator" and gen in GENERATORS:
        for p in GENERATORS[gen].params:
            s = GEN_PARAMS[gen_param_key(gen, p.name)]
            value = ss.get(s.key, s.default)
            if value != s.default:
                out[f"gp_{p.name}"] = s.show(value)
    return out


def share_url(page_path: str = "") -> str:
    """Absolute link reproducing the current setup (best effort for the host part)."""
    base = (st.context.url or "").split("?")[0] if hasattr(st, "context") else ""
    query = urlencode(share_params())
    return f"{base}?{query}" if query else base


def fit(key: str, options: Mapping | None = None) -> Setting:
    """Before drawing a widget: make ``st.session_state[key]`` a value the widget accepts.

    A value from another page or an older session may be out of range, of the wrong type (int vs
    float, which Streamlit refuses) or no longer an option; it is fitted quietly (a share link's
    values were already checked and reported by :func:`apply_query_params`). Returns the setting.
    """
    s = setting(key)
    ss = st.session_state
    ss[key] = s.fit(ss.get(key, _default(s)), options)[0]
    return s


def gen_params(gen: str) -> dict[str, float | int]:
    """Current parameter values of generator ``gen``."""
    ss = st.session_state
    return {p.name: ss.get(gen_param_key(gen, p.name), p.default) for p in GENERATORS[gen].params}
