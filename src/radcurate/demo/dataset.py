"""Attributes shared by every object: patient, study, series, equipment, SOP common."""

from __future__ import annotations

import datetime as dt

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from radcurate.demo.plan import EXPLICIT, PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import make_uid

__all__ = [
    "PRIVATE_CREATOR",
    "base_dataset",
    "code_item",
    "fill_study_attributes",
    "make_deterministic",
    "series_time",
    "set_instance",
]

#: Private creator of the demo's private block in group 0x0009.
PRIVATE_CREATOR = "RADCURATE_DEMO"


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def series_time(study: StudyPlan, series: SeriesPlan) -> str:
    """SeriesTime: the study time plus a few minutes per series."""
    t = dt.datetime.strptime(study.time, "%H%M%S") + dt.timedelta(minutes=2 + 3 * series.index)
    return t.strftime("%H%M%S")


def base_dataset(
    patient: PatientPlan,
    study: StudyPlan,
    series: SeriesPlan,
    sop_class: str,
    *,
    equipment: bool = True,
) -> Dataset:
    """Dataset with file meta and the patient/study/series/equipment modules filled in.

    Parameters
    ----------
    patient, study, series
        The plan of the object's patient, study and series.
    sop_class
        SOP Class UID of the object.
    equipment
        Whether to describe the study's scanner (derived objects describe their own).
    """
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID("1.2.3")
    meta.TransferSyntaxUID = UID(EXPLICIT)
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = UID("1.2.3")
    date = study.date.strftime("%Y%m%d")
    stime = series_time(study, series)
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = stime
    ds.StudyDate, ds.SeriesDate, ds.ContentDate = date, date, date
    ds.StudyTime, ds.SeriesTime, ds.ContentTime = study.time, stime, stime
    ds.AccessionNumber = study.accession
    ds.Modality = series.modality
    ds.ReferringPhysicianName = study.referring
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.ProcedureCodeSequence = Sequence(
        [code_item(v, "99" + patient.site.code, m) for v, m in study.procedure_codes]
    )
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = patient.site.code
    ds.PatientBirthDate = patient.birth.strftime("%Y%m%d")
    ds.PatientSex = patient.sex
    ds.PatientAge = study.age
    ds.PatientWeight = f"{patient.weight:g}"
    ds.BodyPartExamined = study.body_part
    if series.protocol:
        ds.ProtocolName = series.protocol
    ds.StudyInstanceUID = UID(study.uid)
    ds.SeriesInstanceUID = UID(series.uid)
    ds.StudyID = study.accession[-6:]
    ds.SeriesNumber = series.number
    request = Dataset()
    request.RequestedProcedureID = study.accession
    request.ScheduledProcedureStepID = f"{study.accession}01"
    ds.RequestAttributesSequence = Sequence([request])
    ds.InstitutionName = patient.site.institution
    ds.InstitutionAddress = patient.site.address
    if equipment:
        scanner = study.scanner
        ds.Manufacturer = scanner.manufacturer
        ds.ManufacturerModelName = scanner.model
        ds.SoftwareVersions = scanner.software
        ds.StationName = study.station
        ds.DeviceSerialNumber = str(10000 + int(make_uid(0, study.station)[5:10]) % 90000)
        if scanner.private:
            block = ds.private_block(0x0009, PRIVATE_CREATOR, create=True)
            block.add_new(0x10, "LO", "phantom v1")
            block.add_new(0x11, "DS", f"{study.anatomy.scale[0]:.4f}")
            block.add_new(0x12, "SH", patient.site.code)
    return ds


def set_instance(ds: Dataset, sop_uid: str, number: int) -> None:
    """Set the SOP Instance UID (dataset and file meta) and the instance number."""
    ds.SOPInstanceUID = UID(sop_uid)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.InstanceNumber = number


def make_deterministic(ds: Dataset, uid_seed: str, date: str, time: str) -> None:
    """Replace the clock-based dates/times and random UIDs a library filled in.

    highdicom stamps InstanceCreationDate/Time, ContentDate/Time and
    ContributionDateTime from the clock and draws DimensionOrganizationUID at
    random; this walks the dataset (sequences included) and sets them from the
    study date/time and a UID derived from ``uid_seed``.
    """
    dim_uid = UID(make_uid(0, uid_seed, "dimension-organization"))
    fixed = {
        "InstanceCreationDate": date,
        "InstanceCreationTime": time,
        "ContentDate": date,
        "ContentTime": time,
        "ContributionDateTime": date + time,
        "DimensionOrganizationUID": dim_uid,
    }

    def walk(item: Dataset) -> None:
        for elem in item:
            if elem.VR == "SQ":
                for child in elem.value:
                    walk(child)
            elif elem.keyword in fixed:
                elem.value = fixed[elem.keyword]

    walk(ds)


_STUDY_KEYWORDS = (
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientWeight", "StudyDate", "StudyTime", "AccessionNumber",
    "ReferringPhysicianName", "StudyDescription", "StudyID", "InstitutionName",
    "InstitutionAddress", "BodyPartExamined", "ProcedureCodeSequence",
)  # fmt: skip


def fill_study_attributes(
    ds: Dataset, patient: PatientPlan, study: StudyPlan, series: SeriesPlan
) -> None:
    """Add the patient and study attributes a library left out of a derived object."""
    base = base_dataset(patient, study, series, str(ds.SOPClassUID), equipment=False)
    for keyword in _STUDY_KEYWORDS:
        if keyword not in ds and keyword in base:
            ds[keyword] = base[keyword]
