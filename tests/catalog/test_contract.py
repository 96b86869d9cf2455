"""The catalog contract: the same tests on the embedded catalog and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from radcurate.catalog import CatalogBackend, CatalogError, open_catalog
from radcurate.catalog.base import FileError, IngestBatch, SeriesHeader
from radcurate.catalog.schema import LATEST_VERSION
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicom.values import FieldType
from radcurate.ingest.pipeline import finalize_dirty

STUDY = "1.2.3"


def _record(
    series: str, n: int, *, z: float | None = None, folder: str = "/data"
) -> InstanceRecord:
    return InstanceRecord(
        location=f"{folder}/{series}/{n:04d}.dcm",
        source=f"{folder}/{series}/{n:04d}.dcm",
        size=1000 + n,
        mtime_ns=10**18 + n,
        study_uid=STUDY,
        series_uid=series,
        sop_uid=f"{series}.{n}",
        patient_id="P1",
        modality="CT",
        instance_number=n,
        position=(0.0, 0.0, float(n) * 2.5 if z is None else z),
        orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        attrs={"SliceThickness": 2.5, "KVP": 120 if n % 2 else 100},
    )


def _header(series: str, location: str, **fields: object) -> SeriesHeader:
    document = {"SeriesInstanceUID": series, "Modality": "CT", "PatientAge": "045Y", **fields}
    return SeriesHeader(
        series_uid=series,
        study_uid=STUDY,
        patient_id="P1",
        modality="CT",
        source_location=location,
        fields=document,
        types={k: FieldType.KEYWORD for k in document},
    )


def _ingest_series(catalog: CatalogBackend, series: str, count: int, **fields: object) -> None:
    records = [_record(series, n) for n in range(1, count + 1)]
    catalog.write_batch(
        IngestBatch(instances=records, headers=[_header(series, records[0].source, **fields)])
    )


def test_schema_is_migrated_once_and_reopen_is_harmless(catalog_url: str) -> None:
    with open_catalog(catalog_url) as first:
        assert first.schema_version() == LATEST_VERSION
    with open_catalog(catalog_url) as second:
        assert second.schema_version() == LATEST_VERSION
        assert second.info().series == 0


def test_batch_then_finalize_gives_series_facts(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        _ingest_series(catalog, "1.2.3.1", 5)
        assert catalog.dirty_series() == ["1.2.3.1"]
        assert finalize_dirty(catalog) == 1
        assert catalog.dirty_series() == []
        doc = catalog.series_document("1.2.3.1")
        assert doc is not None
        assert doc["instance_count"] == 5
        assert doc["slice_positions"] == [2.5, 5.0, 7.5, 10.0, 12.5]
        assert doc["slice_spacing_min"] == doc["slice_spacing_max"] == 2.5
        assert doc["varying"] == {"KVP": [100, 120]}
        assert doc["age_years"] == 45
        info = catalog.info()
        assert (info.patients, info.studies, info.series, info.instances) == (1, 1, 1, 5)
        assert info.by_modality == {"CT": 1}


def test_known_files_and_errors(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        _ingest_series(catalog, "1.2.3.1", 2)
        catalog.write_batch(IngestBatch(errors=[FileError("/data/1.2.3.1/junk.txt", 3, 4, "nope")]))
        known = catalog.known_files("/data/1.2.3.1")
        assert set(known) == {
            "/data/1.2.3.1/0001.dcm",
            "/data/1.2.3.1/0002.dcm",
            "/data/1.2.3.1/junk.txt",
        }
        assert known["/data/1.2.3.1/junk.txt"].is_error
        assert known["/data/1.2.3.1/0001.dcm"].size == 1001
        assert [e.reason for e in catalog.errors()] == ["nope"]
        # the file became readable: it is an instance now and no longer an error
        fixed = _record("1.2.3.1", 3)
        fixed.source = fixed.location = "/data/1.2.3.1/junk.txt"
        catalog.write_batch(IngestBatch(instances=[fixed]))
        assert catalog.errors() == []
        assert catalog.known_files("/data/1.2.3.1")["/data/1.2.3.1/junk.txt"].is_error is False


def test_field_registry_counts_series(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        _ingest_series(catalog, "1.2.3.1", 2, BodyPartExamined="CHEST")
        _ingest_series(catalog, "1.2.3.2", 2)
        finalize_dirty(catalog)
        counts = {f.name: f.series_count for f in catalog.fields()}
        assert counts["Modality"] == 2
        assert counts["BodyPartExamined"] == 1
        assert counts["instance_count"] == 2
        # a better representative replaces the header and the registry follows
        catalog.write_batch(
            IngestBatch(headers=[_header("1.2.3.1", "/data/0000-first.dcm", ProtocolName="X")])
        )
        finalize_dirty(catalog)
        counts = {f.name: f.series_count for f in catalog.fields()}
        assert "BodyPartExamined" not in counts
        assert counts["ProtocolName"] == 1
        # a worse one (larger location) does not
        catalog.write_batch(IngestBatch(headers=[_header("1.2.3.1", "/zzz.dcm", Other="Y")]))
        assert "Other" not in {f.name for f in catalog.fields()}


def test_changed_file_moves_to_another_series(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        _ingest_series(catalog, "1.2.3.1", 1)
        finalize_dirty(catalog)
        moved = _record("1.2.3.9", 1)
        moved.source = moved.location = "/data/1.2.3.1/0001.dcm"
        moved.size += 1
        result = catalog.write_batch(
            IngestBatch(instances=[moved], headers=[_header("1.2.3.9", moved.source)])
        )
        assert (result.new_instances, result.changed_instances, result.new_series) == (0, 1, 1)
        finalize_dirty(catalog)
        assert catalog.series_document("1.2.3.1") is None
        assert catalog.series_document("1.2.3.9") is not None
        assert catalog.info().series == 1
        assert {f.name: f.series_count for f in catalog.fields()}["Modality"] == 1


def test_failed_batch_writes_nothing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        bad = _record("1.2.3.1", 1)
        bad.attrs = {"x": float("nan")}  # not valid JSON: the batch must fail as a whole
        with pytest.raises(ValueError):
            catalog.write_batch(
                IngestBatch(
                    instances=[_record("1.2.3.1", 2), bad],
                    headers=[_header("1.2.3.1", "/a")],
                    errors=[FileError("/e", 1, 1, "r")],
                )
            )
        info = catalog.info()
        assert (info.series, info.files, info.errors) == (0, 0, 0)


def test_reader_sees_writer_commits_without_reopening(catalog_url: str) -> None:
    with open_catalog(catalog_url) as reader, open_catalog(catalog_url) as writer:
        assert reader.info().series == 0
        _ingest_series(writer, "1.2.3.1", 3)
        assert reader.info().series == 1
        _ingest_series(writer, "1.2.3.2", 3)
        assert reader.info().files == 6


def _write_many(url: str, prefix: str) -> None:
    with open_catalog(url) as catalog:
        for i in range(10):
            _ingest_series(catalog, f"{prefix}.{i}", 5)


def test_concurrent_writers_in_processes_lose_nothing(catalog_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_write_many, args=(catalog_url, f"1.2.{p}")) for p in (7, 8)]
    for proc in procs:
        proc.start()
    with open_catalog(catalog_url) as catalog:
        reads = 0
        while any(p.is_alive() for p in procs):
            catalog.info()  # a reader keeps reading while both write
            reads += 1
        for proc in procs:
            proc.join()
            assert proc.exitcode == 0
        finalize_dirty(catalog)
        info = catalog.info()
        assert (info.series, info.files) == (20, 100)
        assert {f.name: f.series_count for f in catalog.fields()}["Modality"] == 20


def _write_same(url: str) -> None:
    with open_catalog(url) as catalog:
        for i in range(10):
            _ingest_series(catalog, f"1.2.9.{i}", 5)
            finalize_dirty(catalog)


def test_two_ingests_of_the_same_series_at_once_stay_consistent(catalog_url: str) -> None:
    open_catalog(catalog_url).close()  # migrate once, before the race
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_write_same, args=(catalog_url,)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    with open_catalog(catalog_url) as catalog:
        finalize_dirty(catalog)
        info = catalog.info()
        assert (info.series, info.files) == (10, 50)
        counts = {f.name: f.series_count for f in catalog.fields()}
        assert counts["Modality"] == 10
        assert counts["instance_count"] == 10


def test_threads_share_a_catalog_object(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        threads = [
            threading.Thread(target=_ingest_series, args=(catalog, f"1.2.5.{i}", 3))
            for i in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert catalog.info().series == 4


def test_iter_documents_pages_through_everything(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        for i in range(7):
            _ingest_series(catalog, f"1.2.3.{i}", 1)
        finalize_dirty(catalog)
        uids = [d["SeriesInstanceUID"] for d in catalog.iter_series_documents(batch_size=3)]
        assert uids == sorted(f"1.2.3.{i}" for i in range(7))


def test_series_keys_by_indexed_columns(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        for series, count in (("1.2.3.2", 3), ("1.2.3.1", 2), ("1.2.3.10", 1)):
            _ingest_series(catalog, series, count)
        finalize_dirty(catalog)
        keys = catalog.series_keys("StudyInstanceUID", [STUDY, STUDY, "9.9"])
        assert [k.series_uid for k in keys] == ["1.2.3.1", "1.2.3.10", "1.2.3.2"]
        assert [k.instance_count for k in keys] == [2, 1, 3]
        assert {(k.study_uid, k.patient_id, k.modality) for k in keys} == {(STUDY, "P1", "CT")}
        assert [k.series_uid for k in catalog.series_keys("SeriesInstanceUID", ["1.2.3.2"])] == [
            "1.2.3.2"
        ]
        assert len(catalog.series_keys("Modality", ["CT"])) == 3
        assert catalog.series_keys("PatientID", ["nobody"]) == []
        many = [f"9.{n}" for n in range(1200)] + ["1.2.3.10"]  # more than one chunk of IN (...)
        assert [k.series_uid for k in catalog.series_keys("SeriesInstanceUID", many)] == [
            "1.2.3.10"
        ]
        pages = [
            catalog.series_keys("StudyInstanceUID", [STUDY], limit=2),
            catalog.series_keys("StudyInstanceUID", [STUDY], after="1.2.3.10", limit=2),
            catalog.series_keys("StudyInstanceUID", [STUDY], after="1.2.3.2", limit=2),
        ]
        assert [[k.series_uid for k in page] for page in pages] == [
            ["1.2.3.1", "1.2.3.10"],
            ["1.2.3.2"],
            [],
        ]
        chunked = catalog.series_keys("SeriesInstanceUID", many[::-1], after="1.2", limit=1)
        assert [k.series_uid for k in chunked] == ["1.2.3.10"]
        with pytest.raises(ValueError, match="PatientName"):
            catalog.series_keys("PatientName", ["x"])


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(CatalogError, match="unknown catalog URL scheme 'mysql'"):
        open_catalog("mysql://x/y")


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(CatalogError, match="cannot connect to PostgreSQL"):
        open_catalog("postgresql://nobody:secret@127.0.0.1:1/none")


def test_catalog_from_a_newer_radcurate_is_refused(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url)
    with catalog, catalog._transaction() as cur:  # type: ignore[attr-defined]
        cur.execute(
            catalog._sql(  # type: ignore[attr-defined]
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)"
            ),
            (LATEST_VERSION + 1, "from the future", 0.0),
        )
    with pytest.raises(CatalogError, match="newer than this radcurate understands"):
        open_catalog(catalog_url)


def test_results_are_kept_apart_and_validated(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        _ingest_series(catalog, "1.2.3.1", 2)
        assert catalog.results("1.2.3.1") == {"ai": {}, "qc": {}, "clin": {}}
        catalog.set_results(
            "1.2.3.1", "ai", {"bodypart": "chest", "structure": ["liver", "spleen"]}
        )
        catalog.set_results("1.2.3.1", "qc", {"missing_slices": True})
        catalog.set_results("1.2.3.1", "ai", {"bodypart": "abdomen"})
        assert catalog.results("1.2.3.1") == {
            "ai": {"bodypart": "abdomen", "structure": ["liver", "spleen"]},
            "qc": {"missing_slices": True},
            "clin": {},
        }
        doc = catalog.series_document("1.2.3.1")
        assert doc is not None and "bodypart" not in doc and "ai" not in doc
        with pytest.raises(ValueError, match="namespace must be one of ai, qc"):
            catalog.set_results("1.2.3.1", "tags", {"x": 1})
        with pytest.raises(ValueError, match="lower_snake"):
            catalog.set_results("1.2.3.1", "ai", {"Body Part": 1})
        assert catalog.clear_results("1.2.3.1", "ai", ["bodypart"]) == 1
        assert catalog.results("1.2.3.1")["ai"] == {"structure": ["liver", "spleen"]}
        assert catalog.clear_results("1.2.3.1", "qc") == 1
        assert catalog.results("1.2.3.1")["qc"] == {}
