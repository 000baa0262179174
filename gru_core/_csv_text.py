"""Raw CSV reading for ``gru_core.data``: bytes in, a header and rows of strings out.

This is the first half of :func:`gru_core.data.load_table`. It knows nothing about dates or numbers:

1. read the bytes from a path, ``bytes`` or a file-like object (size limit checked first),
2. refuse files that are not text (spreadsheets, archives, PDFs, images, NUL bytes),
3. decode (UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252 / Latin-1),
4. sniff the delimiter (``,`` ``;`` tab ``|``),
5. split into rows, refusing ragged rows with the line number, and store them column by column
   as Arrow strings: only CHUNK_ROWS rows are Python objects at any time (one Python string per
   cell costs ~60 bytes; an Arrow cell costs its characters plus 4), and at most MAX_CELLS cells.

Every problem raises :class:`~gru_core.errors.DataError` saying what is wrong and how to fix it.
"""
from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gru_core.errors import DataError

DELIMITERS = (";", "\t", ",", "|")          # tie-break order when several fit equally well
MAX_CELLS = 10_000_000                     # rows x columns of one upload (memory cap)
CHUNK_ROWS = 8192                          # rows held as Python strings at a time
DELIMITER_NAMES = {",": "comma (,)", ";": "semicolon (;)", "\t": "tab", "|": "pipe (|)"}

# (magic bytes, what the file is, how to fix it)
_MAGIC = (
    (b"PK\x03\x04", "an Excel .xlsx workbook or a zip archive",
     "In Excel or LibreOffice use File > Save As > CSV, or unzip the archive, then upload the .csv file."),
    (b"PK\x05\x06", "an empty zip archive", "Upload the .csv file itself."),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel .xls workbook (or another Office file)",
     "In Excel or LibreOffice use File > Save As > CSV, then upload the .csv file."),
    (b"%PDF", "a PDF document", "Export the table from its source as CSV instead."),
    (b"\x1f\x8b", "a gzip-compressed file", "Decompress it first (e.g. `gunzip file.csv.gz`) and upload the .csv."),
    (b"BZh", "a bzip2-compressed file", "Decompress it first and upload the .csv."),
    (b"\xfd7zXZ", "an xz-compressed file", "Decompress it first and upload the .csv."),
    (b"7z\xbc\xaf", "a 7-Zip archive", "Extract it first and upload the .csv."),
    (b"PAR1", "a Parquet file", "Convert it to CSV first (e.g. `pandas.read_parquet(...).to_csv(...)`)."),
    (b"SQLite format 3", "an SQLite database", "Export the table as CSV first."),
    (b"\x89PNG", "a PNG image", "Upload the data as a CSV file, not a picture of it."),
    (b"\xff\xd8\xff", "a JPEG image", "Upload the data as a CSV file, not a picture of it."),
)


@dataclass
class RawTable:
    """A CSV split into strings: one header and equally long string columns."""

    header: list[str]                 # column names (cleaned, unique)
    columns: list[pd.Series]          # one (N,) Arrow-backed "str" Series per header name
    lines: np.ndarray                 # (N,) 1-based line number in the file of each row
    delimiter: str
    notes: list[str] = field(default_factory=list)


_STR = pd.StringDtype("pyarrow", na_value=np.nan)        # pandas' default "str" dtype


def _column(chunks: list) -> pd.Series:
    """Arrow chunks of one column -> a pandas "str" Series without Python objects per cell."""
    arr = pa.chunked_array(chunks, type=pa.string())
    return pd.Series(arr.to_pandas(types_mapper={pa.string(): _STR}.get), dtype=_STR)


def mb(n_bytes: float) -> str:
    """Format a byte count in MB (MiB), e.g. ``"50 MB"`` or ``"0.0001 MB"``."""
    return f"{n_bytes / 2**20:.3g} MB"


def read_source(src, name: str | None, max_bytes: int) -> tuple[bytes, str]:
    """Read all bytes of ``src`` (path, bytes or file-like); refuse more than ``max_bytes``.

    Returns
    -------
    (data, name) : the raw bytes and a display name for messages.
    """
    too_big = ("The file {name} is {size}, over the {limit} limit. Upload a smaller file: keep only the "
               "columns and rows you need, or aggregate it (e.g. daily instead of per-second).")
    limit = mb(max_bytes)
    if isinstance(src, (bytes, bytearray, memoryview)):
        data, name = bytes(src), name or "uploaded data"
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        name = name or path.name
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise DataError(f"'{src}' is not a file. Give the path of a CSV file.")
            if size > max_bytes:
                raise DataError(too_big.format(name=f"'{name}'", size=mb(size), limit=limit))
            data = path.read_bytes()
        except DataError:
            raise
        except (OSError, ValueError) as exc:
            raise DataError(f"Could not open '{src}' ({exc.__class__.__name__}: {exc}). "
                            "Check the path and that the file is readable.") from None
    elif hasattr(src, "read"):
        name = name or str(getattr(src, "name", "") or "uploaded file")
        size = getattr(src, "size", None)
        if isinstance(size, int) and size > max_bytes:
            raise DataError(too_big.format(name=f"'{name}'", size=mb(size), limit=limit))
        data = _read_stream(src, max_bytes)
    else:
        raise DataError(f"Cannot read a {type(src).__name__}. Pass a file path, the file's bytes, "
                        "or an uploaded file object.")
    if len(data) > max_bytes:
        raise DataError(too_big.format(name=f"'{name}'", size=mb(len(data)), limit=limit))
    return data, name


