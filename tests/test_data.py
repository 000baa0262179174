"""Tests for gru_core.data: sample data, CSV dialects, error messages, missing values, fuzzing."""
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gru_core.data import (MISSING_METHODS, SAMPLE_DIR, Series, Table, _load_table, handle_missing,
                           load_sample, load_table, prepare_series, series_from_array)
from gru_core.errors import DataError


class FakeUpload(io.BytesIO):
    """Stands in for Streamlit's UploadedFile: a BytesIO with .name, .size and .type."""

    def __init__(self, data: bytes, name: str = "upload.csv", size: int | None = None):
        super().__init__(data)
        self.name, self.type = name, "text/csv"
        self.size = len(data) if size is None else size


def load(data: bytes, **kwargs) -> Table:
    return load_table(data, name="test.csv", **kwargs)


# ---------------------------------------------------------------------------------------------
# bundled samples
# ---------------------------------------------------------------------------------------------
EXPECTED_SAMPLES = {          # key -> (rows, first date, frequency)
    "airline_passengers": (144, "1949-01-01", "monthly"),
    "nile": (100, "1871-01-01", "yearly"),
    "sunspots": (309, "1700-01-01", "yearly"),
    "co2_monthly": (360, "1988-01-01", "monthly"),
    "co2_weekly": (2284, "1958-03-29", "weekly"),
}


def test_sample_registry_lists_every_csv(samples):
    assert set(samples) == set(EXPECTED_SAMPLES)
    assert {p.stem for p in SAMPLE_DIR.glob("*.csv")} == set(samples)
    meta = json.loads((SAMPLE_DIR / "samples.json").read_text())
    for key, info in samples.items():
        assert info.name == key and info.path == SAMPLE_DIR / f"{key}.csv" and info.path.is_file()
        assert info.title and info.description and "public domain" in info.source.lower()
        assert info.frequency == meta[key]["frequency"]
    assert (SAMPLE_DIR / "README.md").is_file()
    assert (SAMPLE_DIR / "timemachine.txt").stat().st_size > 100_000


@pytest.mark.parametrize("key", sorted(EXPECTED_SAMPLES))
def test_every_sample_loads(key, samples):
    rows, start, frequency = EXPECTED_SAMPLES[key]
    info, table = samples[key], load_sample(key)
    assert isinstance(table.frame.index, pd.DatetimeIndex)
    assert table.frame.index.is_monotonic_increasing and table.frame.index.is_unique
    assert table.frame.index[0] == pd.Timestamp(start)
    assert len(table.frame) == rows
    assert table.frequency == frequency == info.frequency
    assert table.date_column not in table.numeric_columns
    assert info.target in table.numeric_columns
    assert table.frame[info.target].dtype == np.float64
    series = prepare_series(table, info.target)
    assert series.values.dtype == np.float32 and series.values.shape == (rows, 1)


def test_sample_values_match_the_published_data(airline_table):
    passengers = airline_table.frame["passengers"].to_numpy()
    assert passengers[:5].tolist() == [112, 118, 132, 129, 121]
    assert passengers[-4:].tolist() == [508, 461, 390, 432]
    nile = load_sample("nile").frame["volume"]
    assert nile.iloc[:3].tolist() == [1120, 1160, 963] and nile.iloc[-1] == 740
    assert nile.index[-1] == pd.Timestamp("1970-01-01")
    sun = load_sample("sunspots").frame["sunspots"]
    assert sun.iloc[:5].tolist() == [5, 11, 16, 23, 36] and sun.index[-1].year == 2008
    assert load_sample("co2_monthly").frame["co2"].iloc[0] == pytest.approx(350.39)
    weekly = load_sample("co2_weekly")
    assert weekly.missing == {"co2": 59} and weekly.frame["co2"].iloc[0] == pytest.approx(316.1)


def test_unknown_sample():
    with pytest.raises(DataError, match="Unknown sample 'nope'. Choose one of: airline_passengers"):
        load_sample("nope")


def test_data_module_never_imports_streamlit():
    code = "import sys, gru_core.data; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SAMPLE_DIR.parent)


# ---------------------------------------------------------------------------------------------
# sources: path, bytes, file-like
# ---------------------------------------------------------------------------------------------
CSV = b"date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n"


