"""Date handling for ``gru_core.data``: find the time axis of a table and its frequency.

Three shapes are recognised, tried in this order by :func:`find_dates`:

1. **wide**: one row per year with 12 month columns (Jan..Dec) or 4 quarter columns (Q1..Q4);
   :func:`reshape_wide` turns it into one long series,
2. **composite**: separate year + month (+ day) or year + quarter columns,
3. **single column** in a common format: ``1958-03-29``, ``19580329``, ``Jan-1-1995``, ``1995-01``,
   ``1995Q1``, ``1995M01``, ``29.03.1958``, ``03/29/1958``, plain years ``1958``, ISO date-times.

All parsing is vectorised with pandas; nothing here raises on bad cells: a column that does not parse
completely is simply not a date column.

:func:`future_dates` continues a date axis past its end (for forecasts), also where pandas names no
frequency because rows are missing.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gru_core._numbers import MISSING_TOKENS

# a whole word of the column name ("obs_date", "Date (UTC)"; not "runtime")
DATE_NAME = re.compile(r"(?<![a-z])(date|time|datetime|timestamp|year|yr|month|day|week|quarter|period|ds|dt"
                       r"|yyyymmdd|fecha|datum|jahr|ann[eé]e|anno|año|mes|monat|mois|zeit)s?(?![a-z])", re.I)
YEAR_NAME = re.compile(r"^(year|yr|yyyy|jahr|ann[eé]e|anno|año|ano)$", re.I)
MONTH_NAME = re.compile(r"^(month|mon|mm|monat|mois|mes|mese)$", re.I)
QUARTER_NAME = re.compile(r"^(quarter|qtr|q|quartal|trimestre)$", re.I)
DAY_NAME = re.compile(r"^(day|dd|tag|jour|d[ií]a)$", re.I)
QUARTER_COLUMN = re.compile(r"^(?:q|qtr|quarter)\s*([1-4])$", re.I)
MONTHS = {name: i + 1 for i, names in enumerate(
    ["jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july",
     "aug august", "sep sept september", "oct october", "nov november", "dec december"])
    for name in names.split()}

# explicit formats, tried on a sample; day-first before month-first (ties are broken by regularity)
FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
    "%Y/%m/%d", "%Y.%m.%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M",
    "%b-%d-%Y", "%b %d %Y", "%b %d, %Y", "%B %d, %Y", "%B %d %Y", "%d-%b-%Y", "%d %b %Y", "%d %B %Y",
    "%d-%b-%y", "%b-%Y", "%b %Y", "%B %Y", "%b-%y", "%Y-%b", "%Y %b", "%Y-%m", "%Y/%m",
)
_QUARTER = re.compile(r"^(?:(?P<y1>\d{4})\s*[-/ ]?\s*[Qq](?P<q1>[1-4])|[Qq](?P<q2>[1-4])\s*[-/ ]?\s*(?P<y2>\d{4}))$")
_YEAR_MONTH = re.compile(r"^(?P<y>\d{4})[Mm](?P<m>\d{1,2})$")
# cheap first look: digits with date separators, a month name, or a quarter (skips ordinary text fast)
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}|^\d{4}\s*[-/ ]?[QqMm]\d|^[Qq][1-4]"
                        r"|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")


@dataclass
class Dates:
    """The time axis found in a table."""

    index: pd.DatetimeIndex      # one entry per row, NaT where the row has no date
    column: str                  # the date column's name, or e.g. "year+month"
    used: list[str]              # raw columns consumed (excluded from the numeric columns)
    note: str | None = None


def _to_datetime(values: pd.Series, fmt: str) -> pd.DatetimeIndex | None:
    """``pd.to_datetime`` that returns None instead of raising (out of range, mixed zones ...)."""
    try:
        if fmt == "ISO8601":
            try:
                out = pd.to_datetime(values, format=fmt, errors="coerce")
            except ValueError:                       # mixed time zones
                out = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
            if getattr(out.dt, "tz", None) is not None:
                out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        else:
            out = pd.to_datetime(values, format=fmt, errors="coerce")
        return pd.DatetimeIndex(out)
    except (ValueError, TypeError, OverflowError, AttributeError):
        return None


def _regularity(index: pd.DatetimeIndex) -> int:
    """Number of distinct steps between sorted dates (fewer = more regular)."""
    return int(np.unique(np.diff(index.dropna().sort_values().asi8)).size)


def parse_date_column(values: pd.Series, digits_ok: bool) -> tuple[pd.DatetimeIndex, str | None] | None:
    """Parse one column of strings as dates.

    Parameters
    ----------
    values : (N,) strings.
    digits_ok : whether all-digit cells (``1958``, ``195803``, ``19580329``) may be read as dates.

    Returns
    -------
    (index, note) with NaT for empty cells, or None when some non-empty cell does not parse.
    """
    s = values.astype(object).astype(str).str.strip()
    empty = s.str.lower().isin(MISSING_TOKENS)
    filled = s[~empty]
    if filled.empty:
        return None
    sample = pd.concat([filled.iloc[:40], filled.iloc[-20:]])

    def full(fmt: str) -> pd.DatetimeIndex | None:
        out = _to_datetime(s.where(~empty, None), fmt)
        return None if out is None or out[~empty.to_numpy()].hasnans else out

    # 1. all digits: compact dates and plain years
    if sample.str.fullmatch(r"\d+").all():
        lengths = filled.str.len().unique()
        fmt = {8: "%Y%m%d", 6: "%Y%m", 4: "%Y"}.get(int(lengths[0])) if len(lengths) == 1 else None
        if not digits_ok or fmt is None or not filled.str.fullmatch(r"\d+").all():
            return None
        out = full(fmt)
        return (out, None) if out is not None else None

    if (sample.str.fullmatch(r"[+-]?\d*(?:[.,]\d*)?(?:[eE][+-]?\d+)?").all()
            or not sample.str.contains(_DATE_LIKE).all()):
        return None                                       # plain numbers (1.5, 3,25) or plain text
    # 2. quarters (1995Q1, Q1 1995) and 1995M01
    for pattern, build in ((_QUARTER, _quarter_strings), (_YEAR_MONTH, _year_month_strings)):
        if sample.str.match(pattern).all():
            parts = filled.str.extract(pattern)
            if parts.isna().all(axis=1).any():
                return None
            out = _to_datetime(pd.Series(build(parts), index=filled.index).reindex(s.index), "%Y-%m-%d")
            return (out, None) if out is not None and not out[~empty.to_numpy()].hasnans else None

    # 3. explicit formats that read the whole sample; ambiguous day/month -> the more regular one
    hits = [fmt for fmt in FORMATS if (d := _to_datetime(sample, fmt)) is not None and not d.hasnans]
    parsed = [(fmt, out) for fmt in hits[:3] if (out := full(fmt)) is not None]
    if parsed:
        fmt, out = min(parsed, key=lambda p: _regularity(p[1]))
        note = None
        if len(parsed) > 1 and any(not out.equals(o) for _, o in parsed):
            note = (f"Dates like '{filled.iloc[0]}' could be day-first or month-first; read them as "
                    f"'{fmt}', which gives the more regular time steps.")
        return out, note
    # 4. anything ISO 8601 (fractional seconds, time zones)
    if sample.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        out = full("ISO8601")
        if out is not None:
            return out, None
    return None


def _quarter_strings(parts: pd.DataFrame) -> pd.Series:
    year = parts["y1"].fillna(parts["y2"])
    quarter = parts["q1"].fillna(parts["q2"]).astype(int)
    return year + "-" + ((quarter - 1) * 3 + 1).astype(str).str.zfill(2) + "-01"


def _year_month_strings(parts: pd.DataFrame) -> pd.Series:
    return parts["y"] + "-" + parts["m"].str.zfill(2) + "-01"


def _month_numbers(cells: pd.Series) -> pd.Series:
    """Month cells (1..12, '01', 'Jan', 'January') -> numbers; NaN where not a month."""
    s = cells.astype(object).astype(str).str.strip().str.lower().str.rstrip(".")
    named = s.map(MONTHS)
    numeric = pd.to_numeric(s.where(s.str.fullmatch(r"\d{1,2}"), None), errors="coerce")
    return named.fillna(numeric).where(lambda m: m.between(1, 12))


def _composite(cells: dict[str, pd.Series]) -> Dates | None:
    """Year + month (+ day) or year + quarter columns -> dates."""
    def first(pattern: re.Pattern) -> str | None:
        return next((c for c in cells if pattern.match(c.strip())), None)

    year_col = first(YEAR_NAME)
    if year_col is None:
        return None
    year = cells[year_col].astype(object).astype(str).str.strip()
    if not year.str.fullmatch(r"\d{4}").all():
        return None
    month_col, quarter_col, day_col = first(MONTH_NAME), first(QUARTER_NAME), first(DAY_NAME)
    if month_col is not None:
        month = _month_numbers(cells[month_col])
        used, label, day = [year_col, month_col], f"{year_col}+{month_col}", pd.Series(1, index=year.index)
        if day_col is not None:
            day = pd.to_numeric(cells[day_col].astype(object).astype(str).str.strip(), errors="coerce")
            used, label = used + [day_col], f"{label}+{day_col}"
    elif quarter_col is not None:
        q = cells[quarter_col].astype(object).astype(str).str.strip().str.upper().str.removeprefix("Q")
        q = pd.to_numeric(q.where(q.str.fullmatch(r"[1-4]"), None), errors="coerce")
        month, day = (q - 1) * 3 + 1, pd.Series(1, index=year.index)
        used, label = [year_col, quarter_col], f"{year_col}+{quarter_col}"
    else:
        return None
    if month.isna().any() or day.isna().any():
        return None
    text = year + "-" + month.astype(int).astype(str).str.zfill(2) + "-" + day.astype(int).astype(str).str.zfill(2)
    index = _to_datetime(text, "%Y-%m-%d")
    if index is None or index.hasnans:
        return None
    return Dates(index, label, used, f"Combined the columns {' + '.join(used)} into one date.")


def find_dates(cells: dict[str, pd.Series]) -> Dates | None:
    """Find the date axis of a (long) table; None when there is none.

    Parameters
    ----------
    cells : column name -> (N,) string cells, in file order.
    """
    found = _composite(cells)
    if found is not None:
        return found
    names = list(cells)
    candidates = [c for c in names if DATE_NAME.search(c)] + names[:1] + names[1:]
    for col in dict.fromkeys(candidates):                  # ordered, unique
        named = bool(DATE_NAME.search(col))
        if not named and col != names[0] and not _DATE_LIKE.search(str(cells[col].iloc[0])):
            continue                                       # quick skip for ordinary value columns
        result = parse_date_column(cells[col], digits_ok=named or col == names[0])
        if result is None:
            continue
        index, note = result
        if not named and cells[col].str.fullmatch(r"\s*\d+\s*").all():
            # an unnamed column of plain numbers is a date only if it looks like a time axis
            years = index.dropna().year
            if not (index.dropna().is_monotonic_increasing and index.dropna().is_unique
                    and years.min() >= 1600 and years.max() <= 2200):
                continue
        return Dates(index, col, [col], note)
    return None


def reshape_wide(cells: dict[str, pd.Series], lines: np.ndarray) -> tuple[dict, np.ndarray, Dates] | None:
    """One row per year with Jan..Dec (or Q1..Q4) columns -> one long monthly (quarterly) series.

    Returns
    -------
    None if the table is not of that shape, else ``(cells, lines, dates)`` of the long table with one
    value column named ``"value"``.
    """
    names = list(cells)
    months = {MONTHS.get(c.strip().lower().rstrip(".")): c for c in names}
    quarters = {int(m.group(1)): c for c in names if (m := QUARTER_COLUMN.match(c.strip()))}
    if all(k in months for k in range(1, 13)):
        periods, kind, step = [months[k] for k in range(1, 13)], "month", 1
    elif len(quarters) == 4:
        periods, kind, step = [quarters[k] for k in range(1, 5)], "quarter", 3
    else:
        return None
    year_col = next((c for c in names if YEAR_NAME.match(c.strip())), None)
    if year_col is None and names[0] not in periods:
        year_col = names[0]
    if year_col is None:
        return None
    year = cells[year_col].astype(object).astype(str).str.strip()
    if not year.str.fullmatch(r"\d{4}").all():
        return None
    n, k = len(year), len(periods)
    # row-major: year 1 Jan..Dec, year 2 Jan..Dec, ...
    values = np.column_stack([cells[c].astype(object).to_numpy() for c in periods]).reshape(n * k)
    month_no = np.tile(np.arange(k) * step + 1, n)
    text = pd.Series(np.repeat(year.to_numpy(), k)) + "-" + pd.Series(month_no).astype(str).str.zfill(2) + "-01"
    index = _to_datetime(text, "%Y-%m-%d")
    if index is None or index.hasnans:
        return None
    dropped = [c for c in names if c not in periods and c != year_col]
    label = f"{year_col}+{kind}"
    note = (f"Reshaped a wide table ({n} rows of {year_col} x {k} {kind} columns) into one "
            f"{'monthly' if kind == 'month' else 'quarterly'} series named 'value'"
            + (f"; ignored the columns {', '.join(dropped)}." if dropped else "."))
    long = {"value": pd.Series(values, dtype=object)}
    return long, np.repeat(lines, k), Dates(index, label, [], note)


def detect_frequency(index: pd.Index) -> str | None:
    """'hourly', 'daily', 'weekly', 'monthly', 'quarterly' or 'yearly' from the median step, else None."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return None
    day = float(np.median((index[1:] - index[:-1]).total_seconds())) / 86400
    for name, low, high in (("hourly", 1 / 24 - 1e-6, 1 / 24 + 1e-6), ("daily", 1 - 1e-6, 1 + 1e-6),
                            ("weekly", 7 - 1e-6, 7 + 1e-6), ("monthly", 28, 31), ("quarterly", 89, 92),
                            ("yearly", 365, 366)):
        if low <= day <= high:
            return name
    return None


