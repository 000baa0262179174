"""Tables in: read a real-world CSV into a clean numeric table, then into a float32 series.

The path of a file through GRU Lab's data layer::

    bytes ──load_table──> Table ──prepare_series(target, inputs, missing)──> Series ──> windows.py
            (_csv_text: bytes -> rows,  _dates: time axis,  _numbers: cells -> floats)

``load_table`` copes with the CSVs people actually have: ``,`` ``;`` or tab delimiters, decimal
commas, UTF-8 (with or without BOM) or Latin-1, thousands separators, quoted numbers, many date
formats, year + month columns, wide year x month tables, unsorted and duplicated dates. Whatever it
fixes is written to ``Table.notes``; whatever it cannot fix raises :class:`DataError` saying what is
wrong and how to fix it. No other exception escapes ``load_table``, ``handle_missing`` or
``prepare_series``.

The bundled real data sets in ``sample_data/`` are listed by :func:`list_samples`.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gru_core._csv_text import decode, read_source, reject_binary, split_rows
from gru_core._dates import Dates, detect_frequency, find_dates, reshape_wide
from gru_core._numbers import parse_numbers, uses_decimal_comma
from gru_core.errors import DataError

MAX_UPLOAD_BYTES = 50 * 1024 * 1024       # 50 MiB
MAX_COLUMNS = 500
MAX_ABS_VALUE = 1e12                      # larger magnitudes are refused as absurd
MIN_POINTS = 10                           # shortest series prepare_series accepts
MISSING_METHODS = ("interpolate", "ffill", "drop")
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"


@dataclass
class Table:
    """A loaded CSV: numeric columns on a time axis, plus what was found and fixed on the way."""

    frame: pd.DataFrame          # numeric columns as float64; index = DatetimeIndex named after the
                                 # date column (sorted, duplicates dropped), else RangeIndex
    numeric_columns: list[str]   # columns a user may pick as target / inputs
    date_column: str | None      # detected date column, or a composite such as "year+month"
    missing: dict[str, int]      # NaN count per numeric column (before any handling)
    duplicates: int              # duplicated dates found (the last row of each was kept)
    frequency: str | None        # "hourly" "daily" "weekly" "monthly" "quarterly" "yearly" or None
    notes: list[str]             # human-readable notes: delimiter, decimal comma, encoding, reshaping ...


# ---------------------------------------------------------------------------------------------
# load_table
# ---------------------------------------------------------------------------------------------
def load_table(src, *, name: str | None = None, max_bytes: int = MAX_UPLOAD_BYTES,
               max_columns: int = MAX_COLUMNS) -> Table:
    """Read a CSV into a :class:`Table`.

    Parameters
    ----------
    src : str or Path (a file path), bytes, or a file-like object with ``.read()`` such as
        Streamlit's ``UploadedFile`` (its ``.name`` and ``.size`` are used when present).
    name : display name for messages (default: the file name).
    max_bytes : files larger than this are refused.
    max_columns : tables wider than this are refused.

    Raises
    ------
    DataError
        For an empty file, a header without rows, no numeric column, a binary or spreadsheet file,
        ragged rows, non-finite or absurdly large values (``|x| > 1e12``), too many columns, or a
        file over ``max_bytes``. The message says what is wrong and how to fix it.
    """
    try:
        return _load_table(src, name, max_bytes, max_columns)
    except DataError:
        raise
    except MemoryError:
        raise DataError("Ran out of memory while reading the file. Upload a smaller file "
                        "(fewer rows or columns).") from None
    except Exception as exc:  # noqa: BLE001 - last line of defence; the fuzz tests keep it unused
        raise DataError(f"Could not read {name or 'the file'} as a table ({type(exc).__name__}: {exc}). "
                        "Save it as a plain CSV (a header row, then one row per time step) "
                        "and try again.") from exc


def _load_table(src, name: str | None, max_bytes: int, max_columns: int) -> Table:
    """:func:`load_table` without the safety net (tests call this to catch stray exceptions)."""
    # 1. bytes -> text -> header + rows of strings
    data, name = read_source(src, name, max_bytes)
    reject_binary(data, name)
    text, encoding_note = decode(data, name)
    raw = split_rows(text, name, max_columns)
    notes = ([encoding_note] if encoding_note else []) + raw.notes
    cells = dict(zip(raw.header, raw.columns))       # name -> (N,) Arrow-backed strings
    lines = raw.lines

    # 2. time axis: wide year x month table, year + month columns, or one date column
    wide = reshape_wide(cells, lines)
    if wide is not None:
        cells, lines, dates = wide
    else:
        dates = find_dates(cells)
    if dates is not None and dates.note:
        notes.append(dates.note)

    # 3. numbers
    value_cells = {c: s for c, s in cells.items() if dates is None or c not in dates.used}
    comma = uses_decimal_comma(list(value_cells.values()), raw.delimiter)
    if comma:
        notes.append("Read ',' as the decimal separator (and '.' as a thousands separator).")
    columns = _numeric_columns(value_cells, comma, notes)
    if not columns:
        found = ", ".join(f"'{c}'" for c in list(cells)[:10]) + (" ..." if len(cells) > 10 else "")
        raise DataError(f"No numeric column found in '{name}' (columns: {found}). GRU Lab needs at least "
                        "one column of numbers, e.g. 'date,value'. Check that numbers are written "
                        "without units or text, and that the file uses one delimiter throughout.")
    _check_magnitudes(columns, value_cells, lines)
    frame = pd.DataFrame(columns)

    # 4. index: drop rows without a date, sort, drop duplicated dates (keep last)
    duplicates = 0
    if dates is not None:
        frame, duplicates = _index_by_date(frame, dates, notes, trim=wide is not None)
    return Table(frame=frame, numeric_columns=list(frame.columns),
                 date_column=dates.column if dates is not None else None,
                 missing={c: int(n) for c, n in frame.isna().sum().items()},
                 duplicates=duplicates, frequency=detect_frequency(frame.index), notes=notes)


def _fast_floats(cells: pd.Series) -> np.ndarray | None:
    """(N,) float64 when every cell is a plain dot-decimal number or empty, else None.

    Arrow's vectorised string-to-double cast, one column at a time and without a Python object per
    cell; anything it cannot take (decimal commas, thousands separators, NA tokens, text) goes to
    the general :func:`parse_numbers` instead.
    """
    try:
        arr = pa.array(cells)                           # zero-copy for Arrow-backed strings
        trimmed = pc.utf8_trim_whitespace(arr)
        blank = pc.equal(trimmed, "")
        return pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), trimmed), pa.float64()) \
            .to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return None


def _numeric_columns(value_cells: dict[str, pd.Series], comma: bool, notes: list[str]) -> dict[str, np.ndarray]:
    """Parse every column; keep those that are (at least 90 %) numbers, note the others.

    Column by column: plain numbers take the Arrow fast path (:func:`_fast_floats`); the rest go
    through :func:`parse_numbers`, so at most one column is held as Python strings at a time.
    """
    columns: dict[str, np.ndarray] = {}
    text_columns = []
    for col, cells in value_cells.items():
        values = None if comma else _fast_floats(cells)
        if values is not None:
            bad = np.zeros(len(values), dtype=bool)
        else:
            values, bad = parse_numbers(cells, comma)                      # (N,), (N,)
        n_numbers, n_bad = int(np.count_nonzero(~np.isnan(values))), int(bad.sum())
        if n_numbers == 0 or n_bad > 0.1 * (n_numbers + n_bad):
            text_columns.append(col)
            continue
        if n_bad:
            example = cells.iloc[int(np.argmax(bad))]
            notes.append(f"Column '{col}': {n_bad} cell(s) that are not numbers (e.g. '{example}') "
                         "were treated as missing.")
        columns[col] = values
    if text_columns and columns:
        notes.append("Ignored columns that are not numeric: " + ", ".join(f"'{c}'" for c in text_columns) + ".")
    return columns


def _check_magnitudes(columns: dict[str, np.ndarray], cells: dict[str, pd.Series], lines: np.ndarray) -> None:
    """Refuse inf and |x| > MAX_ABS_VALUE, naming the column and the line."""
    for col, values in columns.items():
        bad = np.isinf(values) | (np.abs(np.nan_to_num(values)) > MAX_ABS_VALUE)
        if bad.any():
            i = int(np.argmax(bad))
            raw = cells[col].iloc[i]
            if np.isinf(values[i]):
                raise DataError(f"Column '{col}' holds '{raw}' on line {lines[i]}, which is not a finite "
                                "number. Replace it with a real value, or leave the cell empty to mark it "
                                "missing.")
            raise DataError(f"Column '{col}' holds '{raw}' on line {lines[i]}: values beyond ±1e12 are "
                            "refused as absurd. Fix that value, or rescale the column (e.g. divide by 1e6 "
                            "and note the unit) before uploading.")


def _index_by_date(frame: pd.DataFrame, dates: Dates, notes: list[str], trim: bool) -> tuple[pd.DataFrame, int]:
    """Set the date index: drop undated rows, sort, keep the last of duplicated dates."""
    index = dates.index
    undated = np.asarray(index.isna())
    if undated.any():
        notes.append(f"Dropped {int(undated.sum())} row(s) without a date.")
        frame, index = frame[~undated], index[~undated]
    frame = frame.set_axis(pd.DatetimeIndex(index, name=dates.column))
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
        notes.append("Sorted the rows by date (the file was not in time order).")
    dup = frame.index.duplicated(keep="last")
    duplicates = int(dup.sum())
    if duplicates:
        frame = frame[~dup]
        notes.append(f"Found {duplicates} duplicated date(s); kept the last row for each.")
    if trim:                                       # a wide table's empty months before/after the data
        has = frame.notna().any(axis=1).to_numpy()
        if has.any():
            first, last = int(np.argmax(has)), len(has) - int(np.argmax(has[::-1]))
            if first > 0 or last < len(has):
                notes.append(f"Dropped {first + len(has) - last} empty period(s) before the first or "
                             "after the last value.")
                frame = frame.iloc[first:last]
    return frame, duplicates


# ---------------------------------------------------------------------------------------------
# missing values
# ---------------------------------------------------------------------------------------------
def _unknown_column(col, choices: Sequence[str], date_column: str | None = None) -> DataError:
    if date_column is not None and col == date_column:
        return DataError(f"'{col}' is the date column (the time axis), not a value. "
                         f"Choose one of: {', '.join(choices)}.")
    return DataError(f"Unknown column '{col}'. Choose one of: {', '.join(map(str, choices)) or '(none)'}.")


def handle_missing(frame: pd.DataFrame, columns: list[str], method: str) -> tuple[pd.DataFrame, str]:
    """Fill or drop missing values in ``columns``; never silently.

    Parameters
    ----------
    frame : table with numeric columns (e.g. ``Table.frame``).
    columns : the columns to keep.
    method : ``"interpolate"`` (linear between neighbours; values after the last known one repeat it),
        ``"ffill"`` (carry the last value forward) or ``"drop"`` (drop rows with any missing value).
        Leading rows that interpolate / ffill cannot fill (nothing before them) are dropped.

    Returns
    -------
    (frame, report) : a new frame restricted to ``columns`` and a one-line report, e.g.
        ``"Filled 3 missing value(s) by linear interpolation."``
    """
    if method not in MISSING_METHODS:
        raise DataError(f"Unknown missing-value method '{method}'. Choose one of: {', '.join(MISSING_METHODS)}.")
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame, got {type(frame).__name__}. Pass Table.frame.")
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise DataError("No columns chosen. Pick a target column (and optionally input columns).")
    for col in columns:
        if col not in frame.columns:
            raise _unknown_column(col, list(frame.columns))
    try:
        sub = frame[columns].astype(np.float64)
    except (ValueError, TypeError):
        raise DataError(f"The columns {', '.join(map(str, columns))} must hold numbers only. "
                        "Pick numeric columns.") from None
    n_missing = int(sub.isna().sum().sum())
    if n_missing == 0:
        return sub, "No missing values."
    empty = [c for c in columns if sub[c].isna().all()]
    if empty:
        raise DataError(f"Column '{empty[0]}' has no values at all. Pick another column.")

    if method == "drop":
        keep = sub.notna().all(axis=1).to_numpy()
        out = sub[keep]
        report = (f"Dropped {int((~keep).sum())} row(s) with missing values ({n_missing} missing value(s)); "
                  "the remaining time steps are no longer evenly spaced.")
    else:
        if method == "interpolate":
            filled = sub.interpolate(method="linear", limit_direction="forward")
            how = "by linear interpolation"
            known = sub.notna().to_numpy()                           # (T, C)
            trailing = int(np.argmax(known[::-1], axis=0).sum())     # NaNs after each column's last value
            if trailing:
                how += f" ({trailing} after the last known value repeat it)"
        else:
            filled, how = sub.ffill(), "by carrying the last value forward"
        first = int(np.argmax(filled.notna().all(axis=1).to_numpy()))   # first fully filled row
        out = filled.iloc[first:]
        report = f"Filled {int(sub.iloc[first:].isna().sum().sum())} missing value(s) {how}"
        if first:
            report += f"; dropped {first} leading row(s) with nothing before them to fill from"
        report += "."
    if out.empty:
        raise DataError("No rows are left after dropping rows with missing values. Use 'interpolate' or "
                        "'ffill' instead, or choose columns that overlap in time.")
    return out, report


# ---------------------------------------------------------------------------------------------
# Series
# ---------------------------------------------------------------------------------------------
@dataclass
class Series:
    """A model-ready multivariate series: column 0 is the target, then the input columns."""

    values: np.ndarray           # (T, C) float32
    columns: list[str]           # C names; columns[0] == target
    index: pd.Index              # length T (DatetimeIndex or RangeIndex)
    target: str
    report: str                  # what missing-value handling did

    @property
    def target_values(self) -> np.ndarray:
        """(T,) float32 values of the target column."""
        return self.values[:, 0]


def prepare_series(table: Table, target: str, inputs: Sequence[str] = (), missing: str = "interpolate") -> Series:
    """Pick the target (and input columns) from a table and handle missing values.

    Parameters
    ----------
    table : from :func:`load_table`.
    target : the column to forecast (becomes column 0).
    inputs : extra input columns (the target is always an input too).
    missing : one of :data:`MISSING_METHODS`.

    Raises
    ------
    DataError
        Unknown column, constant target, non-finite values after handling, fewer than 10 points.
    """
    if not isinstance(table, Table):
        raise DataError(f"Expected a Table from load_table, got {type(table).__name__}.")
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    columns = [target] + [c for c in dict.fromkeys(inputs) if c != target]
    for col in columns:
        if col not in table.numeric_columns:
            raise _unknown_column(col, table.numeric_columns, table.date_column)
    frame, report = handle_missing(table.frame, columns, missing)
    values = frame.to_numpy(np.float64)                          # (T, C)
    if len(values) < MIN_POINTS:
        raise DataError(f"Only {len(values)} time step(s) are left after missing-value handling "
                        f"({report}); at least {MIN_POINTS} are needed. Use a longer series or another "
                        "missing-value method.")
    if not np.isfinite(values).all() or np.abs(values).max() > MAX_ABS_VALUE:
        raise DataError(f"The columns {', '.join(columns)} still hold non-finite or absurdly large values "
                        "after missing-value handling. Fix those cells in the file.")
    if np.ptp(values[:, 0]) == 0:
        raise DataError(f"The target column '{target}' is constant (every value is {values[0, 0]:g}), so there "
                        "is nothing to forecast. Choose another target column.")
    return Series(values=values.astype(np.float32), columns=columns, index=frame.index,
                  target=target, report=report)


def series_from_array(values: np.ndarray, name: str | Sequence[str] = "value", index=None) -> Series:
    """Wrap a (T,) or (T, C) numeric array (e.g. from ``generators.generate``) as a :class:`Series`.

    Parameters
    ----------
    values : (T,) or (T, C) array of finite numbers; column 0 is the target.
    name : the target's name (further columns become ``name_1``, ``name_2`` ...), or C names.
    index : length-T index; default ``RangeIndex(T)``.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("series_from_array needs an array of numbers.") from None
    if arr.ndim == 1:
        arr = arr[:, None]                                       # (T,) -> (T, 1)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"Expected a non-empty (T,) or (T, C) array, got shape {np.shape(values)}.")
    if not np.isfinite(arr).all():
        raise DataError("The array holds NaN or infinite values. Fill or remove them first.")
    T, C = arr.shape
    names = [name] + [f"{name}_{i}" for i in range(1, C)] if isinstance(name, str) else [str(n) for n in name]
    if len(names) != C:
        raise DataError(f"Got {len(names)} names for {C} columns. Give one name per column.")
    index = pd.RangeIndex(T) if index is None else pd.Index(index)
    if len(index) != T:
        raise DataError(f"The index has {len(index)} entries but the array has {T} rows. Make them match.")
    return Series(values=arr.astype(np.float32), columns=names, index=index, target=names[0],
                  report="Built from an array: no missing values.")


