"""Sort orders repaired after changes (index/sort_orders.py) are exactly the orders sorted
from scratch: new series with new values, changed series, results and reviews of some
series, in both directions, and the UID order grown by new series.

And a bug found on the way: a search sorted by ``review`` (or a result field) after new
series arrived failed (the column's cached sort ordinals were rows short: ValueError).
"""

from __future__ import annotations

import json
import random

import numpy as np

from radcurate.catalog import open_catalog
from radcurate.catalog.index.paging import sorted_rows
from radcurate.catalog.index.series_index import SeriesIndex
from radcurate.catalog.index.sort_orders import SortOrders
from radcurate.catalog.sql import SQLCatalog
from radcurate.query.ast import REVIEW_FIELD

SORTS = [
    ("SeriesDescription", False),
    ("SeriesDescription", True),
    ("instance_count", True),
    ("Modality", False),
    ("ai.volume", False),
    (REVIEW_FIELD, False),
    (None, False),
]
WORDS = ["axial", "Lung", "lung", "T2", "flair", "bone", "Ωmega", "épaule"]


def _uid(rng: random.Random) -> str:
    return f"1.2.{rng.randrange(10**6)}.{rng.randrange(10**9)}"


def _row(rng: random.Random, uid: str) -> tuple[str, str, str, str, None, None]:
    doc: dict[str, object] = {"SeriesInstanceUID": uid}
    if rng.random() < 0.9:  # some series have no description: they sort last
        doc["SeriesDescription"] = f"{rng.choice(WORDS)} {rng.randrange(40)}"
    if rng.random() < 0.8:
        doc["instance_count"] = rng.choice([rng.randrange(300), float(rng.randrange(9)) + 0.5])
    doc["Modality"] = rng.choice(["CT", "MR", "ct", "SEG"])
    return uid, f"{uid}.9", f"P{rng.randrange(50)}", json.dumps(doc), None, None


def _from_scratch(index: SeriesIndex, field: str | None, descending: bool) -> np.ndarray:
    """The order sorted from scratch, as the index sorted before orders were repaired."""
    rank = np.empty(len(index.uids), np.int64)
    rank[np.asarray(sorted(range(len(index.uids)), key=index.uids.__getitem__))] = np.arange(
        len(index.uids)
    )
    if field is None:
        return np.argsort(rank)
    ordinals = index.columns[field].sort_ordinals(descending)
    return np.lexsort((rank, ordinals))


def _check(index: SeriesIndex) -> None:
    for field, descending in SORTS:
        if field is not None and field not in index.columns:
            continue
        ordered = sorted_rows(index, field, descending)
        expected = _from_scratch(index, field, descending)
        assert ordered.perm.tolist() == expected.tolist(), (field, descending)
        for place in (0, len(expected) // 2, len(expected) - 1):
            assert ordered.position(int(expected[place])) == place


def test_repaired_orders_equal_sorted_ones_through_many_changes() -> None:
    rng = random.Random(7)
    index = SeriesIndex()
    uids = [_uid(rng) for _ in range(3000)]
    index.apply(_row(rng, uid) for uid in uids)
    index.apply_results([(uid, {"ai": {"volume": rng.random()}}) for uid in uids[:500]])
    _check(index)
    sorted_before = index.sorts.sorted
    for step in range(12):
        kind = step % 4
        if kind == 0:  # new series, some with values never seen
            new = [_uid(rng) for _ in range(rng.randrange(1, 60))]
            index.apply(_row(rng, uid) for uid in new)
            uids += new
        elif kind == 1:  # changed series (new values for existing rows)
            index.apply(_row(rng, uid) for uid in rng.sample(uids, 80))
        elif kind == 2:  # results of some series: only orders by result fields change
            changed = rng.sample(uids, 40)
            index.apply_results([(uid, {"ai": {"volume": rng.random() * 9}}) for uid in changed])
        else:  # reviews
            statuses = ["accepted", "rejected", "pending"]
            index.apply_reviews((uid, rng.choice(statuses)) for uid in rng.sample(uids, 30))
        _check(index)
    assert index.sorts.sorted == sorted_before, "an order was sorted again instead of repaired"
    assert index.sorts.repaired >= 12


def test_many_changed_rows_sort_again_and_forgotten_fields_are_sorted_afresh() -> None:
    rng = random.Random(11)
    index = SeriesIndex()
    uids = [_uid(rng) for _ in range(800)]
    index.apply(_row(rng, uid) for uid in uids)
    _check(index)
    before = index.sorts.sorted
    index.apply(_row(rng, uid) for uid in uids[:400])  # half the rows: a fresh sort is cheaper
    _check(index)
    assert index.sorts.sorted > before
    index.sorts.forget("SeriesDescription")
    before = index.sorts.sorted
    perm = sorted_rows(index, "SeriesDescription", False).perm
    assert index.sorts.sorted == before + 1
    assert perm.tolist() == _from_scratch(index, "SeriesDescription", False).tolist()


def test_uid_order_grows_by_binary_search() -> None:
    rng = random.Random(3)
    orders = SortOrders()
    uids = [_uid(rng) for _ in range(2000)]
    for _ in range(5):
        rank = orders.uid_rank(uids)
        assert [uids[r] for r in np.argsort(rank).tolist()] == sorted(uids)
        uids += [_uid(rng) for _ in range(rng.randrange(1, 100))]


def test_sorted_by_review_after_new_series_arrive(catalog_url: str) -> None:
    def docs(start: int, count: int) -> list[dict[str, object]]:
        return [
            {"SeriesInstanceUID": f"1.5.{i}", "StudyInstanceUID": f"1.6.{i // 4}"}
            for i in range(start, start + count)
        ]

    with open_catalog(catalog_url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series(docs(0, 20))
        catalog.reviews.set_review("1.5.3", "accepted", actor="t")
        catalog.reviews.set_review("1.5.7", "rejected", actor="t")
        first = catalog.search("*", sort="review", limit=3)
        assert [d["SeriesInstanceUID"] for d in first.documents] == ["1.5.3", "1.5.0", "1.5.1"]
        catalog.import_series(docs(20, 5))  # new series: pending
        catalog.reviews.set_review("1.5.21", "accepted", actor="t")
        page = catalog.search("*", sort="review", limit=30)
        uids = [d["SeriesInstanceUID"] for d in page.documents]
        assert uids[:2] == ["1.5.21", "1.5.3"]
        assert uids[-1] == "1.5.7" and len(uids) == 25
