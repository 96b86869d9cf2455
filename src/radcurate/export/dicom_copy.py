"""The ``dicom`` format: the version's instances copied byte for byte into a folder layout.

Layouts (folder names are the export's own numbering, never a patient's identifiers):

- ``patient/study/series``: ``P0001/ST01/SE001_CT/IM0001.dcm`` — patients numbered over
  sorted PatientIDs, studies over sorted StudyInstanceUIDs of the patient, series over
  sorted SeriesInstanceUIDs of the study, instances by InstanceNumber then SOP UID;
- ``series``: ``SE0001_CT/IM0001.dcm``, series numbered over (patient, series UID).

De-identified (``--deidentify``), each instance goes through
:func:`radcurate.export.deid.deidentify_file` with the export's key (docs/deidentification.md);
a series whose pixels may carry burned-in text (:func:`radcurate.export.deid.burned_in_risk`)
is left out unless the user opts in.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread

from radcurate.dicom.instance import InstanceRecord
from radcurate.export.file_writer import SourceRange, direct_io_enabled, write_file
from radcurate.imaging.frames import local_path

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

    from radcurate.export.deid import DeidOptions

__all__ = [
    "COPY_WORKERS", "DIRECT_COPY_WORKERS", "LAYOUTS", "SeriesCopy", "burned_in_reason",
    "copy_instances", "copy_one", "copy_workers", "ordered_targets", "series_folders",
    "submit_copies",
]  # fmt: skip

#: threads copying a series' instances at once (:func:`copy_instances`): one per CPU (at most
#: 4) through the page cache; 8 where files are written direct, each thread then waiting on
#: the disk for most of a file (docs/architecture.md, "Export speed")
COPY_WORKERS = max(1, min(4, os.cpu_count() or 1))
DIRECT_COPY_WORKERS = 8

#: the folder layouts of a ``dicom`` export
LAYOUTS: tuple[str, ...] = ("patient/study/series", "series")


def _modality(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", text) or "OT"


def series_folders(
    series: Sequence[tuple[str, str, str, str]], layout: str, patient_keys: dict[str, str]
) -> dict[str, str]:
    """``series UID -> folder`` for ``(patient, study UID, series UID, modality)`` rows."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} (use one of {', '.join(LAYOUTS)})")
    rows = sorted(series)
    if layout == "series":
        return {
            uid: f"SE{n:04d}_{_modality(modality)}"
            for n, (_, _, uid, modality) in enumerate(rows, start=1)
        }
    folders: dict[str, str] = {}
    studies: dict[tuple[str, str], int] = {}
    per_study: dict[tuple[str, str], int] = {}
    for patient, study, uid, modality in rows:
        key = (patient, study)
        if key not in studies:
            studies[key] = sum(1 for p, _ in studies if p == patient) + 1
        per_study[key] = per_study.get(key, 0) + 1
        folders[uid] = (
            f"{patient_keys[patient]}/ST{studies[key]:02d}/SE{per_study[key]:03d}_{_modality(modality)}"
        )
    return folders


_REMOTE = ("http://", "https://")


def _source(location: str) -> str | io.BytesIO:
    from radcurate.storage.locations import read_location

    if location.startswith(_REMOTE):
        return io.BytesIO(read_location(location))
    return local_path(location)


def burned_in_reason(records: Sequence[InstanceRecord]) -> str | None:
    """Why a series' pixels may show identifying text (:func:`radcurate.export.deid.burned_in_risk`
    of its first instance), or None."""
    from radcurate.export.deid import burned_in_risk

    if not records:
        return None
    first = min(records, key=lambda r: (r.instance_number or 0, r.sop_uid))
    return burned_in_risk(dcmread(_source(first.location), stop_before_pixels=True))


def copy_workers() -> int:
    """Threads for copying instances: :data:`DIRECT_COPY_WORKERS` when files are written
    direct, else :data:`COPY_WORKERS`."""
    return DIRECT_COPY_WORKERS if direct_io_enabled() else COPY_WORKERS


