"""``/api/aggregate``, ``/api/autocomplete``, ``/api/count`` over HTTP; the SDK DataFrame."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend


def test_count_has_series_studies_and_patients(client: TestClient, catalog: CatalogBackend) -> None:
    docs = list(catalog.iter_search("Modality:(CT OR MR)"))
    body = client.get("/api/count", params={"q": "Modality:(CT OR MR)"}).json()
    assert body == {
        "series": len(docs),
        "studies": len({d["StudyInstanceUID"] for d in docs}),
        "patients": len({d["PatientID"] for d in docs if d.get("PatientID") is not None}),
    }
    page = client.get("/api/search", params={"q": "Modality:(CT OR MR)", "limit": 2}).json()
    assert (page["total"], page["studies"], page["patients"]) == tuple(body.values())


def test_aggregate_get_and_post_agree_with_the_documents(
    client: TestClient, catalog: CatalogBackend
) -> None:
    docs = list(catalog.iter_search("*"))
    modalities = Counter(d.get("Modality") for d in docs)
    got = client.get(
        "/api/aggregate", params={"terms": "Modality", "histogram": "Rows", "size": 3}
    ).json()
    terms = got["aggregations"][0]
    assert got["counts"]["series"] == len(docs)
    top = [count for _, count in modalities.most_common() if _ is not None]
    assert [b["count"] for b in terms["buckets"]] == top[:3]
    assert terms["other"] == sum(top[3:])
    assert terms["missing"] == modalities[None]
    rows = got["aggregations"][1]
    assert rows["type"] == "histogram" and all(b["high"] > b["low"] for b in rows["buckets"])
    posted = client.post(
        "/api/aggregate",
        json={
            "query": {"op": "match", "field": "Modality", "pattern": "CT"},
            "aggregations": [{"field": "StudyDate", "type": "date_histogram", "interval": "year"}],
        },
    )
    assert posted.status_code == 200, posted.text
    years = posted.json()["aggregations"][0]
    ct = [d for d in docs if d.get("Modality") == "CT"]
    assert sum(b["count"] for b in years["buckets"]) + years["missing"] + years["other"] >= len(ct)


def test_aggregate_errors_are_json(client: TestClient) -> None:
    unknown = client.get("/api/aggregate", params={"terms": "Modalty"})
    assert unknown.status_code == 400
    assert "Modality" in unknown.json()["error"]["suggestions"]
    bad_type = client.post(
        "/api/aggregate", json={"aggregations": [{"field": "Modality", "type": "pie"}]}
    )
    assert bad_type.status_code == 422 and "error" in bad_type.json()
    bad_query = client.get("/api/aggregate", params={"q": "Modality:(CT", "terms": "Modality"})
    assert bad_query.status_code == 400 and bad_query.json()["error"]["position"] is not None


def test_autocomplete_fields_then_values(client: TestClient, catalog: CatalogBackend) -> None:
    fields = client.get("/api/autocomplete/fields", params={"prefix": "modal"}).json()["items"]
    assert fields[0]["name"] == "Modality" and fields[0]["series_count"] > 0
    # values are scoped to the query without its own Modality term: other modalities stay visible
    values = client.get(
        "/api/autocomplete/values", params={"field": "Modality", "q": "Modality:CT"}
    ).json()
    names = {v["value"] for v in values["items"]}
    assert {"CT", "MR"} <= names
    counts = Counter(d.get("Modality") for d in catalog.iter_search("*"))
    assert all(v["count"] == counts[v["value"]] for v in values["items"])
    prefixed = client.get(
        "/api/autocomplete/values", params={"field": "Modality", "prefix": "m"}
    ).json()["items"]
    assert prefixed and all(v["value"].lower().startswith("m") for v in prefixed)
    unknown = client.get("/api/autocomplete/values", params={"field": "Modalty"})
    assert unknown.status_code == 400


def test_search_results_iterate_every_match_and_make_a_dataframe(catalog: CatalogBackend) -> None:
    page = catalog.search("*", limit=5)
    everything = list(page)
    assert len(page.documents) == 5 and len(everything) == page.total
    assert len({d["SeriesInstanceUID"] for d in everything}) == page.total
    frame = page.to_pandas(["SeriesInstanceUID", "Modality", "Rows"])
    assert list(frame.columns) == ["SeriesInstanceUID", "Modality", "Rows"]
    assert len(frame) == page.total
    assert set(frame["SeriesInstanceUID"]) == {d["SeriesInstanceUID"] for d in everything}
