"""The ``dicom`` format: the version's instances copied byte for byte into a folder layout.

Layouts (folder names are the export's own numbering, never a patient's identifiers):

- ``patient/study/series``: ``P0001/ST01/SE001_CT/IM0001.dcm`` — patients numbered over
  sorted PatientIDs, studies over sorted StudyInstanceUIDs of the patient, series over
  sorted SeriesInstanceUIDs of the study, instances by InstanceNumber then SOP UID;
- ``series``: ``SE0001_CT/IM0001.dcm``, series numbered over (patient, series UID).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.frames import local_path

__all__ = ["LAYOUTS", "copy_instances", "series_folders"]

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


def copy_instances(records: Sequence[InstanceRecord], folder: Path) -> list[Path]:
    """Copy a series' instances (ordered by InstanceNumber, then SOP UID) as ``IM0001.dcm``…"""
    from radcurate.storage.locations import read_location

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    ordered = sorted(records, key=lambda r: (r.instance_number or 0, r.sop_uid))
    for n, record in enumerate(ordered, start=1):
        target = folder / f"IM{n:04d}.dcm"
        if record.location.startswith(("http://", "https://")):
            target.write_bytes(read_location(record.location))
        else:
            shutil.copyfile(local_path(record.location), target)
        written.append(target)
    return written
