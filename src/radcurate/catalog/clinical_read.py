"""Reading a clinical table (CSV, TSV, Parquet) into named columns of raw cells.

A leaf of the clinical-table import (``catalog/clinical_tables.py``): it knows
files, encodings, delimiters and column names, nothing of the catalog. Cells of
CSV/TSV files stay strings here (a PatientID ``00123`` keeps its zeros); Parquet
cells keep the file's types. ``catalog/clinical_types.py`` types the columns.

Nothing read here (cell values, keys) goes into an error message or a log: a
message names files, columns and row numbers only.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from radcurate.catalog.curation_types import CurationError
from radcurate.optional import import_optional

#: the formats read, by file name ending
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv", ".parquet": "parquet"}
#: spreadsheet endings refused with a hint (no Excel reader is a dependency of radcurate)
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods")
#: the key kinds: DICOM keywords of the series a row joins to
KEY_KINDS = ("PatientID", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID")
#: the longest table name
MAX_NAME = 64

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_HEX8 = re.compile(r"^[0-9a-f]{8}$")


class ClinicalError(CurationError):
    """A clinical table that cannot be imported as given; the message says why.

    ``status`` is the HTTP status the API answers with (4xx: bad input).
    """

    code = "invalid_clinical_table"
    status = 422

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message, code=code)
        if status is not None:
            self.status = status


@dataclass
class RawTable:
    """The header and data rows of a file (``rows[i]`` is data row ``i + 1``)."""

    columns: list[str]
    rows: list[list[Any]]
    format: str
    #: file-level remarks for the report (encoding, delimiter, ragged rows)
    notes: list[str] = field(default_factory=list)


def safe_name(text: str) -> str:
    """A field-name segment for ``text``: lower_snake, starting with a letter.

    CamelCase splits at its humps, every run of other characters becomes one
    ``_``; a name that would start with a digit gets ``c_`` before it, one that a
    query would read as a tag number (eight hex digits) ``_x`` after it. Empty
    input gives ``""``.

    Examples
    --------
    >>> safe_name("PatientAge"), safe_name("Diagnosis date"), safe_name("HbA1c (%)")
    ('patient_age', 'diagnosis_date', 'hb_a1c')
    >>> safe_name("2nd opinion"), safe_name("deadbeef"), safe_name("  ")
    ('c_2nd_opinion', 'deadbeef_x', '')
    """
    spaced = _CAMEL.sub("_", text.strip())
    name = _NOT_WORD.sub("_", spaced.lower()).strip("_")
    if not name:
        return ""
    if name[0].isdigit():
        name = "c_" + name
    if _HEX8.match(name):
        name += "_x"
    return name


def column_fields(columns: Sequence[str]) -> list[str]:
    """Safe, distinct field names for a header (a repeated name gets ``_2``, ``_3``...).

    Examples
    --------
    >>> column_fields(["Age", "age", "", "Sex"])
    ['age', 'age_2', 'column_3', 'sex']
    """
    out: list[str] = []
    taken: set[str] = set()
    for position, column in enumerate(columns, start=1):
        base = safe_name(column) or f"column_{position}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out


def table_name(name: str | None, filename: str) -> str:
    """The table's name: ``name`` if given, else the file's stem, made a safe segment.

    Examples
    --------
    >>> table_name(None, "/data/Outcomes 2024.csv"), table_name("Labs", "x.csv")
    ('outcomes_2024', 'labs')
    """
    given = name if name is not None else re.split(r"[\\/]", filename)[-1].rsplit(".", 1)[0]
    safe = safe_name(given)
    if not safe:
        raise ClinicalError(
            f"table name {given!r} has no letters or digits: give one with --name",
            code="invalid_name",
        )
    if len(safe) > MAX_NAME:
        raise ClinicalError(
            f"table name {safe!r} is longer than {MAX_NAME} characters", code="invalid_name"
        )
    return safe


def key_kind(key: str) -> str:
    """The key kind spelled as in :data:`KEY_KINDS` (any case), or :class:`ClinicalError`.

    Examples
    --------
    >>> key_kind("patientid")
    'PatientID'
    """
    for kind in KEY_KINDS:
        if key.strip().lower() == kind.lower():
            return kind
    raise ClinicalError(
        f"unknown key {key!r}: use one of {', '.join(KEY_KINDS)}", code="unknown_key_kind"
    )


def file_format(filename: str, given: str | None = None) -> str:
    """``csv``, ``tsv`` or ``parquet`` from ``given`` or the file name's ending."""
    if given:
        if given.lower() not in ("csv", "tsv", "parquet"):
            raise ClinicalError(
                f"unknown format {given!r}: use csv, tsv or parquet",
                code="unsupported_format",
                status=415,
            )
        return given.lower()
    lower = filename.lower()
    if lower.endswith(SPREADSHEETS):
        raise ClinicalError(
            f"{_base(filename)}: spreadsheet files are not read (no Excel reader is a "
            "dependency of radcurate): save the sheet as CSV and import that",
            code="unsupported_format",
            status=415,
        )
    for ending, kind in FORMATS.items():
        if lower.endswith(ending):
            return kind
    raise ClinicalError(
        f"{_base(filename)}: unknown file type; clinical tables are .csv, .tsv or .parquet "
        "files (or name the format)",
        code="unsupported_format",
        status=415,
    )


