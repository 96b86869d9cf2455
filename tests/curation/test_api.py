"""The curation API over HTTP (TestClient): the whole flow; bad input -> 4xx and no change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.server import ServerSettings, create_app
from tests.authn import bearer
from tests.curation.corpus import uid, write_series


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        write_series(opened, 30)
        yield opened


@pytest.fixture
def client(catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(home=tmp_path / "home", catalog_url=catalog.url)
    with TestClient(create_app(settings, catalog=catalog)) as test_client:
        yield test_client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_tags_datasets_selections_over_http(client: TestClient) -> None:
    sel = {"query": "Modality:CT", "include": [uid(1)], "exclude": [uid(0)]}
    stored = ok(client.post("/api/selections", json=sel), 201)
    assert stored["series_count"] == 10 and stored["query"] == "Modality:CT"
    assert ok(client.get(f"/api/selections/{stored['id']}"))["series_count"] == 10

    ok(client.post("/api/tags", json={"name": "Reviewed", "color": "#AA0000"}), 201)
    added = ok(client.post("/api/tags/reviewed/add", json={"selection_id": stored["id"]}))
    assert added == {"changed": 10, "series_count": 10}
    # add creates a missing tag; a tree query works too
    tree = {"op": "match", "field": "Modality", "pattern": "PT"}
    assert (
        ok(client.post("/api/tags/pet/add", json={"selection": {"query": tree}}))["changed"] == 10
    )
    tags = ok(client.get("/api/tags", params={"prefix": "re"}))["items"]
    assert tags == [{"name": "Reviewed", "color": "#aa0000", "series_count": 10}]
    assert ok(client.get("/api/count", params={"q": "tag:reviewed"}))["series"] == 10
    renamed = ok(client.patch("/api/tags/Reviewed", json={"name": "checked", "color": None}))
    assert renamed == {"name": "checked", "color": None, "series_count": 10}
    removed = ok(
        client.post(
            "/api/tags/checked/remove", json={"selection": {"include": [uid(1)], "query": None}}
        )
    )
    assert removed == {"changed": 1, "series_count": 1}

    ok(client.post("/api/datasets", json={"name": "cohort", "description": "CT"}), 201)
    ok(client.post("/api/datasets/cohort/add", json={"selection": sel}))
    v1 = ok(client.post("/api/datasets/cohort/versions", json={"note": "v1"}))
    assert v1["version"] == 1 and v1["series_count"] == 10 and v1["note"] == "v1"
    ok(client.post("/api/datasets/cohort/remove", json={"selection": {"include": [uid(3)]}}))
    v2 = ok(client.post("/api/datasets/cohort/versions"))
    assert v2["version"] == 2
    listed = ok(client.get("/api/datasets"))["items"]
    assert listed == [
        {
            "name": "cohort",
            "description": "CT",
            "series": 9,
            "studies": 2,
            "patients": 2,
            "versions": 2,
        }
    ]
    assert len(ok(client.get("/api/datasets/cohort/versions"))["items"]) == 2
    one = ok(client.get("/api/datasets/cohort/versions/1"))
    assert len(one["series_uids"]) == 10 and one["content_hash"] == v1["content_hash"]
    diff = ok(client.get("/api/datasets/cohort/diff", params={"a": 1, "b": 2}))
    assert (diff["added"], diff["removed"]) == ([], [uid(3)])
    series = ok(client.get(f"/api/series/{uid(6)}"))
    assert (series["tags"], series["datasets"]) == (["checked"], ["cohort"])

    audit = ok(client.get("/api/audit", params={"limit": 3}))["items"]
    assert [a["action"] for a in audit] == ["dataset.freeze", "dataset.remove", "dataset.freeze"]
    assert ok(client.get("/api/audit", params={"action": "tag.add"}))["items"][0]["selection"] == {
        "query": tree,
        "include": [],
        "exclude": [],
    }


def test_user_settings_are_per_user(client: TestClient, catalog: CatalogBackend) -> None:
    alice, bob = bearer(catalog, "alice", "viewer"), bearer(catalog, "bob", "viewer")
    assert ok(client.get("/api/settings", headers=alice)) == {"user": "alice", "settings": {}}
    body = {
        "card_fields": ["Modality", "StudyDate"],
        "dashboard_fields": ["Manufacturer"],
        "tag_shortcuts": ["reviewed", "excluded"],
        "saved_searches": [{"name": "thin CT", "query": "Modality:CT SliceThickness:<=1"}],
    }
    assert (
        ok(client.put("/api/settings", json={"settings": body}, headers=alice))["settings"] == body
    )
    assert ok(client.get("/api/settings", headers=alice))["settings"] == body
    assert ok(client.get("/api/settings", headers=bob))["settings"] == {}
    bad = client.put(
        "/api/settings", json={"settings": {"tag_shortcuts": list("abcdefghij")}}, headers=alice
    )
    assert bad.status_code == 422 and "at most 9" in bad.json()["error"]["message"]
    assert ok(client.get("/api/settings", headers=alice))["settings"] == body


def _state(client: TestClient) -> Any:
    return (
        ok(client.get("/api/tags"))["items"],
        ok(client.get("/api/datasets"))["items"],
        ok(client.get("/api/audit", params={"limit": 1000}))["items"],
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/api/tags", {"name": ""}, 422, "invalid_name"),
        ("post", "/api/tags", {"name": "   "}, 422, "invalid_name"),
        ("post", "/api/tags", {"name": "a*"}, 422, "invalid_name"),
        ("post", "/api/tags", {"name": "EXISTING"}, 409, "tag_exists"),
        ("post", "/api/tags", {"name": "x", "color": "blue"}, 422, "invalid_color"),
        ("post", "/api/tags", {"nom": "x"}, 422, "invalid_request"),
        ("patch", "/api/tags/nosuch", {"color": "#000000"}, 404, "tag_not_found"),
        ("patch", "/api/tags/other", {"name": "existing"}, 409, "tag_exists"),
        ("delete", "/api/tags/nosuch", None, 404, "tag_not_found"),
        ("post", "/api/tags/nosuch/remove", {"selection": {"query": "*"}}, 404, "tag_not_found"),
        ("post", "/api/tags/x/add", {"selection": {"query": "Modality:("}}, 400, "query_syntax"),
        ("post", "/api/tags/x/add", {"selection": {"query": "Nope:1"}}, 400, "unknown_field"),
        ("post", "/api/tags/x/add", {"selection": {"query": {"op": "?"}}}, 400, "invalid_query"),
        ("post", "/api/tags/x/add", {"selection": {"include": ["9.9"]}}, 404, "series_not_found"),
        ("post", "/api/tags/x/add", {}, 422, "invalid_selection"),
        ("post", "/api/tags/x/add", {"selection_id": "nope"}, 404, "selection_not_found"),
        ("post", "/api/tags/%20/add", {"selection": {"query": "*"}}, 422, "invalid_name"),
        ("post", "/api/datasets", {"name": ""}, 422, "invalid_name"),
        ("post", "/api/datasets", {"name": "Cohort"}, 409, "dataset_exists"),
        (
            "post",
            "/api/datasets/nosuch/add",
            {"selection": {"query": "*"}},
            404,
            "dataset_not_found",
        ),
        ("post", "/api/datasets/nosuch/versions", {}, 404, "dataset_not_found"),
        ("get", "/api/datasets/cohort/versions/7", None, 404, "version_not_found"),
        ("get", "/api/datasets/cohort/diff?a=1&b=7", None, 404, "version_not_found"),
        ("delete", "/api/datasets/cohort", None, 409, "dataset_has_versions"),
        ("post", "/api/selections", {"query": "(("}, 400, "query_syntax"),
        ("get", "/api/selections/nope", None, 404, "selection_not_found"),
        (
            "put",
            "/api/settings",
            {"settings": {"card_fields": "Modality"}},
            422,
            "invalid_curation",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client: TestClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    ok(client.post("/api/tags", json={"name": "existing"}), 201)
    ok(client.post("/api/tags", json={"name": "other"}), 201)
    ok(client.post("/api/datasets", json={"name": "cohort"}), 201)
    ok(client.post("/api/datasets/cohort/versions"))
    before = _state(client)
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert _state(client) == before
