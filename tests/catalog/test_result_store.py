"""The result store's contract (catalog/result_store.py) on the embedded catalog and PostgreSQL.

Bulk writes in one transaction, provenance, replacement with history, two
producers on one series, deletion, the audit log, skip-inputs, the search
index following result writes (in this process, through another catalog
object, and in another process), re-ingest keeping results, and the index's
counts and aggregations over result fields against the SQL path and the
reference evaluator.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend, open_catalog, result_feed
from radcurate.catalog.aggregations import AggregationRequest
from radcurate.catalog.base import IngestBatch, SeriesHeader
from radcurate.catalog.result_store import SQLResultStore
from radcurate.catalog.result_types import ResultError, ResultRow, params_hash
from radcurate.catalog.sql import SQLCatalog
from radcurate.dicom.instance import InstanceRecord
from radcurate.query import SearchRecord, matches, parse
from radcurate.query.reference import field_values

STUDY = "1.2.826.0.1.3680043.77"
MANY = 1_200  # more than two chunks of 500


def _uid(i: int) -> str:
    return f"{STUDY}.{i}"


def _import(catalog: CatalogBackend, count: int, start: int = 0) -> list[str]:
    """``count`` one-document series (CT/MR alternating), imported in one call."""
    docs = [
        {
            "SeriesInstanceUID": _uid(i),
            "StudyInstanceUID": f"{STUDY}.s{i // 3}",
            "PatientID": f"P{i // 6}",
            "Modality": "CT" if i % 2 == 0 else "MR",
            "SeriesNumber": i % 7,
        }
        for i in range(start, start + count)
    ]
    assert isinstance(catalog, SQLCatalog)
    catalog.import_series(docs)
    return [d["SeriesInstanceUID"] for d in docs]


def _store(catalog: CatalogBackend) -> SQLResultStore:
    assert isinstance(catalog, SQLCatalog)
    return catalog.result_store


def _bulk_rows(uids: list[str], tag: str = "h1") -> list[ResultRow]:
    return [
        ResultRow(
            uid,
            {
                "ai": {"bodypart": ["chest"] if n % 3 else ["chest", "abdomen"], "score": n % 10},
                "qc": {"missing_slices": n % 4 == 0},
            },
            input_hash=f"{tag}-{n}",
        )
        for n, uid in enumerate(uids)
    ]


def _table_count(catalog: CatalogBackend, table: str) -> int:
    assert isinstance(catalog, SQLCatalog)
    return int(catalog._read(f"SELECT COUNT(*) FROM {table}")[0][0])


# -- writing --------------------------------------------------------------------------------
def test_bulk_write_spans_chunks_in_one_transaction(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, MANY)
        store = _store(catalog)
        assert catalog.count("has:ai.bodypart") == 0  # the index exists before the write
        summary = store.write_results(
            _bulk_rows(uids),
            producer="p",
            version="1.0",
            params={"k": 1},
            job="job-1",
            actor="alice",
        )
        assert (summary.written, summary.unchanged, summary.replaced) == (MANY, 0, 0)
        assert summary.unknown_series == ()
        assert _table_count(catalog, "result_sets") == MANY
        assert catalog.count("has:ai.bodypart") == MANY
        assert catalog.count("ai.bodypart:abdomen") == len(range(0, MANY, 3))
        assert catalog.count("qc.missing_slices:true") == len(range(0, MANY, 4))
        assert catalog.results(uids[7]) == {
            "ai": {"bodypart": ["chest"], "score": 7},
            "qc": {"missing_slices": False},
            "clin": {},
        }
        # one change number for the whole call: every row carries the same seq
        assert isinstance(catalog, SQLCatalog)
        assert catalog._read("SELECT COUNT(DISTINCT seq) FROM result_sets")[0][0] == 1
        assert len(catalog.audit_log(action="results.write")) == 1


def test_a_bad_row_anywhere_writes_nothing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, MANY)
        store = _store(catalog)
        store.write_results(_bulk_rows(uids), producer="p", version="1.0")
        before = catalog.results(uids[0])
        # a bad key in row 1,100 (checked before the transaction)
        rows = _bulk_rows(uids, "h2")
        rows[1_100] = ResultRow(uids[1_100], {"ai": {"Body Part": 1}})
        with pytest.raises(ResultError, match="lower_snake"):
            store.write_results(rows, producer="p", version="2.0")
        # a bad namespace
        rows[1_100] = ResultRow(uids[1_100], {"tags": {"x": 1}})
        with pytest.raises(ResultError, match="namespace"):
            store.write_results(rows, producer="p", version="2.0")
        # a value that only fails when encoded, inside the transaction, after two chunks were
        # written (NaN is not JSON): the transaction rolls back as a whole
        rows[1_100] = ResultRow(uids[1_100], {"ai": {"score": float("nan")}})
        with pytest.raises(ValueError):
            store.write_results(rows, producer="p", version="2.0")
        with pytest.raises(ResultError, match="expected ResultRow"):
            store.write_results([{"series_uid": uids[0]}], producer="p")  # type: ignore[list-item]
        with pytest.raises(ResultError, match="producer name"):
            store.write_results(_bulk_rows(uids[:1]), producer="bad name!")
        assert catalog.results(uids[0]) == before
        assert {s.provenance.version for s in store.result_sets(uids[0])} == {"1.0"}
        assert _table_count(catalog, "result_history") == 0
        assert len(catalog.audit_log(action="results.write")) == 1
        assert catalog.count("ai.score:7") == len([n for n in range(MANY) if n % 10 == 7])


def test_a_failure_mid_transaction_leaves_nothing_half_written(
    catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, MANY)
        store = _store(catalog)
        store.write_results(_bulk_rows(uids[:600]), producer="p", version="1.0")
        assert catalog.count("has:ai.bodypart") == 600
        calls = {"n": 0}
        real = store._current_sets

        def failing(cur: Any, chunk: Any, producer: str) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:  # two chunks (replacements and new sets) already written
                raise RuntimeError("disk full")
            return real(cur, chunk, producer)

        monkeypatch.setattr(store, "_current_sets", failing)
        with pytest.raises(RuntimeError, match="disk full"):
            store.write_results(_bulk_rows(uids, "h2"), producer="p", version="2.0")
        monkeypatch.undo()
        assert _table_count(catalog, "result_sets") == 600
        assert _table_count(catalog, "result_history") == 0
        assert {s.provenance.version for s in store.result_sets(uids[0])} == {"1.0"}
        assert store.result_sets(uids[700]) == []
        assert len(catalog.audit_log(action="results.write")) == 1
        assert catalog.count("has:ai.bodypart") == 600


# -- provenance, replacement, history ---------------------------------------------------------
def test_provenance_of_a_result_set(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        (uid,) = _import(catalog, 1)
        store = _store(catalog)
        params = {"k": 1, "model": {"name": "bp", "threshold": 0.5}}
        store.write_results(
            [ResultRow(uid, {"ai": {"bodypart": ["chest"]}}, input_hash="h1")],
            producer="bodypart",
            version="1.0",
            params=params,
            job="job-1",
            actor="alice",
        )
        (result_set,) = store.result_sets(uid)
        p = result_set.provenance
        assert (p.producer, p.version, p.params) == ("bodypart", "1.0", params)
        assert p.params_hash == params_hash(params) == params_hash(dict(reversed(params.items())))
        assert (p.job_id, p.input_hash, p.actor) == ("job-1", "h1", "alice")
        assert p.written_at > 1_600_000_000
        assert result_set.values == {"ai": {"bodypart": ["chest"]}}
        assert result_set.keys == ["ai.bodypart"]
        as_dict = json.loads(json.dumps(result_set.to_dict()))
        assert as_dict["producer"] == "bodypart" and as_dict["params"] == params
        assert as_dict["written_at"].endswith("+00:00")
        assert as_dict["values"] == {"ai": {"bodypart": ["chest"]}}
        assert "replaced_at" not in as_dict


def test_replacement_history_unchanged_and_unknown_series(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 3)
        store = _store(catalog)
        first = {"ai": {"bodypart": ["chest"], "old_key": 1}, "qc": {"noise_hu": 12.5}}
        store.write_results(
            [ResultRow(u, first, "h1") for u in uids], producer="p", version="1.0", job="j1"
        )
        assert catalog.count("has:ai.old_key") == 3
        audits = len(catalog.audit_log())
        second = {"ai": {"bodypart": ["abdomen"]}}
        summary = store.write_results(
            [ResultRow(uids[0], second, "h2"), ResultRow("9.9.9", second), ResultRow("9.9.8", {})],
            producer="p",
            version="1.1",
            job="j2",
        )
        assert (summary.written, summary.replaced, summary.unchanged) == (1, 1, 0)
        assert summary.unknown_series == ("9.9.8", "9.9.9")
        assert store.result_sets("9.9.9") == []
        # the key the producer no longer writes is gone; the others keep theirs
        assert catalog.results(uids[0]) == {"ai": {"bodypart": ["abdomen"]}, "qc": {}, "clin": {}}
        assert catalog.results(uids[1]) == {**first, "clin": {}}
        assert catalog.count("has:ai.old_key") == 2
        assert catalog.count("has:qc.noise_hu") == 2
        assert catalog.count("ai.bodypart:abdomen") == 1
        (old,) = store.result_history(uids[0])
        assert old.values == first and old.provenance.version == "1.0"
        assert old.provenance.job_id == "j1" and old.replaced_at is not None
        assert json.loads(json.dumps(old.to_dict()))["replaced_at"]
        # a third write: history newest first
        store.write_results(
            [ResultRow(uids[0], {"ai": {"bodypart": ["head"]}}, "h3")], producer="p", version="1.2"
        )
        assert [h.provenance.version for h in store.result_history(uids[0])] == ["1.1", "1.0"]
        assert store.result_history(uids[0], producer="other") == []
        # an identical re-write: unchanged, no history row, no audit entry, no change number
        assert isinstance(catalog, SQLCatalog)
        index = catalog.search_index()
        assert index is not None
        seqs = catalog._read("SELECT series_uid, seq FROM result_sets ORDER BY series_uid")
        audits = len(catalog.audit_log())
        again = store.write_results(
            [ResultRow(u, first, "h1") for u in uids[1:]], producer="p", version="1.0", job="j1"
        )
        assert (again.written, again.unchanged, again.replaced) == (0, 2, 0)
        assert len(store.result_history(uids[1])) == 0
        assert len(catalog.audit_log()) == audits
        assert catalog._read("SELECT series_uid, seq FROM result_sets ORDER BY series_uid") == seqs
        assert index.refresh(catalog) == 0  # the index has nothing to read again
        # the same values with another version, parameters or input are a new write
        same = [ResultRow(uids[1], first, "h1")]
        assert store.write_results(same, producer="p", version="1.0b", job="j1").written == 1
        assert (
            store.write_results(
                same, producer="p", version="1.0b", params={"k": 2}, job="j1"
            ).written
            == 1
        )
        assert (
            store.write_results(
                [ResultRow(uids[1], first, "h9")],
                producer="p",
                version="1.0b",
                params={"k": 2},
                job="j1",
            ).written
            == 1
        )
        assert [h.provenance.version for h in store.result_history(uids[1])] == [
            "1.0b",
            "1.0b",
            "1.0",
        ]


def test_two_producers_merge_and_a_key_moves_to_its_last_writer(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 2)
        store = _store(catalog)
        assert catalog.count("ai.bodypart:chest") == 0
        store.write_results(
            [ResultRow(u, {"ai": {"bodypart": "chest", "a_only": 1}}) for u in uids],
            producer="A",
        )
        store.write_results(
            [ResultRow(uids[0], {"ai": {"volume": 3.5}, "qc": {"noise_hu": 20}})], producer="B"
        )
        assert catalog.results(uids[0]) == {
            "ai": {"bodypart": "chest", "a_only": 1, "volume": 3.5},
            "qc": {"noise_hu": 20},
            "clin": {},
        }
        # B writes ai.bodypart: it leaves A's set (A keeps its other keys)
        store.write_results(
            [ResultRow(uids[0], {"ai": {"volume": 3.5, "bodypart": "abdomen"}})], producer="B"
        )
        sets = {s.provenance.producer: s.values for s in store.result_sets(uids[0])}
        assert sets == {
            "A": {"ai": {"a_only": 1}},
            "B": {"ai": {"volume": 3.5, "bodypart": "abdomen"}},
        }
        assert catalog.results(uids[0])["ai"] == {"a_only": 1, "volume": 3.5, "bodypart": "abdomen"}
        assert catalog.count("ai.bodypart:chest") == 1  # the index saw A's set shrink
        assert catalog.count("ai.bodypart:abdomen") == 1
        # deleting B's set does not bring A's old key back (it lives in A's history only)
        assert store.delete_results([uids[0]], "B") == 1
        assert catalog.results(uids[0])["ai"] == {"a_only": 1}
        assert catalog.count("has:ai.bodypart") == 1
        assert catalog.count("has:ai.a_only") == 2


def test_delete_results_moves_sets_to_history(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 10)
        store = _store(catalog)
        store.write_results(
            [ResultRow(u, {"ai": {"x": i}}) for i, u in enumerate(uids)], producer="p"
        )
        store.write_results([ResultRow(uids[0], {"qc": {"y": True}})], producer="q")
        assert catalog.count("has:ai.x") == 10
        assert store.delete_results(uids[:3], "p", actor="bob") == 3
        assert store.delete_results(uids[:3], "p") == 0  # nothing left to delete: no audit
        assert catalog.results(uids[0]) == {"ai": {}, "qc": {"y": True}, "clin": {}}
        assert catalog.results(uids[1]) == {"ai": {}, "qc": {}, "clin": {}}
        assert catalog.count("has:ai.x") == 7
        assert catalog.count("ai.x:1") == 0
        assert catalog.count("has:qc.y") == 1
        (gone,) = store.result_history(uids[1])
        assert gone.values == {"ai": {"x": 1}}
        # every series of a producer
        assert store.delete_results(None, "p") == 7
        assert catalog.count("has:ai.x") == 0
        assert _table_count(catalog, "result_history") == 10
        deletes = catalog.audit_log(action="results.delete")
        assert [(e.target, e.series_count) for e in deletes] == [("p", 7), ("p", 3)]
        assert deletes[1].actor == "bob"
        # written again after deletion: the index follows
        store.write_results([ResultRow(uids[1], {"ai": {"x": 5}})], producer="p")
        assert catalog.count("ai.x:5") == 1


def test_audit_entry_per_write_call(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, MANY)
        store = _store(catalog)
        store.write_results(
            _bulk_rows(uids),
            producer="p",
            version="1.0",
            params={"k": 1},
            job="job-1",
            actor="alice",
        )
        store.write_results(
            _bulk_rows(uids[:5], "h2"),
            producer="p",
            version="1.1",
            params={"k": 2},
            job="job-2",
            actor="bob",
        )
        entries = catalog.audit_log(action="results.write")
        assert len(entries) == 2
        newest, oldest = entries
        assert (oldest.target, oldest.series_count, oldest.actor) == ("p", MANY, "alice")
        assert oldest.detail["version"] == "1.0"
        assert oldest.detail["params_hash"] == params_hash({"k": 1})
        assert oldest.detail["job"] == "job-1"
        assert (newest.series_count, newest.actor, newest.detail["replaced"]) == (5, "bob", 5)
        assert newest.detail["job"] == "job-2" and newest.detail["version"] == "1.1"
        assert catalog.audit_log(action="results.write", target="nobody") == []


def test_stored_inputs_and_job_series(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, MANY)
        store = _store(catalog)
        store.write_results(
            _bulk_rows(uids[:700]), producer="p", version="1.0", params={"k": 1}, job="job-1"
        )
        store.write_results(
            _bulk_rows(uids[700:], "x"), producer="p", version="1.0", params={"k": 1}, job="job-2"
        )
        store.write_results([ResultRow(uids[0], {"ai": {"other": 1}})], producer="q", job="job-3")
        stored = store.stored_inputs(uids, "p")
        assert len(stored) == MANY
        assert stored[uids[3]].input_hash == "h1-3"
        assert stored[uids[3]].version == "1.0"
        assert stored[uids[3]].params_hash == params_hash({"k": 1})
        assert stored[uids[800]].input_hash == "x-100"
        assert store.stored_inputs(uids, "q").keys() == {uids[0]}
        assert store.stored_inputs([], "p") == {}
        assert store.stored_inputs(["9.9"], "p") == {}
        assert store.job_series("job-1") == sorted(uids[:700])
        assert store.job_series("job-2") == sorted(uids[700:])
        assert store.job_series("job-3") == [uids[0]]
        assert store.job_series("nope") == []
        # a set rewritten by another job belongs to that job now
        store.write_results(_bulk_rows(uids[:2], "y"), producer="p", version="1.0", job="job-2")
        assert store.job_series("job-1") == sorted(uids[2:700])
        assert len(store.job_series("job-2")) == MANY - 700 + 2


# -- the index follows result writes -----------------------------------------------------------
def test_another_catalog_object_sees_result_writes(catalog_url: str) -> None:
    with open_catalog(catalog_url) as reader, open_catalog(catalog_url) as writer:
        uids = _import(writer, 20)
        assert reader.count("ai.bodypart:chest") == 0  # builds the reader's index
        assert isinstance(reader, SQLCatalog) and reader.search_index() is not None
        _store(writer).write_results(
            [ResultRow(u, {"ai": {"bodypart": ["chest"]}}) for u in uids[:5]], producer="p"
        )
        assert reader.count("ai.bodypart:chest") == 5
        agg = reader.aggregate("*", [AggregationRequest("ai.bodypart")]).aggregations[0]
        assert [(b.key, b.count) for b in agg.buckets] == [("chest", 5)] and agg.missing == 15
        _store(writer).write_results(
            [ResultRow(u, {"ai": {"bodypart": ["head"]}}) for u in uids[:2]], producer="p"
        )
        assert reader.count("ai.bodypart:chest") == 3
        _store(writer).delete_results(uids[2:4], "p")
        assert reader.count("ai.bodypart:chest") == 1
        assert reader.count("has:ai.bodypart") == 3


def _index_child(url: str, conn: Any) -> None:
    """Open the catalog, build its index, then answer counts asked over the pipe."""
    with open_catalog(url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        conn.send(("built", catalog.count("ai.bodypart:chest")))
        while True:
            query = conn.recv()
            if query is None:
                break
            conn.send((query, catalog.count(query)))


def test_another_process_index_sees_result_writes_without_restart(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 50)
        store = _store(catalog)
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=_index_child, args=(catalog_url, child))
        process.start()
        try:
            assert parent.poll(120), "the child did not build its index"
            assert parent.recv() == ("built", 0)
            store.write_results(
                [ResultRow(u, {"ai": {"bodypart": ["chest"]}}) for u in uids[:30]], producer="p"
            )
            parent.send("ai.bodypart:chest")
            assert parent.recv() == ("ai.bodypart:chest", 30)
            store.write_results(
                [ResultRow(u, {"ai": {"bodypart": ["head"]}}) for u in uids[:10]], producer="p"
            )
            store.delete_results(uids[10:15], "p")
            parent.send("ai.bodypart:chest")
            assert parent.recv() == ("ai.bodypart:chest", 15)
            parent.send("has:ai.bodypart")
            assert parent.recv() == ("has:ai.bodypart", 25)
            parent.send(None)
            process.join(60)
            assert process.exitcode == 0
        finally:
            if process.is_alive():
                process.kill()


# -- re-ingest ----------------------------------------------------------------------------------
def _write_header(catalog: CatalogBackend, uid: str, location: str, **fields: Any) -> None:
    document = {"SeriesInstanceUID": uid, "StudyInstanceUID": STUDY, "Modality": "CT", **fields}
    catalog.write_batch(
        IngestBatch(
            instances=[
                InstanceRecord(
                    location=location,
                    source=location,
                    size=1,
                    mtime_ns=1,
                    study_uid=STUDY,
                    series_uid=uid,
                    sop_uid=f"{uid}.{len(location)}",
                    modality="CT",
                )
            ],
            headers=[SeriesHeader(uid, STUDY, "P1", "CT", location, document, {})],
        )
    )


def test_header_rewrite_keeps_results_in_the_store_and_the_index(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uid = _uid(1)
        _write_header(catalog, uid, "/b/0002.dcm", SeriesDescription="first")
        catalog.finalize_series([uid])
        store = _store(catalog)
        store.write_results(
            [ResultRow(uid, {"ai": {"bodypart": ["chest"]}, "qc": {"noise_hu": 30}})],
            producer="p",
        )
        assert catalog.count("ai.bodypart:chest SeriesDescription:first") == 1
        # a better representative rewrites the DICOM part (series.seq moves on)
        _write_header(catalog, uid, "/b/0001.dcm", SeriesDescription="second")
        catalog.finalize_series([uid])
        assert catalog.count("SeriesDescription:second") == 1
        assert catalog.count("ai.bodypart:chest SeriesDescription:second") == 1
        assert catalog.count("qc.noise_hu:>20") == 1
        assert catalog.results(uid)["ai"] == {"bodypart": ["chest"]}
        with open_catalog(catalog_url) as fresh:  # a fresh index agrees
            assert fresh.count("ai.bodypart:chest SeriesDescription:second") == 1


def test_reingest_of_changed_files_keeps_producer_results(catalog_url: str, tmp_path: Path) -> None:
    import os

    import pydicom

    from radcurate.ingest import ingest
    from tests.data import shipped_dicom_roots

    folder = tmp_path / "in"
    shutil.copytree(shipped_dicom_roots()[0] / "test_files" / "dicomdirtests" / "77654033", folder)
    with open_catalog(catalog_url) as catalog:
        ingest([folder], catalog, workers=1)
        uid = next(catalog.iter_series_documents())["SeriesInstanceUID"]
        store = _store(catalog)
        store.write_results(
            [ResultRow(uid, {"ai": {"bodypart": ["head"]}}, "h1")],
            producer="p",
            version="1.0",
            job="j",
        )
        assert catalog.count("ai.bodypart:head") == 1
        first = min(r.source for r in catalog.instances(uid))
        ds = pydicom.dcmread(first)
        ds.SeriesDescription = "renamed at the scanner"
        ds.save_as(first)
        os.utime(first, ns=(1, 2))
        assert ingest([folder], catalog, workers=1).changed_instances == 1
        assert catalog.count('ai.bodypart:head SeriesDescription:"renamed at the scanner"') == 1
        (kept,) = [s for s in store.result_sets(uid) if s.provenance.producer == "p"]
        assert kept.values == {"ai": {"bodypart": ["head"]}}
        assert (kept.provenance.input_hash, kept.provenance.job_id) == ("h1", "j")


# -- index equality: result fields through the index, in SQL and in the reference ------------
def _corpus_results(rng: random.Random, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two producers' payloads: strings, lists, numbers, booleans, nested dicts, lists of
    dicts; some keys in both (the later writer takes them)."""
    a: dict[str, Any] = {"ai": {}, "qc": {}, "clin": {}}
    b: dict[str, Any] = {"ai": {}, "qc": {}}
    if rng.random() < 0.8:
        a["ai"]["bodypart"] = rng.sample(
            ["chest", "abdomen", "pelvis", "Head", "neck"], rng.randint(1, 3)
        )
    if rng.random() < 0.6:
        a["ai"]["bodypart_mismatch"] = rng.random() < 0.3
    if rng.random() < 0.6:
        a["ai"]["volume_ml"] = {
            "lung": round(rng.uniform(2000, 7000), 1),
            "liver": rng.randint(900, 2200),
        }
    if rng.random() < 0.5:
        a["ai"]["structures"] = [
            {
                "name": rng.choice(["liver", "spleen", "Kidney_L", "lung"]),
                "volume": rng.choice([120, 450.5, 1500]),
                "flags": {"partial": rng.random() < 0.5},
            }
            for _ in range(rng.randint(1, 3))
        ]
    if rng.random() < 0.3:
        a["ai"]["label"] = rng.choice(["Nodule", "nodule", "ÉPAULE", "épaule", "50%"])
    if rng.random() < 0.7:
        a["qc"]["noise_hu"] = round(rng.uniform(5, 45), 2)
    if rng.random() < 0.5:
        a["qc"]["dciodvfy_errors"] = rng.choice([0, 0, 1, 3, 12])
    if rng.random() < 0.5:
        a["clin"]["trial"] = {"arm": rng.choice(["A", "B", "placebo"]), "age": rng.randint(30, 85)}
    if rng.random() < 0.4:
        b["ai"]["bodypart"] = rng.choice(["chest", "CHEST", "legs"])  # takes A's key
    if rng.random() < 0.5:
        b["qc"]["missing_slices"] = rng.random() < 0.5
    if rng.random() < 0.3:
        b["qc"]["regular_volume"] = rng.choice([True, False, None])
    if rng.random() < 0.2:
        b["ai"]["mixed"] = rng.choice([1, "1", True, [1, "a", None], [[2, 3], ["deep"]]])
    if i % 17 == 0:
        b["ai"]["empty"] = rng.choice([[], {}, ""])
    return {k: v for k, v in a.items() if v}, {k: v for k, v in b.items() if v}


