"""Fixtures of the export tests: the demo archive (two patients: a CT with a DICOM-SEG, a CT
with an RTSTRUCT, and DX/US/SR series that make no volume) in a catalog, as one dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.demo import generate_archive
from radcurate.ingest import ingest

#: seed of the demo archive the export tests read
DEMO_SEED = 3


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-patient demo archive (written once per session)."""
    root = tmp_path_factory.mktemp("export-demo") / "archive"
    generate_archive(root, patients=2, seed=DEMO_SEED)
    return root


def fill(catalog: CatalogBackend, root: Path) -> CatalogBackend:
    """Ingest the demo archive; dataset ``demo``: every series; ``labelled``: the two CTs
    with a SEG or an RTSTRUCT (and those label series)."""
    ingest([root], catalog, workers=1)
    catalog.create_dataset("demo")
    catalog.add_to_dataset("demo", Selection(query="*"))
    catalog.create_dataset("labelled")
    uids = [u for pair in (seg_series(catalog), rtstruct_series(catalog)) for u in pair]
    catalog.add_to_dataset("labelled", Selection(include=tuple(uids)))
    return catalog


@pytest.fixture
def demo_catalog(demo_root: Path, tmp_path: Path) -> Iterator[CatalogBackend]:
    """A fresh SQLite catalog holding the demo archive (datasets ``demo``, ``labelled``)."""
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        yield fill(catalog, demo_root)


@pytest.fixture(scope="module")
def shared_catalog(
    demo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogBackend]:
    """One catalog per module for tests that only read it (and export)."""
    path = tmp_path_factory.mktemp("export-catalog") / "catalog.sqlite"
    with open_catalog(f"sqlite:///{path}") as catalog:
        yield fill(catalog, demo_root)


def seg_series(catalog: CatalogBackend) -> tuple[str, str]:
    """(SEG series UID, the CT series it references)."""
    seg = catalog.series_uids("Modality:SEG")[0]
    document = catalog.series_document(seg)
    assert document is not None
    return seg, str(document["referenced_series"][0])


def rtstruct_series(catalog: CatalogBackend) -> tuple[str, str]:
    """(RTSTRUCT series UID, the CT series it references)."""
    rt = catalog.series_uids("Modality:RTSTRUCT")[0]
    document = catalog.series_document(rt)
    assert document is not None
    return rt, str(document["referenced_series"][0])
