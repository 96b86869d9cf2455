"""The built-in workflows: ``header-bodypart`` on the phantom archive agrees with the headers;
its vocabulary; ``thumbnails`` renders into ``$RADCURATE_HOME/thumbnails`` and records
``qc.undecodable``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from radcurate.analyze.header_bodypart import (
    REGIONS,
    HeaderBodyPart,
    regions_of_body_part,
    regions_of_text,
)
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import DemoManifest
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.render.cache import ThumbnailCache
from radcurate.render.thumbnail_workflow import ThumbnailsWorkflow
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from tests.workflows.conftest import all_uids, producer_sets, series_uid

EVERYTHING = WorkflowSelection(query="*")


@pytest.fixture(scope="module")
def demo_catalog(
    demo_archive: DemoManifest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogBackend]:
    folder = tmp_path_factory.mktemp("wf-demo-catalog")
    with open_catalog(f"sqlite:///{folder / 'c.sqlite'}") as catalog:
        ingest([demo_archive.root], catalog, workers=1)
        yield catalog


# -- header-bodypart ----------------------------------------------------------------------------
@pytest.mark.slow
def test_header_bodypart_on_the_phantom_archive(demo_catalog: CatalogBackend) -> None:
    catalog = demo_catalog
    step = default_registry().get("header-bodypart")
    assert isinstance(step, HeaderBodyPart)
    record = run_job(catalog, WORKFLOW_KIND, workflow_job(step, EVERYTHING, chunk_size=4))
    assert record.state == "done", record.error
    documents = list(catalog.iter_series_documents())
    assert record.result is not None
    assert record.result["processed"] == len(documents) and record.result["failed"] == 0

    by_part: dict[str, set[tuple[str, ...]]] = {}
    for doc in documents:
        uid = doc["SeriesInstanceUID"]
        (result_set,) = producer_sets(catalog, uid, "header-bodypart")
        ai = result_set.values["ai"]
        assert result_set.keys == ["ai.bodypart_header", "ai.bodypart_header_source"]
        part = doc.get("BodyPartExamined")
        if part:  # the phantom sets it on every series; it decides
            assert ai["bodypart_header_source"] == "BodyPartExamined"
            assert ai["bodypart_header"] == [r for r in REGIONS if r in regions_of_body_part(part)]
            by_part.setdefault(f"{doc['Modality']}/{part}", set()).add(tuple(ai["bodypart_header"]))
        assert catalog.results(uid)["ai"]["bodypart_header"] == ai["bodypart_header"]
    assert by_part["CT/CHEST"] == {("chest",)}
    assert by_part["CT/HEAD"] == {("head",)}
    assert by_part["MR/HEAD"] == {("head",)}
    assert any(key.endswith("/ABDOMEN") for key in by_part)
    assert all(v == {("abdomen",)} for k, v in by_part.items() if k.endswith("/ABDOMEN"))

    # the same through the query language and the search index
    chest_ct = [
        d["SeriesInstanceUID"]
        for d in documents
        if d.get("Modality") == "CT" and d.get("BodyPartExamined") == "CHEST"
    ]
    assert chest_ct
    found = catalog.series_uids("Modality:CT AND ai.bodypart_header:chest")
    assert sorted(found) == sorted(chest_ct)
    assert catalog.count(f"job:{record.id}") == len(documents)


def test_header_bodypart_falls_back_to_descriptions(sqlite_catalog: CatalogBackend) -> None:
    step = HeaderBodyPart()
    run_job(sqlite_catalog, WORKFLOW_KIND, workflow_job(step, EVERYTHING))
    ai = {u: sqlite_catalog.results(u)["ai"] for u in all_uids(sqlite_catalog)}
    assert ai[series_uid(0)] == {
        "bodypart_header": ["chest"], "bodypart_header_source": "BodyPartExamined",
    }  # fmt: skip
    assert ai[series_uid(3)] == {  # "CT Kopf nativ", no BodyPartExamined
        "bodypart_header": ["head"], "bodypart_header_source": "SeriesDescription",
    }  # fmt: skip
    assert ai[series_uid(5)] == {"bodypart_header": [], "bodypart_header_source": None}

    # without descriptions: a new parameter hash, so every series is processed again
    record = run_job(
        sqlite_catalog, WORKFLOW_KIND, workflow_job(step, EVERYTHING, {"use_descriptions": False})
    )
    assert record.result is not None and record.result["processed"] == 6
    assert sqlite_catalog.results(series_uid(3))["ai"]["bodypart_header"] == []
    assert sqlite_catalog.results(series_uid(0))["ai"]["bodypart_header"] == ["chest"]


@pytest.mark.parametrize(
    ("value", "regions"),
    [
        ("CHEST", ("chest",)),
        ("chest", ("chest",)),
        ("Chest-Abdomen", ("chest", "abdomen")),
        ("ABDOMEN PELVIS", ("abdomen", "pelvis")),
        ("HEAD_NECK", ("head", "neck")),
        ("L-SPINE", ("abdomen",)),
        ("WHOLEBODY", ("head", "neck", "chest", "abdomen", "pelvis", "legs")),
        ("KNEE", ("legs",)),
        ("HAND", ("arms",)),
        ("", ()),
        ("unknown", ()),
        ("CHEST2", ("chest",)),  # digits ignored like spaces and dashes
    ],
)
def test_regions_of_body_part(value: str, regions: tuple[str, ...]) -> None:
    assert regions_of_body_part(value) == regions


@pytest.mark.parametrize(
    ("text", "regions"),
    [
        ("CT Thorax/Abd nativ", ("chest", "abdomen")),
        ("Thorax 2mm YA", ("chest",)),
        ("SCHÄDEL nativ", ("head",)),
        ("cCT", ("head",)),
        ("t1_se_tra", ()),
        ("localizer", ()),
        ("Abdominal aorta", ()),  # "abd" only as a whole word
        ("Kopf-Hals", ("head", "neck")),
        ("Whole Body PET", ("head", "neck", "chest", "abdomen", "pelvis", "legs")),
        ("CT CAP venous", ("chest", "abdomen", "pelvis")),
        ("Pelvis and chest", ("pelvis", "chest")),  # in the order written
        ("Lunge Lunge", ("chest",)),  # each region once
        ("", ()),
    ],
)
def test_regions_of_text(text: str, regions: tuple[str, ...]) -> None:
    assert regions_of_text(text) == regions


def test_header_bodypart_input_hash_is_the_headers_read(sqlite_catalog: CatalogBackend) -> None:
    from radcurate.workflow import SeriesItem

    step = HeaderBodyPart()
    item = SeriesItem(sqlite_catalog, series_uid(0))
    assert step.input_hash(item) == "CHEST|Thorax 2mm||"


# -- thumbnails ---------------------------------------------------------------------------------
def test_thumbnails_workflow_renders_into_home_and_records_decodability(
    sqlite_catalog: CatalogBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("RADCURATE_HOME", str(home))
    step = default_registry().get("thumbnails")
    assert isinstance(step, ThumbnailsWorkflow)
    uids = all_uids(sqlite_catalog)
    record = run_job(
        sqlite_catalog, WORKFLOW_KIND, workflow_job(step, EVERYTHING, {"size": 64})
    )  # home: $RADCURATE_HOME
    assert record.state == "done", record.error
    assert record.result is not None and record.result["processed"] == len(uids)
    for uid in uids:
        assert sqlite_catalog.results(uid)["qc"]["undecodable"] is False
        (result_set,) = producer_sets(sqlite_catalog, uid, "thumbnails")
        assert result_set.provenance.params == {"size": 64, "rerender": False}
    cache = ThumbnailCache(home / "thumbnails", 64)
    pngs = sorted((home / "thumbnails").rglob("*.png"))
    assert len(pngs) == len(uids)
    for uid in uids:
        path = cache.lookup(sqlite_catalog, uid)
        assert path is not None and path in pngs
        with Image.open(path) as image:
            assert image.format == "PNG" and max(image.size) == 64

    # an explicit home wins over the environment
    other = tmp_path / "other"
    again = run_job(
        sqlite_catalog,
        WORKFLOW_KIND,
        workflow_job(step, EVERYTHING, {"size": 64, "rerender": True}, home=str(other)),
    )
    assert again.result is not None and again.result["processed"] == len(uids)
    assert len(list((other / "thumbnails").rglob("*.png"))) == len(uids)


def test_thumbnail_jobs_and_the_workflow_share_one_result_set(
    sqlite_catalog: CatalogBackend, tmp_path: Path
) -> None:
    """``radcurate thumbnails`` records what the workflow would: the workflow then skips."""
    cache = ThumbnailCache(tmp_path / "home" / "thumbnails", 256)
    report = cache.generate_many(sqlite_catalog, all_uids(sqlite_catalog))
    assert report.generated == 6
    record = run_job(
        sqlite_catalog,
        WORKFLOW_KIND,
        workflow_job(ThumbnailsWorkflow(), EVERYTHING, home=str(tmp_path / "home")),
    )
    assert record.result is not None
    assert (record.result["skipped"], record.result["processed"]) == (6, 0)
