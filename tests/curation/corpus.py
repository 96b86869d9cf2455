"""A small synthetic catalog for curation tests: series written through the ingest API."""

from __future__ import annotations

from radcurate.catalog import CatalogBackend
from radcurate.catalog.base import IngestBatch, SeriesHeader
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicom.values import FieldType

STUDY = "1.2.826.0.1.7"
MODALITIES = ("CT", "MR", "PT")


def uid(i: int) -> str:
    """The SeriesInstanceUID of series ``i``."""
    return f"{STUDY}.{i}"


def write_series(catalog: CatalogBackend, count: int, *, instances: int = 2) -> list[str]:
    """``count`` series (modality CT/MR/PT in turn, 3 studies, 2 patients), sorted UIDs."""
    batch = IngestBatch()
    for i in range(count):
        series = uid(i)
        study = f"{STUDY}.study.{i % 3}"
        modality = MODALITIES[i % 3]
        doc = {
            "SeriesInstanceUID": series,
            "StudyInstanceUID": study,
            "PatientID": f"P{i % 2}",
            "Modality": modality,
            "SeriesNumber": i,
        }
        for n in range(instances):
            batch.instances.append(
                InstanceRecord(
                    location=f"/synthetic/{series}/{n}.dcm",
                    source=f"/synthetic/{series}/{n}.dcm",
                    size=100,
                    mtime_ns=1,
                    study_uid=study,
                    series_uid=series,
                    sop_uid=f"{series}.{n}",
                    modality=modality,
                    instance_number=n + 1,
                )
            )
        batch.headers.append(
            SeriesHeader(
                series_uid=series,
                study_uid=study,
                patient_id=f"P{i % 2}",
                modality=modality,
                source_location=f"/synthetic/{series}/0.dcm",
                fields=doc,
                types={"SeriesNumber": FieldType.NUMBER},
            )
        )
    catalog.write_batch(batch)
    uids = sorted(uid(i) for i in range(count))
    catalog.finalize_series(uids)
    return uids
