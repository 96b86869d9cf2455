"""Catalog batches of one-instance series described by their identifiers alone."""

from __future__ import annotations

from radcurate.catalog.base import IngestBatch, SeriesHeader
from radcurate.dicom.instance import InstanceRecord


def one_instance_series(rows: list[dict[str, str]]) -> IngestBatch:
    """A batch of one series per row; each row holds ``SeriesInstanceUID`` and
    ``StudyInstanceUID`` and may hold ``PatientID`` and ``Modality`` (its document is the row)."""
    batch = IngestBatch()
    for row in rows:
        series, study = row["SeriesInstanceUID"], row["StudyInstanceUID"]
        patient, modality = row.get("PatientID"), row.get("Modality")
        location = f"/x/{series}.dcm"
        batch.headers.append(
            SeriesHeader(series, study, patient, modality, location, dict(row), {})
        )
        batch.instances.append(
            InstanceRecord(
                location=location,
                source=location,
                size=1,
                mtime_ns=1,
                study_uid=study,
                series_uid=series,
                sop_uid=f"{series}.1",
                patient_id=patient,
                modality=modality,
            )
        )
    return batch
