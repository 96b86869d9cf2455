"""Series imported from metadata alone (no files): another index, a PACS listing, IDC tables.

``catalog.import_series(documents)`` adds one series per document — the
series-level attributes a metadata source has, with ``instance_count`` — so
that such a collection can be searched, faceted and curated like ingested
series. Series already in the catalog are left alone (an import run twice
changes nothing); an ingest of the real files later replaces the imported
header with the files' own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from radcurate.catalog.base import CatalogError
from radcurate.catalog.fields import field_paths, infer_type
from radcurate.catalog.projection import search_document
from radcurate.catalog.rows import dumps
from radcurate.dicom.values import FieldType
from radcurate.query.fields import declared_type

#: series written per transaction
IMPORT_BATCH = 5000


class BulkImportMixin:
    """``import_series`` for ``SQLCatalog``."""

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        raise NotImplementedError

    def _change_seq(self, cur: Any) -> int:
        raise NotImplementedError

    def _apply_field_delta(
        self, cur: Any, delta: Counter[str], types: dict[str, FieldType]
    ) -> None:
        raise NotImplementedError

    def import_series(self, documents: Iterable[dict[str, Any]], *, source: str = "import") -> int:
        """Add series from their documents; returns how many were new.

        Each document needs ``SeriesInstanceUID`` and ``StudyInstanceUID``;
        ``PatientID``, ``Modality`` and ``instance_count`` are read when present.
        A document without the UIDs raises :class:`CatalogError` naming it, and
        nothing of its batch is written.
        """
        added = 0
        for batch in _batches(documents, IMPORT_BATCH):
            added += self._import_batch(batch, source)
        return added

    def _import_batch(self, batch: Sequence[dict[str, Any]], source: str) -> int:
        for position, doc in enumerate(batch):
            if not doc.get("SeriesInstanceUID") or not doc.get("StudyInstanceUID"):
                raise CatalogError(
                    f"imported document {position} of its batch has no SeriesInstanceUID or "
                    "StudyInstanceUID; both are required"
                )
        now = time.time()
        batch = [_clean(doc) for doc in batch]
        with self._transaction() as cur:
            uids = [str(d["SeriesInstanceUID"]) for d in batch]
            existing: set[str] = set()
            for start in range(0, len(uids), 500):
                chunk = uids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(f"SELECT series_uid FROM series WHERE series_uid IN ({marks})"),
                    tuple(chunk),
                )
                existing.update(r[0] for r in cur.fetchall())
            seq = self._change_seq(cur)
            rows = []
            delta: Counter[str] = Counter()
            types: dict[str, FieldType] = {}
            for doc in batch:
                uid = str(doc["SeriesInstanceUID"])
                if uid in existing:
                    continue
                existing.add(uid)
                header = {k: v for k, v in doc.items() if k != "instance_count"}
                facts = {"instance_count": int(doc.get("instance_count") or 0)}
                paths = field_paths(header) | field_paths(facts)
                delta.update(paths)
                for path in paths - types.keys():
                    value = doc.get(path)
                    types[path] = declared_type(path, None) or infer_type(value)
                rows.append(
                    (
                        uid,
                        str(doc["StudyInstanceUID"]),
                        doc.get("PatientID"),
                        doc.get("Modality"),
                        dumps(header),
                        f"{source}:{uid}",
                        dumps(facts),
                        facts["instance_count"],
                        now,
                        now,
                        seq,
                        dumps(search_document(header, facts)),
                    )
                )
            if rows:
                cur.executemany(
                    self._sql(
                        "INSERT INTO series (series_uid, study_uid, patient_id, modality, header, "
                        "header_source, facts, instance_count, dirty, created_at, updated_at, "
                        "seq, search_doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) "
                        "ON CONFLICT (series_uid) DO NOTHING"
                    ),
                    rows,
                )
                self._apply_field_delta(cur, delta, types)
        return len(rows)


def _clean(value: Any) -> Any:
    """NUL characters dropped from every string (as ingest does with DICOM values)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _batches(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