EQUALITY_QUERIES = [
    "*",
    "has:ai.bodypart",
    "missing:ai.bodypart",
    "ai.bodypart:chest",
    "ai.bodypart:CHEST",
    "ai.bodypart:(chest OR pelvis)",
    "ai.bodypart:ch*",
    "NOT ai.bodypart:chest",
    "ai.bodypart_mismatch:true",
    "ai.bodypart_mismatch:false",
    "ai.volume_ml.lung:>4000",
    "ai.volume_ml.liver:[1000 TO 1500]",
    "has:ai.volume_ml",
    "ai.structures.name:liver",
    "ai.structures.volume:>=450",
    "ai.structures.flags.partial:true",
    "has:ai.structures",
    "ai.label:nodule",
    "ai.label:épaule",
    "ai.label:50%",
    "qc.noise_hu:>20",
    "qc.noise_hu:<=10.5",
    "qc.dciodvfy_errors:0",
    "qc.dciodvfy_errors:>1",
    "qc.missing_slices:true",
    "has:qc.regular_volume",
    "qc.regular_volume:false",
    "clin.trial.arm:A",
    "clin.trial.age:>=60",
    "has:clin.trial",
    "ai.mixed:1",
    "ai.mixed:a",
    "has:ai.empty",
    "ai.nothing_has_this:x",
    "has:qc.never",
    "Modality:CT ai.bodypart:chest qc.noise_hu:>20",
    "Modality:MR OR qc.missing_slices:true",
    "liver",
    "nodule",
    "kidney*",
]
AGG_FIELDS = [
    "ai.bodypart",
    "ai.bodypart_mismatch",
    "ai.volume_ml.lung",
    "ai.structures.name",
    "ai.structures.flags.partial",
    "ai.label",
    "qc.noise_hu",
    "qc.missing_slices",
    "qc.dciodvfy_errors",
    "clin.trial.arm",
    "ai.mixed",
    "ai.volume_ml",
    "Modality",
]
HISTOGRAM_FIELDS = ["ai.volume_ml.lung", "qc.noise_hu", "clin.trial.age", "ai.structures.volume"]


