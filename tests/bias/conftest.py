"""A small catalog with a planted shortcut: a clinical diagnosis that goes with one site's scanner.

Three sites, each with its own scanner (Manufacturer, model, kernel). The
``clin.trial.dx`` column (written as a clinical table's results) is "cancer"
for 95% of site A's series and 5% of the others'; ``clin.trial.score`` is one
higher at site A. ``ai.coin`` and ``ai.noise`` are random (no association).
KVP and SliceThickness are random too; PatientSex is missing on some series.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.result_types import ResultRow
from radcurate.catalog.sql import SQLCatalog

SITES = {
    "A": ("SIEMENS", "SOMATOM Definition", "B30f"),
    "B": ("GE MEDICAL SYSTEMS", "LightSpeed VCT", "STANDARD"),
    "C": ("Philips", "iCT 256", "B"),
}
THICKNESS = [0.5, 0.625, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0]
SERIES = 1500


def documents(count: int = SERIES, seed: int = 7) -> list[dict[str, Any]]:
    """The series documents (seeded)."""
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        site = "ABC"[i % 3]
        maker, model, kernel = SITES[site]
        doc: dict[str, Any] = {
            "SeriesInstanceUID": f"1.2.826.0.1.3680043.99.{i}",
            "StudyInstanceUID": f"1.2.826.0.1.3680043.99.s{i // 2}",
            "PatientID": f"P{i // 6}",
            "Modality": "CT",
            "InstitutionName": f"Site {site}",
            "Manufacturer": maker if i % 5 else maker.lower(),  # spellings group together
            "ManufacturerModelName": model,
            "ConvolutionKernel": kernel,
            "KVP": rng.choice([100, 120, 140]),
            "SliceThickness": rng.choice(THICKNESS),
            "age_years": round(rng.uniform(18, 90), 1),
            "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"] if i % 4 else ["DERIVED", "SECONDARY"],
        }
        if i % 7:
            doc["PatientSex"] = rng.choice(["M", "F"])
        docs.append(doc)
    return docs


def results(docs: list[dict[str, Any]], seed: int = 7) -> list[ResultRow]:
    """The clinical table and random AI results of every series."""
    rng = random.Random(seed + 1)
    rows = []
    for doc in docs:
        at_a = doc["InstitutionName"] == "Site A"
        dx = "cancer" if rng.random() < (0.95 if at_a else 0.05) else "normal"
        clin = {"trial": {"dx": dx, "score": rng.gauss(1.0 if at_a else 0.0, 1.0)}}
        ai = {"coin": rng.choice(["heads", "tails"]), "noise": rng.gauss(0.0, 1.0)}
        rows.append(ResultRow(doc["SeriesInstanceUID"], {"clin": clin, "ai": ai}, input_hash="t"))
    return rows


def fill(catalog: CatalogBackend, count: int = SERIES) -> list[dict[str, Any]]:
    """Import the documents and write their results; returns the documents."""
    assert isinstance(catalog, SQLCatalog)
    docs = documents(count)
    catalog.import_series(docs)
    catalog.result_store.write_results(results(docs), producer="clinical-import")
    return docs


@pytest.fixture
def planted(tmp_path: Any) -> Iterator[CatalogBackend]:
    """The planted catalog (embedded engine)."""
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
        fill(catalog)
        yield catalog