def read_table(data: bytes, filename: str, fmt: str | None = None) -> RawTable:
    """The header and rows of a clinical table file's bytes.

    Raises :class:`ClinicalError` for an empty or unreadable file, one without
    data rows, or an unsupported format (``filename`` names it in the message).
    """
    kind = file_format(filename, fmt)
    if not data.strip():
        raise ClinicalError(f"{_base(filename)} is empty", code="empty_file", status=400)
    table = _read_parquet(data, filename) if kind == "parquet" else _read_text(data, filename, kind)
    if not table.rows:
        raise ClinicalError(
            f"{_base(filename)} has a header but no data rows", code="empty_file", status=400
        )
    return table


def _base(filename: str) -> str:
    return re.split(r"[\\/]", filename)[-1] or "the file"


def _read_text(data: bytes, filename: str, kind: str) -> RawTable:
    notes: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        notes.append("the file is not UTF-8: it was read as Windows-1252 (Latin-1)")
    if "\x00" in text:
        raise ClinicalError(
            f"{_base(filename)} is not a text table (it holds NUL bytes)",
            code="unreadable_file",
            status=400,
        )
    first = text.split("\n", 1)[0]
    delimiter = "\t" if kind == "tsv" else _delimiter(first)
    if kind == "csv" and delimiter != ",":
        notes.append(f"cells are separated by {'tab' if delimiter == chr(9) else delimiter!r}")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ClinicalError(
            f"{_base(filename)} is not a readable {kind.upper()} file: {exc}",
            code="unreadable_file",
            status=400,
        ) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ClinicalError(f"{_base(filename)} is empty", code="empty_file", status=400)
    header = [c.strip() for c in rows[0]]
    width = len(header)
    ragged: list[int] = []
    body: list[list[Any]] = []
    for number, row in enumerate(rows[1:], start=1):
        if len(row) > width and any(c.strip() for c in row[width:]):
            ragged.append(number)
        body.append((row + [""] * (width - len(row)))[:width])
    if ragged:
        notes.append(
            f"{len(ragged)} rows have more cells than the header (extra cells ignored): "
            f"rows {row_list(ragged)}"
        )
    return RawTable(header, body, kind, notes)


def _delimiter(header: str) -> str:
    """The delimiter of a CSV header line: the most frequent of ``, ; tab |``."""
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_parquet(data: bytes, filename: str) -> RawTable:
    pq = import_optional("pyarrow.parquet", "reading Parquet clinical tables")
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a bad file
        raise ClinicalError(
            f"{_base(filename)} is not a readable Parquet file ({type(exc).__name__})",
            code="unreadable_file",
            status=400,
        ) from None
    notes: list[str] = []
    columns: list[str] = []
    values: list[list[Any]] = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        cells = column.to_pylist()
        if not all(_plain(c) for c in cells):
            notes.append(
                f"column {name!r} has a type a field cannot hold ({column.type}): it was left out"
            )
            continue
        columns.append(str(name))
        values.append([float(c) if isinstance(c, Decimal) else c for c in cells])
    rows = [list(r) for r in zip(*values, strict=True)] if values else []
    return RawTable(columns, rows, "parquet", notes)


def _plain(cell: Any) -> bool:
    return cell is None or isinstance(cell, (str, int, float, bool, date, datetime, Decimal))


def row_list(rows: Sequence[int], limit: int = 10) -> str:
    """Row numbers for a message, the first ``limit`` of them.

    Examples
    --------
    >>> row_list([3, 7]), row_list(list(range(1, 15)), limit=3)
    ('3, 7', '1, 2, 3 and 11 more')
    """
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown if len(rows) <= limit else f"{shown} and {len(rows) - limit} more"
