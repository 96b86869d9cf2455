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
from concurrent.futures import ThreadPoolExecutor
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
    "COPY_WORKERS", "DIRECT_COPY_WORKERS", "LAYOUTS", "burned_in_reason", "copy_instances",
    "series_folders",
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


def copy_instances(
    records: Sequence[InstanceRecord],
    folder: Path,
    deid: DeidOptions | None = None,
    *,
    workers: int | None = None,
    digests: dict[Path, str] | None = None,
) -> list[Path]:
    """Copy a series' instances (ordered by InstanceNumber, then SOP UID) as ``IM0001.dcm``…:
    byte for byte, or de-identified with ``deid`` (:func:`radcurate.export.deid.deidentify_file`,
    pixel data bytes unchanged).

    ``workers`` threads copy at once (file copies and hashing release the GIL; default
    :data:`DIRECT_COPY_WORKERS` when files are written direct, else :data:`COPY_WORKERS`);
    each file's bytes do not depend on them. ``digests``, when given, receives every written
    file's sha256 (hex), computed while copying, so the manifest need not read the files again.
    """
    if workers is None:
        workers = DIRECT_COPY_WORKERS if direct_io_enabled() else COPY_WORKERS
    folder.mkdir(parents=True, exist_ok=True)
    ordered = sorted(records, key=lambda r: (r.instance_number or 0, r.sop_uid))
    targets = [folder / f"IM{n:04d}.dcm" for n in range(1, len(ordered) + 1)]

    def copy(k: int) -> str | None:
        digest = None if digests is None else hashlib.sha256()
        source = _source(ordered[k].location)
        if deid is not None:
            from radcurate.export.deid import deidentify_file

            deidentify_file(source, targets[k], deid, digest=digest)
        elif isinstance(source, io.BytesIO):
            write_file(targets[k], [source.getvalue()], digest)
        elif digest is None:
            shutil.copyfile(source, targets[k])
        else:
            _copy_hashed(source, targets[k], digest)
        return None if digest is None else digest.hexdigest()

    if workers <= 1 or len(ordered) < 2:
        hexes = [copy(k) for k in range(len(ordered))]
    else:
        with ThreadPoolExecutor(max_workers=workers) as threads:
            hexes = list(threads.map(copy, range(len(ordered))))
    if digests is not None:
        digests.update((t, h) for t, h in zip(targets, hexes, strict=True) if h is not None)
    return targets


def _copy_hashed(source: str, target: Path, digest: Hash) -> None:
    fd = os.open(source, os.O_RDONLY)
    try:
        write_file(target, [SourceRange(fd, 0, os.fstat(fd).st_size)], digest)
    finally:
        os.close(fd)