def _read_stream(src, max_bytes: int) -> bytes:
    """Read at most ``max_bytes + 1`` bytes from a file-like object (rewinding it first if possible)."""
    try:
        if hasattr(src, "seek"):
            src.seek(0)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass                                             # not seekable: read from where it is
    try:
        try:
            data = src.read(max_bytes + 1)
        except TypeError:                                # .read() that takes no size argument
            data = src.read()
    except DataError:
        raise
    except Exception as exc:                             # noqa: BLE001 - any reader failure is a user problem
        raise DataError(f"Could not read the uploaded file ({exc.__class__.__name__}: {exc}). "
                        "Try uploading it again.") from None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError("The uploaded object did not return bytes when read. Upload a CSV file.")
    return bytes(data)


def reject_binary(data: bytes, name: str) -> None:
    """Raise DataError for empty input and for files that are clearly not CSV text."""
    for magic, what, fix in _MAGIC:
        if data.startswith(magic):
            raise DataError(f"'{name}' looks like {what}, not a CSV text file. {fix}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return                                           # UTF-16 with BOM: NUL bytes are expected
    if b"\x00" in data[:1_000_000]:
        raise DataError(f"'{name}' contains NUL bytes, so it is a binary file, not CSV text. "
                        "Export the data as CSV (plain text, UTF-8) and upload that file.")


def decode(data: bytes, name: str) -> tuple[str, str | None]:
    """Decode bytes to text; returns (text, note about the encoding or None)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "Read as UTF-16 text (Unicode export)."
        except UnicodeDecodeError:
            raise DataError(f"'{name}' starts like UTF-16 text but cannot be decoded. "
                            "Save it again as CSV in UTF-8 and upload that.") from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "Read as UTF-8 text (with byte-order mark)."
        except UnicodeDecodeError:
            pass
    try:
        text, note = data.decode("utf-8"), None
    except UnicodeDecodeError:
        try:
            text, note = data.decode("cp1252"), "Read as Windows-1252 / Latin-1 text (the file is not UTF-8)."
        except UnicodeDecodeError:
            text, note = data.decode("latin-1"), "Read as Latin-1 text (the file is not UTF-8)."
    sample = text[:100_000]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if sample and control > 0.01 * len(sample):
        raise DataError(f"'{name}' does not look like text ({control} control characters in the first "
                        f"{len(sample)}). Upload a CSV file exported as plain text.")
    return text, note


def sniff_delimiter(lines: list[str]) -> str:
    """Pick the delimiter that splits the header and most sample lines into the same number (>= 2).

    When none does, the file has a single column: return a delimiter that does not occur in the
    header, preferring one that occurs nowhere (so ``1,5`` stays one cell with a decimal comma).
    """
    best, best_share = "", 0.0
    for delim in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts:
            continue
        mode = Counter(counts).most_common(1)[0][0]
        if mode < 2 or counts[0] != mode:                # the header must agree with the body
            continue
        share = sum(c == mode for c in counts) / len(counts)
        if share > best_share:
            best, best_share = delim, share
    if best:
        return best
    unused = [d for d in DELIMITERS if d not in lines[0]] or [","]
    return min(unused, key=lambda d: sum(line.count(d) for line in lines))


_COMMENT = re.compile(r"^\s*#")


def split_rows(text: str, name: str, max_columns: int) -> RawTable:
    """Split decoded text into a :class:`RawTable` (header + rows), refusing ragged rows."""
    notes: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")

    # 1. skip blank lines and leading '#' comment lines (scanning only the top: no list of lines)
    start = pos = n_comments = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        if line.strip() and not _COMMENT.match(line):
            break
        n_comments += bool(_COMMENT.match(line))
        start, pos = start + 1, end + 1
    if n_comments:
        notes.append(f"Skipped {n_comments} comment line(s) starting with '#' at the top.")
    text = text[pos:]
    top = io.StringIO(text)
    body = [line for line in (top.readline().rstrip("\n") for _ in range(200)) if line.strip()]
    if not body:
        raise DataError(f"'{name}' is empty. Choose a CSV file with a header row and at least one "
                        "row of numbers, e.g. 'date,value'.")

    # 2. delimiter
    delimiter = sniff_delimiter(body)
    if any(delimiter in line for line in body[:50]):
        notes.append(f"Delimiter: {DELIMITER_NAMES[delimiter]}.")

    # 3. split with the csv module; remember each row's line number in the file. Rows are held
    #    as Python strings CHUNK_ROWS at a time, then moved column by column into Arrow arrays.
    reader = csv.reader(_lines(text), delimiter=delimiter)      # (io.StringIO would copy the text
    del top                                                      #  into 4 bytes per character)
    header: list[str] | None = None
    rows: list[list[str]] = []
    chunks: list[list] = []
    lines: list[int] = []
    n_rows = 0

    def flush() -> None:
        for i, col in enumerate(zip(*rows)):
            chunks[i].append(pa.array(col, type=pa.string()))
        rows.clear()

    try:
        for row in reader:
            line_no = start + reader.line_num
            if not row or (header is not None and not "".join(row).strip()):
                continue                                 # blank line or a row of bare delimiters
            if header is None:
                row = [cell.strip() for cell in row]
                if len(row) > max_columns:
                    raise DataError(f"'{name}' has {len(row)} columns; the limit is {max_columns}. "
                                    "Keep only the columns you need (a date, the target and a few "
                                    "inputs) and upload again.")
                header, chunks = row, [[] for _ in row]
                continue
            if len(row) > len(header) and not "".join(row[len(header):]).strip():
                row = row[:len(header)]                  # trailing empty cells ("1,2,,")
            if len(row) != len(header):
                raise DataError(
                    f"Line {line_no} of '{name}' has {len(row)} fields but the header has {len(header)}. "
                    f"Check that line for a missing or extra {DELIMITER_NAMES[delimiter]}; "
                    "values that contain the delimiter must be in double quotes.")
            rows.append(row)
            lines.append(line_no)
            n_rows += 1
            if n_rows * len(header) > MAX_CELLS:
                raise DataError(f"'{name}' has more than {MAX_CELLS:,} cells ({n_rows:,} rows so far x "
                                f"{len(header)} columns), more than one upload may hold in memory. "
                                "Keep only the columns you need, or aggregate the rows (e.g. daily "
                                "instead of per-minute), and upload again.")
            if len(rows) >= CHUNK_ROWS:
                flush()
    except csv.Error as exc:
        raise DataError(f"Could not split '{name}' into fields near line {start + reader.line_num} "
                        f"({exc}). Check for unbalanced double quotes or an extremely long line; "
                        "the file must be a plain CSV table.") from None
    if header is None:
        raise DataError(f"'{name}' is empty. Choose a CSV file with a header row and at least one row "
                        "of numbers, e.g. 'date,value'.")
    flush()

    # 4. header: a first row without any letters is data, not names
    if all(cell and not re.search(r"[^\W\d_]", cell) for cell in header):
        for i, cell in enumerate(header):
            chunks[i].insert(0, pa.array([cell], type=pa.string()))
        lines.insert(0, start + 1)
        n_rows += 1
        header = [f"column_{i + 1}" for i in range(len(header))]
        notes.append("No header row found: the columns are named column_1, column_2, ...")
    if not n_rows:
        raise DataError(f"'{name}' has a header row but no data rows. Add at least one row of values "
                        "below the header (ideally hundreds, one per time step).")
    columns = [_column(c) for c in chunks]
    header, columns = _drop_empty_unnamed(header, columns, notes)
    header = _clean_names(header, notes)
    return RawTable(header=header, columns=columns, lines=np.asarray(lines, dtype=np.int64),
                    delimiter=delimiter, notes=notes)


def _lines(text: str):
    """The lines of ``text`` one at a time, each with its newline (what csv.reader expects)."""
    pos, n = 0, len(text)
    while pos < n:
        end = text.find("\n", pos)
        end = n - 1 if end < 0 else end
        yield text[pos:end + 1]
        pos = end + 1


def _drop_empty_unnamed(header: list[str], columns: list[pd.Series], notes: list[str]):
    """Drop columns with no name and no values (e.g. from trailing delimiters: ``a,b,``)."""
    empty = [i for i, name in enumerate(header)
             if not name and not bool((columns[i].str.strip() != "").any())]
    if not empty or len(empty) == len(header):
        return header, columns
    keep = [i for i in range(len(header)) if i not in set(empty)]
    notes.append(f"Dropped {len(empty)} empty column(s) without a name.")
    return [header[i] for i in keep], [columns[i] for i in keep]


def _clean_names(header: list[str], notes: list[str]) -> list[str]:
    """Give empty column names a placeholder and make duplicate names unique."""
    names: list[str] = []
    for i, cell in enumerate(header):
        base = cell.strip().strip('"').strip() or f"column_{i + 1}"
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}_{k}"
        names.append(name)
    renamed = [n for n, c in zip(names, header) if n != c.strip()]
    if renamed:
        notes.append("Renamed empty or duplicate column names: " + ", ".join(renamed[:5])
                     + (" ..." if len(renamed) > 5 else "") + ".")
    return names