@pytest.mark.parametrize("make", [
    pytest.param(lambda p: p, id="Path"),
    pytest.param(lambda p: str(p), id="str"),
    pytest.param(lambda p: p.read_bytes(), id="bytes"),
    pytest.param(lambda p: bytearray(p.read_bytes()), id="bytearray"),
    pytest.param(lambda p: io.BytesIO(p.read_bytes()), id="BytesIO"),
    pytest.param(lambda p: io.StringIO(p.read_text()), id="StringIO"),
    pytest.param(lambda p: FakeUpload(p.read_bytes()), id="UploadedFile"),
    pytest.param(lambda p: open(p, "rb"), id="open-file"),
])
def test_sources(tmp_path, make):
    path = tmp_path / "x.csv"
    path.write_bytes(CSV)
    src = make(path)
    table = load_table(src)
    assert table.frame["value"].tolist() == [1, 2, 3]
    if hasattr(src, "close"):
        src.close()


def test_upload_that_was_already_read_is_rewound():
    upload = FakeUpload(CSV)
    upload.read()
    assert load_table(upload).frame["value"].tolist() == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# CSV dialects
# ---------------------------------------------------------------------------------------------
WIDE_MONTHS = (b"Year,Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec,Annual\n"
               b"2001,13,14,15,16,17,18,19,20,21,,,,\n"
               b"2000,1,2,3,4,5,6,7,8,9,10,11,12,78\n")