def _records(catalog: CatalogBackend, uids: list[str]) -> list[SearchRecord]:
    out = []
    for uid in uids:
        document = catalog.series_document(uid)
        assert document is not None
        results = catalog.results(uid)
        out.append(SearchRecord(document, ai=results["ai"], qc=results["qc"], clin=results["clin"]))
    return out


def _typed(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value.lower())
    return None


def _oracle_terms(records: list[SearchRecord], field: str) -> tuple[Counter[Any], int]:
    counts: Counter[Any] = Counter()
    missing = 0
    for record in records:
        values = field_values(record, field)
        if not values:
            missing += 1
        counts.update({k for k in map(_typed, values) if k is not None})
    return counts, missing


def _spelling_free(result: dict[str, Any]) -> dict[str, Any]:
    """An aggregation result with string keys lowercased: a string value's shown spelling is its
    most common one, and a tie goes to the spelling the index met first, which differs between
    an index that followed the writes and one built afresh (aggregate.value_counts)."""
    for agg in result["aggregations"]:
        for bucket in agg["buckets"]:
            if isinstance(bucket["key"], str):
                bucket["key"] = bucket["key"].lower()
    return result


def _check_equal(catalog: CatalogBackend, uids: list[str]) -> None:
    """Index counts == SQL counts == the reference's; aggregations of the index that followed
    the writes == those of a freshly built index == the reference's terms."""
    assert isinstance(catalog, SQLCatalog)
    records = _records(catalog, uids)
    for query in EQUALITY_QUERIES:
        tree = parse(query)
        want = sum(1 for r in records if matches(tree, r))
        catalog.use_search_index = True
        indexed = catalog.count(query)
        catalog.use_search_index = False
        in_sql = catalog.count(query)
        assert (indexed, in_sql) == (want, want), query
    requests = [AggregationRequest(f, "terms", size=1000) for f in AGG_FIELDS]
    requests += [AggregationRequest(f, "histogram", bins=7) for f in HISTOGRAM_FIELDS]
    for query in ("*", "Modality:CT", "ai.bodypart:chest"):
        catalog.use_search_index = True
        followed = catalog.aggregate(query, requests)
        catalog.use_search_index = False  # a private index built from scratch for the call
        fresh = catalog.aggregate(query, requests)
        assert _spelling_free(followed.to_dict()) == _spelling_free(fresh.to_dict()), query
        tree = parse(query)
        scope = [r for r in records if matches(tree, r)]
        assert followed.counts.series == len(scope)
        for agg in followed.aggregations[: len(AGG_FIELDS)]:
            counts, missing = _oracle_terms(scope, agg.field)
            assert {_typed(b.key): b.count for b in agg.buckets} == dict(counts), agg.field
            assert (agg.missing, agg.other) == (missing, 0), agg.field
    catalog.use_search_index = True


