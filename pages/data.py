"""Data page: choose the series (sample, generator or upload), its columns, and how it is windowed.

Layout: the settings in a narrow left column, what they produce (summary, split chart with one
example window, window counts) on the right, so the first screen already shows the data.
"""
import math

import numpy as np
import streamlit as st

from gru_core import charts
from gru_core.data import MAX_UPLOAD_BYTES, MISSING_METHODS, list_samples
from gru_core.errors import DataError
from gru_core.generators import GENERATORS, MAX_LENGTH, MIN_LENGTH
from gru_core.windows import SCALER_KINDS, min_length, split_bounds
from ui import data_source, state
from ui.guard import friendly_errors

SOURCES = {"sample": "Sample", "generator": "Generator", "upload": "Upload CSV"}
MISSING_LABELS = {"interpolate": "Interpolate linearly", "ffill": "Repeat the last value",
                  "drop": "Drop incomplete rows"}
SCALER_LABELS = {"standard": "Standard", "minmax": "Min-max", "none": "None"}
DATE_FORMATS = {"yearly": "%Y", "quarterly": "%Y-%m", "monthly": "%Y-%m", "hourly": "%Y-%m-%d %H:%M"}
UPLOAD_MB = MAX_UPLOAD_BYTES // (1024 * 1024)
ss = st.session_state

st.title("Data")
st.markdown(
    "Choose the time series the network will learn from (a bundled **sample**, a synthetic "
    "**generator** whose pattern you control, or your own **CSV**), the column to forecast, and how "
    "the series is cut into training examples: each *window* gives the model **lookback** past steps "
    "and asks for the next **horizon** steps. The chart shows the train / validation / test split and "
    "one window. When it looks right, go to **Train**.")


# ----------------------------------------------------------------------------- left: settings
def source_picker() -> None:
    """Source selector and the controls of the chosen source."""
    state.ensure_option("source", SOURCES)
    st.segmented_control("Data source", list(SOURCES), key="source", required=True,
                         format_func=SOURCES.get, width="stretch")
    if ss["source"] == "sample":
        sample_picker()
    elif ss["source"] == "generator":
        generator_picker()
    else:
        upload_picker()


def sample_picker() -> None:
    samples = list_samples()
    state.ensure_option("sample", samples)
    st.selectbox("Sample dataset", list(samples), key="sample", format_func=lambda k: samples[k].title)
    info = samples[ss["sample"]]
    st.markdown(info.description)
    st.caption(f"**Source:** {info.source}")


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step))) if step > 0 else 2


def generator_picker() -> None:
    state.ensure_option("gen", GENERATORS)
    st.selectbox("Generator", list(GENERATORS), key="gen", format_func=lambda k: GENERATORS[k].label)
    gen = GENERATORS[ss["gen"]]
    st.markdown(gen.description)
    state.fit_number("gen_length", MIN_LENGTH, MAX_LENGTH, int)
    state.fit_number("gen_seed", 0, 2**31 - 1, int)
    a, b = st.columns(2)
    a.number_input("Length (points)", min_value=MIN_LENGTH, max_value=MAX_LENGTH, step=100, key="gen_length",
                   help=f"Number of time steps to generate ({MIN_LENGTH} to {MAX_LENGTH:,}).")
    b.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="gen_seed",
                   help="The same seed always gives the identical series; change it for new noise.")
    for p in gen.params:
        key = state.gen_param_key(gen.key, p.name)
        kind = int if p.kind == "int" else float
        state.fit_number(key, p.min, p.max, kind)
        args = dict(min_value=kind(p.min), max_value=kind(p.max), step=kind(p.step), key=key, help=p.help)
        if kind is float:
            args["format"] = f"%.{_decimals(p.step)}f"
        if (p.max - p.min) / p.step <= 1000:
            st.slider(p.label, **args)
        else:
            st.number_input(p.label, **args)


def upload_picker() -> None:
    f = st.file_uploader(
        f"CSV file (up to {UPLOAD_MB} MB)", key=data_source.UPLOAD_WIDGET, on_change=data_source.on_upload,
        max_upload_size=UPLOAD_MB,
        help=f"A text table, one row per time step: an optional date column (e.g. 2020-01-31, 2020-01 "
             f"or 2020) and one or more numeric columns. Comma, semicolon or tab separated; decimal "
             f"commas are recognised. At most {UPLOAD_MB} MB.")
    err = ss.get("upload_error")
    if f is not None and err and err[0] == f.file_id:
        kept = f" Still using {ss['upload_name']!r}." if ss.get("upload_bytes") else ""
        st.error(f"{err[1]}{kept}", icon=":material/error:")
    if ss.get("upload_bytes"):
        st.caption(f"Loaded: **{ss['upload_name']}** ({len(ss['upload_bytes']) / 1024:,.1f} KB). It stays "
                   "loaded when you switch pages; upload another file to replace it.")


