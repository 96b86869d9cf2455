"""Series looked up by the identifiers the ``series`` table keeps in indexed columns.

DICOMweb asks for series by StudyInstanceUID, SeriesInstanceUID, PatientID or
Modality far more often than by anything else (every study a viewer opens starts
with ``/studies/{uid}/series``). The query language would match those inside the
document; these columns answer them from an index, with the counts QIDO computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

__all__ = ["KEY_COLUMNS", "LookupMixin", "SeriesKey"]

#: the indexed columns of the ``series`` table, by DICOM keyword
KEY_COLUMNS = {
    "StudyInstanceUID": "study_uid",
    "SeriesInstanceUID": "series_uid",
    "PatientID": "patient_id",
    "Modality": "modality",
}
_CHUNK = 500


@dataclass(frozen=True)
class SeriesKey:
    """The identifiers and instance count of one series."""

    series_uid: str
    study_uid: str
    patient_id: str | None
    modality: str | None
    instance_count: int


class LookupMixin:
    """:meth:`series_keys` for :class:`~radcurate.catalog.sql.SQLCatalog` (same SQL on both)."""

    #: makes ``series_uid`` compare in code-point order, as Python's ``sorted`` does (PostgreSQL
    #: databases may collate by locale, which ignores the dots; SQLite compares bytes already)
    uid_collation: str = ""

    if TYPE_CHECKING:

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def series_keys(
        self,
        keyword: str,
        values: Sequence[str],
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[SeriesKey]:
        """Series whose ``keyword`` (a key of :data:`KEY_COLUMNS`) is one of ``values``.

        Sorted by SeriesInstanceUID; ``after`` and ``limit`` page through them (the
        series after that UID, at most ``limit`` of them). Raises ``ValueError`` for a
        keyword without a column.
        """
        column = KEY_COLUMNS.get(keyword)
        if column is None:
            raise ValueError(
                f"series cannot be looked up by {keyword!r}: use one of {', '.join(KEY_COLUMNS)}"
            )
        uid = f"series_uid{self.uid_collation}"
        page = ""
        if after is not None:
            page += f" AND {uid} > ?"
        if limit is not None:
            page += f" ORDER BY {uid} LIMIT {int(limit)}"
        wanted = list(dict.fromkeys(values))
        found: list[SeriesKey] = []
        # each chunk's first ``limit`` holds the union's first ``limit`` that are in it
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = self._read(
                "SELECT series_uid, study_uid, patient_id, modality, instance_count FROM series "
                f"WHERE {column} IN ({','.join('?' * len(chunk))}){page}",
                [*chunk, after] if after is not None else chunk,
            )
            found.extend(SeriesKey(str(s), str(st), p, m, int(n or 0)) for s, st, p, m, n in rows)
        found.sort(key=lambda key: key.series_uid)
        return found if limit is None else found[:limit]