def test_index_answers_result_fields_like_sql_and_the_reference(catalog_url: str) -> None:
    rng = random.Random(4242)
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 160)
        assert catalog.count("*") == 160  # the index is built before any result exists
        store = _store(catalog)
        payloads = [_corpus_results(rng, i) for i in range(len(uids))]
        store.write_results(
            [ResultRow(u, p[0]) for u, p in zip(uids, payloads, strict=True)],
            producer="A",
            version="1",
        )
        store.write_results(
            [ResultRow(u, p[1]) for u, p in zip(uids, payloads, strict=True) if p[1]], producer="B"
        )
        _check_equal(catalog, uids)
        # replace a third of A's sets, delete some of B's, write more series: still equal
        again = [_corpus_results(rng, i)[0] for i in range(0, len(uids), 3)]
        store.write_results(
            [ResultRow(u, p) for u, p in zip(uids[::3], again, strict=True)],
            producer="A",
            version="2",
        )
        store.delete_results(uids[1::4], "B")
        more = _import(catalog, 20, start=1000)
        store.write_results(
            [ResultRow(u, _corpus_results(rng, 1)[0]) for u in more[:10]], producer="A"
        )
        _check_equal(catalog, uids + more)


# -- concurrent writers ---------------------------------------------------------------------------
WRITES = 12