def column_picker(table) -> None:
    """Target, extra inputs and missing-value handling."""
    default = data_source.default_target(table)
    others = [c for c in table.numeric_columns if c != default]
    state.ensure_option("target", [""] + others, fallback="")
    target = ss["target"] or default
    inputs = [c for c in table.numeric_columns if c != target]
    ss["inputs"] = [c for c in ss["inputs"] if c in inputs]
    state.ensure_option("missing", MISSING_METHODS)
    st.subheader("Columns")
    st.selectbox("Target column (to forecast)", [""] + others, key="target",
                 format_func=lambda col: f"{default} (default)" if col == "" else col,
                 help="The column the model learns to predict.")
    st.multiselect("Extra input columns", inputs, key="inputs", disabled=not inputs,
                   placeholder="none" if inputs else "no other numeric columns",
                   help="Other columns the model also reads in each window (their past values only).")
    st.selectbox("Missing values", MISSING_METHODS, key="missing", format_func=MISSING_LABELS.get,
                 help="How gaps are filled before windowing: a straight line between the neighbours, "
                      "the last known value repeated, or the incomplete rows dropped.")


def window_controls() -> None:
    state.fit_number("lookback", 1, 5000, int)
    state.fit_number("horizon", 1, 1000, int)
    state.fit_number("stride", 1, 1000, int)
    state.fit_number("train_frac", 0.05, 0.95, float)
    state.fit_number("val_frac", 0.05, 0.9, float)
    state.ensure_option("scaler", SCALER_KINDS)
    st.subheader("Windows and split")
    a, b = st.columns(2)
    a.number_input("Lookback L (steps)", min_value=1, max_value=5000, step=1, key="lookback",
                   help="How many past steps the model reads to make one forecast.")
    b.number_input("Horizon H (steps)", min_value=1, max_value=1000, step=1, key="horizon",
                   help="How many future steps it predicts at once.")
    a.slider("Train share", min_value=0.05, max_value=0.95, step=0.05, key="train_frac", format="%.2f",
             help="Fraction of the series, from the start, used for training.")
    b.slider("Validation share", min_value=0.05, max_value=0.9, step=0.05, key="val_frac", format="%.2f",
             help="The next fraction; early stopping keeps the epoch that does best on it. The rest is "
                  "the test part, kept for the final score.")
    a.number_input("Stride (steps)", min_value=1, max_value=1000, step=1, key="stride",
                   help="Steps between the starts of consecutive windows (1 = a window at every step).")
    b.selectbox("Scaling", SCALER_KINDS, key="scaler", format_func=SCALER_LABELS.get,
                help="How values are rescaled before training, fitted on the training part only: "
                     "standard = mean 0 and standard deviation 1, min-max = range 0 to 1, or none. "
                     "Forecasts and scores are reported in the data's own units.")
    test = 1.0 - float(ss["train_frac"]) - float(ss["val_frac"])
    st.caption(f"Test share = 1 − train − validation = **{max(test, 0):.2f}**.")


# ----------------------------------------------------------------------------- right: results
def _fmt_time(t, frequency: str | None) -> str:
    return t.strftime(DATE_FORMATS.get(frequency, "%Y-%m-%d"))


def summary(table, series) -> None:
    """What was loaded: size, dates, frequency, gaps, duplicates, the loader's notes."""
    idx = series.index
    n_missing = sum(table.missing.get(c, 0) for c in series.columns)
    m = st.columns(4)
    m[0].metric("Points", f"{len(idx):,}", help=f"{len(table.frame):,} rows in the table; after "
                                                  "missing-value handling the series has this many.")
    m[1].metric("Frequency", table.frequency or "—", help="Detected from the dates (none without dates).")
    m[2].metric("Missing values", f"{n_missing:,}", help="Empty or non-numeric cells in the chosen columns.")
    m[3].metric("Duplicate dates", f"{table.duplicates:,}",
                help="Repeated dates; the last row of each was kept.")
    if hasattr(idx, "year") and len(idx):
        span = (f"**Dates:** {_fmt_time(idx[0], table.frequency)} → {_fmt_time(idx[-1], table.frequency)} "
                f"(column `{table.date_column}`)")
    else:
        span = f"**Time:** steps 0 → {len(idx) - 1:,} (no date column, so time is the row number)"
    per_col = ", ".join(f"{c}: {table.missing.get(c, 0)}" for c in table.numeric_columns[:20])
    more = " ..." if len(table.numeric_columns) > 20 else ""
    notes = ("  ·  **Loader notes:** " + " ".join(table.notes)) if table.notes else ""
    st.markdown(span)
    st.caption(f"**Missing per column:** {per_col}{more}  ·  **Handling:** {series.report}{notes}")