@dataclass
class SeriesCopy:
    """A series' instance copies handed to an executor (:func:`submit_copies`)."""

    targets: list[Path]
    futures: list[Future[str | None]]

    def result(self, digests: dict[Path, str] | None = None) -> list[Path]:
        """Wait for every copy of the series, then raise the first error (nothing of the
        series is being written any more when it is raised) or return the targets;
        ``digests`` receives each written file's sha256 (hex)."""
        wait(self.futures)
        hexes = [future.result() for future in self.futures]
        if digests is not None:
            digests.update((t, h) for t, h in zip(self.targets, hexes, strict=True) if h)
        return self.targets


def submit_copies(
    records: Sequence[InstanceRecord], folder: Path, deid: DeidOptions | None,
    executor: Executor, *, hashed: bool = True,
) -> SeriesCopy:  # fmt: skip
    """Start copying a series' instances (ordered by InstanceNumber, then SOP UID) as
    ``IM0001.dcm``… on ``executor``: byte for byte, or de-identified with ``deid``
    (:func:`radcurate.export.deid.deidentify_file`, pixel data bytes unchanged). Each file's
    bytes depend on neither the executor nor what else it runs, so an export hands it the
    next series before this one is done (a one-file SEG no longer leaves the other threads
    idle). ``hashed``: each file's sha256 is computed while copying, so the manifest need not
    read the files again."""
    folder.mkdir(parents=True, exist_ok=True)
    locations, targets = ordered_targets(records, folder)
    futures = [
        executor.submit(copy_one, location, target, deid, hashed)
        for location, target in zip(locations, targets, strict=True)
    ]
    return SeriesCopy(targets, futures)


def ordered_targets(
    records: Sequence[InstanceRecord], folder: Path
) -> tuple[list[str], list[Path]]:
    """The series' instance locations ordered by InstanceNumber, then SOP UID, and their
    files in ``folder``: ``IM0001.dcm``…"""
    ordered = sorted(records, key=lambda r: (r.instance_number or 0, r.sop_uid))
    targets = [folder / f"IM{n:04d}.dcm" for n in range(1, len(ordered) + 1)]
    return [r.location for r in ordered], targets


def copy_instances(
    records: Sequence[InstanceRecord],
    folder: Path,
    deid: DeidOptions | None = None,
    *,
    workers: int | None = None,
    digests: dict[Path, str] | None = None,
) -> list[Path]:
    """:func:`submit_copies` on ``workers`` threads of its own (default :func:`copy_workers`;
    file copies and hashing release the GIL), waited for; ``digests``, when given, receives
    every written file's sha256 (hex)."""
    workers = copy_workers() if workers is None else workers
    with ThreadPoolExecutor(max_workers=max(1, workers)) as threads:
        return submit_copies(records, folder, deid, threads, hashed=digests is not None).result(
            digests
        )


def copy_one(location: str, target: Path, deid: DeidOptions | None, hashed: bool) -> str | None:
    """Copy one instance to ``target`` (de-identified with ``deid``); its sha256 (hex) when
    ``hashed``."""
    digest = hashlib.sha256() if hashed else None
    source = _source(location)
    if deid is not None:
        from radcurate.export.deid import deidentify_file

        deidentify_file(source, target, deid, digest=digest)
    elif isinstance(source, io.BytesIO):
        write_file(target, [source.getvalue()], digest)
    elif digest is None:
        shutil.copyfile(source, target)
    else:
        _copy_hashed(source, target, digest)
    return None if digest is None else digest.hexdigest()


def _copy_hashed(source: str, target: Path, digest: Hash) -> None:
    fd = os.open(source, os.O_RDONLY)
    try:
        write_file(target, [SourceRange(fd, 0, os.fstat(fd).st_size)], digest)
    finally:
        os.close(fd)
