"""What the Data page draws: source details, the upload box, the data summary, and the split /
window view with its counts. The page (``pages/data.py``) lays out the inputs and calls these."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from gru_core import charts
from gru_core.data import MAX_UPLOAD_BYTES, Table, list_samples
from gru_core.errors import DataError
from gru_core.generators import GENERATORS
from gru_core.transforms import TRANSFORMS, range_warning
from gru_core.windows import min_length, split_bounds
from ui import data_source, page
from ui.guard import error_text
from ui.safe import code, md

DATE_FORMATS = {"yearly": "%Y", "quarterly": "%Y-%m", "monthly": "%Y-%m", "hourly": "%Y-%m-%d %H:%M"}
UPLOAD_MB = MAX_UPLOAD_BYTES // (1024 * 1024)
MIN_TEST_SHARE = 0.05
NO_FILE_YET = ("No file loaded yet. Upload a CSV with one row per time step, for example\n\n"
               "```\nmonth,sales,price\n2020-01,112,4.5\n2020-02,118,4.6\n```\n\n"
               "or switch the source to a sample dataset or a generator.")
ss = st.session_state


# ----------------------------------------------------------------------------- left: inputs
def sample_info() -> None:
    """Description and provenance of the chosen sample dataset."""
    info = list_samples()[ss["sample"]]
    st.markdown(info.description)             # our own Markdown, from sample_data/ (kept as written)
    st.caption(f"**Source:** {md(info.source, limit=None)}")


def generator_info() -> None:
    st.markdown(GENERATORS[ss["gen"]].description)


def upload_input() -> None:
    """The file uploader, the error of a bad file (the good one is kept), and what is loaded."""
    f = st.file_uploader(
        f"CSV file (up to {UPLOAD_MB} MB)", key=data_source.UPLOAD_WIDGET, on_change=data_source.on_upload,
        max_upload_size=UPLOAD_MB,
        help=f"A text table, one row per time step: an optional date column (e.g. 2020-01-31, 2020-01 "
             f"or 2020) and one or more numeric columns. Comma, semicolon or tab separated; decimal "
             f"commas are recognised. At most {UPLOAD_MB} MB.")
    err = ss.get("upload_error")
    if f is not None and err and err[0] == f.file_id:
        kept = f" Still using {md(repr(ss['upload_name']))}." if ss.get("upload_bytes") else ""
        st.error(f"{error_text(err[1])}{kept}", icon=":material/error:")
    if ss.get("upload_bytes"):
        st.caption(f"Loaded: **{md(ss['upload_name'])}** ({len(ss['upload_bytes']) / 1024:,.1f} KB). It stays "
                   "loaded when you switch pages; upload another file to replace it.")


def target_options(table: Table) -> dict[str, str]:
    """Choices of the target column: "" (the source's default target) first, then the others."""
    default = data_source.default_target(table)
    return {"": f"{default} (default)", **{c: c for c in table.numeric_columns if c != default}}


def input_options(table: Table) -> dict[str, str]:
    """Choices of extra input columns: every numeric column but the target."""
    target = ss["target"] or data_source.default_target(table)
    return {c: c for c in table.numeric_columns if c != target}


def test_share() -> float:
    return 1.0 - float(ss["train_frac"]) - float(ss["val_frac"])


def transform_caption() -> None:
    """What the transform setting does to the windows shown here."""
    key = ss.get("transform", "none")
    if key == "auto":
        st.caption("**Auto:** Start tries the transforms (and a few lookbacks) and keeps the one with "
                   "the lowest validation error; the windows below are untransformed until then.")
    elif key in TRANSFORMS:
        st.caption(f"**{TRANSFORMS[key].label}:** {TRANSFORMS[key].description} The forecast is mapped "
                   "back to the data's units exactly.")


def test_share_caption() -> None:
    st.caption(f"Test share = 1 − train − validation = **{max(test_share(), 0):.2f}**.")


# ----------------------------------------------------------------------------- right: results
def load_table() -> Table | None:
    """The chosen table, or None after saying why there is none (shown beside the settings)."""
    if ss["source"] == "upload" and not ss.get("upload_bytes"):
        st.info(NO_FILE_YET, icon=":material/upload_file:")
        return None
    try:
        with st.spinner("Loading the data ..."):
            return data_source.current_table()
    except DataError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return None


def load_series():
    """The prepared series, or None after showing why it cannot be built."""
    try:
        return data_source.current_series()
    except DataError as exc:
        st.error(error_text(exc), icon=":material/error:")
        return None


def _fmt_time(t, frequency: str | None) -> str:
    return t.strftime(DATE_FORMATS.get(frequency, "%Y-%m-%d"))


def summary(table: Table, series) -> None:
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
                f"(column {code(table.date_column)})")
    else:
        span = f"**Time:** steps 0 → {len(idx) - 1:,} (no date column, so time is the row number)"
    per_col = ", ".join(f"{md(c)}: {table.missing.get(c, 0)}" for c in table.numeric_columns[:20])
    more = " ..." if len(table.numeric_columns) > 20 else ""
    notes = ("  ·  **Loader notes:** " + " ".join(md(n) for n in table.notes)) if table.notes else ""
    st.markdown(span)
    st.caption(f"**Missing per column:** {per_col}{more}  ·  **Handling:** {md(series.report, limit=None)}"
               f"{notes}")


