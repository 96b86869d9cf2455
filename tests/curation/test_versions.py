"""Frozen dataset versions: immutable membership and SOP UIDs, a stable content hash, diffs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation import (
    CurationConflictError,
    CurationNotFoundError,
    Selection,
    content_hash,
)
from radcurate.catalog.sql import SQLCatalog
from tests.curation.corpus import uid, write_series


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        write_series(opened, 12, instances=3)
        yield opened


def test_freeze_list_diff_and_immutability(catalog: CatalogBackend) -> None:
    catalog.create_dataset("cohort")
    catalog.add_to_dataset("cohort", Selection.of("Modality:CT"))
    v1 = catalog.freeze_dataset("cohort", note="first cut", actor="alice")
    assert (v1.version, v1.series_count, v1.instance_count, v1.created) == (1, 4, 12, True)
    assert (v1.created_by, v1.note) == ("alice", "first cut")
    sops = [f"{u}.{n}" for u in catalog.series_uids("Modality:CT") for n in range(3)]
    assert v1.content_hash == content_hash(sops)
    # freezing an unchanged dataset gives the same version back, nothing new
    same = catalog.freeze_dataset("cohort")
    assert (same.version, same.content_hash, same.created) == (1, v1.content_hash, False)
    # change membership: v2
    catalog.remove_from_dataset("cohort", Selection.of(None, include=[uid(0)]))
    catalog.add_to_dataset("cohort", Selection.of(None, include=[uid(1), uid(2)]))
    v2 = catalog.freeze_dataset("cohort")
    assert v2.version == 2 and v2.content_hash != v1.content_hash
    added, removed = catalog.diff_dataset_versions("cohort", 1, 2)
    assert (added, removed) == ([uid(1), uid(2)], [uid(0)])
    assert catalog.diff_dataset_versions("cohort", 2, 1) == ([uid(0)], [uid(1), uid(2)])
    # v1 is untouched by later changes, to membership and to the series themselves
    catalog.remove_from_dataset("cohort", Selection.of("*"))
    assert isinstance(catalog, SQLCatalog)
    with catalog._transaction() as cur:
        cur.execute(catalog._sql("DELETE FROM instances WHERE series_uid = ?"), (uid(3),))
    catalog.finalize_series([uid(3)])  # the series is gone from the catalog
    again = catalog.dataset_version("cohort", 1)
    assert again.content_hash == v1.content_hash
    assert list(again.series_uids or ()) == [uid(i) for i in range(0, 12, 3)]
    members = catalog.version_members("cohort", 1)
    assert members[uid(3)] == [f"{uid(3)}.{n}" for n in range(3)]
    assert content_hash([s for v in members.values() for s in v]) == v1.content_hash
    listed = catalog.dataset_versions("cohort")
    assert [(v.version, v.content_hash) for v in listed] == [
        (1, v1.content_hash),
        (2, v2.content_hash),
    ]
    assert catalog.dataset("cohort").versions == 2
    with pytest.raises(CurationNotFoundError):
        catalog.dataset_version("cohort", 9)
    with pytest.raises(CurationNotFoundError):
        catalog.diff_dataset_versions("cohort", 1, 9)
    with pytest.raises(CurationConflictError):
        catalog.delete_dataset("cohort")
    assert catalog.delete_dataset("cohort", force=True) == 0
    assert catalog.datasets() == []


def test_hash_is_sha256_over_sorted_distinct_sop_uids() -> None:
    assert content_hash(["b", "a", "a"]) == hashlib.sha256(b"a\nb\n").hexdigest()
    assert content_hash([]) == hashlib.sha256(b"").hexdigest()