# id -> (csv bytes, column, its values, date column, first date, frequency, phrase in notes)
DIALECTS = {
    "comma-iso": (CSV, "value", [1, 2, 3], "date", "2020-01-01", "daily", "comma"),
    "semicolon-decimal-comma": (b"date;value\n2020-01-01;1,5\n2020-01-02;2,7\n2020-01-03;3,25\n",
                                "value", [1.5, 2.7, 3.25], "date", "2020-01-01", "daily", "decimal separator"),
    "tab": (b"date\tvalue\n2020-01-01\t1.5\n2020-01-02\t2.5\n", "value", [1.5, 2.5], "date", "2020-01-01",
            "daily", "tab"),
    "pipe": (b"date|v\n2020-01-01|1\n2020-01-02|2\n", "v", [1, 2], "date", "2020-01-01", "daily", "pipe"),
    "utf8-bom": ("\ufeffdate,value\n2020-01-01,1\n2020-02-01,2\n".encode(), "value", [1, 2], "date",
                 "2020-01-01", "monthly", "byte-order mark"),
    "latin1-german": ("Datum;Température\n01.01.2020;1,5\n02.01.2020;2,5\n03.01.2020;-0,5\n".encode("latin-1"),
                      "Température", [1.5, 2.5, -0.5], "Datum", "2020-01-01", "daily", "Latin-1"),
    "utf16-excel-unicode-text": ("date\tvalue\n2020-01-01\t1,5\n2020-01-02\t2,5\n".encode("utf-16"),
                                 "value", [1.5, 2.5], "date", "2020-01-01", "daily", "UTF-16"),
    "quoted-us-thousands": (b'date,sales\n2020-01-01,"1,234.5"\n2020-01-02,"12,345.25"\n', "sales",
                            [1234.5, 12345.25], "date", "2020-01-01", "daily", "comma"),
    "eu-thousands": (b"date;sales\n2020-01-01;1.234,5\n2020-01-02;12.345,25\n", "sales", [1234.5, 12345.25],
                     "date", "2020-01-01", "daily", "decimal separator"),
    "space-thousands": ("date;sales\n2020-01-01;1\u00a0234,5\n2020-01-02;2 000,25\n".encode(), "sales",
                        [1234.5, 2000.25], "date", "2020-01-01", "daily", "decimal separator"),
    "quoted-everything": (b'"month","passengers"\n"1949-01","112"\n"1949-02","118"\n', "passengers",
                          [112, 118], "month", "1949-01-01", "monthly", "comma"),
    "compact-yyyymmdd": (b"date,co2\n19580329,316.1\n19580405,317.3\n", "co2", [316.1, 317.3], "date",
                         "1958-03-29", "weekly", "comma"),
    "month-name-day-year": (b"date,value\nJan-1-1995,1\nFeb-1-1995,2\nMar-1-1995,3\n", "value", [1, 2, 3],
                            "date", "1995-01-01", "monthly", "comma"),
    "month-year": (b"date,v\nJan 1995,1\nFeb 1995,2\n", "v", [1, 2], "date", "1995-01-01", "monthly", "comma"),
    "year-month": (b"date,v\n1995-01,1\n1995-02,2\n", "v", [1, 2], "date", "1995-01-01", "monthly", "comma"),
    "year-M-month": (b"date,v\n1995M11,1\n1995M12,2\n", "v", [1, 2], "date", "1995-11-01", "monthly", "comma"),
    "year-quarter": (b"period,gdp\n1995Q1,1\n1995Q2,2\n1995Q3,3\n", "gdp", [1, 2, 3], "period", "1995-01-01",
                     "quarterly", "comma"),
    "plain-years": (b"year,flow\n1871,1120\n1872,1160\n1873,963\n", "flow", [1120, 1160, 963], "year",
                    "1871-01-01", "yearly", "comma"),
    "us-dates": (b"date,v\n01/13/2020,1\n01/14/2020,2\n", "v", [1, 2], "date", "2020-01-13", "daily", "comma"),
    "hourly-timestamps": (b"timestamp,load\n2020-01-01 00:00:00,1\n2020-01-01 01:00:00,2\n"
                          b"2020-01-01 02:00:00,3\n", "load", [1, 2, 3], "timestamp", "2020-01-01",
                          "hourly", "comma"),
    "iso-with-zone": (b"time,v\n2020-01-01T01:00:00+01:00,1\n2020-01-01T01:00:00Z,2\n", "v", [1, 2], "time",
                      "2020-01-01", "hourly", "comma"),
    "year+month-columns": (b"Year,Month,Sales\n2020,1,10\n2020,2,11\n2020,3,12\n", "Sales", [10, 11, 12],
                           "Year+Month", "2020-01-01", "monthly", "Combined the columns Year + Month"),
    "year+month-names": (b"year;month;x\n2020;Jan;1\n2020;Feb;2\n", "x", [1, 2], "year+month", "2020-01-01",
                         "monthly", "Combined"),
    "year+quarter-columns": (b"year,quarter,gdp\n2020,Q1,1\n2020,Q2,2\n2020,Q3,3\n", "gdp", [1, 2, 3],
                             "year+quarter", "2020-01-01", "quarterly", "Combined"),
    "wide-months": (WIDE_MONTHS, "value", list(range(1, 22)), "Year+month", "2000-01-01", "monthly",
                    "Reshaped a wide table (2 rows of Year x 12 month columns)"),
    "wide-quarters": (b"year,Q1,Q2,Q3,Q4\n2000,1,2,3,4\n2001,5,6,7,8\n", "value", list(range(1, 9)),
                      "year+quarter", "2000-01-01", "quarterly", "quarterly series named 'value'"),
    "unsorted": (b"date,v\n2020-01-03,3\n2020-01-01,1\n2020-01-02,2\n", "v", [1, 2, 3], "date", "2020-01-01",
                 "daily", "Sorted the rows by date"),
    "no-header": (b"1871,1120\n1872,1160\n1873,963\n", "column_2", [1120, 1160, 963], "column_1",
                  "1871-01-01", "yearly", "No header row"),
    "crlf": (b"date,v\r\n2020-01-01,1\r\n2020-01-02,2\r\n", "v", [1, 2], "date", "2020-01-01", "daily", "comma"),
    "comment-lines": (b"# source: NOAA\n# units: ppm\ndate,v\n2020-01-01,1\n2020-01-02,2\n", "v", [1, 2],
                      "date", "2020-01-01", "daily", "Skipped 2 comment line(s)"),
    "trailing-delimiters": (b"date,v,\n2020-01-01,1,\n2020-01-02,2,\n", "v", [1, 2], "date", "2020-01-01",
                            "daily", "Dropped 1 empty column(s)"),
    "text-column": (b"date,city,v\n2020-01-01,Paris,1\n2020-01-02,Rome,2\n", "v", [1, 2], "date",
                    "2020-01-01", "daily", "Ignored columns that are not numeric: 'city'"),
    "ambiguous-day-month": (b"date,v\n01/02/2020,1\n02/02/2020,2\n03/02/2020,3\n", "v", [1, 2, 3], "date",
                            "2020-02-01", "daily", "day-first or month-first"),
}


