"""The in-memory search index follows the catalog: other processes' writes, deletions,
concurrent PostgreSQL transactions, and snapshots on disk (both backends)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.index import snapshot
from radcurate.catalog.sql import SQLCatalog


def _docs(start: int, count: int, modality: str = "CT") -> list[dict[str, Any]]:
    return [
        {
            "SeriesInstanceUID": f"1.2.3.{i}",
            "StudyInstanceUID": f"1.2.9.{i // 3}",
            "PatientID": f"P{i // 6}",
            "Modality": modality,
            "SeriesDescription": f"series {i} lung" if i % 2 else f"series {i}",
            "instance_count": i % 7,
        }
        for i in range(start, start + count)
    ]


def _import(url: str, start: int, count: int, modality: str) -> None:
    with open_catalog(url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_docs(start, count, modality))


def test_sees_other_processes_writes_and_deletions(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        assert catalog.import_series(_docs(0, 30)) == 30
        assert catalog.import_series(_docs(0, 30)) == 0  # twice changes nothing
        assert catalog.count("Modality:CT") == 30
        index = catalog.search_index()
        assert index is not None and len(index) == 30
        process = multiprocessing.get_context("spawn").Process(
            target=_import, args=(catalog_url, 30, 12, "MR")
        )
        process.start()
        process.join(60)
        assert process.exitcode == 0
        assert catalog.counts("*").series == 42
        assert catalog.count("Modality:MR lung") == 6
        # a series whose last instance row goes away is deleted: the index drops it
        with catalog._transaction() as cur:
            cur.execute(
                catalog._sql("UPDATE series SET dirty = 1 WHERE series_uid = ?"), ("1.2.3.1",)
            )
        catalog.finalize_series(["1.2.3.1"])  # no instance rows: the series is removed
        assert catalog.count("SeriesInstanceUID:1.2.3.1") == 0
        assert "1.2.3.1" not in catalog.series_uids("*")
        assert catalog.counts("*").series == 41


def test_postgres_transaction_committing_late_is_not_skipped(fresh_pg_url: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    with open_catalog(fresh_pg_url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_docs(0, 4))
        assert catalog.count("Modality:CT") == 4
        dsn = "postgresql://" + fresh_pg_url.split("://", 1)[1]
        slow = psycopg.connect(dsn)  # starts first, commits last: the lower transaction id
        fast = psycopg.connect(dsn, autocommit=True)
        try:
            update = (
                "UPDATE series SET search_doc = %s, seq = pg_current_xact_id()::text::bigint "
                "WHERE series_uid = %s"
            )
            mr = json.dumps({"Modality": "MR"})
            slow.execute(update, (mr, "1.2.3.0"))
            fast.execute(update, (mr, "1.2.3.1"))
            assert catalog.count("Modality:MR") == 1  # the fast one; the slow one is invisible
            slow.commit()
            assert catalog.count("Modality:MR") == 2  # not skipped for its older id
        finally:
            slow.close()
            fast.close()


def test_snapshot_round_trip_and_rejects(
    catalog_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "MIN_ROWS", 1)
    directory = tmp_path / "index"
    with open_catalog(catalog_url, index_dir=directory) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_docs(0, 20))
        assert catalog.count("lung") == 10  # builds the index and saves it
    files = list(directory.glob("series-*.pickle"))
    assert len(files) == 1
    # another writer adds series while no index is open: the snapshot is loaded, then caught up
    _import(catalog_url, 20, 5, "MR")
    with open_catalog(catalog_url, index_dir=directory) as catalog:
        assert isinstance(catalog, SQLCatalog)
        assert catalog.count("Modality:MR") == 5
        loaded = catalog.search_index()
        assert loaded is not None and len(loaded) == 25
        assert catalog.count("lung") == 12
    # a damaged snapshot is ignored and rebuilt
    files[0].write_bytes(b"not a pickle")
    with open_catalog(catalog_url, index_dir=directory) as catalog:
        assert catalog.count("*") == 25
    # another catalog never reads this one's snapshot
    assert snapshot.load(directory, "some other catalog") is None


def _with_scan_options(start: int, count: int, option: str) -> list[dict[str, Any]]:
    docs = _docs(start, count)
    for doc in docs:
        doc["ScanOptions"] = option  # not an indexed field: its column is made on demand
        doc["ReferencedImageSequence"] = [{"ReferencedSOPClassUID": f"1.2.{option}"}]
    return docs


def test_fields_outside_the_index_get_columns_on_demand_kept_fresh(catalog_url: str) -> None:
    from radcurate.catalog.aggregations import AggregationRequest
    from radcurate.catalog.projection import INDEXED_FIELDS

    assert "ScanOptions" not in INDEXED_FIELDS
    with open_catalog(catalog_url) as catalog, open_catalog(catalog_url) as writer:
        assert isinstance(catalog, SQLCatalog) and isinstance(writer, SQLCatalog)
        catalog.import_series(_with_scan_options(0, 20, "HELICAL"))
        assert catalog.count("ScanOptions:helical") == 20
        assert catalog.count("ReferencedImageSequence.ReferencedSOPClassUID:1.2.HELICAL") == 20
        index = catalog.search_index()
        assert index is not None
        assert {"ScanOptions", "ReferencedImageSequence.ReferencedSOPClassUID"} <= set(
            index.demand_fields
        )
        # another catalog object (as another process's re-ingest would) rewrites 5 headers
        with writer._transaction() as cur:
            seq = writer._change_seq(cur)
            for doc in _with_scan_options(0, 5, "AXIAL"):
                cur.execute(
                    writer._sql("UPDATE series SET header = ?, seq = ? WHERE series_uid = ?"),
                    (json.dumps(doc), seq, doc["SeriesInstanceUID"]),
                )
        assert catalog.count("ScanOptions:AXIAL") == 5
        assert catalog.count("ScanOptions:HELICAL") == 15
        assert catalog.count("ReferencedImageSequence.ReferencedSOPClassUID:1.2.AXIAL") == 5
        facet = catalog.aggregate("*", [AggregationRequest("ScanOptions")]).aggregations[0]
        assert {b.key: b.count for b in facet.buckets} == {"HELICAL": 15, "AXIAL": 5}
        catalog.use_search_index = False  # the SQL path agrees
        assert catalog.count("ScanOptions:AXIAL") == 5


def test_a_column_loaded_on_demand_is_kept_in_the_snapshot_written_at_close(
    catalog_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "MIN_ROWS", 1)
    directory = tmp_path / "index"
    with open_catalog(catalog_url, index_dir=directory) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_with_scan_options(0, 6, "HELICAL"))
        assert catalog.count("*") == 6  # built and saved, without the column
        assert catalog.count("ScanOptions:helical") == 6  # read now: saved again at close
    with open_catalog(catalog_url, index_dir=directory) as catalog:
        assert isinstance(catalog, SQLCatalog)
        index = catalog.search_index()
        assert index is not None and "ScanOptions" in index.demand_fields
        catalog.top_level_values = None  # type: ignore[assignment,method-assign]  # not read again
        assert catalog.count("ScanOptions:helical") == 6


def test_tag_and_dataset_membership_columns_follow_curation(catalog_url: str) -> None:
    from radcurate.catalog.curation_types import Selection

    with open_catalog(catalog_url) as catalog, open_catalog(catalog_url) as writer:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_docs(0, 12))
        assert catalog.count("tag:keep") == 0
        index = catalog.search_index()
        assert index is not None and set(index.membership) == {"tag", "dataset", "project"}
        writer.tag_series("Keep", Selection.of(include=["1.2.3.1", "1.2.3.2"]))
        writer.create_dataset("train")
        writer.add_to_dataset("train", Selection.of("Modality:CT", exclude=["1.2.3.1"]))
        assert catalog.count("tag:keep") == 2  # seen without a restart
        assert catalog.count("dataset:train -tag:keep") == 10
        assert catalog.count("kee") == 2  # free text finds tag names too
        writer.untag_series("Keep", Selection.of(include=["1.2.3.2"]))
        assert catalog.count("tag:keep") == 1
        writer.delete_tag("Keep")
        assert catalog.count("tag:keep") == 0
