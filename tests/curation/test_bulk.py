"""Bulk tag/untag/add/remove through selections (query ∪ include − exclude), on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation import (
    CurationConflictError,
    CurationError,
    CurationNotFoundError,
    Selection,
)
from radcurate.catalog.sql import SQLCatalog
from radcurate.query import QueryError
from tests.curation.corpus import uid, write_series


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        write_series(opened, 30)
        yield opened


def ct_uids(catalog: CatalogBackend) -> set[str]:
    return set(catalog.series_uids("Modality:CT"))


def test_tag_a_selection_with_includes_and_excludes(catalog: CatalogBackend) -> None:
    cts = ct_uids(catalog)
    assert len(cts) == 10
    excluded = sorted(cts)[:2]
    included = [uid(1), uid(2)]  # an MR and a PT
    sel = Selection.of("Modality:CT", include=included, exclude=excluded)
    result = catalog.tag_series("Reviewed", sel)
    want = (cts | set(included)) - set(excluded)
    assert (result.changed, result.series_count) == (len(want), len(want))
    assert set(catalog.series_uids("tag:reviewed")) == want
    assert catalog.count("tag:REVIEWED") == len(want)
    assert catalog.count("-tag:reviewed") == 30 - len(want)
    assert catalog.count("review") >= len(want)  # free text finds tag names
    # doing it again changes nothing
    again = catalog.tag_series("reviewed", sel)
    assert (again.changed, again.series_count) == (0, len(want))
    assert [t.name for t in catalog.tags()] == ["Reviewed"]
    # untag everything but one CT
    keep = sorted(want)[0]
    out = catalog.untag_series("REVIEWED", Selection.of("tag:reviewed", exclude=[keep]))
    assert out.changed == len(want) - 1
    assert catalog.series_uids("tag:reviewed") == [keep]
    assert catalog.curation_of([keep, uid(29)]) == {
        keep: {"tags": ["Reviewed"], "datasets": []},
        uid(29): {"tags": [], "datasets": []},
    }


def test_dataset_add_remove_and_counts(catalog: CatalogBackend) -> None:
    catalog.create_dataset("lung-ct", "CT of the lung")
    added = catalog.add_to_dataset("lung-ct", Selection.of("Modality:(CT OR MR)", exclude=[uid(0)]))
    assert added.changed == 19
    info = catalog.dataset("LUNG-CT")
    assert (info.series, info.studies, info.patients, info.versions) == (
        19,
        2,
        2,
        0,
    )  # study follows modality
    assert catalog.count("dataset:lung-*") == 19
    assert catalog.count("dataset:lung-* Modality:MR") == 10
    removed = catalog.remove_from_dataset("lung-ct", Selection.of("Modality:MR"))
    assert (removed.changed, removed.series_count) == (10, 10)
    assert catalog.dataset("lung-ct").series == 9
    # a selection of includes only (query null)
    catalog.add_to_dataset("lung-ct", Selection.of(None, include=[uid(0)]))
    assert set(catalog.series_uids("dataset:lung-ct")) == ct_uids(catalog)
    assert [d.name for d in catalog.datasets()] == ["lung-ct"]
    assert catalog.curation_of([uid(0)])[uid(0)]["datasets"] == ["lung-ct"]


def test_stored_selection_is_a_bulk_target(catalog: CatalogBackend) -> None:
    stored = catalog.create_selection(Selection.of("*", exclude=[uid(3), uid(4)]))
    assert stored.series_count == 28
    assert catalog.selection(stored.id).series_count == 28
    result = catalog.tag_series("all-but-two", catalog.stored_selection(stored.id))
    assert result.changed == 28
    with pytest.raises(CurationNotFoundError):
        catalog.selection("nope")


def test_tag_rename_recolour_delete(catalog: CatalogBackend) -> None:
    catalog.create_tag("todo", "#FF0000")
    catalog.tag_series("todo", Selection.of("Modality:PT"))
    renamed = catalog.update_tag("todo", new_name="done", color="#00ff00")
    assert (renamed.name, renamed.color, renamed.series_count) == ("done", "#00ff00", 10)
    assert catalog.count("tag:done") == 10 and catalog.count("tag:todo") == 0
    assert catalog.update_tag("done", clear_color=True).color is None
    catalog.create_tag("doing")
    assert [t.name for t in catalog.tags("do")] == ["done", "doing"]  # most used first
    assert catalog.delete_tag("done") == 10
    assert catalog.count("tag:done") == 0


def test_bad_input_changes_nothing(catalog: CatalogBackend) -> None:
    catalog.create_tag("a")
    catalog.create_dataset("d")
    before = (catalog.tags(), catalog.datasets(), catalog.audit_log(1000))
    with pytest.raises(CurationError, match="empty"):
        catalog.tag_series("  ", Selection.of("*"))
    with pytest.raises(CurationError, match="may not contain"):
        catalog.create_tag("a*b")
    with pytest.raises(CurationConflictError):
        catalog.create_tag("A")
    with pytest.raises(CurationConflictError):
        catalog.create_dataset("D")
    with pytest.raises(CurationNotFoundError):
        catalog.untag_series("nosuch", Selection.of("*"))
    with pytest.raises(CurationNotFoundError):
        catalog.add_to_dataset("nosuch", Selection.of("*"))
    with pytest.raises(QueryError):
        catalog.tag_series("a", Selection.of("Modality:("))
    with pytest.raises(QueryError):
        catalog.tag_series("new-tag", Selection.of("NoSuchField:1"))
    with pytest.raises(CurationNotFoundError, match="not in the catalog"):
        catalog.tag_series("a", Selection.of(None, include=["9.9.9"]))
    with pytest.raises(CurationError, match="color"):
        catalog.create_tag("b", "red")
    with pytest.raises(CurationConflictError):
        catalog.create_tag("b")
        catalog.update_tag("b", new_name="a")
    catalog.delete_tag("b")
    after = (catalog.tags(), catalog.datasets(), catalog.audit_log(1000))
    assert after[0] == before[0] and after[1] == before[1]
    assert [e.action for e in after[2][: len(after[2]) - len(before[2])]] == [
        "tag.delete",
        "tag.create",
    ]


def test_deletes_leave_no_member_rows(catalog: CatalogBackend) -> None:
    assert isinstance(catalog, SQLCatalog)
    catalog.tag_series("t", Selection.of("*"))
    catalog.create_dataset("d")
    catalog.add_to_dataset("d", Selection.of("*"))
    catalog.freeze_dataset("d")
    catalog.delete_tag("t")
    catalog.delete_dataset("d", force=True)
    for table in ("series_tags", "dataset_series", "dataset_versions", "dataset_version_series"):
        assert catalog._read(f"SELECT COUNT(*) FROM {table}")[0][0] == 0, table
    # a new tag of the same name starts empty
    catalog.create_tag("t")
    assert catalog.count("tag:t") == 0 and catalog.tag("T").series_count == 0


def test_a_series_that_leaves_and_comes_back_keeps_its_tags(catalog: CatalogBackend) -> None:
    assert isinstance(catalog, SQLCatalog)
    catalog.tag_series("t", Selection.of("Modality:CT"))
    with catalog._transaction() as cur:
        cur.execute(catalog._sql("DELETE FROM instances WHERE series_uid = ?"), (uid(0),))
    catalog.finalize_series([uid(0)])  # every file of the series went away
    assert catalog.series_document(uid(0)) is None
    assert catalog.tag("t").series_count == 9 and catalog.count("tag:t") == 9
    write_series(catalog, 1)  # it is ingested again
    assert catalog.tag("t").series_count == 10 and catalog.count("tag:t") == 10