FIGURES_KEPT = 4              # built figures kept per session (the page draws two)


def _figure(build, series, *args):
    """``build()`` once per session for the same series (values and times) and ``args``: the two
    figures are most of this page's run time, and a visit that changes nothing (page to page and
    back, while others train) draws them again unchanged."""
    digest = hashlib.sha1(np.ascontiguousarray(series.target_values).tobytes())
    digest.update(pd.util.hash_pandas_object(pd.Index(series.index), index=False).values.tobytes())
    key = (digest.hexdigest(), str(series.target), *args)
    held = ss.setdefault("_data_figures", {})
    if key not in held:
        while len(held) >= FIGURES_KEPT:
            del held[next(iter(held))]
        held[key] = build()
    return held[key]


def window_view(series, table: Table) -> None:
    """The series with the split shaded and one example window; counts per split."""
    x_title = table.date_column or "time step"
    y = series.target_values
    if test_share() < MIN_TEST_SHARE - 1e-4:
        st.error(f"Train share {ss['train_frac']:.2f} + validation share {ss['val_frac']:.2f} leave "
                 f"{max(test_share(), 0):.2f} for the test part: lower one of them so that the test part "
                 f"gets at least {MIN_TEST_SHARE:.2f}.", icon=":material/error:")
        page.chart(charts.series_figure(series.index, y, name=series.target, x_title=x_title))
        return
    try:
        ds = data_source.current_dataset()
    except DataError as exc:
        st.error(error_text(exc), icon=":material/error:")
        bounds = split_bounds(len(y), data_source.split_config())
        page.chart(charts.series_figure(series.index, y, name=series.target, bounds=bounds,
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
    title = f"{series.target}: split and window {i + 1} of {n_all:,}"
    page.chart(_figure(lambda: charts.series_figure(
        series.index, y, name=series.target, bounds=ds.bounds, window=(start, L, H),
        x_title=x_title, title=title), series, "series", tuple(ds.bounds), start, L, H, x_title, title))
    if n_all > 1:
        st.slider("Example window", min_value=1, max_value=n_all, step=1, key="example_window",
                  help="Move through all windows (train, then validation, then test) to see which steps "
                       "each one reads and predicts.")

    train_end, val_end = split_bounds(len(y), data_source.split_config())
    if (warn := range_warning(y, train_end, val_end)) is not None:
        shown = TRANSFORMS.get(ss.get("transform"))
        now = (f" The transform is now **{shown.label}**." if shown is not None else
               " The transform is on **Auto**, which tries these on the validation part.")
        st.warning(warn + now, icon=":material/warning:")
    m = st.columns(3)
    m[0].metric("Train windows", f"{len(ds.train):,}")
    m[1].metric("Validation windows", f"{len(ds.val):,}")
    m[2].metric("Test windows", f"{len(ds.test):,}")
    st.markdown(
        f"Window {i + 1} reads steps {start:,}–{start + L - 1:,} and predicts steps "
        f"{start + L:,}–{start + L + H - 1:,}. It belongs to the **{part}** part because all its targets "
        "lie there; its inputs may reach back into earlier parts (a forecaster at that time knows the "
        "past), never forward.")
    page.chart(_figure(lambda: charts.window_figure(
        series.index, y, name=series.target, start=start, lookback=L, horizon=H, x_title=x_title,
        title=f"Close-up of window {i + 1}", height=260), series, "window", start, L, H, x_title, i))
    need = min_length(ds.window, ds.split)
    st.caption(f"With these settings a series needs at least **{need:,} points** so that every part gets "
               f"a complete window (this one has {len(y):,}).")
    st.page_link("pages/train.py", label="Next: train a model on these windows", icon=":material/arrow_forward:")
