"""The manifest of an export: one row per series (CSV and Parquet), and the sha256 of every file.

Columns: the export's own (``case``, ``series_uid``, ``patient`` (the export's pseudonym),
``split``, ``fold``, ``status``, ``reason``, ``image``, ``image_sha256``, ``label``,
``label_sha256``, ``label_sources``, ``labels_present``), then the chosen fields: DICOM
attributes of the series document by keyword, ``ai.*``/``qc.*``/``clin.*`` results by their
dotted names (``qc.geometry.slices``), ``tags``, ``datasets`` and ``review``; a field may
end in ``*`` (``ai.*``). Lists and objects are written as JSON text. Nothing in these files
depends on the clock, so the same export writes the same bytes.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from radcurate.optional import MissingDependencyError, import_optional

__all__ = [
    "BASE_COLUMNS",
    "DEFAULT_FIELDS",
    "checksums",
    "flat_values",
    "select_fields",
    "sha256_file",
    "write_manifest",
]

#: the export's own columns, first in every manifest
BASE_COLUMNS: tuple[str, ...] = (
    "case", "series_uid", "patient", "split", "fold", "status", "reason", "image",
    "image_sha256", "label", "label_sha256", "label_sources", "labels_present",
)  # fmt: skip
#: fields written when ``--fields`` is not given (no identifying attribute among them)
DEFAULT_FIELDS: tuple[str, ...] = (
    "Modality", "Manufacturer", "ManufacturerModelName", "BodyPartExamined", "SeriesDescription",
    "SliceThickness", "PixelSpacing", "Rows", "Columns", "instance_count", "PatientSex",
    "age_years", "review", "tags",
)  # fmt: skip


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = value


def flat_values(
    document: Mapping[str, Any],
    results: Mapping[str, Mapping[str, Any]],
    curation: Mapping[str, Sequence[str]],
    review: str | None,
) -> dict[str, Any]:
    """Every field of a series by its query name: document keywords, dotted results,
    ``tags``, ``datasets``, ``review``."""
    values: dict[str, Any] = {k: v for k, v in document.items() if not isinstance(v, Mapping)}
    for namespace, tree in results.items():
        _flatten(namespace, tree, values)
    values["tags"] = sorted(curation.get("tags", []))
    values["datasets"] = sorted(curation.get("datasets", []))
    values["review"] = review or "pending"
    return values


def select_fields(patterns: Sequence[str], available: Iterable[str]) -> list[str]:
    """The columns for ``patterns`` (exact names, or ``prefix*``), in the order given;
    an exact name nobody has is still a column (empty)."""
    names = sorted(set(available))
    chosen: list[str] = []
    for pattern in patterns:
        matches = fnmatch.filter(names, pattern) if "*" in pattern or "?" in pattern else [pattern]
        chosen.extend(m for m in matches if m not in chosen and m not in BASE_COLUMNS)
    return chosen


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_manifest(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], folder: Path
) -> list[str]:
    """Write ``manifest.csv`` and, when pyarrow is installed, ``manifest.parquet``; returns
    notes (the Parquet file left out and why)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    table = [[_cell(row.get(c)) for c in columns] for row in rows]
    writer.writerows(table)
    (folder / "manifest.csv").write_text(text.getvalue(), encoding="utf-8")
    try:
        pa = import_optional("pyarrow", "writing the Parquet manifest")
        pcsv = import_optional("pyarrow.csv", "writing the Parquet manifest")
        pq = import_optional("pyarrow.parquet", "writing the Parquet manifest")
    except MissingDependencyError as exc:
        return [f"manifest.parquet not written: {exc}"]
    # the Parquet table is the CSV read back as strings: pyarrow's C++ reader builds it
    # without importing pandas (pa.array does: 0.3-0.7 s of every export)
    parsed = pcsv.read_csv(
        io.BytesIO(text.getvalue().encode("utf-8")),
        read_options=pcsv.ReadOptions(use_threads=False, block_size=1 << 30),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False
        ),
    )
    pq.write_table(parsed, folder / "manifest.parquet", compression="zstd")
    return []


def sha256_file(path: Path) -> str:
    """The sha256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(
    folder: Path, known: Mapping[str, str] | None = None, name: str = "SHA256SUMS"
) -> int:
    """Write ``sha256sum``'s format for every file under ``folder`` but itself (sorted by
    path, component by component), so ``sha256sum -c SHA256SUMS`` checks the export;
    ``known`` (relative path -> sha256) spares hashing the volumes twice. Returns the number
    of files in ``folder`` (the list written included).

    One ``os.walk`` (directory entries carry their type, so no file is stat'ed): a DICOM
    export of 1,600 files listed with ``rglob``, ``is_file`` and ``relative_to`` took 0.13 s,
    and counting them again as long (docs/architecture.md, "Export speed")."""
    known = known or {}
    files: list[list[str]] = []
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        base = os.path.relpath(top, folder)
        parts = [] if base == "." else base.split(os.sep)
        files.extend([*parts, n] for n in names if parts or n != name)
    files.sort()  # as pathlib orders paths: by their components
    lines = []
    for parts in files:
        relative = "/".join(parts)
        digest = known.get(relative) or sha256_file(folder.joinpath(*parts))
        lines.append(f"{digest}  {relative}\n")
    target = folder / name
    target.write_text("".join(lines), encoding="utf-8")
    return len(files) + 1
