"""``explain``: each card of a page says which of its values the free-text terms matched."""

from __future__ import annotations

from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection


def test_search_explains_free_text(client: TestClient, catalog: CatalogBackend) -> None:
    body = client.get("/api/search", params={"q": "ct", "limit": 200, "explain": "true"}).json()
    assert body["total"] == catalog.count("ct") > 0
    for item in body["items"]:
        matched = item["matched"]
        assert matched, item["series_uid"]  # every result says why it is there
        for m in matched:
            assert m["term"] == "ct"
            assert m["value"][m["start"] : m["end"]].lower() == "ct"
    fields = {m["field"] for item in body["items"] for m in item["matched"]}
    assert "Modality" in fields
    # without explain the items carry no explanation (the default costs nothing)
    plain = client.get("/api/search", params={"q": "ct", "limit": 5}).json()
    assert all(item["matched"] is None for item in plain["items"])


def test_tags_and_post_body_explain(client: TestClient, catalog: CatalogBackend) -> None:
    catalog.tag_series("knee-followup", Selection(query="Modality:MR"))
    response = client.post(
        "/api/search", json={"query": "followup Modality:MR", "explain": True, "limit": 50}
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items and len(items) == catalog.count("Modality:MR")
    for item in items:
        assert {"term": "followup", "field": "tag", "value": "knee-followup", "start": 5,
                "end": 13} in item["matched"]  # fmt: skip
