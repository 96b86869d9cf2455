"""Finding the instances of a study, series or instance, and reading their bytes.

An instance's location is a file path (ingested in place or copied into a
file store) or an ``http(s)://`` WADO-RS URL (indexed in a PACS by
pull-ingest, or kept there by the DICOMweb storage backend).
"""

from __future__ import annotations

import io
import urllib.request
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from radcurate.catalog import CatalogBackend
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicomweb import fastpath
from radcurate.dicomweb.multipart import decode, parse_header
from radcurate.query.ast import FieldMatch
from radcurate.query.patterns import escape

__all__ = ["NotFoundError", "instance_bytes", "locate", "read_instance"]

# traffic to a PACS never goes through a proxy from the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NotFoundError(LookupError):
    """No study, series or instance with these UIDs (a 404)."""


def _by_order(record: InstanceRecord) -> tuple[bool, int, str]:
    return (record.instance_number is None, record.instance_number or 0, record.sop_uid)


def series_of_study(catalog: CatalogBackend, study_uid: str) -> list[dict[str, Any]]:
    """The series documents of a study."""
    uids = fastpath.series_uids_where(catalog, "StudyInstanceUID", [study_uid])
    if uids is not None:
        documents = (catalog.series_document(uid) for uid in uids)
        return [d for d in documents if d is not None]
    node = FieldMatch("StudyInstanceUID", escape(study_uid))
    return [
        d
        for d in catalog.iter_search(node, page_size=1000)
        if d.get("StudyInstanceUID") == study_uid
    ]


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


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(
        url, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
    )
    with _OPENER.open(request, timeout=60.0) as response:
        body = response.read()
        media, params = parse_header(response.headers.get("Content-Type", ""))
    if media == "multipart/related" and "boundary" in params:
        parts = decode(body, params["boundary"])
        if not parts:
            raise OSError(f"{url} answered an empty multipart body")
        return parts[0].data
    return bytes(body)


def instance_bytes(location: str) -> bytes:
    """The bytes of an instance file, wherever it is."""
    if location.startswith(("http://", "https://")):
        return _fetch(location)
    path = location[len("file://") :] if location.startswith("file://") else location
    with open(path, "rb") as handle:
        return handle.read()


def read_instance(location: str, *, pixels: bool = True) -> Dataset:
    """The data set of an instance (without pixel data when ``pixels`` is False)."""
    if location.startswith(("http://", "https://")):
        return dcmread(io.BytesIO(_fetch(location)), stop_before_pixels=not pixels, force=True)
    path = location[len("file://") :] if location.startswith("file://") else location
    return dcmread(path, stop_before_pixels=not pixels, force=True)
