"""QIDO candidates found through the catalog's indexed columns, a page of look-ups at a time."""

from __future__ import annotations

import itertools

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.dicomweb import qido
from radcurate.ingest.pipeline import finalize_dirty
from tests.series_rows import one_instance_series

MODALITIES = ["CT", "MR", "SEG"]


def _fill(catalog: CatalogBackend) -> list[dict[str, str]]:
    """Two patients, 4 studies, 23 series of rotating modalities."""
    rows = [
        {
            "PatientID": f"P{n % 2}",
            "StudyInstanceUID": f"1.9.{n % 4}",
            "SeriesInstanceUID": f"1.9.{n % 4}.{n}",
            "Modality": MODALITIES[n % 3],
        }
        for n in range(23)
    ]
    catalog.write_batch(one_instance_series(rows))
    finalize_dirty(catalog)
    return rows


QUERIES = [
    {"PatientID": "P1"},
    {"PatientID": "P0", "Modality": "MR"},
    {"PatientID": "P0\\P1", "StudyInstanceUID": "1.9.2"},
    {"StudyInstanceUID": "1.9.1\\1.9.3", "Modality": "CT\\SEG"},
    {"SeriesInstanceUID": "1.9.3.7", "PatientID": "P1"},
    {"SeriesInstanceUID": "1.9.3.7", "PatientID": "P0"},
]


@pytest.mark.parametrize("page_size", [1, 2, 500])
def test_pinned_queries_page_through_every_match(catalog_url: str, page_size: int) -> None:
    with open_catalog(catalog_url) as catalog:
        rows = _fill(catalog)
        for params in QUERIES:
            query = qido.parse_query("series", list(params.items()))
            found = [
                d["SeriesInstanceUID"]
                for d in qido.candidate_documents(catalog, query, page_size=page_size)
            ]
            expected = sorted(
                row["SeriesInstanceUID"]
                for row in rows
                if all(row[k] in v.split("\\") for k, v in params.items())
            )
            assert found == expected, params


def test_study_list_counts_every_series_of_each_study(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        rows = _fill(catalog)
        answer = qido.search(catalog, qido.parse_query("study", [("PatientID", "P0")]), "http://x")
        by_study = {
            study: list(group)
            for study, group in itertools.groupby(
                sorted(rows, key=lambda r: r["StudyInstanceUID"]),
                key=lambda r: r["StudyInstanceUID"],
            )
        }
        seen = {}
        for item in answer.items:
            study = item["0020000D"]["Value"][0]
            seen[study] = (item["00201206"]["Value"][0], item["00080061"]["Value"])
        expected = {
            study: (len(group), sorted({r["Modality"] for r in group}))
            for study, group in by_study.items()
            if any(r["PatientID"] == "P0" for r in group)
        }
        assert seen == expected
