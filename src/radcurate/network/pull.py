"""Pull-ingest: index a PACS's holdings over DICOMweb without copying pixels.

``radcurate ingest dicomweb+http://host/dicom-web`` asks the PACS (QIDO-RS)
for its studies, then for each study's series; a series whose instance count
equals what the catalog already holds is skipped, any other has its metadata
read (WADO-RS ``/metadata``, no pixel data) and its new instances written,
one catalog batch per series. Each instance's location is its WADO-RS URL, so
the DICOMweb server and anything reading through it fetch the file from the
PACS when needed. A re-run therefore only reads series that changed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset

from radcurate.catalog import CatalogBackend
from radcurate.catalog.base import FileError, IngestBatch, SeriesHeader
from radcurate.dicom.document import header_document
from radcurate.dicom.instance import InstanceRecord, instance_record
from radcurate.dicom.reading import syntax_of_bytes
from radcurate.ingest.pipeline import finalize_dirty
from radcurate.storage.locations import read_location

__all__ = ["PullSummary", "dicomweb_base", "is_dicomweb_url", "pull_ingest"]

SCHEME_PREFIX = "dicomweb+"
PAGE = 500
#: series metadata fetched concurrently (the PACS answers while we parse and write)
FETCHERS = 4
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PullError(RuntimeError):
    """The PACS could not be asked (unreachable, an HTTP error); the message says which URL."""


def is_dicomweb_url(text: str) -> bool:
    """Whether ``text`` names a DICOMweb source (``dicomweb+http(s)://...``)."""
    return text.lower().startswith(("dicomweb+http://", "dicomweb+https://"))


def dicomweb_base(url: str) -> str:
    """The HTTP base URL of a ``dicomweb+http://...`` source.

    Examples
    --------
    >>> dicomweb_base("dicomweb+http://pacs:8042/dicom-web/")
    'http://pacs:8042/dicom-web'
    """
    return url[len(SCHEME_PREFIX) :].rstrip("/") if is_dicomweb_url(url) else url.rstrip("/")


@dataclass
class PullSummary:
    """What a pull-ingest run did."""

    studies: int = 0
    series_seen: int = 0
    series_unchanged: int = 0
    series_read: int = 0
    new_instances: int = 0
    new_series: int = 0
    errors: int = 0
    finalized_series: int = 0
    seconds: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {k: v for k, v in self.__dict__.items()}


def _get_json(url: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Accept": "application/dicom+json"})
    try:
        with _OPENER.open(request, timeout=120.0) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise PullError(f"{url} answered HTTP {exc.code}: {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise PullError(f"cannot reach {url}: {exc}") from exc
    if not body.strip():
        return []
    answer = json.loads(body)
    if not isinstance(answer, list):
        raise PullError(f"{url} did not answer a JSON array")
    return answer


def _value(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]


def _query_string(params: Sequence[tuple[str, str]]) -> str:
    # '*' stays literal: some servers (Orthanc) do not decode %2A
    return urllib.parse.urlencode(list(params), safe="*,\\")


def _studies(base: str, query: Sequence[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    offset = 0
    seen: set[str] = set()
    while True:
        page = _get_json(
            f"{base}/studies?"
            + _query_string([*query, ("limit", str(PAGE)), ("offset", str(offset))])
        )
        fresh = [s for s in page if _value(s, "0020000D") not in seen]
        for study in fresh:
            seen.add(str(_value(study, "0020000D")))
            yield study
        if len(page) < PAGE or not fresh:
            return
        offset += len(page)


def _dataset(item: dict[str, Any]) -> Dataset:
    """A pydicom data set from DICOM JSON; bulk data is not fetched."""
    meta = {k: v for k, v in item.items() if k.startswith("0002")}
    body = {k: v for k, v in item.items() if not k.startswith("0002") and k != "7FE00010"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = Dataset.from_json(body, bulk_data_uri_handler=lambda *args: b"")
        file_meta = FileMetaDataset(Dataset.from_json(meta)) if meta else FileMetaDataset()
    ds.file_meta = file_meta
    return ds


def _instance_url(base: str, study: str, series: str, sop: str) -> str:
    return f"{base}/studies/{study}/series/{series}/instances/{sop}"


def pull_ingest(
    url: str,
    catalog: CatalogBackend,
    *,
    query: Sequence[tuple[str, str]] = (),
    on_series: Callable[[PullSummary], None] | None = None,
) -> PullSummary:
    """Index the studies of a DICOMweb server (matching a QIDO ``query``) into ``catalog``.

    Parameters
    ----------
    url
        ``dicomweb+http://host/dicom-web`` (or the plain ``http://`` base URL).
    query
        QIDO-RS study-level matching keys, e.g. ``[("ModalitiesInStudy", "CT")]``.

    Raises
    ------
    PullError
        When the server cannot be reached or answers an error.
    """
    started = time.monotonic()
    base = dicomweb_base(url)
    summary = PullSummary()
    in_flight: deque[tuple[str, str, set[str], Future[list[dict[str, Any]]]]] = deque()
    with ThreadPoolExecutor(max_workers=FETCHERS, thread_name_prefix="wado") as fetchers:

        def drain(limit: int) -> None:
            while len(in_flight) > limit:
                study_uid, series_uid, known, future = in_flight.popleft()
                _write_series(base, catalog, study_uid, series_uid, known, future.result(), summary)
                if on_series is not None:
                    on_series(summary)

        for study in _studies(base, query):
            summary.studies += 1
            study_uid = str(_value(study, "0020000D"))
            for series in _get_json(f"{base}/studies/{study_uid}/series"):
                summary.series_seen += 1
                series_uid = str(_value(series, "0020000E"))
                known = _known_if_changed(catalog, series, series_uid)
                if known is None:
                    summary.series_unchanged += 1
                    continue
                summary.series_read += 1
                metadata = f"{base}/studies/{study_uid}/series/{series_uid}/metadata"
                in_flight.append(
                    (study_uid, series_uid, known, fetchers.submit(_get_json, metadata))
                )
                drain(FETCHERS * 2)
        drain(0)
    summary.finalized_series = finalize_dirty(catalog)
    summary.seconds = time.monotonic() - started
    return summary


def _known_if_changed(
    catalog: CatalogBackend, series: dict[str, Any], series_uid: str
) -> set[str] | None:
    """The SOP UIDs the catalog has of a series, or None when it has all the PACS has."""
    remote_count = _value(series, "00201209")
    records = catalog.instances(series_uid)
    known = {r.sop_uid for r in records}
    if any(not r.transfer_syntax for r in records):
        return set()  # pulled before syntaxes were recorded: write the series again (repair)
    if remote_count is not None and int(remote_count) == len(known) and known:
        return None
    return known


def _write_series(
    base: str,
    catalog: CatalogBackend,
    study_uid: str,
    series_uid: str,
    known: set[str],
    items: list[dict[str, Any]],
    summary: PullSummary,
) -> None:
    """Write the instances of one series' metadata the catalog lacks (one transaction)."""
    batch = IngestBatch()
    header_written = bool(known)
    for item in items:
        sop = str(_value(item, "00080018") or "")
        if not sop or sop in known:
            continue
        location = _instance_url(base, study_uid, series_uid, sop)
        try:
            ds = _dataset(item)
            record = instance_record(ds, location=location, source=location, size=0, mtime_ns=0)
            if not header_written:
                document = header_document(ds)
                batch.headers.append(
                    SeriesHeader(
                        series_uid=record.series_uid,
                        study_uid=record.study_uid,
                        patient_id=record.patient_id,
                        modality=record.modality,
                        source_location=location,
                        fields=document.fields,
                        types=document.types,
                        problems=tuple(document.problems),
                    )
                )
                header_written = True
        except Exception as exc:  # noqa: BLE001  # one odd instance must not stop the pull
            reason = f"cannot read the metadata: {type(exc).__name__}: {exc}"
            batch.errors.append(FileError(location, 0, 0, reason))
            if len(summary.error_samples) < 20:
                summary.error_samples.append(f"{location}: {reason}")
            continue
        batch.instances.append(record)
        known.add(sop)
    _record_syntax(batch.instances)
    if batch.instances or batch.errors:
        outcome = catalog.write_batch(batch)
        summary.new_instances += outcome.new_instances
        summary.new_series += outcome.new_series
        summary.errors += len(batch.errors)


def _record_syntax(records: list[InstanceRecord]) -> None:
    """Give instances the transfer syntax their PACS stores them in.

    DICOMweb metadata seldom carries the file meta group (Orthanc's never does), and without
    it every instance would be served as Explicit VR Little Endian: the first instance of the
    series is retrieved as stored (``transfer-syntax=*``) and its syntax given to the
    instances that lack one (a series is stored in one syntax; the server reads each file's
    own syntax when it serves one whose catalog entry has none).
    """
    lacking = [r for r in records if not r.transfer_syntax]
    if not lacking:
        return
    try:
        data = read_location(lacking[0].location)
    except OSError:
        return  # the server reads each file's syntax when it serves it
    syntax = syntax_of_bytes(data)
    for record in lacking:
        record.transfer_syntax = syntax
