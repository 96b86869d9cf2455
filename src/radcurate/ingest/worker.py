"""The per-process part of ingest: parse a chunk of files into catalog rows."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from radcurate.catalog.base import FileError, SeriesHeader
from radcurate.dicom.derived_uids import fill_missing_uids
from radcurate.dicom.document import header_document
from radcurate.dicom.fastheader import read_selected
from radcurate.dicom.instance import (
    RECORD_KEYWORDS,
    InstanceRecord,
    instance_record,
    record_from_values,
)
from radcurate.dicom.qc_iod import EMPTY_ATTRIBUTES_FIELD, empty_attributes
from radcurate.dicom.reading import UnreadableDicomError, is_dicomdir, read_header
from radcurate.dicom.values import FieldType
from radcurate.storage import StorageBackend, open_storage

#: reason recorded for a DICOMDIR met while walking a folder
DICOMDIR_REASON = "DICOMDIR: a directory index, not an image (the files it lists are ingested)"


@dataclass(frozen=True)
class FileTask:
    """One file to read, with the stat the scanner saw."""

    source: str
    size: int
    mtime_ns: int


@dataclass
class ChunkResult:
    """What a worker made of a chunk of files."""

    instances: list[InstanceRecord] = field(default_factory=list)
    headers: list[SeriesHeader] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    #: series UID -> keywords whose values ingest supplied (blank UIDs; see dicom/derived_uids)
    derived_uids: dict[str, set[str]] = field(default_factory=dict)

    @property
    def files(self) -> int:
        """Files handled (ingested or recorded as errors)."""
        return len(self.instances) + len(self.errors)


def process_chunk(
    tasks: list[FileTask],
    store_url: str | None = None,
    on_file: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Read each file's header; one header document per series (its first file in the chunk).

    Files are handled in sorted order (:func:`sorted_tasks`) so the representative
    instance of a series is always the one with the smallest path. ``on_file(i)`` is
    called before the ``i``-th file of that order (the worker pool's watchdog).
    """
    store: StorageBackend | None = open_storage(store_url) if store_url else None
    result = ChunkResult()
    documented: set[str] = set()
    with warnings.catch_warnings():
        # pydicom warns about every non-conforming value; the document keeps them as found
        warnings.simplefilter("ignore")
        for index, task in enumerate(sorted_tasks(tasks)):
            if on_file is not None:
                on_file(index)
            _process_one(task, store, documented, result)
    return result


def sorted_tasks(tasks: list[FileTask]) -> list[FileTask]:
    """The order :func:`process_chunk` reads files in (by path)."""
    return sorted(tasks, key=lambda t: t.source)


def _fast_record(task: FileTask) -> InstanceRecord | None:
    """The record by the fast scanner, or None when pydicom must read the file."""
    selected = read_selected(task.source, RECORD_KEYWORDS)
    if selected is None:
        return None
    values, syntax = selected
    try:
        return record_from_values(
            values,
            syntax,
            location=task.source,
            source=task.source,
            size=task.size,
            mtime_ns=task.mtime_ns,
        )
    except UnreadableDicomError:
        return None  # let pydicom give the precise reason (DICOMDIR, missing UIDs, ...)


def _process_one(
    task: FileTask, store: StorageBackend | None, documented: set[str], result: ChunkResult
) -> None:
    try:
        record = _fast_record(task)
        dataset = None
        derived: tuple[str, ...] = ()
        if record is None or record.series_uid not in documented:
            dataset = read_header(task.source)
            if is_dicomdir(dataset):
                reason = DICOMDIR_REASON
                result.errors.append(FileError(task.source, task.size, task.mtime_ns, reason))
                return
            if record is None:
                # only files the fast scanner could not place get here: no cost for the rest
                derived = fill_missing_uids(dataset, task.source)
                if derived:
                    uid = str(dataset.SeriesInstanceUID)
                    result.derived_uids.setdefault(uid, set()).update(derived)
                record = instance_record(
                    dataset,
                    location=task.source,
                    source=task.source,
                    size=task.size,
                    mtime_ns=task.mtime_ns,
                )
        if store is not None:
            record.location = store.put(
                task.source, record.study_uid, record.series_uid, record.sop_uid
            )
        if record.series_uid not in documented and dataset is not None:
            document = header_document(dataset)
            # which required attributes are present but empty: the document keeps values only
            # (UIDs ingest derived were empty in the file: they count as empty there)
            document.fields[EMPTY_ATTRIBUTES_FIELD] = sorted(
                {*empty_attributes(document.fields, document.types), *derived}
            )
            document.types[EMPTY_ATTRIBUTES_FIELD] = FieldType.KEYWORD
            result.headers.append(
                SeriesHeader(
                    series_uid=record.series_uid,
                    study_uid=record.study_uid,
                    patient_id=record.patient_id,
                    modality=record.modality,
                    source_location=task.source,
                    fields=document.fields,
                    types=document.types,
                    problems=tuple(document.problems),
                )
            )
            documented.add(record.series_uid)
        result.instances.append(record)
    except UnreadableDicomError as exc:
        result.errors.append(FileError(task.source, task.size, task.mtime_ns, str(exc)))
    except OSError as exc:
        reason = f"cannot store file: {exc.strerror or exc}"
        result.errors.append(FileError(task.source, task.size, task.mtime_ns, reason))
    except Exception as exc:  # noqa: BLE001  # one odd file must not stop the others
        reason = f"unexpected error reading header: {type(exc).__name__}: {exc}"
        result.errors.append(FileError(task.source, task.size, task.mtime_ns, reason))
