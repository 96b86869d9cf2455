"""Fixtures of the workflow tests: small synthetic series, catalogs holding them, the ``probe``
test workflow registered in-process, a phantom demo archive, the example plugin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import DemoManifest, generate_archive
from radcurate.ingest import ingest
from radcurate.jobs.workflows import WORKFLOW_KIND
from radcurate.workflow import Workflow
from radcurate.workflow.registry import default_registry
from tests.plugins.conftest import example_plugin, example_plugin_site  # noqa: F401
from tests.workflows.steps import CALLS, ProbeWorkflow

#: (modality, BodyPartExamined, SeriesDescription, slices) of the synthetic series
SERIES_SPECS: list[tuple[str, str | None, str, int]] = [
    ("CT", "CHEST", "Thorax 2mm", 3),
    ("CT", "CHEST", "Thorax 5mm", 2),
    ("CT", "ABDOMEN", "Abdomen venous", 3),
    ("CT", None, "CT Kopf nativ", 2),
    ("MR", "HEAD", "t1_se_tra", 2),
    ("MR", None, "localizer", 1),
]


def write_series(
    folder: Path, series_uid: str, modality: str, body_part: str | None, description: str,
    slices: int,
) -> None:  # fmt: skip
    """A small series of 16x16 slices (CT or MR) with the given header values."""
    folder.mkdir(parents=True, exist_ok=True)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", series_uid])
        ds.SeriesInstanceUID = series_uid
        ds.PatientID = "WF1"
        ds.PatientName = "Workflow^Test"
        ds.Modality = modality
        if body_part is not None:
            ds.BodyPartExamined = body_part
        ds.SeriesDescription = description
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 2.0
        ds.Rows = ds.Columns = 16
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        yy, xx = np.mgrid[:16, :16]
        pixels = ((xx - 8) ** 2 + (yy - 8) ** 2 < (3 + k) ** 2) * 400 - 1000
        ds.PixelData = pixels.astype(np.int16).tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)


def series_uid(n: int) -> str:
    """The UID of synthetic series ``n`` (sorted like ``n``)."""
    return f"1.2.826.0.1.3680043.10.99.{n + 10}"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of the :data:`SERIES_SPECS` series."""
    root = tmp_path_factory.mktemp("wf-series")
    for n, spec in enumerate(SERIES_SPECS):
        write_series(root / f"s{n}", series_uid(n), *spec)
    return root


@pytest.fixture(scope="session")
def many_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 20 one-slice CT series (UIDs ``series_uid(100 + n)``)."""
    root = tmp_path_factory.mktemp("wf-many")
    for n in range(20):
        write_series(root / f"m{n}", series_uid(100 + n), "CT", "CHEST", "many", 1)
    return root


@pytest.fixture
def many_catalog(many_root: Path, tmp_path: Path) -> Iterator[CatalogBackend]:
    """A SQLite catalog of 20 one-slice series (enough to cancel a process pool half-way)."""
    with open_catalog(f"sqlite:///{tmp_path / 'many.sqlite'}") as opened:
        ingest([many_root], opened, workers=1)
        yield opened


@pytest.fixture
def sqlite_catalog(synthetic_root: Path, tmp_path: Path) -> Iterator[CatalogBackend]:
    """A SQLite catalog of the synthetic series."""
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as opened:
        ingest([synthetic_root], opened, workers=1)
        yield opened


@pytest.fixture
def any_catalog(synthetic_root: Path, catalog_url: str) -> Iterator[CatalogBackend]:
    """The synthetic series in a catalog on each engine (SQLite, PostgreSQL)."""
    with open_catalog(catalog_url) as opened:
        ingest([synthetic_root], opened, workers=1)
        yield opened


@pytest.fixture
def probe() -> Iterator[Workflow]:
    """The ``probe`` workflow, registered in this process's default registry."""
    step = ProbeWorkflow()
    CALLS.clear()
    registry = default_registry()
    registry.register(step)
    yield step
    registry.registries["workflows"].unregister(step.name)


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """A one-patient phantom archive (every modality the demo writes; ~15 s)."""
    return generate_archive(tmp_path_factory.mktemp("wf-demo") / "archive", patients=1, seed=3)


def all_uids(catalog: CatalogBackend) -> list[str]:
    return sorted(str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents())


def producer_sets(catalog: CatalogBackend, uid: str, producer: str) -> list[Any]:
    """The current result sets of ``producer`` on a series (0 or 1)."""
    return [s for s in catalog.result_store.result_sets(uid) if s.provenance.producer == producer]


def history(catalog: CatalogBackend, uids: list[str], producer: str) -> list[Any]:
    return [h for u in uids for h in catalog.result_store.result_history(u, producer)]


def result_writes(catalog: CatalogBackend, producer: str) -> list[Any]:
    """Audit entries of result writes by ``producer``, newest first."""
    return [e for e in catalog.audit_log(limit=1000, action="results.write", target=producer)]


def wait_for(predicate: Any, timeout: float = 60, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s")


def workflow_jobs(catalog: CatalogBackend) -> list[Any]:
    return catalog.jobs(kind=WORKFLOW_KIND, limit=100)
