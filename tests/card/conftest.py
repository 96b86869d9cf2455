"""A small ingested catalog for dataset cards: six real two-slice DICOM series of two
patients at two sites, tagged, in a dataset frozen into a version, with ai/qc results and
reviews; and an empty frozen version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.catalog.result_types import ResultRow
from radcurate.ingest import ingest

#: names and IDs written into the files: a card must never show them
PATIENTS = {"CARDPID-0001": "Secretname^Alice", "CARDPID-0002": "Hiddenname^Bob"}
#: (patient, modality, manufacturer, site, sex, age, study date) of each series
SPECS: list[tuple[str, str, str, str, str | None, str | None, str]] = [
    ("CARDPID-0001", "CT", "SIEMENS", "Site A", "F", "054Y", "20190304"),
    ("CARDPID-0001", "CT", "SIEMENS", "Site A", "F", "054Y", "20190304"),
    ("CARDPID-0001", "MR", "GE MEDICAL SYSTEMS", "Site B", "F", "055Y", "20200517"),
    ("CARDPID-0002", "CT", "SIEMENS", "Site A", None, "061Y", "20210101"),
    ("CARDPID-0002", "CT", "Philips", "Site B", None, None, "20210101"),
    ("CARDPID-0002", "MR", "GE MEDICAL SYSTEMS", "Site B", "M", "062Y", "20220202"),
]
#: members of version 1 (series numbers); series 5 stays out
MEMBERS = (0, 1, 2, 3, 4)


def uid(n: int) -> str:
    """The SeriesInstanceUID of series ``n``."""
    return f"1.2.826.0.1.3680043.10.77.{n + 10}"


def write_series(folder: Path, n: int) -> None:
    """Series ``n`` of :data:`SPECS`: two 8x8 slices."""
    patient, modality, maker, site, sex, age, date = SPECS[n]
    folder.mkdir(parents=True, exist_ok=True)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    for k in range(2):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[uid(n), str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", patient, date])
        ds.SeriesInstanceUID = uid(n)
        ds.PatientID = patient
        ds.PatientName = PATIENTS[patient]
        ds.PatientBirthDate = "19650412"
        if sex is not None:
            ds.PatientSex = sex
        if age is not None:
            ds.PatientAge = age
        ds.StudyDate = date
        ds.Modality = modality
        ds.Manufacturer = maker
        ds.InstitutionName = site
        ds.BodyPartExamined = "CHEST" if modality == "CT" else "HEAD"
        if modality == "MR":
            ds.MagneticFieldStrength = 1.5 if n == 2 else 3
        else:
            ds.KVP = 120
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 2.0 if n % 2 else 1.0
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.PixelData = np.full((8, 8), 40 * k, dtype=np.int16).tobytes()
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)


@pytest.fixture(scope="session")
def card_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of the :data:`SPECS` series."""
    root = tmp_path_factory.mktemp("card-series")
    for n in range(len(SPECS)):
        write_series(root / f"s{n}", n)
    return root


def curate(catalog: CatalogBackend) -> None:
    """Tags, the dataset ``lungs`` frozen as version 1, results, reviews and an empty
    dataset ``empty`` frozen as its version 1."""
    catalog.create_dataset("lungs", "Chest CT and head MR for a card", actor="ana")
    members = [uid(n) for n in MEMBERS]
    catalog.add_to_dataset("lungs", Selection(include=tuple(members)), actor="ana")
    catalog.tag_series("covid", Selection(include=(uid(0), uid(1), uid(3))), actor="ana")
    catalog.result_store.write_results(
        [ResultRow(uid(n), {"ai": {"bodypart": "chest" if n != 2 else "head"}}) for n in MEMBERS],
        producer="card-bodypart",
        version="2.1",
    )
    catalog.result_store.write_results(
        [
            ResultRow(uid(n), {"qc": {"geometry": {"missing_slices": 1 if n == 1 else 0}}})
            for n in range(len(SPECS))
        ],
        producer="card-geometry",
        version="0.3",
    )
    catalog.reviews.set_review(uid(0), "accepted", actor="ana")
    catalog.reviews.set_review(uid(1), "rejected", "blurred", actor="ana")
    catalog.reviews.set_review(uid(2), "questionable", actor="ana")
    catalog.reviews.set_review(uid(5), "rejected", actor="ana")
    catalog.freeze_dataset("lungs", "first cut", actor="bo")
    catalog.create_dataset("empty", actor="ana")
    catalog.freeze_dataset("empty", actor="ana")


@pytest.fixture
def card_catalog(card_root: Path, catalog_url: str) -> Iterator[CatalogBackend]:
    """The curated series on each engine (SQLite, PostgreSQL)."""
    with open_catalog(catalog_url) as opened:
        ingest([card_root], opened, workers=1)
        curate(opened)
        yield opened


@pytest.fixture
def sqlite_card(card_root: Path, tmp_path: Path) -> Iterator[CatalogBackend]:
    """The curated series in an embedded catalog."""
    with open_catalog(f"sqlite:///{tmp_path / 'card.sqlite'}") as opened:
        ingest([card_root], opened, workers=1)
        curate(opened)
        yield opened


def catalog_file(catalog: Any) -> str:
    """The URL of an open catalog (for the CLI and the server)."""
    return str(catalog.url)