def window_view(series, table) -> None:
    """The series with the split shaded and one example window; counts per split."""
    x_title = table.date_column or "time step"
    y = series.target_values
    test = 1.0 - float(ss["train_frac"]) - float(ss["val_frac"])
    if test < 0.0499:
        st.error(f"Train share {ss['train_frac']:.2f} + validation share {ss['val_frac']:.2f} leave "
                 f"{max(test, 0):.2f} for the test part: lower one of them so that the test part gets "
                 "at least 0.05.", icon=":material/error:")
        st.plotly_chart(charts.series_figure(series.index, y, name=series.target, x_title=x_title))
        return
    try:
        ds = data_source.current_dataset()
    except DataError as exc:
        st.error(str(exc), icon=":material/error:")
        bounds = split_bounds(len(y), data_source.split_config())
        st.plotly_chart(charts.series_figure(series.index, y, name=series.target, bounds=bounds,
                                             x_title=x_title, title="The series and its split (no complete windows)"))
        return

    L, H = ds.window.lookback, ds.window.horizon
    parts = (("train", ds.train), ("validation", ds.val), ("test", ds.test))
    starts = np.concatenate([w.starts for _, w in parts])
    owner = np.repeat([name for name, _ in parts], [len(w) for _, w in parts])
    n_all = len(starts)
    if not isinstance(ss.get("example_window"), int) or not 1 <= ss["example_window"] <= n_all:
        ss["example_window"] = min(len(ds.train) + 1, n_all)      # the first validation window
    i = int(ss["example_window"]) - 1
    start, part = int(starts[i]), owner[i]
    st.plotly_chart(charts.series_figure(series.index, y, name=series.target, bounds=ds.bounds,
                                         window=(start, L, H), x_title=x_title,
                                         title=f"{series.target}: split and window {i + 1} of {n_all:,}"))
    if n_all > 1:
        st.slider("Example window", min_value=1, max_value=n_all, step=1, key="example_window",
                  help="Move through all windows (train, then validation, then test) to see which steps "
                       "each one reads and predicts.")

    m = st.columns(3)
    m[0].metric("Train windows", f"{len(ds.train):,}")
    m[1].metric("Validation windows", f"{len(ds.val):,}")
    m[2].metric("Test windows", f"{len(ds.test):,}")
    st.markdown(
        f"Window {i + 1} reads steps {start:,}–{start + L - 1:,} and predicts steps "
        f"{start + L:,}–{start + L + H - 1:,}. It belongs to the **{part}** part because all its targets "
        "lie there; its inputs may reach back into earlier parts (a forecaster at that time knows the "
        "past), never forward.")
    st.plotly_chart(charts.window_figure(series.index, y, name=series.target, start=start, lookback=L,
                                         horizon=H, x_title=x_title, title=f"Close-up of window {i + 1}",
                                         height=260))
    need = min_length(ds.window, ds.split)
    st.caption(f"With these settings a series needs at least **{need:,} points** so that every part gets "
               f"a complete window (this one has {len(y):,}).")
    st.page_link("pages/train.py", label="Next: train a model on these windows", icon=":material/arrow_forward:")


def page() -> None:
    left, right = st.columns([1, 2.1], gap="large")
    with left:
        source_picker()
    if ss["source"] == "upload" and not ss.get("upload_bytes"):
        right.info("No file loaded yet. Upload a CSV with one row per time step, for example\n\n"
                   "```\nmonth,sales,price\n2020-01,112,4.5\n2020-02,118,4.6\n```\n\n"
                   "or switch the source to a sample dataset or a generator.", icon=":material/upload_file:")
        return
    with right:
        try:
            with st.spinner("Loading the data ..."):
                table = data_source.current_table()
        except DataError as exc:       # shown beside the settings that can fix it
            st.error(str(exc), icon=":material/error:")
            return
    with left:
        column_picker(table)
        window_controls()
    with right:
        try:
            series = data_source.current_series()
        except DataError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        summary(table, series)
        window_view(series, table)


with friendly_errors("loading the data"):
    page()