@pytest.mark.parametrize("key", DIALECTS)
def test_dialects(key):
    data, column, values, date_column, start, frequency, phrase = DIALECTS[key]
    table = load(data)
    assert table.frame[column].tolist() == pytest.approx(values)
    assert table.date_column == date_column and table.frame.index.name == date_column
    assert table.frame.index[0] == pd.Timestamp(start)
    assert table.frequency == frequency
    assert date_column not in table.numeric_columns and column in table.numeric_columns
    assert all(table.frame[c].dtype == np.float64 for c in table.numeric_columns)
    assert any(phrase in note for note in table.notes), table.notes


def test_duplicated_dates_keep_last_and_are_reported():
    table = load(b"date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-02,5\n2020-01-03,3\n")
    assert table.duplicates == 1
    assert table.frame["v"].tolist() == [1, 5, 3]
    assert "Found 1 duplicated date(s); kept the last row for each." in table.notes


def test_no_date_column_gives_range_index():
    table = load(b"a,b\n1,2\n3,4\n5,6\n")
    assert table.date_column is None and table.frequency is None
    assert isinstance(table.frame.index, pd.RangeIndex)
    assert table.numeric_columns == ["a", "b"]


def test_single_column_with_decimal_comma():
    assert load(b"value\n1,5\n2,5\n").frame["value"].tolist() == [1.5, 2.5]


def test_missing_tokens_and_stray_text_are_counted():
    rows = "".join(f"2020-01-{d:02d},{d},{d}\n" for d in range(4, 20))
    table = load(f"date,v,w\n2020-01-01,1,NA\n2020-01-02,,2\n2020-01-03,3,n/a\n{rows}2020-01-20,20,oops\n".encode())
    assert table.missing == {"v": 1, "w": 3}
    assert any("1 cell(s) that are not numbers (e.g. 'oops')" in note for note in table.notes)


def test_year_column_is_never_numeric():
    table = load_sample("nile")
    assert table.numeric_columns == ["volume"] and "year" not in table.frame.columns


# ---------------------------------------------------------------------------------------------
# errors: every message says what is wrong and how to fix it
# ---------------------------------------------------------------------------------------------
ERRORS = {   # id -> (bytes, load_table kwargs, phrases the message must contain)
    "empty": (b"", {}, ["'test.csv' is empty", "header row and at least one row of numbers"]),
    "whitespace-only": (b" \r\n\n\t\n", {}, ["is empty"]),
    "bom-only": (b"\xef\xbb\xbf", {}, ["is empty"]),
    "header-only": (b"date,value\n", {}, ["'test.csv' has a header row but no data rows. Add at least one row"]),
    "no-numeric": (b"name,city\nann,paris\nbob,rome\n", {}, ["No numeric column found", "'name', 'city'",
                                                            "e.g. 'date,value'"]),
    "dates-only": (b"date\n2020-01-01\n2020-01-02\n", {}, ["No numeric column found"]),
    "xlsx": (b"PK\x03\x04\x14\x00\x06\x00rest-of-workbook", {}, ["Excel .xlsx", "Save As > CSV"]),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, {}, ["old-style Excel .xls", "Save As > CSV"]),
    "pdf": (b"%PDF-1.7\n%binary", {}, ["PDF document", "Export the table"]),
    "gzip": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", {}, ["gzip-compressed", "Decompress it first"]),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00", {}, ["PNG image"]),
    "nul-bytes": (b"date,value\n2020-01-01,1\x00\x00\n", {}, ["NUL bytes", "Export the data as CSV"]),
    "control-characters": (bytes(range(1, 9)) * 50, {}, ["does not look like text"]),
    "ragged-long": (b"a,b\n1,2\n3,4,5\n6,7\n", {},
                    ["Line 3 of 'test.csv' has 3 fields but the header has 2. Check that line for a missing "
                     "or extra comma (,); values that contain the delimiter must be in double quotes."]),
    "ragged-short": (b"a;b;c\n1;2;3\n4;5;6\n7;8\n", {}, ["Line 4 of 'test.csv' has 2 fields but the header "
                                                         "has 3", "semicolon"]),
    "infinite": (b"date,v\n2020-01-01,1\n2020-01-02,inf\n", {},
                 ["Column 'v' holds 'inf' on line 3, which is not a finite number. Replace it"]),
    "overflowing": (b"date,v\n2020-01-01,1e400\n", {}, ["not a finite number"]),
    "absurd": (b"date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3.2e15\n", {},
               ["Column 'v' holds '3.2e15' on line 4: values beyond ±1e12 are refused", "rescale the column"]),
    "absurd-negative": (b"v\n-5000000000000\n", {}, ["beyond ±1e12"]),
    "too-many-columns": (b"a,b,c,d,e,f\n1,2,3,4,5,6\n", {"max_columns": 5},
                         ["'test.csv' has 6 columns; the limit is 5. Keep only the columns you need"]),
    "too-big": (b"v\n" + b"1\n" * 600_000, {"max_bytes": 2**20},
                ["'test.csv' is 1.14 MB, over the 1 MB limit. Upload a smaller file"]),
    "unbalanced-quote-long-line": (b'a,b\n"' + b"x" * 200_000 + b"\n", {}, ["Could not split", "quotes"]),
}


