"""Issue 19, defect 10: the thumbnail job's count of undecodable series is the number of
undecodable cards, also when the gallery rendered them first; an RTDOSE series whose
middle instance is undecodable opens on one that decodes."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.render.cache import ThumbnailCache, generate_all
from radcurate.render.views import series_views
from tests.render.viewer_cases import write_viewer_cases


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[CatalogBackend, dict[str, str]]:
    root = tmp_path_factory.mktemp("viewer-cases")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # badVR.dcm is bad on purpose
        uids = write_viewer_cases(root / "archive")
        catalog = open_catalog(f"sqlite:///{root / 'catalog.sqlite'}")
        ingest([str(root / "archive")], catalog, workers=1)
    return catalog, uids


def test_job_counts_undecodable_cards_the_gallery_rendered_first(
    cases: tuple[CatalogBackend, dict[str, str]], tmp_path: Path
) -> None:
    catalog, uids = cases
    cache = ThumbnailCache(tmp_path / "thumbnails", 64)
    cache.thumbnail_path(catalog, uids["broken"])  # the gallery's first look renders it
    assert cache.metadata(cache.lookup(catalog, uids["broken"]))["undecodable"]  # type: ignore[arg-type]
    report = generate_all(catalog, list(uids.values()), cache=cache)
    assert report.cached == 1
    assert report.undecodable == 1, report
    assert report.undecodable_series == [uids["broken"]]
    again = generate_all(catalog, list(uids.values()), cache=cache)
    assert (again.cached, again.undecodable) == (len(uids), 1)


def test_the_gallerys_render_records_qc_undecodable(
    cases: tuple[CatalogBackend, dict[str, str]], tmp_path: Path
) -> None:
    catalog, uids = cases
    ThumbnailCache(tmp_path / "thumbnails", 48).thumbnail_path(catalog, uids["broken"])
    assert catalog.result_store.results(uids["broken"])["qc"]["undecodable"] is True


def test_rtdose_opens_on_an_instance_that_decodes(
    cases: tuple[CatalogBackend, dict[str, str]],
) -> None:
    catalog, uids = cases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        views = series_views(catalog, uids["rtdose"])
    native = views.planes["native"]
    assert not views.undecodable
    assert native.count == 5  # every instance is a slice to scroll, the bad one included
    from radcurate.render.api import render_slice

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shown = render_slice(catalog, uids["rtdose"], native.index)
    assert not shown.undecodable, shown.reason


def test_viewer_kinds(cases: tuple[CatalogBackend, dict[str, str]]) -> None:
    catalog, uids = cases
    colour = series_views(catalog, uids["us-colour"])
    assert (colour.kind, colour.greyscale, colour.planes["native"].count) == ("image", False, 1)
    one = series_views(catalog, uids["ct-one-slice"])
    assert (one.greyscale, one.planes["native"].count) == (True, 1)
    assert not one.planes["axial"].available
    broken = series_views(catalog, uids["broken"])
    assert broken.undecodable and broken.reason
    report = series_views(catalog, uids["sr"])
    assert report.kind == "text" and len(report.text) > 5