# ---------------------------------------------------------------------------------------------
# bundled sample data
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleInfo:
    """One bundled data set, as described in ``sample_data/samples.json``."""

    name: str                    # key = file stem, e.g. "airline_passengers"
    path: Path                   # sample_data/<name>.csv
    title: str
    description: str
    source: str                  # provenance and licence
    target: str                  # the value column
    frequency: str
    season_length: int | None    # e.g. 12 for monthly data with a yearly cycle


def list_samples() -> dict[str, SampleInfo]:
    """The bundled real data sets, keyed by file stem (read from ``sample_data/samples.json``)."""
    try:
        meta = json.loads((SAMPLE_DIR / "samples.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {SAMPLE_DIR / 'samples.json'} ({exc}). Reinstall GRU Lab or restore "
                        "the sample_data folder.") from None
    return {key: SampleInfo(name=key, path=SAMPLE_DIR / f"{key}.csv", title=m["title"],
                            description=m["description"], source=m["source"], target=m["target"],
                            frequency=m["frequency"], season_length=m.get("season_length"))
            for key, m in meta.items()}


def load_sample(key: str) -> Table:
    """Load a bundled data set by key (see :func:`list_samples`)."""
    samples = list_samples()
    if key not in samples:
        raise DataError(f"Unknown sample '{key}'. Choose one of: {', '.join(samples)}.")
    return load_table(samples[key].path, name=samples[key].path.name)