@pytest.mark.parametrize("key", ERRORS)
def test_error_messages(key):
    data, kwargs, phrases = ERRORS[key]
    with pytest.raises(DataError) as info:
        load(data, **kwargs)
    for phrase in phrases:
        assert phrase in str(info.value)


def test_upload_size_is_checked_before_reading():
    upload = FakeUpload(CSV, name="big.csv", size=60 * 2**20)
    with pytest.raises(DataError, match=r"'big.csv' is 60 MB, over the 50 MB limit"):
        load_table(upload)


def test_bad_sources():
    with pytest.raises(DataError, match="Cannot read a int. Pass a file path"):
        load_table(42)
    with pytest.raises(DataError, match="Could not open .*Check the path"):
        load_table("/no/such/file.csv")
    with pytest.raises(DataError, match="is not a file"):
        load_table(SAMPLE_DIR)


# ---------------------------------------------------------------------------------------------
# missing values
# ---------------------------------------------------------------------------------------------
GAPPY = pd.DataFrame({"a": [np.nan, 1.0, np.nan, 3.0, 4.0, np.nan],
                      "b": [np.nan, np.nan, 2.0, 3.0, 4.0, 5.0]})


@pytest.mark.parametrize("method, values_a, values_b, report", [
    ("interpolate", [2.0, 3.0, 4.0, 4.0], [2.0, 3.0, 4.0, 5.0],
     "Filled 2 missing value(s) by linear interpolation (1 after the last known value repeat it); "
     "dropped 2 leading row(s) with nothing before them to fill from."),
    ("ffill", [1.0, 3.0, 4.0, 4.0], [2.0, 3.0, 4.0, 5.0],
     "Filled 2 missing value(s) by carrying the last value forward; dropped 2 leading row(s) with nothing "
     "before them to fill from."),
    ("drop", [3.0, 4.0], [3.0, 4.0],
     "Dropped 4 row(s) with missing values (5 missing value(s)); the remaining time steps are no longer "
     "evenly spaced."),
])
def test_handle_missing_reports(method, values_a, values_b, report):
    out, text = handle_missing(GAPPY, ["a", "b"], method)
    assert text == report
    assert not out.isna().any().any() and list(out.columns) == ["a", "b"]
    assert out["b"].tolist()[-len(values_b):] == values_b
    assert out["a"].tolist()[-len(values_a):] == values_a