# ----------------------------------------------------------------------------- future dates

def _infer_freq(index: pd.DatetimeIndex):
    """``index.freq`` or ``pd.infer_freq``; None when pandas names no frequency."""
    if index.freq is not None:
        return index.freq
    if len(index) < 3:
        return None
    try:
        with warnings.catch_warnings():            # pandas 3 warns that infer_freq's type will change
            warnings.simplefilter("ignore")
            return pd.infer_freq(index)
    except (TypeError, ValueError):
        return None


def _gap_tolerant_freq(index: pd.DatetimeIndex, step: pd.Timedelta):
    """The frequency of the longest regular stretch, if every date of ``index`` lies on its grid.

    Gaps (a step over 1.5 median steps) cut the index into stretches; pandas names the frequency
    of the longest one (e.g. "W-SUN", "MS"), and it counts only if a date range at that
    frequency from the first to the last date holds every date (dropped rows are fine, shifted
    ones are not).
    """
    cuts = np.flatnonzero((index[1:] - index[:-1]) > 1.5 * step) + 1
    stretches = np.split(np.arange(len(index)), cuts)
    longest = max(stretches, key=len)
    if len(longest) < 3:
        return None
    freq = _infer_freq(pd.DatetimeIndex(index[longest]))
    if freq is None:
        return None
    try:
        grid = pd.date_range(index[0], index[-1], freq=freq)
    except (TypeError, ValueError, OverflowError):
        return None
    return freq if len(grid) <= 50 * len(index) and index.isin(grid).all() else None


