"""Answers kept while the index is unchanged (catalog/index/answers.py): a repeated count,
dashboard, suggestion or page comes from memory, and every kind of change (new and changed
series, deletions, tags, datasets, reviews, results, other processes' writes) gives the
answers computing them afresh gives (both backends)."""

from __future__ import annotations

import json
import multiprocessing
from typing import Any

import numpy as np
import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.aggregations import AggregationRequest
from radcurate.catalog.curation_types import Selection
from radcurate.catalog.index.series_index import _grown
from radcurate.catalog.result_types import ResultRow
from radcurate.catalog.sql import SQLCatalog
from tests.catalog.test_search_index import _docs, _import

QUERIES = ["*", "Modality:CT", "lung", "Modality:MR OR instance_count:>3", "tag:keep",
           "dataset:train", "review:accepted", "ai.score:>4", "NOT lung"]  # fmt: skip
DASHBOARD = [
    AggregationRequest("Modality"),
    AggregationRequest("instance_count", type="histogram"),
    AggregationRequest("review"),
]


def _answers(catalog: SQLCatalog) -> list[Any]:
    out: list[Any] = []
    for query in QUERIES:
        for sort in (None, "-instance_count"):
            first = catalog.search(query, limit=4, sort=sort)
            pages = [[d["SeriesInstanceUID"] for d in first.documents]]
            if first.next_cursor:
                second = catalog.search(query, limit=4, sort=sort, after=first.next_cursor)
                pages.append([d["SeriesInstanceUID"] for d in second.documents])
            out.append((query, sort, first.total, first.studies, first.patients, pages))
        out.append(catalog.counts(query))
        out.append(catalog.aggregate(query, DASHBOARD))
        out.append(catalog.suggest_values("SeriesDescription", "series 1", query))
    return out


def _check(catalog: SQLCatalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cached answers (asked twice: the second time from memory) equal fresh ones."""
    index = catalog.search_index()
    assert index is not None
    first = _answers(catalog)
    hits = index.answers.hits
    again = _answers(catalog)
    assert index.answers.hits > hits  # the repeat was answered from memory
    with monkeypatch.context() as patched:
        patched.setenv("RADCURATE_ANSWER_CACHE", "0")
        fresh = _answers(catalog)
    assert first == again == fresh


def test_repeated_answers_come_from_memory_and_follow_every_change(
    catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_catalog(catalog_url) as catalog, open_catalog(catalog_url) as writer:
        assert isinstance(catalog, SQLCatalog) and isinstance(writer, SQLCatalog)
        catalog.import_series(_docs(0, 30))
        _check(catalog, monkeypatch)
        kept = catalog.counts("Modality:CT").series
        # another process's series
        process = multiprocessing.get_context("spawn").Process(
            target=_import, args=(catalog_url, 30, 12, "MR")
        )
        process.start()
        process.join(60)
        assert process.exitcode == 0
        assert catalog.counts("*").series == 42 and catalog.counts("Modality:CT").series == kept
        _check(catalog, monkeypatch)
        with writer._transaction() as cur:  # two series change (as a re-ingest changes them)
            seq = writer._change_seq(cur)
            for doc in _docs(3, 2, "MR"):
                cur.execute(
                    writer._sql("UPDATE series SET search_doc = ?, seq = ? WHERE series_uid = ?"),
                    (json.dumps(doc), seq, doc["SeriesInstanceUID"]),
                )
        assert catalog.counts("Modality:CT").series == kept - 2
        _check(catalog, monkeypatch)
        writer.tag_series("keep", Selection.of(include=["1.2.3.1", "1.2.3.2"]))
        writer.create_dataset("train")
        writer.add_to_dataset("train", Selection.of("Modality:MR"))
        assert catalog.counts("tag:keep").series == 2
        _check(catalog, monkeypatch)
        writer.reviews.set_review("1.2.3.5", "accepted", actor="t")
        assert catalog.counts("review:accepted").series == 1
        _check(catalog, monkeypatch)
        writer.result_store.write_results(
            [ResultRow(f"1.2.3.{n}", {"ai": {"score": n % 10}}, input_hash=f"h{n}")
             for n in range(0, 40, 3)],
            producer="p", version="1",
        )  # fmt: skip
        assert catalog.counts("ai.score:>4").series == 7
        _check(catalog, monkeypatch)
        writer.untag_series("keep", Selection.of(include=["1.2.3.2"]))
        assert catalog.counts("tag:keep").series == 1
        _check(catalog, monkeypatch)
        with writer._transaction() as cur:  # the last instance row gone: the series goes
            sql = writer._sql("UPDATE series SET dirty = 1 WHERE series_uid = ?")
            cur.execute(sql, ("1.2.3.1",))
        writer.finalize_series(["1.2.3.1"])
        assert catalog.counts("*").series == 41 and catalog.counts("tag:keep").series == 0
        _check(catalog, monkeypatch)


def test_answers_of_terms_read_in_sql_are_not_kept(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_docs(0, 12))
        index = catalog.search_index()
        assert index is not None
        catalog.counts("Modality:CT")
        kept = len(index.answers)
        assert kept > 0
        # a SeriesInstanceUID term is confirmed in SQL: its mask depends on more than the index
        assert catalog.counts("SeriesInstanceUID:1.2.3.4").series == 1
        assert len(index.answers) == kept


def test_a_kept_mask_is_read_only(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(_docs(0, 12))
        catalog.counts("Modality:CT")
        with catalog._index_mask(catalog_parse("Modality:CT")) as found:
            assert found is not None
            with pytest.raises(ValueError, match="read-only"):
                found[1][0] = False


def catalog_parse(text: str) -> Any:
    from radcurate.query import parse

    return parse(text)


def test_grown_arrays_keep_room_and_their_values() -> None:
    array = np.arange(5, dtype=np.int32)
    grown = _grown(array, 8, -1)
    assert grown.tolist() == [0, 1, 2, 3, 4, -1, -1, -1]
    again = _grown(grown, 20, -2)  # within the buffer: no copy
    assert again.tolist() == [0, 1, 2, 3, 4, -1, -1, -1] + [-2] * 12
    assert np.shares_memory(grown, again)
    assert _grown(again, 10, 7) is again  # long enough already
    big = _grown(again, 5000, 0)  # past the buffer: a new one, the values kept
    assert not np.shares_memory(big, again) and big[:20].tolist() == again.tolist()
    assert not big[20:].any()
    read_only = np.broadcast_to(np.asarray(3, np.int32), (4,))
    assert _grown(read_only, 6, 0).tolist() == [3, 3, 3, 3, 0, 0]