def test_interpolate_is_linear_between_neighbours():
    frame = pd.DataFrame({"x": [0.0, np.nan, np.nan, 3.0]})
    out, report = handle_missing(frame, ["x"], "interpolate")
    assert out["x"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert report == "Filled 2 missing value(s) by linear interpolation."


def test_handle_missing_without_gaps_and_restricts_columns():
    out, report = handle_missing(GAPPY.fillna(0), ["b"], "drop")
    assert report == "No missing values." and list(out.columns) == ["b"] and len(out) == 6


@pytest.mark.parametrize("columns, method, phrase", [
    (["a"], "mean", "Unknown missing-value method 'mean'. Choose one of: interpolate, ffill, drop."),
    (["zzz"], "drop", "Unknown column 'zzz'. Choose one of: a, b."),
    ([], "drop", "No columns chosen."),
])
def test_handle_missing_errors(columns, method, phrase):
    with pytest.raises(DataError) as info:
        handle_missing(GAPPY, columns, method)
    assert phrase in str(info.value)


def test_handle_missing_refuses_an_empty_column_and_an_empty_result():
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": [np.nan, 2.0], "c": [np.nan, np.nan]})
    with pytest.raises(DataError, match="Column 'c' has no values at all"):
        handle_missing(frame, ["a", "c"], "interpolate")
    with pytest.raises(DataError, match="No rows are left .* Use 'interpolate' or 'ffill'"):
        handle_missing(frame, ["a", "b"], "drop")


def test_prepare_series_reports_missing_handling():
    series = prepare_series(load_sample("co2_weekly"), "co2", missing="interpolate")
    assert series.report.startswith("Filled 59 missing value(s) by linear interpolation")
    assert np.isfinite(series.values).all() and len(series.values) == 2284


# ---------------------------------------------------------------------------------------------
# Series
# ---------------------------------------------------------------------------------------------
def multi_table() -> Table:
    rows = "\n".join(f"2020-01-{d:02d},{d},{d * d % 7},{5}" for d in range(1, 21))
    return load(f"date,y,x,k\n{rows}\n".encode())


def test_prepare_series_shapes(airline_series):
    assert isinstance(airline_series, Series)
    assert airline_series.values.shape == (144, 1) and airline_series.values.dtype == np.float32
    assert airline_series.columns == ["passengers"] and airline_series.target == "passengers"
    assert airline_series.target_values.shape == (144,) and airline_series.target_values[0] == 112
    assert isinstance(airline_series.index, pd.DatetimeIndex)
    series = prepare_series(multi_table(), "y", inputs=["x", "k", "y", "x"])
    assert series.columns == ["y", "x", "k"] and series.values.shape == (20, 3)
    assert series.values[:, 0].tolist() == list(range(1, 21))


@pytest.mark.parametrize("target, inputs, phrase", [
    ("nope", (), "Unknown column 'nope'. Choose one of: y, x, k."),
    ("y", ["nope"], "Unknown column 'nope'."),
    ("date", (), "'date' is the date column (the time axis), not a value."),
    ("k", (), "The target column 'k' is constant (every value is 5), so there is nothing to forecast."),
])
def test_prepare_series_errors(target, inputs, phrase):
    with pytest.raises(DataError) as info:
        prepare_series(multi_table(), target, inputs)
    assert phrase in str(info.value)


def test_prepare_series_too_short():
    with pytest.raises(DataError, match=r"Only 3 time step\(s\) are left .* at least 10 are needed"):
        prepare_series(load(b"v\n1\n2\n3\n"), "v")


def test_series_from_array():
    one = series_from_array(np.arange(20.0))
    assert one.values.shape == (20, 1) and one.columns == ["value"] and one.values.dtype == np.float32
    assert isinstance(one.index, pd.RangeIndex)
    two = series_from_array(np.ones((30, 3)) * np.arange(3), name="s")
    assert two.columns == ["s", "s_1", "s_2"] and two.target == "s"
    dates = pd.date_range("2020-01-01", periods=5, freq="D")
    named = series_from_array(np.zeros((5, 2)), name=["y", "x"], index=dates)
    assert named.columns == ["y", "x"] and named.index.equals(dates)


@pytest.mark.parametrize("values, kwargs, phrase", [
    (np.zeros((2, 2, 2)), {}, "Expected a non-empty (T,) or (T, C) array, got shape (2, 2, 2)."),
    (np.array([1.0, np.nan]), {}, "NaN or infinite"),
    (np.zeros(5), {"index": range(4)}, "The index has 4 entries but the array has 5 rows."),
    (np.zeros((5, 2)), {"name": ["a"]}, "Got 1 names for 2 columns."),
    (np.array(["a", "b"]), {}, "needs an array of numbers"),
])
def test_series_from_array_errors(values, kwargs, phrase):
    with pytest.raises(DataError) as info:
        series_from_array(values, **kwargs)
    assert phrase in str(info.value)


# ---------------------------------------------------------------------------------------------
# fuzzing: whatever the bytes, only DataError escapes
# ---------------------------------------------------------------------------------------------
def garbage_inputs() -> list[bytes]:
    rng = np.random.default_rng(1234)
    sample = (SAMPLE_DIR / "airline_passengers.csv").read_bytes()
    alphabet = np.frombuffer(b',;\t|"\'\n\r 0123456789.-+eEQMJan:/#NA\xef\xbb\xbf\xe9', dtype=np.uint8)
    inputs = [rng.bytes(int(n)) for n in rng.integers(1, 400, 30)]                   # random bytes
    inputs += [rng.choice(alphabet, int(n)).tobytes() for n in rng.integers(1, 300, 80)]  # CSV-ish
    inputs += [sample[:int(n)] for n in rng.integers(1, len(sample), 25)]             # truncated
    for _ in range(25):                                                               # mutated
        data = bytearray(sample)
        for pos in rng.integers(0, len(data), 5):
            data[pos] = int(rng.choice(alphabet))
        inputs.append(bytes(data))
    inputs += [b",,,,\n,,,,\n", b";;;\n;;;\n", b"\t\t\n", b'""""""', b'"\n"\n"', b'"a","b"\n"', b"\n\n\n",
               b"," * 10_000, b"1" * 300_000, b"a,b\n" + b"1," * 50_000 + b"1\n", b"\xff\xfe\x00",
               b"\xff\xfe" + rng.bytes(101), b"#\n#\n", b"date,v\n2020-01-01,1\n" * 3 + b"2020-13-45,2\n",
               b"year,month,v\n2020,13,1\n", b"Year,Q1,Q2,Q3,Q4\nabcd,1,2,3,4\n", b"v\n1e309\n-1e309\n",
               b"v\nnan\nNaN\n", b"date,v\n9999999999999999,1\n", b"date,v\n-inf,1\n"]
    return inputs


def test_garbage_only_raises_data_error():
    inputs = garbage_inputs()
    outcomes = {"ok": 0, "DataError": 0}
    for data in inputs:
        for fn in (lambda d: _load_table(d, "fuzz.csv", 2**20, 500), load_table):  # _load_table: no safety net
            try:
                table = fn(data)
            except DataError as exc:
                assert str(exc)
                outcomes["DataError"] += 1
                continue
            outcomes["ok"] += 1
            assert table.numeric_columns and all(np.isfinite(table.frame[c].dropna()).all()
                                                 for c in table.numeric_columns)
            for method in MISSING_METHODS:                     # the rest of the pipeline must hold too
                try:
                    prepare_series(table, table.numeric_columns[0], table.numeric_columns[1:], method)
                except DataError:
                    pass
    assert outcomes["ok"] > 10 and outcomes["DataError"] > 100


# ---------------------------------------------------------------------------------------------
# memory of a large upload (issue 11: one Python string per cell cost ~90x the file size)
# ---------------------------------------------------------------------------------------------
def test_large_file_of_short_cells_stays_under_12x_its_size():
    import tracemalloc

    rng = np.random.default_rng(0)
    vals = rng.integers(0, 100, size=(25_000, 20))                   # 500 k cells of 1-2 digits
    header = ",".join(f"c{i}" for i in range(20))
    data = (header + "\n" + "\n".join(",".join(map(str, r)) for r in vals.tolist()) + "\n").encode()
    assert len(data) > 2**20
    tracemalloc.start()
    try:
        table = load(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(table.frame.to_numpy(), vals)              # float64 output alone is ~3x
    assert peak < 12 * len(data), f"peak {peak / len(data):.1f}x the file size"   # before: ~70x


def test_cell_cap_refuses_huge_tables(monkeypatch):
    import gru_core._csv_text as csv_text

    monkeypatch.setattr(csv_text, "MAX_CELLS", 1000)
    data = ("a,b\n" + "\n".join(f"{i},{i}" for i in range(600))).encode()
    with pytest.raises(DataError, match=r"more than 1,000 cells .* 2 columns.*aggregate"):
        load(data)
    assert len(load(data[: data.index(b"\n400,")]).frame) == 400     # rows 0..399: under the cap


def test_fast_and_general_number_paths_agree():
    plain = "v\n1.5\nnan\n-2e3\n 7 \n nan\n3\n"                      # Arrow fast path
    messy = "v\n1.5\nNA\n-2e3\n 7 \n-\n3\n"                          # NA tokens: general path
    a, b = load(plain.encode()).frame["v"], load(messy.encode()).frame["v"]
    expected = np.array([1.5, np.nan, -2000.0, 7.0, np.nan, 3.0])
    assert np.array_equal(a.to_numpy(), expected, equal_nan=True)
    assert np.array_equal(b.to_numpy(), expected, equal_nan=True)
