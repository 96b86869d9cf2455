"""Indexed look-ups by UID for DICOMweb, on catalogs that expose their SQL tables.

QIDO and WADO look series up by StudyInstanceUID, SeriesInstanceUID,
PatientID or Modality far more often than by anything else (every study a viewer opens
starts with ``/studies/{uid}/series``). The catalog's query language matches
those fields inside the JSON document, a scan of every series; the SQL
backends also keep them in indexed columns of the ``series`` table, which
this module reads directly. Backends without SQL access (or a changed
schema) make every function return None, and the callers fall back to the
catalog's search: slower, never wrong.

TODO(lead): a public ``CatalogBackend.series_by(column, values)`` would
replace the private ``_read`` used here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from radcurate.catalog import CatalogBackend

__all__ = ["StudyMember", "series_uids_where", "study_members"]

logger = logging.getLogger(__name__)

#: the indexed columns of the ``series`` table, by DICOM keyword
COLUMNS = {
    "StudyInstanceUID": "study_uid",
    "SeriesInstanceUID": "series_uid",
    "PatientID": "patient_id",
    "Modality": "modality",
}
#: (series_uid, modality, instance_count)
StudyMember = tuple[str, str | None, int]
_CHUNK = 500


def _reader(
    catalog: CatalogBackend,
) -> Callable[[str, Sequence[Any]], list[tuple[Any, ...]]] | None:
    read = getattr(catalog, "_read", None)
    return read if callable(read) else None


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def series_uids_where(
    catalog: CatalogBackend, keyword: str, values: Sequence[str]
) -> list[str] | None:
    """SeriesInstanceUIDs whose ``keyword`` (a key of :data:`COLUMNS`) is one of ``values``."""
    read = _reader(catalog)
    column = COLUMNS.get(keyword)
    if read is None or column is None:
        return None
    found: list[str] = []
    try:
        for chunk in _chunks(list(dict.fromkeys(values))):
            marks = ",".join("?" * len(chunk))
            rows = read(f"SELECT series_uid FROM series WHERE {column} IN ({marks})", chunk)
            found.extend(str(r[0]) for r in rows)
    except Exception:  # a backend of another shape: use the slow path
        logger.debug("indexed series look-up failed; falling back to search", exc_info=True)
        return None
    return sorted(set(found))


def study_members(
    catalog: CatalogBackend, study_uids: Sequence[str]
) -> dict[str, list[StudyMember]] | None:
    """Every series of each study: (SeriesInstanceUID, Modality, instance count)."""
    read = _reader(catalog)
    if read is None:
        return None
    members: dict[str, list[StudyMember]] = {uid: [] for uid in study_uids}
    try:
        for chunk in _chunks(list(dict.fromkeys(study_uids))):
            marks = ",".join("?" * len(chunk))
            rows = read(
                "SELECT study_uid, series_uid, modality, instance_count FROM series "
                f"WHERE study_uid IN ({marks})",
                chunk,
            )
            for study, series, modality, count in rows:
                members.setdefault(str(study), []).append((str(series), modality, int(count or 0)))
    except Exception:
        logger.debug("indexed study look-up failed; falling back to search", exc_info=True)
        return None
    return members
