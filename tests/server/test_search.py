"""Search and count over HTTP, on both catalog backends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.server import ServerSettings, create_app
from tests.server.conftest import CountingCatalog


def test_search_selects_fields_and_sorts(client: TestClient, catalog: CatalogBackend) -> None:
    response = client.get(
        "/api/search",
        params={
            "q": "Modality:(CT OR MR)",
            "fields": "Modality,SliceThickness",
            "sort": "-SliceThickness",
            "limit": 100,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = catalog.search("Modality:(CT OR MR)", limit=100, sort="-SliceThickness")
    assert body["total"] == expected.total == catalog.count("Modality:(CT OR MR)") > 0
    assert body["next_cursor"] is None
    uids = [d["SeriesInstanceUID"] for d in expected.documents]
    assert [item["series_uid"] for item in body["items"]] == uids
    for item in body["items"]:
        assert set(item["fields"]) == {"Modality", "SliceThickness"}
        assert item["fields"]["Modality"] in ("CT", "MR")
        assert item["thumbnail_url"] == f"/api/series/{item['series_uid']}/thumbnail"
    thicknesses = [i["fields"]["SliceThickness"] for i in body["items"]]
    numbers = [t for t in thicknesses if t is not None]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) > 1
    assert thicknesses[: len(numbers)] == numbers  # series without a value come last


def test_default_and_all_fields(client: TestClient) -> None:
    item = client.get("/api/search", params={"limit": 1}).json()["items"][0]
    assert set(item["fields"]) == {
        "SeriesInstanceUID",
        "Modality",
        "StudyDate",
        "SeriesDescription",
        "instance_count",
    }
    item = client.get("/api/search", params={"limit": 1, "fields": "*"}).json()["items"][0]
    assert item["fields"]["SeriesInstanceUID"] == item["series_uid"]
    assert "file_count" in item["fields"] and "SOPClassUID" in item["fields"]


def test_paging_to_the_end_gives_every_series_once(
    client: TestClient, catalog: CatalogBackend
) -> None:
    everything = {d["SeriesInstanceUID"] for d in catalog.iter_series_documents()}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"sort": "StudyDate", "limit": 7, "fields": "StudyDate"}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/search", params=params).json()
        assert body["total"] == len(everything)
        seen += [item["series_uid"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(everything)
    assert set(seen) == everything
    assert pages == -(-len(everything) // 7)


def test_post_accepts_text_and_json_tree(client: TestClient) -> None:
    by_get = client.get("/api/search", params={"q": "Modality:(CT OR MR)", "limit": 100}).json()
    by_text = client.post("/api/search", json={"query": "Modality:(CT OR MR)", "limit": 100})
    tree = {"op": "in", "field": "Modality", "patterns": ["CT", "MR"]}
    by_tree = client.post("/api/search", json={"query": tree, "limit": 100})
    assert by_text.status_code == by_tree.status_code == 200, by_tree.text
    assert by_text.json() == by_tree.json() == by_get

    fields = client.post(
        "/api/search", json={"query": "Modality:CT", "fields": ["Rows"], "sort": "-Rows"}
    ).json()
    assert all(set(i["fields"]) == {"Rows"} for i in fields["items"])

    bad = client.post("/api/search", json={"query": {"op": "match", "field": "a b"}})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_query"
    assert "pattern" in bad.json()["error"]["message"]

    unknown = client.post("/api/search", json={"query": {"op": "has", "field": "Modalty"}})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["suggestions"] == ["Modality"]


def test_count(client: TestClient, catalog: CatalogBackend) -> None:
    ct = client.get("/api/count", params={"q": "Modality:CT"}).json()
    assert ct["series"] == catalog.count("Modality:CT") > 0
    assert 0 < ct["patients"] <= ct["studies"] <= ct["series"]
    info = catalog.info()
    everything = client.get("/api/count").json()
    assert everything == {
        "series": info.series,
        "studies": info.studies,
        "patients": info.patients,
    }
    bad = client.get("/api/count", params={"q": "(a OR b"})
    assert bad.status_code == 400 and bad.json()["error"]["position"] == 7


def test_a_bad_query_says_where_and_what_was_expected(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "lung Modality:"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "query_syntax",
            "message": "at position 14: expected a value after 'Modality:'",
            "position": 14,
            "expected": response.json()["error"]["expected"],
            "suggestions": [],
            "details": None,
        }
    }
    assert response.json()["error"]["expected"]


def test_an_unknown_field_is_a_400_with_suggestions(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "CT Modalty:CT"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_field"
    assert error["suggestions"] == ["Modality"]
    assert error["position"] == 3
    assert "did you mean Modality" in error["message"]


def test_bad_sort_cursor_and_parameters(client: TestClient) -> None:
    bad_sort = client.get("/api/search", params={"sort": "a b"})
    assert bad_sort.status_code == 400 and "sort" in bad_sort.json()["error"]["message"]
    bad_cursor = client.get("/api/search", params={"cursor": "garbage"})
    assert bad_cursor.status_code == 400
    assert "cursor" in bad_cursor.json()["error"]["message"]
    for params in ({"limit": 0}, {"limit": "many"}, {"limit": 100_000}):
        response = client.get("/api/search", params=params)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and "limit" in error["message"]
    malformed = client.post(
        "/api/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_request"


def test_a_page_is_one_catalog_round_trip(
    catalog: CatalogBackend, settings: ServerSettings
) -> None:
    counting = CountingCatalog(catalog)
    with TestClient(create_app(settings, catalog=counting)) as client:  # type: ignore[arg-type]
        client.get("/api/search", params={"q": "Modality:CT"})  # reads the field registry once
        counting.calls.clear()
        cursor = None
        pages = 0
        while True:
            params = {"limit": 5, "fields": "*"}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/api/search", params=params).json()
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
    assert pages > 2
    assert counting.calls == {"search": pages}


def test_the_field_registry_is_reread_before_rejecting_a_field(
    catalog: CatalogBackend, settings: ServerSettings
) -> None:
    counting = CountingCatalog(catalog)
    with TestClient(create_app(settings, catalog=counting)) as client:  # type: ignore[arg-type]
        assert client.get("/api/count", params={"q": "Modality:CT"}).status_code == 200
        assert counting.calls["fields"] == 1
        assert client.get("/api/count", params={"q": "Rows:>1"}).status_code == 200
        assert counting.calls["fields"] == 1
        assert client.get("/api/count", params={"q": "Nope:1"}).status_code == 400
        assert counting.calls["fields"] == 2
