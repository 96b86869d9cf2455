"""The review API over HTTP (TestClient) on both engines: one series, a selection, progress;
the reviewer is the request's user; bad input -> 4xx and nothing changed."""

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

SERIES = 12


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        write_series(opened, SERIES, instances=1)
        yield opened


@pytest.fixture
def client(catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(home=tmp_path / "home", catalog_url=catalog.url)
    with TestClient(create_app(settings, catalog=catalog)) as test_client:
        yield test_client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_review_over_http(client: TestClient, catalog: CatalogBackend) -> None:
    ana, bob = bearer(catalog, "ana"), bearer(catalog, "bob")
    client.headers.update(bearer(catalog, "root", "admin"))
    url = f"/api/series/{uid(0)}/review"
    assert ok(client.get(url)) == {
        "series_uid": uid(0),
        "status": "pending",
        "reviewer": None,
        "note": None,
        "reviewed_at": None,
    }
    put = ok(client.put(url, json={"status": "rejected", "note": "motion"}, headers=ana))
    assert (put["status"], put["reviewer"], put["note"]) == ("rejected", "ana", "motion")
    assert put["reviewed_at"].endswith("+00:00")
    assert ok(client.get(url)) == put
    # the same again changes nothing (not even the reviewer)
    assert ok(client.put(url, json={"status": "rejected", "note": "motion"})) == put
    assert len(catalog.audit_log(100, action="review.set")) == 1
    # search sees it at once, in both directions
    assert ok(client.get("/api/count", params={"q": "review:rejected"}))["series"] == 1
    assert ok(client.get("/api/count", params={"q": "-review:rejected"}))["series"] == SERIES - 1

    selection = {"query": "Modality:CT", "include": [uid(1)], "exclude": [uid(0)]}
    body = {"selection": selection, "status": "accepted", "note": None}
    assert ok(client.post("/api/review", json=body, headers=bob)) == {"changed": 4, "total": 4}
    assert ok(client.post("/api/review", json=body, headers=bob)) == {"changed": 0, "total": 4}
    stored = ok(client.post("/api/selections", json={"query": "Modality:PT"}), 201)
    body = {"selection_id": stored["id"], "status": "questionable"}
    assert ok(client.post("/api/review", json=body)) == {"changed": 4, "total": 4}
    tree = {"op": "review", "status": "questionable"}
    assert (
        ok(client.post("/api/review", json={"selection": {"query": tree}, "status": "pending"}))[
            "changed"
        ]
        == 4
    )
    assert ok(client.get(f"/api/series/{uid(3)}/review"))["reviewer"] == "bob"

    progress = ok(client.get("/api/review/progress", params={"q": "*"}))
    assert progress == {
        "total": SERIES,
        "reviewed": 5,
        "accepted": 4,
        "rejected": 1,
        "questionable": 0,
        "pending": 7,
    }
    assert ok(client.get("/api/review/progress", params={"q": "Modality:MR"}))["accepted"] == 1
    assert ok(client.get("/api/review/progress"))["total"] == SERIES
    # the dashboard's facet on the review pseudo-field counts the same statuses
    facet = ok(client.get("/api/aggregate", params={"terms": "review"}))["aggregations"][0]
    assert {b["key"]: b["count"] for b in facet["buckets"]} == {
        "pending": 7,
        "accepted": 4,
        "rejected": 1,
    }


def test_bad_review_input(client: TestClient, catalog: CatalogBackend) -> None:
    url = f"/api/series/{uid(0)}/review"
    assert client.put(url, json={"status": "ok"}).status_code == 422
    assert client.put(url, json={"status": "accepted", "extra": 1}).status_code == 422
    assert client.put(url, json={"status": "accepted", "note": "x" * 5000}).status_code == 422
    missing = client.put("/api/series/1.2.3.nosuch/review", json={"status": "accepted"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "series_not_found"
    assert client.get("/api/series/1.2.3.nosuch/review").status_code == 404
    both = {"selection": {"query": "*"}, "selection_id": "x", "status": "accepted"}
    assert client.post("/api/review", json=both).status_code == 422
    unknown = {"selection": {"include": ["1.2.3.nosuch"]}, "status": "accepted"}
    assert client.post("/api/review", json=unknown).status_code == 404
    bad_query = {"selection": {"query": "Modality:("}, "status": "accepted"}
    assert client.post("/api/review", json=bad_query).status_code == 400
    assert client.get("/api/review/progress", params={"q": "review:ok"}).status_code == 400
    assert catalog.audit_log(100, action="review.set") == []
    assert catalog.count("review:pending") == SERIES