def future_dates(index: pd.DatetimeIndex, steps: int) -> tuple[pd.DatetimeIndex | None, str | None]:
    """The ``steps`` dates after the last one of ``index``, and a note when they had to be guessed.

    1. A frequency pandas can name for the whole index (``index.freq``, ``pd.infer_freq``):
       continued exactly (calendar months stay month starts), no note.
    2. Dates with gaps (dropped rows) that all lie on the grid of their regular stretches'
       frequency: continued at that frequency, with a note.
    3. Otherwise: the last date plus 1, 2, ... times the median step between dates, with a note.

    Returns ``(None, reason)`` when no date can be continued (fewer than two dates, or dates that
    do not increase): the caller then uses positions.
    """
    name = index.name
    if len(index) < 2 or index.hasnans or not index.is_monotonic_increasing or not index.is_unique:
        return None, ("The dates are not strictly increasing, so the future steps are numbered by "
                      "position instead of dated.")
    freq = _infer_freq(index)
    if freq is not None:
        return pd.date_range(index[-1], periods=steps + 1, freq=freq, name=name)[1:], None
    step = (index[1:] - index[:-1]).median()                       # median step, > 0 (increasing)
    freq = _gap_tolerant_freq(index, step)
    if freq is not None:
        label = freq if isinstance(freq, str) else freq.freqstr
        return (pd.date_range(index[-1], periods=steps + 1, freq=freq, name=name)[1:],
                f"The dates have gaps (some rows are missing), so pandas names no frequency for "
                f"them; the future dates continue the frequency of their regular stretches "
                f"({label}) after the last date, {index[-1]:%Y-%m-%d}.")
    future = pd.DatetimeIndex(index[-1] + step * np.arange(1, steps + 1), name=name)
    return future, (f"The dates are not evenly spaced, so pandas names no frequency for them; the "
                    f"future dates continue the median step between dates ({_duration(step)}) "
                    f"after the last date, {index[-1]:%Y-%m-%d}.")


def _duration(step: pd.Timedelta) -> str:
    """A readable length of time: "7 days", "3 hours", "90 minutes", "12.5 days"."""
    days = step / pd.Timedelta(days=1)
    if days >= 1:
        return f"{days:g} day{'s' if days != 1 else ''}"
    hours = step / pd.Timedelta(hours=1)
    if hours >= 1:
        return f"{hours:g} hour{'s' if hours != 1 else ''}"
    return f"{step / pd.Timedelta(minutes=1):g} minutes"
