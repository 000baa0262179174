"""Number parsing for ``gru_core.data``: CSV cells (strings) to float64, locale-aware.

Real files write numbers in two conventions:

- dot decimal:   ``1234.5``, ``"1,234.5"`` (comma groups thousands; quoted in a comma-delimited file)
- comma decimal: ``1234,5``, ``1.234,5`` (dot groups thousands; usual with ``;`` delimiters in Europe)

:func:`uses_decimal_comma` looks for cells that only one convention can explain (``1,5``, ``1.234,5``
versus ``1.5``, ``1,234.5``) and picks one convention for the whole file; :func:`parse_numbers` then
converts a column, telling apart missing cells (empty, ``NA``, ``-`` ...) from cells that are not numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# cells that mean "no value here" (compared lower-case, after removing spaces)
MISSING_TOKENS = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none", "-", "--", ".", "?", "*", "***",
                            "missing", "nd", "n.d.", "n.a."})
_INF_WORDS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})

# full-cell patterns of a valid number in each convention (spaces and apostrophes removed first)
# (plus: at least one digit; no look-aheads, so pyarrow's regex engine can run them)
_NUM_DOT = r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?$"
_NUM_COMMA = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d*)(?:,\d*)?(?:[eE][+-]?\d+)?$"

# cells that only one convention explains
_ONLY_COMMA = (r"^[+-]?\d*,(?:\d{1,2}|\d{4,})$"       # 1,5   0,12   3,14159
               r"|^[+-]?0?,\d+$"                      # 0,125  ,5
               r"|\.\d{3},\d"                          # 1.234,5
               r"|^[+-]?\d{1,3}(?:\.\d{3}){2,}$")      # 1.234.567
_ONLY_DOT = (r"^[+-]?\d*\.(?:\d{1,2}|\d{4,})(?:[eE][+-]?\d+)?$"
             r"|^[+-]?0?\.\d+$"
             r"|,\d{3}\.\d"
             r"|^[+-]?\d{1,3}(?:,\d{3}){2,}$"
             r"|^[+-]?\d+\.\d*[eE]")
_AMBIGUOUS_COMMA = r"^[+-]?\d{1,3},\d{3}$"            # 1,234: thousands or decimal?


def _squeeze(cells: pd.Series) -> pd.Series:
    """Strip cells and drop the spaces / apostrophes people use to group thousands."""
    return cells.astype(object).astype(str).str.replace("[ \t\u00a0\u202f']", "", regex=True)


def uses_decimal_comma(columns: list[pd.Series], delimiter: str) -> bool:
    """Decide whether the file writes decimals with a comma.

    Parameters
    ----------
    columns : the string cells of every non-date column.
    delimiter : the file's delimiter; with ``;`` or tab, ``1,234`` reads as 1.234, with ``,`` as 1234.
    """
    if not columns:
        return False
    s = _squeeze(pd.concat([cells.iloc[:2000] for cells in columns], ignore_index=True))
    only_comma = int(s.str.contains(_ONLY_COMMA, regex=True).sum())
    only_dot = int(s.str.contains(_ONLY_DOT, regex=True).sum())
    ambiguous = int(s.str.contains(_AMBIGUOUS_COMMA, regex=True).sum())
    if only_comma != only_dot:
        return only_comma > only_dot
    return only_comma == 0 and ambiguous > 0 and delimiter != ","


def parse_numbers(cells: pd.Series, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Convert string cells to float64.

    Returns
    -------
    values : (N,) float64, NaN where the cell is missing or not a number (inf stays inf)
    bad : (N,) bool, True where a non-empty cell is not a number in this convention
    """
    s = _squeeze(cells)
    lower = s.str.lower()
    missing = lower.isin(MISSING_TOKENS).to_numpy(bool)
    infinite = lower.isin(_INF_WORDS).to_numpy(bool)
    has_digit = s.str.contains(r"\d").to_numpy(bool)
    if decimal_comma:
        valid = s.str.match(_NUM_COMMA).to_numpy(bool) & has_digit
        plain = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        valid = s.str.match(_NUM_DOT).to_numpy(bool) & has_digit
        plain = s.str.replace(",", "", regex=False)
    ok = valid | infinite
    values = np.full(len(s), np.nan)
    if ok.any():
        values[ok] = pd.to_numeric(plain[ok], errors="coerce").to_numpy(np.float64)
    bad = ~ok & ~missing
    return values, bad
