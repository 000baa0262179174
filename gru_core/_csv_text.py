"""Raw CSV reading for ``gru_core.data``: bytes in, a header and rows of strings out.

This is the first half of :func:`gru_core.data.load_table`. It knows nothing about dates or numbers:

1. read the bytes from a path, ``bytes`` or a file-like object (size limit checked first),
2. refuse files that are not text (spreadsheets, archives, PDFs, images, NUL bytes),
3. decode (UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252 / Latin-1),
4. sniff the delimiter (``,`` ``;`` tab ``|``),
5. split into rows, refusing ragged rows with the line number.

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

from gru_core.errors import DataError

DELIMITERS = (";", "\t", ",", "|")          # tie-break order when several fit equally well
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
    """A CSV split into strings: one header and equally long rows."""

    header: list[str]                 # column names (cleaned, unique)
    rows: list[list[str]]             # every row has len(header) cells, stripped
    lines: list[int]                  # 1-based line number in the file of each row
    delimiter: str
    notes: list[str] = field(default_factory=list)


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
    all_lines = text.split("\n")

    # 1. skip blank lines and leading '#' comment lines
    start = 0
    while start < len(all_lines) and (not all_lines[start].strip() or _COMMENT.match(all_lines[start])):
        start += 1
    n_comments = sum(1 for line in all_lines[:start] if _COMMENT.match(line))
    if n_comments:
        notes.append(f"Skipped {n_comments} comment line(s) starting with '#' at the top.")
    body = [line for line in all_lines[start:start + 200] if line.strip()]
    if not body:
        raise DataError(f"'{name}' is empty. Choose a CSV file with a header row and at least one "
                        "row of numbers, e.g. 'date,value'.")

    # 2. delimiter
    delimiter = sniff_delimiter(body)
    if any(delimiter in line for line in body[:50]):
        notes.append(f"Delimiter: {DELIMITER_NAMES[delimiter]}.")

    # 3. split with the csv module; remember each row's line number in the file
    reader = csv.reader(io.StringIO("\n".join(all_lines[start:])), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
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
                header = row
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
    except csv.Error as exc:
        raise DataError(f"Could not split '{name}' into fields near line {start + reader.line_num} "
                        f"({exc}). Check for unbalanced double quotes or an extremely long line; "
                        "the file must be a plain CSV table.") from None
    if header is None:
        raise DataError(f"'{name}' is empty. Choose a CSV file with a header row and at least one row "
                        "of numbers, e.g. 'date,value'.")

    # 4. header: a first row without any letters is data, not names
    if all(cell and not re.search(r"[^\W\d_]", cell) for cell in header):
        rows.insert(0, header)
        lines.insert(0, start + 1)
        header = [f"column_{i + 1}" for i in range(len(header))]
        notes.append("No header row found: the columns are named column_1, column_2, ...")
    if not rows:
        raise DataError(f"'{name}' has a header row but no data rows. Add at least one row of values "
                        "below the header (ideally hundreds, one per time step).")
    header, rows = _drop_empty_unnamed(header, rows, notes)
    header = _clean_names(header, notes)
    return RawTable(header=header, rows=rows, lines=lines, delimiter=delimiter, notes=notes)


def _drop_empty_unnamed(header: list[str], rows: list[list[str]], notes: list[str]):
    """Drop columns with no name and no values (e.g. from trailing delimiters: ``a,b,``)."""
    empty = [i for i, name in enumerate(header) if not name and not any(row[i].strip() for row in rows)]
    if not empty or len(empty) == len(header):
        return header, rows
    keep = [i for i in range(len(header)) if i not in set(empty)]
    notes.append(f"Dropped {len(empty)} empty column(s) without a name.")
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


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
