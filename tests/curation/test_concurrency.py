"""Concurrent taggers never lose each other's work: two threads, then two processes."""

from __future__ import annotations

import multiprocessing
import threading

from radcurate.catalog import open_catalog
from radcurate.catalog.curation import Selection
from tests.curation.corpus import write_series

SERIES = 120
CHUNK = 7


def tag_in_chunks(url: str, tag: str, uids: list[str], dataset: str) -> None:
    """Tag and add ``uids`` a few at a time (many small interleaved transactions)."""
    with open_catalog(url) as catalog:
        for start in range(0, len(uids), CHUNK):
            sel = Selection.of(None, include=uids[start : start + CHUNK])
            catalog.tag_series(tag, sel, actor=tag)
            catalog.tag_series("shared", sel, actor=tag)
            catalog.add_to_dataset(dataset, sel, actor=tag)


def _split(uids: list[str]) -> tuple[list[str], list[str]]:
    # overlapping halves: the middle third is tagged by both workers
    third = len(uids) // 3
    return uids[: 2 * third], uids[third:]


def _check(url: str, first: list[str], second: list[str]) -> None:
    with open_catalog(url) as catalog:
        assert set(catalog.series_uids("tag:one")) == set(first)
        assert set(catalog.series_uids("tag:two")) == set(second)
        assert catalog.count("tag:shared") == SERIES
        assert catalog.count("dataset:both") == SERIES
        counts = {t.name: t.series_count for t in catalog.tags()}
        assert counts == {"one": len(first), "two": len(second), "shared": SERIES}
        # every call was audited, by its own actor
        log = catalog.audit_log(10_000, action="tag.add")
        assert {e.actor for e in log} == {"one", "two"}
        chunks = -(-len(first) // CHUNK) + -(-len(second) // CHUNK)
        assert len(log) == 2 * chunks


def test_two_threads_lose_nothing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = write_series(catalog, SERIES, instances=1)
        catalog.create_dataset("both")
    first, second = _split(uids)
    threads = [
        threading.Thread(target=tag_in_chunks, args=(catalog_url, "one", first, "both")),
        threading.Thread(target=tag_in_chunks, args=(catalog_url, "two", second, "both")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check(catalog_url, first, second)


def test_two_processes_lose_nothing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = write_series(catalog, SERIES, instances=1)
        catalog.create_dataset("both")
    first, second = _split(uids)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=tag_in_chunks, args=(catalog_url, "one", first, "both")),
        ctx.Process(target=tag_in_chunks, args=(catalog_url, "two", second, "both")),
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    _check(catalog_url, first, second)
