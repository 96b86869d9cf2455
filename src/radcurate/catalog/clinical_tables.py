"""Clinical tables joined into the catalog as typed ``clin.<table>.<column>`` fields.

A table (CSV, TSV or Parquet) is keyed by a PatientID, AccessionNumber,
StudyInstanceUID or SeriesInstanceUID column; each row's typed cells land on every
series with that key through the result store, as producer ``clinical:<table>``,
so they are searched, faceted and charted like any ``ai.*``/``qc.*`` field. An
import replaces the table's fields everywhere in one transaction, and keeps its
join report in the ``clinical.import`` audit entry (keys never: they identify
patients). docs/clinical.md describes the rules; the CLI and API are thin over this.

Examples
--------
>>> find_key_column(["Patient ID", "Age"], "PatientID", None)
0
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radcurate.catalog.base import CatalogBackend
from radcurate.catalog.clinical_read import (
    KEY_KINDS,
    ClinicalError,
    RawTable,
    column_fields,
    key_kind,
    read_table,
    row_list,
    safe_name,
    table_name,
)
from radcurate.catalog.clinical_store import (
    Replaced,
    producer_counts,
    remove_producer,
    replace_producer,
    sql_catalog,
)
from radcurate.catalog.clinical_types import MAX_PROBLEM_ROWS, TypedColumn, classify, type_column
from radcurate.catalog.curation_types import actor_name
from radcurate.catalog.result_types import ResultRow, iso_time
from radcurate.catalog.rows import loads

#: producers of clinical tables are named ``clinical:<table>``
PRODUCER_PREFIX = "clinical:"
#: the version of the import rules, recorded as the producer version of every result set
IMPORT_VERSION = "1"
IMPORT_ACTION = "clinical.import"
REMOVE_ACTION = "clinical.remove"
#: what happens to rows sharing a key: refuse the file when their values differ (rows with
#: the same values are merged in every case), or keep the first / last such row
DUPLICATE_POLICIES = ("refuse", "first", "last")
#: duplicate-key groups a report lists at most
MAX_GROUPS = 100
#: the audit entries read to list tables
_AUDIT_LIMIT = 100_000


@dataclass(frozen=True)
class ImportResult:
    """The join report of an import (kept), and the file keys no series has (not kept)."""

    report: dict[str, Any]
    unmatched_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClinicalTable:
    """An imported table: its name, how many series hold its fields now, its last report."""

    name: str
    series_count: int
    imported_at: str
    actor: str
    report: dict[str, Any]

    @property
    def producer(self) -> str:
        """The result-store producer of its fields."""
        return PRODUCER_PREFIX + self.name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "producer": self.producer,
            "fields": f"clin.{self.name}.*",
            "series_count": self.series_count,
            "imported_at": self.imported_at,
            "actor": self.actor,
            "report": self.report,
        }


def find_key_column(columns: Sequence[str], kind: str, given: str | None) -> int:
    """The position of the key column: ``given`` (exact, else any case), else the column
    named like the key kind (``PatientID``, ``patient_id``, ``Patient ID`` alike)."""
    if given is not None:
        for wanted in (given, given.strip().lower()):
            for position, column in enumerate(columns):
                if column == wanted or column.lower() == wanted:
                    return position
        raise ClinicalError(
            f"the file has no column {given!r}; its columns are: {_names(columns)}",
            code="missing_key_column",
        )
    target = safe_name(kind).replace("_", "")
    for position, column in enumerate(columns):
        if safe_name(column).replace("_", "") == target:
            return position
    raise ClinicalError(
        f"the file has no {kind} column; its columns are: {_names(columns)} "
        f"(name the key column with --key-column)",
        code="missing_key_column",
    )


def _names(columns: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:30])
    return shown if len(columns) <= 30 else f"{shown} and {len(columns) - 30} more"


def _key_text(cell: Any) -> str | None:
    """A key cell as text (integral numbers without ``.0``); None when it has no value."""
    kind, value = classify(cell)
    if kind == "missing":
        return None
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip() if isinstance(cell, str) else str(value)


@dataclass
class _Rows:
    """The rows chosen per key, and what the report says about keys and duplicates."""

    chosen: dict[str, int]
    without_key: list[int]
    duplicate_keys: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)


def _choose_rows(keys: list[str | None], columns: list[TypedColumn], policy: str) -> _Rows:
    """One row per key: rows with equal values merge; differing ones follow ``policy``."""
    by_key: dict[str, list[int]] = {}
    without: list[int] = []
    for index, key in enumerate(keys):
        if key is None:
            without.append(index + 1)
        else:
            by_key.setdefault(key, []).append(index)
    chosen: dict[str, int] = {}
    out = _Rows(chosen, without)
    conflicts: list[list[int]] = []
    for key, indexes in by_key.items():
        chosen[key] = indexes[-1] if policy == "last" else indexes[0]
        if len(indexes) == 1:
            continue
        out.duplicate_keys += 1
        first = [c.values[indexes[0]] for c in columns]
        same = all([c.values[i] for c in columns] == first for i in indexes[1:])
        rows = [i + 1 for i in indexes]
        if not same:
            conflicts.append(rows)
        if len(out.groups) < MAX_GROUPS:
            out.groups.append({"rows": rows, "identical": same, "kept": chosen[key] + 1})
    if conflicts and policy == "refuse":
        groups = "; ".join(" and ".join(map(str, rows)) for rows in conflicts[:10])
        more = f" and {len(conflicts) - 10} more groups" if len(conflicts) > 10 else ""
        raise ClinicalError(
            f"{len(conflicts)} keys have rows with different values (rows {groups}{more}): "
            "fix the file, or choose which row wins with --duplicates first|last",
            code="duplicate_keys",
        )
    return out


def _series_by_key(catalog: CatalogBackend, kind: str, keys: Sequence[str]) -> dict[str, list[str]]:
    """Series UIDs per key value (keys no series has are left out)."""
    out: dict[str, list[str]] = {}
    if kind == "AccessionNumber":
        wanted = set(keys)
        sql = sql_catalog(catalog)
        for uid, raw in sql.top_level_values(kind, None):
            value = raw if sql.json_decoded else loads(raw)
            for one in value if isinstance(value, list) else [value]:
                text = str(one).strip()
                if text in wanted:
                    out.setdefault(text, []).append(uid)
        return out
    attribute = {"PatientID": "patient_id", "StudyInstanceUID": "study_uid"}.get(kind, "series_uid")
    for found in catalog.series_keys(kind, list(keys)):
        value = getattr(found, attribute)
        if value is not None:
            out.setdefault(str(value), []).append(found.series_uid)
    return out


def import_table(
    catalog: CatalogBackend,
    data: bytes,
    filename: str,
    *,
    key: str,
    name: str | None = None,
    key_column: str | None = None,
    duplicates: str = "refuse",
    fmt: str | None = None,
    actor: str | None = None,
) -> ImportResult:
    """Import a clinical table file's bytes as ``clin.<name>.*`` fields.

    Parameters
    ----------
    catalog
        A SQL catalog (SQLite or PostgreSQL).
    data, filename
        The file's bytes and its name (the format comes from its ending unless ``fmt``
        names it; the table name from its stem unless ``name`` is given).
    key
        The key kind: one of :data:`~radcurate.catalog.clinical_read.KEY_KINDS`.
    key_column
        The column holding the keys (default: the one named like ``key``).
    duplicates
        ``refuse`` (default), ``first`` or ``last``: see :data:`DUPLICATE_POLICIES`.

    Returns the join report, kept in the ``clinical.import`` audit entry, and the
    keys no series has (never kept). Raises :class:`ClinicalError` for bad input,
    before anything is written.
    """
    kind = key_kind(key)
    if duplicates not in DUPLICATE_POLICIES:
        raise ClinicalError(
            f"unknown duplicates policy {duplicates!r}: use {', '.join(DUPLICATE_POLICIES)}",
            code="invalid_duplicates",
        )
    table = table_name(name, filename)
    raw = read_table(data, filename, fmt)
    key_at = find_key_column(raw.columns, kind, key_column)
    fields = column_fields(raw.columns)
    columns = [
        type_column(raw.columns[i], fields[i], [row[i] for row in raw.rows])
        for i in range(len(raw.columns))
        if i != key_at
    ]
    keys = [_key_text(row[key_at]) for row in raw.rows]
    chosen = _choose_rows(keys, columns, duplicates)
    by_key = _series_by_key(catalog, kind, sorted(chosen.chosen))
    rows: dict[str, ResultRow] = {}
    for key_value, index in chosen.chosen.items():
        values = {
            c.field: c.values[index]
            for c in columns
            if c.type != "empty" and c.values[index] is not None
        }
        for uid in by_key.get(key_value, ()):
            rows.setdefault(uid, ResultRow(uid, {"clin": {table: values}}))
    unmatched = sorted(k for k in chosen.chosen if k not in by_key)
    report = _report(table, filename, kind, raw, key_at, columns, chosen, unmatched, duplicates)
    params = {
        "table": table,
        "key": kind,
        "key_column": raw.columns[key_at],
        "types": {c.field: c.type for c in columns if c.type != "empty"},
    }
    who = actor_name(actor)

    def detail(done: Replaced) -> dict[str, Any]:
        report.update(
            catalog_series=done.catalog_series,
            matched_series=len(rows),
            series_without_row=done.catalog_series - len(rows),
            series_written=done.written,
            series_unchanged=done.unchanged,
            series_removed=done.removed,
            imported_at=iso_time(time.time()),
            actor=who,
        )
        return report

    replace_producer(
        catalog,
        list(rows.values()),
        producer=PRODUCER_PREFIX + table,
        version=IMPORT_VERSION,
        params=params,
        actor=who,
        audit_action=IMPORT_ACTION,
        audit_target=table,
        audit_detail=detail,
    )
    return ImportResult(report, unmatched)


def _report(
    table: str,
    filename: str,
    kind: str,
    raw: RawTable,
    key_at: int,
    columns: list[TypedColumn],
    chosen: _Rows,
    unmatched: list[str],
    policy: str,
) -> dict[str, Any]:
    """The join report before the write (the write adds the series counts)."""
    notes = list(raw.notes)
    if chosen.without_key:
        notes.append(
            f"{len(chosen.without_key)} rows have no key and were left out "
            f"(rows {row_list(chosen.without_key)})"
        )
    return {
        "table": table,
        "fields": f"clin.{table}.*",
        "file": filename.replace("\\", "/").rsplit("/", 1)[-1],
        "format": raw.format,
        "key": kind,
        "key_column": raw.columns[key_at],
        "duplicates": policy,
        "rows_read": len(raw.rows),
        "rows_without_key": len(chosen.without_key),
        "rows_without_key_at": chosen.without_key[:MAX_PROBLEM_ROWS],
        "keys": len(chosen.chosen),
        "matched_keys": len(chosen.chosen) - len(unmatched),
        "unmatched_keys": len(unmatched),
        "duplicate_keys": chosen.duplicate_keys,
        "duplicate_groups": chosen.groups,
        "columns": [c.summary(table) for c in columns],
        "type_problems": sum(1 for c in columns if any(p["kind"] != "empty" for p in c.problems)),
        "notes": notes,
    }


def list_tables(catalog: CatalogBackend) -> list[ClinicalTable]:
    """Every imported table (not removed since), by name, with its last report."""
    imports = catalog.audit_log(limit=_AUDIT_LIMIT, action=IMPORT_ACTION)
    removals = catalog.audit_log(limit=_AUDIT_LIMIT, action=REMOVE_ACTION)
    removed_at: dict[str, int] = {}
    for entry in removals:
        if entry.target is not None:
            removed_at.setdefault(entry.target, entry.id)
    latest: dict[str, Any] = {}
    for entry in imports:  # newest first
        name = entry.target
        if name is None or name in latest or removed_at.get(name, -1) > entry.id:
            continue
        latest[name] = entry
    counts = producer_counts(catalog, PRODUCER_PREFIX)
    return [
        ClinicalTable(
            name,
            counts.get(PRODUCER_PREFIX + name, 0),
            iso_time(entry.at),
            entry.actor,
            dict(entry.detail) if isinstance(entry.detail, Mapping) else {},
        )
        for name, entry in sorted(latest.items())
    ]


def get_table(catalog: CatalogBackend, name: str) -> ClinicalTable:
    """The table ``name`` with its last report, or :class:`ClinicalError` (404)."""
    for found in list_tables(catalog):
        if found.name == name:
            return found
    raise ClinicalError(_unknown(catalog, name), code="not_found", status=404)


def remove_table(catalog: CatalogBackend, name: str, *, actor: str | None = None) -> int:
    """Remove table ``name``: its fields leave every series; returns how many series had them."""
    if not any(t.name == name for t in list_tables(catalog)):
        raise ClinicalError(_unknown(catalog, name), code="not_found", status=404)
    return remove_producer(
        catalog,
        PRODUCER_PREFIX + name,
        actor=actor,
        audit_action=REMOVE_ACTION,
        audit_target=name,
    )


def _unknown(catalog: CatalogBackend, name: str) -> str:
    names = [t.name for t in list_tables(catalog)]
    known = f"; the tables are: {', '.join(names)}" if names else "; there are none yet"
    return f"no clinical table {name!r}{known}"


__all__ = [
    "DUPLICATE_POLICIES",
    "KEY_KINDS",
    "ClinicalError",
    "ClinicalTable",
    "ImportResult",
    "get_table",
    "import_table",
    "list_tables",
    "remove_table",
]
