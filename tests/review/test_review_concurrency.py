"""Two reviewers writing the same series at once lose nothing: every write is one audit entry,
each entry's "before" is the previous entry's "after" (writes on a series are serialised), and
the stored review is the last write's. Two threads, then two processes, on both engines."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from typing import Any

import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.curation import Selection
from tests.curation.corpus import write_series

ROUNDS = 12
STATUSES = ("accepted", "rejected", "questionable", "pending")


def reviewer(url: str, who: str, uids: list[str], out: Any) -> None:
    """Review the shared series one by one and in bulk; report how many writes changed
    something (every note is new, so every write does)."""
    changed = 0
    with open_catalog(url) as catalog:
        for i in range(ROUNDS):
            status = STATUSES[(i + len(who)) % len(STATUSES)]
            catalog.reviews.set_review(uids[0], status, f"{who} {i}", actor=who)
            changed += 1
            result = catalog.reviews.set_reviews(
                Selection.of(None, include=uids), status, f"{who} bulk {i}", actor=who
            )
            changed += result.changed
    out.put((who, changed))


def check(url: str, uids: list[str], reported: dict[str, int]) -> None:
    with open_catalog(url) as catalog:
        entries = sorted(catalog.audit_log(10_000, action="review.set"), key=lambda e: e.id)
        # nothing lost: one entry per write of each reviewer
        assert {who: sum(e.actor == who for e in entries) for who in reported} == reported
        assert reported == {"ana": ROUNDS * (1 + len(uids)), "bob": ROUNDS * (1 + len(uids))}
        for series_uid in uids:
            chain = [e for e in entries if e.target == series_uid]
            assert {e.actor for e in chain} == {"ana", "bob"}  # both reviewers interleaved
            assert chain[0].detail["before"] == "pending"
            for earlier, later in itertools.pairwise(chain):
                assert later.detail["before"] == earlier.detail["after"]
                assert (
                    later.detail.get("before_note", later.detail["note"])
                    == (earlier.detail["note"])
                )
            # last write wins
            stored = catalog.reviews.review(series_uid)
            last = chain[-1]
            assert (stored.status, stored.note, stored.reviewer) == (
                last.detail["after"],
                last.detail["note"],
                last.actor,
            )
            assert catalog.count(f"SeriesInstanceUID:{series_uid} review:{stored.status}") == 1


class _Collected:
    def __init__(self) -> None:
        self.items: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def put(self, item: tuple[str, int]) -> None:
        with self.lock:
            self.items.append(item)


def test_two_reviewer_threads(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = write_series(catalog, 3, instances=1)
    out = _Collected()
    threads = [
        threading.Thread(target=reviewer, args=(catalog_url, who, uids, out))
        for who in ("ana", "bob")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    check(catalog_url, uids, dict(out.items))


@pytest.mark.slow
def test_two_reviewer_processes(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = write_series(catalog, 3, instances=1)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=reviewer, args=(catalog_url, who, uids, queue)) for who in ("ana", "bob")
    ]
    for p in procs:
        p.start()
    reported = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    check(catalog_url, uids, reported)