def _write_versions(url: str, who: str, uids: list[str]) -> None:
    with open_catalog(url) as catalog:
        store = _store(catalog)
        for n in range(WRITES):
            version = f"{who}-{n}"
            store.write_results(
                [ResultRow(u, {"ai": {"v": version}}) for u in uids], producer="p", version=version
            )


def test_concurrent_writers_of_one_producer_lose_no_history(catalog_url: str) -> None:
    """Every replaced set reaches the history when two processes replace the same sets at
    once (PostgreSQL's READ COMMITTED lets both read the same current set unless it is
    locked: the slower writer then overwrote it without keeping the other's in history)."""
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 40)
        context = multiprocessing.get_context("spawn")
        procs = [
            context.Process(target=_write_versions, args=(catalog_url, who, uids))
            for who in ("x", "y")
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(120)
            assert proc.exitcode == 0
        store = _store(catalog)
        every = sorted(f"{who}-{n}" for who in ("x", "y") for n in range(WRITES))
        for uid in uids:
            (current,) = store.result_sets(uid)
            history = store.result_history(uid)
            seen = sorted([current.provenance.version] + [h.provenance.version for h in history])
            assert seen == every, uid
            assert current.values == {"ai": {"v": current.provenance.version}}
        assert len(catalog.audit_log(action="results.write", limit=1000)) == 2 * WRITES


def _write_producer(url: str, producer: str, uids: list[str]) -> None:
    with open_catalog(url) as catalog:
        store = _store(catalog)
        for n in range(WRITES):
            values = {"ai": {"shared": f"{producer}-{n}", f"own_{producer.lower()}": n}}
            store.write_results(
                [ResultRow(u, values) for u in uids], producer=producer, version=str(n)
            )


def test_concurrent_producers_taking_keys_keep_each_others_values(catalog_url: str) -> None:
    """Two producers writing a shared key at once: each set keeps its own latest values and
    the shared key lives in exactly one set (without locking, a writer taking the key from a
    stale copy of the other's set wrote that stale copy back over its newer values)."""
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 40)
        context = multiprocessing.get_context("spawn")
        procs = [
            context.Process(target=_write_producer, args=(catalog_url, producer, uids))
            for producer in ("A", "B")
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(120)
            assert proc.exitcode == 0
        store = _store(catalog)
        for uid in uids:
            sets = {s.provenance.producer: s for s in store.result_sets(uid)}
            assert set(sets) == {"A", "B"}
            for producer, result_set in sets.items():
                own = result_set.values["ai"][f"own_{producer.lower()}"]
                assert own == int(result_set.provenance.version) == WRITES - 1, uid
            holders = [p for p, s in sets.items() if "shared" in s.values["ai"]]
            assert len(holders) == 1, uid
            assert catalog.results(uid)["ai"]["shared"] == f"{holders[0]}-{WRITES - 1}"


def test_changed_results_scan_pages_agree_with_the_in_lists(catalog_url: str) -> None:
    """The ordered scan a refresh uses when most results changed (over 50,000 series) gives
    the same merged results as the IN-list path, across page ends and for deleted sets."""
    with open_catalog(catalog_url) as catalog:
        uids = _import(catalog, 30)
        store = _store(catalog)
        store.write_results([ResultRow(u, {"ai": {"n": i}}) for i, u in enumerate(uids)],
                            producer="A")  # fmt: skip
        store.write_results([ResultRow(u, {"qc": {"m": True}}) for u in uids[::2]], producer="B")
        store.write_results([ResultRow(u, {"clin": {"c": "x"}}) for u in uids[::3]], producer="C")
        store.delete_results(uids[5:9], "A")
        store.delete_results(uids[5:9], "B")
        store.delete_results(uids[5:9], "C")
        want = {uid: results for page in store.changed_results(0) for uid, results in page}
        assert set(want) == set(uids)
        assert all(want[u] == {} for u in uids[5:9])
        for page_size in (1, 2, 3, 7, 100):
            pages = list(result_feed._scan_pages(store._db, set(uids), page_size))
            got = [pair for page in pages for pair in page]
            assert dict(got) == want, page_size
            assert len(got) == len(uids), page_size
