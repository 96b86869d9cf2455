"""The review store (catalog/review_store.py) on the embedded catalog and PostgreSQL.

Statuses one by one and in bulk, the audit entry of each change, idempotence, bad input,
progress and facets, the search index following writes (this catalog object and another
one), re-ingest, and a series deleted and ingested again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.aggregations import AggregationRequest
from radcurate.catalog.base import FileError, IngestBatch
from radcurate.catalog.curation import CurationNotFoundError, Selection
from radcurate.catalog.index import snapshot
from radcurate.catalog.review_store import MAX_NOTE, ReviewError, exclude_rejected
from radcurate.catalog.sql import SQLCatalog
from radcurate.query import parse, to_text
from tests.curation.corpus import uid, write_series

SERIES = 12  # CT, MR, PT in turn: 4 of each


def counts(catalog: CatalogBackend, query: str) -> tuple[int, int]:
    """Matches of ``query`` through the search index and through SQL alone (must agree)."""
    assert isinstance(catalog, SQLCatalog)
    found = []
    for use_index in (True, False):
        catalog.use_search_index = use_index
        found.append(catalog.count(query))
    catalog.use_search_index = True
    return found[0], found[1]


def review_audits(catalog: CatalogBackend) -> list[tuple[str | None, dict[str, object]]]:
    return [(e.target, e.detail) for e in catalog.audit_log(1000, action="review.set")]


def test_one_by_one_bulk_idempotent_audited(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = write_series(catalog, SERIES, instances=1)
        reviews = catalog.reviews
        never = reviews.review(uids[0])
        assert (never.status, never.reviewer, never.note, never.reviewed_at) == (
            "pending",
            None,
            "",
            None,
        )
        assert counts(catalog, "review:pending") == (SERIES, SERIES)
        assert counts(catalog, "review:accepted") == (0, 0)

        done = reviews.set_review(uids[0], "Accepted", " fine ", actor="ana")
        assert (done.status, done.reviewer, done.note) == ("accepted", "ana", "fine")
        assert done.reviewed_at is not None
        assert done.to_dict()["reviewed_at"].endswith("+00:00")
        assert review_audits(catalog) == [
            (uids[0], {"before": "pending", "after": "accepted", "note": "fine", "before_note": ""})
        ]
        # the same status and note again: nothing changes, nothing is audited
        assert isinstance(catalog, SQLCatalog)
        stamped = catalog._read("SELECT seq FROM reviews")
        again = reviews.set_review(uids[0], "accepted", "fine", actor="bob")
        assert again == done  # the reviewer and time stay those of the change
        assert len(review_audits(catalog)) == 1
        assert catalog._read("SELECT seq FROM reviews") == stamped  # no change number either
        # another note is a change
        reviews.set_review(uids[0], "accepted", "fine, thin slices", actor="bob")
        assert review_audits(catalog)[0] == (
            uids[0],
            {
                "before": "accepted",
                "after": "accepted",
                "note": "fine, thin slices",
                "before_note": "fine",
            },
        )

        # bulk: a query, an included and an excluded series
        selection = Selection.of("Modality:CT", include=[uid(1)], exclude=[uid(3)])
        bulk = reviews.set_reviews(selection, "rejected", "noisy", actor="cy")
        assert (bulk.changed, bulk.series_count) == (4, 4)  # CT 0, 6, 9 and MR 1
        assert reviews.set_reviews(selection, "rejected", "noisy", actor="cy").changed == 0
        assert len(review_audits(catalog)) == 2 + 4
        assert counts(catalog, "review:rejected") == (4, 4)
        assert counts(catalog, "-review:rejected") == (SERIES - 4, SERIES - 4)
        assert counts(catalog, "review:pending") == (SERIES - 4, SERIES - 4)
        assert counts(catalog, "review:rejected Modality:MR") == (1, 1)
        assert counts(catalog, "review:(rejected OR accepted)") == (4, 4)
        assert counts(catalog, "has:review") == (SERIES, SERIES)
        assert counts(catalog, "missing:review") == (0, 0)
        history = reviews.history(uids[0])
        assert [(e.actor, e.detail["before"], e.detail["after"]) for e in history] == [
            ("cy", "accepted", "rejected"),
            ("bob", "accepted", "accepted"),
            ("ana", "pending", "accepted"),
        ]

        # progress and facets count the same statuses
        reviews.set_review(uid(2), "questionable", actor="ana")
        progress = reviews.progress("*")
        assert progress.to_dict() == {
            "total": SERIES,
            "reviewed": 5,
            "accepted": 0,
            "rejected": 4,
            "questionable": 1,
            "pending": 7,
        }
        assert reviews.progress("Modality:CT").to_dict()["rejected"] == 3
        facet = catalog.aggregate("*", [AggregationRequest("review")]).aggregations[0]
        assert {b.key: b.count for b in facet.buckets} == {
            "pending": 7,
            "rejected": 4,
            "questionable": 1,
        }
        # reset: pending again (a row stays, with who reset it)
        reset = reviews.set_review(uid(2), "pending", actor="ana")
        assert (reset.status, reset.reviewer) == ("pending", "ana")
        assert counts(catalog, "review:questionable") == (0, 0)
        assert counts(catalog, "review:pending") == (SERIES - 4, SERIES - 4)


def test_bad_input_writes_nothing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        uids = write_series(catalog, 3, instances=1)
        reviews = catalog.reviews
        with pytest.raises(ReviewError, match="not a review status: 'ok'"):
            reviews.set_review(uids[0], "ok")
        with pytest.raises(ReviewError, match="at most"):
            reviews.set_review(uids[0], "accepted", "x" * (MAX_NOTE + 1))
        with pytest.raises(CurationNotFoundError, match="no series"):
            reviews.set_review("1.2.3.nosuch", "accepted")
        with pytest.raises(CurationNotFoundError, match="no series"):
            reviews.review("1.2.3.nosuch")
        with pytest.raises(CurationNotFoundError, match="not in the catalog"):
            reviews.set_reviews(Selection.of(None, include=[uids[0], "1.2.3.nosuch"]), "rejected")
        with pytest.raises(ReviewError):
            reviews.set_reviews(Selection.of("*"), "maybe")
        assert review_audits(catalog) == []
        assert counts(catalog, "review:pending") == (3, 3)
        # exports leave rejected series out unless asked for
        assert to_text(exclude_rejected(parse("*"))) == "NOT review:rejected"
        assert exclude_rejected(parse("x"), include_rejected=True) == parse("x")


def delete_series(catalog: CatalogBackend, series_uid: str) -> None:
    """Every file of the series became unreadable: the catalog drops the series."""
    sources = [r.source for r in catalog.instances(series_uid)]
    catalog.write_batch(IngestBatch(errors=[FileError(s, 1, 2, "truncated") for s in sources]))
    catalog.finalize_series([series_uid])
    assert catalog.series_document(series_uid) is None


def test_review_survives_reingest_and_deletion(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog, open_catalog(catalog_url) as other:
        uids = write_series(catalog, 6, instances=2)
        catalog.reviews.set_reviews(Selection.of(None, include=uids[:3]), "accepted", "ok")
        catalog.reviews.set_review(uids[3], "rejected", "motion")
        assert counts(catalog, "review:accepted") == (3, 3)
        assert counts(other, "review:rejected") == (1, 1)  # another catalog object sees it

        write_series(catalog, 6, instances=2)  # the same files again: a re-ingest
        assert counts(catalog, "review:accepted") == (3, 3)
        assert catalog.reviews.review(uids[3]).note == "motion"

        delete_series(catalog, uids[0])
        assert counts(catalog, "review:accepted") == (2, 2)
        assert counts(other, "review:accepted") == (2, 2)
        with pytest.raises(CurationNotFoundError):
            catalog.reviews.review(uids[0])
        # a catalog opened now builds its index without the series (the review waits for it)
        with open_catalog(catalog_url) as fresh:
            assert counts(fresh, "review:accepted") == (2, 2)
            write_series(catalog, 6, instances=2)  # the series comes back
            assert counts(fresh, "review:accepted") == (3, 3)
            assert counts(fresh, "review:accepted -review:pending") == (3, 3)
        assert counts(catalog, "review:accepted") == (3, 3)
        assert counts(other, "review:accepted") == (3, 3)
        back = catalog.reviews.review(uids[0])
        assert (back.status, back.note) == ("accepted", "ok")


def test_saved_index_keeps_and_follows_reviews(catalog_url: str, tmp_path: Path) -> None:
    snapshots = tmp_path / "index"
    with open_catalog(catalog_url, index_dir=snapshots) as catalog:
        uids = write_series(catalog, 6, instances=1)
        catalog.reviews.set_reviews(Selection.of("Modality:CT"), "accepted")
        delete_series(catalog, uids[3])  # a CT series
        assert counts(catalog, "review:accepted") == (1, 1)
        assert isinstance(catalog, SQLCatalog)
        assert catalog.save_search_index() is not None
    with open_catalog(catalog_url, index_dir=snapshots) as loaded:
        assert isinstance(loaded, SQLCatalog)
        saved = snapshot.load(snapshots, loaded._identity())
        assert saved is not None
        row, column = saved.row_of[uids[3]], saved.columns["review"]
        assert not saved.alive[row]  # deleted: its row keeps the status for when it returns
        assert column.values[column.codes[row]] == ("accepted",)
        assert counts(loaded, "review:accepted") == (1, 1)
        loaded.reviews.set_review(uids[1], "questionable")
        write_series(loaded, 6, instances=1)  # the deleted series comes back
        assert counts(loaded, "review:accepted") == (2, 2)
        assert counts(loaded, "review:questionable") == (1, 1)
        assert loaded.reviews.progress().to_dict()["pending"] == 3
