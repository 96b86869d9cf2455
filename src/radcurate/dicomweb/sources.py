"""Finding the instances of a study, series or instance, and reading their bytes.

An instance's location is a file path (ingested in place or copied into a
file store) or an ``http(s)://`` WADO-RS URL (indexed in a PACS by
pull-ingest, or kept there by the DICOMweb storage backend).
"""

from __future__ import annotations

import io
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from radcurate.catalog import CatalogBackend
from radcurate.dicom.instance import InstanceRecord
from radcurate.storage.locations import is_remote, local_path, read_location

__all__ = ["NotFoundError", "instance_bytes", "locate", "read_instance"]


class NotFoundError(LookupError):
    """No study, series or instance with these UIDs (a 404)."""


def _by_order(record: InstanceRecord) -> tuple[bool, int, str]:
    return (record.instance_number is None, record.instance_number or 0, record.sop_uid)


def series_of_study(catalog: CatalogBackend, study_uid: str) -> list[dict[str, Any]]:
    """The series documents of a study."""
    keys = catalog.series_keys("StudyInstanceUID", [study_uid])
    documents = (catalog.series_document(key.series_uid) for key in keys)
    return [d for d in documents if d is not None]


def locate(
    catalog: CatalogBackend,
    study_uid: str,
    series_uid: str | None = None,
    sop_uid: str | None = None,
) -> list[InstanceRecord]:
    """The instance rows of a study, a series of it or one instance, in a stable order.

    Raises
    ------
    NotFoundError
        When nothing matches (a series of another study counts as missing).
    """
    if series_uid is None:
        uids = [str(d["SeriesInstanceUID"]) for d in series_of_study(catalog, study_uid)]
        if not uids:
            raise NotFoundError(f"no study {study_uid}")
    else:
        uids = [series_uid]
    records: list[InstanceRecord] = []
    for uid in sorted(uids):
        rows = [r for r in catalog.instances(uid) if r.study_uid == study_uid]
        records.extend(sorted(rows, key=_by_order))
    if sop_uid is not None:
        records = [r for r in records if r.sop_uid == sop_uid][:1]
        if not records:
            raise NotFoundError(f"no instance {sop_uid} in series {series_uid}")
    if not records:
        raise NotFoundError(f"no series {series_uid} in study {study_uid}")
    return records


def instance_bytes(location: str) -> bytes:
    """The bytes of an instance file, wherever it is."""
    return read_location(location)


def read_instance(location: str, *, pixels: bool = True) -> Dataset:
    """The data set of an instance (without pixel data when ``pixels`` is False)."""
    if is_remote(location):
        source: Any = io.BytesIO(read_location(location))
    else:
        source = local_path(location)
    return dcmread(source, stop_before_pixels=not pixels, force=True)
