"""Projects isolate series: a member of project A reaches none of project B's series through
any route (search, counts, aggregates, autocomplete, series, thumbnails, viewer, review,
QIDO-RS/WADO-RS, bulk actions, jobs), on both engines; admins see everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.server import ServerSettings, create_app
from tests.authn import bearer
from tests.curation.corpus import STUDY, uid, write_series

A = [uid(i) for i in range(4)]  # project "lung"
B = [uid(i) for i in range(4, 9)]  # project "liver"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        write_series(opened, 9)
        yield opened


@pytest.fixture
def people(catalog: CatalogBackend) -> dict[str, dict[str, str]]:
    headers = {
        "ana": bearer(catalog, "ana", "curator"),
        "bob": bearer(catalog, "bob", "viewer"),
        "nora": bearer(catalog, "nora", "viewer"),  # in no project
        "root": bearer(catalog, "root", "admin"),
    }
    projects = catalog.projects
    projects.create("lung", actor="root", ae_title="LUNG")
    projects.create("liver", actor="root")
    projects.set_members("lung", add=["ana"], actor="root")
    projects.set_members("liver", add=["bob"], actor="root")
    projects.assign("lung", Selection.of(None, A), actor="root")
    projects.assign("liver", Selection.of(None, B), actor="root")
    return headers


@pytest.fixture
def client(catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ServerSettings(home=tmp_path / "home"), catalog)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def uids_of(answer: dict) -> set[str]:  # type: ignore[type-arg]
    return {item["series_uid"] for item in answer["items"]}


def test_search_counts_aggregates_and_values_are_scoped(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    ana, bob, nora, root = (people[n] for n in ("ana", "bob", "nora", "root"))
    search = "/api/search"
    assert uids_of(client.get(search, params={"limit": 50}, headers=ana).json()) == set(A)
    assert uids_of(client.get(search, params={"limit": 50}, headers=bob).json()) == set(B)
    assert uids_of(client.get(search, params={"limit": 50}, headers=root).json()) == set(A + B)
    assert client.get(search, headers=nora).json()["items"] == []
    # asking for the other project's series by name or UID finds nothing
    sneaky = {"q": f"project:liver OR SeriesInstanceUID:{B[0]}", "limit": 50}
    assert client.get(search, params=sneaky, headers=ana).json()["items"] == []
    post = client.post(search, json={"query": "*", "limit": 50}, headers=ana).json()
    assert uids_of(post) == set(A)
    assert client.get("/api/count", headers=ana).json()["series"] == len(A)
    assert client.get("/api/count", headers=bob).json()["series"] == len(B)
    facets = client.get("/api/aggregate", params={"field": "Modality"}, headers=ana).json()
    assert facets["counts"]["series"] == len(A)
    modalities = client.get(
        "/api/autocomplete/values", params={"field": "Modality"}, headers=bob
    ).json()
    assert sum(v["count"] for v in modalities["items"]) == len(B)
    values = client.get(
        "/api/autocomplete/values", params={"field": "SeriesInstanceUID"}, headers=ana
    ).json()
    assert {v["value"] for v in values["items"]} <= set(A)
    progress = client.get("/api/review/progress", headers=bob).json()
    assert progress["total"] == len(B)


def test_one_series_routes_answer_404_outside_the_projects(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    ana, root = people["ana"], people["root"]
    for path in (
        f"/api/series/{B[0]}",
        f"/api/series/{B[0]}/results",
        f"/api/series/{B[0]}/instances",
        f"/api/series/{B[0]}/review",
        f"/api/series/{B[0]}/thumbnail",
        f"/api/series/{B[0]}/slice",
        f"/api/series/{B[0]}/overlay",
        f"/api/series/{B[0]}/volume.nii.gz",
    ):
        answer = client.get(path, headers=ana)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "series_not_found", path
    assert client.get(f"/api/series/{A[0]}", headers=ana).status_code == 200
    assert client.get(f"/api/series/{B[0]}", headers=root).status_code == 200
    refused = client.put(f"/api/series/{B[0]}/review", json={"status": "rejected"}, headers=ana)
    assert refused.status_code == 404


def test_dicomweb_is_scoped(client: TestClient, people: dict[str, dict[str, str]]) -> None:
    ana, root = people["ana"], people["root"]
    accept = {"Accept": "application/dicom+json"}
    series = client.get("/dicomweb/series", headers={**ana, **accept}).json()
    seen = {s["0020000E"]["Value"][0] for s in series}
    assert seen == set(A)
    everything = client.get("/dicomweb/series", headers={**root, **accept}).json()
    assert {s["0020000E"]["Value"][0] for s in everything} == set(A + B)
    studies = client.get("/dicomweb/studies", headers={**ana, **accept}).json()
    counts = sum(s["00201206"]["Value"][0] for s in studies)  # NumberOfStudyRelatedSeries
    assert counts == len(A)
    study_of_b = f"{STUDY}.study.{4 % 3}"  # series 4 is in study 1 (with series 1 of lung)
    assert (
        client.get(
            f"/dicomweb/studies/{study_of_b}/series/{B[0]}/metadata", headers=ana
        ).status_code
        == 404
    )
    mixed = client.get(f"/dicomweb/studies/{study_of_b}/metadata", headers=ana)
    assert B[0] not in mixed.text
    base = f"/dicomweb/studies/{study_of_b}/series/{B[0]}/instances/{B[0]}.0"
    for tail in ("", "/metadata", "/frames/1", "/rendered", "/thumbnail"):
        assert client.get(base + tail, headers=ana).status_code == 404, tail
    assert client.get(base + "/metadata", headers=root).status_code == 502  # found; no file


def test_bulk_actions_and_jobs_stay_inside(
    client: TestClient, catalog: CatalogBackend, people: dict[str, dict[str, str]]
) -> None:
    ana, bob = people["ana"], people["bob"]
    body = {"selection": {"query": "*", "include": [B[0], B[1]]}}
    tagged = client.post("/api/tags/mine/add", json=body, headers=ana).json()
    assert tagged == {"changed": len(A), "series_count": len(A)}
    assert set(catalog.resolve_selection(Selection.of("tag:mine"))) == set(A)
    stored = client.post("/api/selections", json={"query": "*"}, headers=ana).json()
    assert stored["series_count"] == len(A)
    job = client.post("/api/jobs/thumbnails", json={}, headers=ana).json()
    assert job["params"]["started_by"] == "ana" and "project:lung" in job["params"]["query"]
    assert job["id"] not in {j["id"] for j in client.get("/api/jobs", headers=bob).json()["items"]}
    assert client.get(f"/api/jobs/{job['id']}", headers=bob).status_code == 404
    assert client.get(f"/api/jobs/{job['id']}", headers=ana).status_code == 200


def test_projects_api_and_access_log(
    client: TestClient, catalog: CatalogBackend, people: dict[str, dict[str, str]]
) -> None:
    ana, root = people["ana"], people["root"]
    mine = client.get("/api/projects", headers=ana).json()["items"]
    assert [p["name"] for p in mine] == ["lung"] and mine[0]["series_count"] == len(A)
    assert len(client.get("/api/projects", headers=root).json()["items"]) == 2
    assert client.post("/api/projects", json={"name": "x"}, headers=ana).status_code == 403
    made = client.post("/api/projects", json={"name": "brain", "ae_title": "lung"}, headers=root)
    assert made.status_code == 409 and "LUNG" in made.json()["error"]["message"]
    moved = client.post(
        "/api/projects/lung/add",
        json={"selection": {"query": f"SeriesInstanceUID:{B[0]}"}},
        headers=root,
    )
    assert moved.json()["changed"] == 1
    assert client.get(f"/api/series/{B[0]}", headers=ana).status_code == 200  # now shared
    client.get(f"/api/series/{A[0]}/thumbnail", headers=ana)
    client.get(f"/api/series/{A[0]}/thumbnail", headers=ana)  # coalesced: one row
    log = client.get("/api/access-log", params={"user": "ana"}, headers=root).json()["items"]
    assert [(e["series_uid"], e["patient_id"]) for e in log] == [(A[0], "P0")]
    assert client.get("/api/access-log", headers=ana).status_code == 403
    assert catalog.projects.for_ae_title("lung") == "lung"
