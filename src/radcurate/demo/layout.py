"""Where each file goes: a different export layout per site, all safe on any OS."""

from __future__ import annotations

import re

from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan

__all__ = ["relative_path", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
}


def safe_name(text: str, limit: int = 40) -> str:
    """Turn free text into a portable file-name component.

    Examples
    --------
    >>> safe_name("CT CHEST W/O CONTRAST")
    'CT_CHEST_W_O_CONTRAST'
    >>> safe_name("con")
    '_con'
    """
    name = _UNSAFE.sub("_", text).strip("._")[:limit].rstrip("._") or "unnamed"
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return name


def relative_path(
    patient: PatientPlan, study: StudyPlan, series: SeriesPlan, number: int, sop_uid: str
) -> str:
    """Relative POSIX path of one instance, following the patient's site layout.

    Layouts
    -------
    hierarchical
        ``PID/YYYYMMDD-StudyDescription/NNN-SeriesDescription/IM00001.dcm``
    numbered
        ``PID/YYYYMMDD_Accession/S00002/I0000001`` (no extension)
    flat
        ``PID/YYYYMMDD/<SOPInstanceUID>.dcm`` (one flat folder per study)
    dicomdir
        ``PID/DICOM/ST000001/SE000002/IM000001`` (no extension)
    """
    pid = safe_name(patient.patient_id)
    date = study.date.strftime("%Y%m%d")
    style = patient.site.layout
    if style == "numbered":
        return f"{pid}/{date}_{safe_name(study.accession)}/S{series.number:05d}/I{number:07d}"
    if style == "flat":
        return f"{pid}/{date}/{sop_uid}.dcm"
    if style == "dicomdir":
        return f"{pid}/DICOM/ST{study.index + 1:06d}/SE{series.index + 1:06d}/IM{number:06d}"
    study_dir = f"{date}-{safe_name(study.description)}"
    return (
        f"{pid}/{study_dir}/{series.number:03d}-{safe_name(series.description)}/IM{number:05d}.dcm"
    )
