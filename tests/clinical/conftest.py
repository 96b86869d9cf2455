"""Fixtures of the clinical-table tests: a few tiny real DICOM series of five patients
(the pattern of tests/workflows/conftest.py), catalogs holding them on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest

#: (PatientID, AccessionNumber or None, study number, series number, modality) of each series
SERIES: list[tuple[str, str | None, int, int, str]] = [
    ("P001", "ACC1", 1, 1, "CT"),
    ("P001", "ACC1", 1, 2, "CT"),
    ("P002", "ACC2", 2, 1, "CT"),
    ("P003", "ACC3", 3, 1, "MR"),
    ("P004", "ACC4", 4, 1, "MR"),
    ("P005", None, 5, 1, "CT"),
]


def study_uid(study: int) -> str:
    return f"1.2.826.0.1.3680043.10.77.{study}"


def series_uid(study: int, number: int) -> str:
    return f"1.2.826.0.1.3680043.10.77.{study}.{number}"


def write_series(folder: Path, spec: tuple[str, str | None, int, int, str]) -> None:
    """One 4x4 slice of a CT or MR series with the given identifiers."""
    patient, accession, study, number, modality = spec
    folder.mkdir(parents=True, exist_ok=True)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = series_uid(study, number) + ".1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid(study)
    ds.SeriesInstanceUID = series_uid(study, number)
    ds.PatientID = patient
    ds.PatientName = "Clinical^Test"
    if accession is not None:
        ds.AccessionNumber = accession
    ds.Modality = modality
    ds.SeriesNumber = number
    ds.InstanceNumber = 1
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.zeros((4, 4), np.int16).tobytes()
    ds.save_as(folder / "0001.dcm", enforce_file_format=True)


@pytest.fixture(scope="session")
def clinical_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of the :data:`SERIES` series."""
    root = tmp_path_factory.mktemp("clinical-series")
    for spec in SERIES:
        write_series(root / f"s{spec[2]}-{spec[3]}", spec)
    return root


@pytest.fixture
def sqlite_catalog(clinical_root: Path, tmp_path: Path) -> Iterator[CatalogBackend]:
    """A SQLite catalog of the :data:`SERIES` series."""
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as opened:
        ingest([clinical_root], opened, workers=1)
        yield opened


@pytest.fixture
def any_catalog(clinical_root: Path, catalog_url: str) -> Iterator[CatalogBackend]:
    """The :data:`SERIES` series in a catalog on each engine (SQLite, PostgreSQL)."""
    with open_catalog(catalog_url) as opened:
        ingest([clinical_root], opened, workers=1)
        yield opened


def write_text(path: Path, lines: list[str]) -> Path:
    """A text file of ``lines`` (a CSV/TSV table)."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
