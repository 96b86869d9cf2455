"""``/api/search/groups``: a query's matches by patient, then by study (the structured gallery),
on SQLite and PostgreSQL, through the search index and through SQL alone.

Each group's ``term`` selects exactly its series among the query's matches: tagging
``(query) (term)`` as a server-side selection tags those series and no other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.server import ServerSettings, create_app
from tests.authn import bearer
from tests.series_rows import one_instance_series

GROUPS = "/api/search/groups"


def _row(
    series: str, study: str, patient: str | None, modality: str, **more: str
) -> dict[str, str]:
    row = {"SeriesInstanceUID": series, "StudyInstanceUID": study, "Modality": modality, **more}
    if patient is not None:
        row["PatientID"] = patient
    return row


ROWS = [
    # P-A: two studies, one of them with a SEG; also spelled "p-a" once (the same patient to
    # the query language, which matches values case-insensitively)
    _row("1.1", "2.1", "P-A", "CT", StudyDate="2021-03-04", StudyDescription="Chest"),
    _row("1.2", "2.1", "P-A", "SEG", StudyDate="2021-03-04", StudyDescription="Chest"),
    _row("1.3", "2.2", "P-A", "CT", StudyDate="2023-01-02", StudyDescription="Abdomen"),
    _row("1.4", "2.3", "p-a", "MR"),
    # P-B: one MR study
    _row("1.5", "2.4", "P-B", "MR", StudyDate="2020-07-08"),
    _row("1.6", "2.4", "P-B", "MR", StudyDate="2020-07-08"),
    # no PatientID, and an empty one: one group, last
    _row("1.7", "2.5", None, "CT"),
    _row("1.8", "2.6", "", "CT"),
    # C*: a PatientID with a wildcard character matches only itself
    _row("1.9", "2.7", "C*", "CT"),
    _row("1.10", "2.8", "CX", "CT"),
]


@pytest.fixture(params=["index", "sql"])
def catalog(request: pytest.FixtureRequest, catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        opened.write_batch(one_instance_series(ROWS))
        opened.use_search_index = request.param == "index"  # type: ignore[attr-defined]
        yield opened


@pytest.fixture
def client(catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ServerSettings(home=tmp_path / "home"), catalog)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _patients(client: TestClient, query: str = "*", **more: Any) -> dict[str, Any]:
    answer = client.post(GROUPS, json={"query": query, **more})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_patients_with_their_matching_studies_and_series(client: TestClient) -> None:
    body = _patients(client)
    got = [(p["patient_id"], p["studies"], p["series"]) for p in body["items"]]
    assert got == [
        ("C*", 1, 1),
        ("CX", 1, 1),
        ("P-A", 3, 4),  # "p-a" counted in: the most common spelling shows
        ("P-B", 1, 2),
        (None, 2, 2),
    ]
    assert (body["level"], body["total"], body["series"], body["studies"]) == ("patients", 5, 10, 8)
    assert body["next_cursor"] is None
    # the counts follow the query
    ct = _patients(client, "Modality:CT")
    assert [(p["patient_id"], p["studies"], p["series"]) for p in ct["items"]] == [
        ("C*", 1, 1),
        ("CX", 1, 1),
        ("P-A", 2, 2),
        (None, 2, 2),
    ]


def test_patients_come_page_by_page(client: TestClient) -> None:
    seen: list[str | None] = []
    cursor = None
    pages = 0
    while True:
        body = _patients(client, limit=2, cursor=cursor)
        assert body["total"] == 5
        seen += [p["patient_id"] for p in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["C*", "CX", "P-A", "P-B", None]
    bad = client.post(GROUPS, json={"query": "*", "cursor": "nonsense"})
    assert bad.status_code == 400


def test_studies_of_one_patient_newest_first(client: TestClient) -> None:
    answer = client.post(GROUPS, json={"query": "*", "level": "studies", "patient_id": "P-A"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    got = [
        (s["study_uid"], s["series"], s["study_date"], s["study_description"], s["modalities"])
        for s in body["items"]
    ]
    assert got == [
        ("2.2", 1, "2023-01-02", "Abdomen", ["CT"]),
        ("2.1", 2, "2021-03-04", "Chest", ["CT", "SEG"]),
        ("2.3", 1, None, None, ["MR"]),  # no date: last
    ]
    assert (body["total"], body["series"]) == (3, 4)
    # a page of one, then the rest
    first = client.post(GROUPS, json={"level": "studies", "patient_id": "P-A", "limit": 1}).json()
    assert [s["study_uid"] for s in first["items"]] == ["2.2"]
    rest = client.post(
        GROUPS,
        json={"level": "studies", "patient_id": "P-A", "limit": 5, "cursor": first["next_cursor"]},
    ).json()
    assert [s["study_uid"] for s in rest["items"]] == ["2.1", "2.3"]
    # the series without a PatientID (absent or empty), and the GET form
    none = client.get(GROUPS, params={"level": "studies"}).json()
    assert sorted(s["study_uid"] for s in none["items"]) == ["2.5", "2.6"]
    only_ct = client.get(
        GROUPS, params={"q": "Modality:MR", "level": "studies", "patient_id": "P-A"}
    )
    assert [s["study_uid"] for s in only_ct.json()["items"]] == ["2.3"]


def _tagged(catalog: CatalogBackend, name: str) -> set[str]:
    return set(catalog.series_uids(f"tag:{name}"))


@pytest.mark.parametrize("query", ["*", "Modality:CT"])
def test_each_term_selects_exactly_its_series(
    client: TestClient, catalog: CatalogBackend, query: str
) -> None:
    """Tag every patient and every study through ``(query) (term)``: each gets exactly
    the series the query matches in it (the counts the groups gave)."""
    by_series = {r["SeriesInstanceUID"]: r for r in ROWS}
    matching = set(catalog.series_uids(query))
    for n, patient in enumerate(_patients(client, query)["items"]):
        name = f"p{n}"
        selection = {"query": f"({query}) ({patient['term']})", "include": [], "exclude": []}
        answer = client.post(f"/api/tags/{name}/add", json={"selection": selection})
        assert answer.status_code == 200, answer.text
        tagged = _tagged(catalog, name)
        assert len(tagged) == patient["series"]
        wanted = (patient["patient_id"] or "").lower()
        assert {(by_series[u].get("PatientID") or "").lower() for u in tagged} == {wanted}
        assert tagged <= matching
        studies = client.post(
            GROUPS,
            json={"query": query, "level": "studies", "patient_id": patient["patient_id"]},
        ).json()["items"]
        assert sum(s["series"] for s in studies) == patient["series"]
        for k, study in enumerate(studies):
            label = f"{name}s{k}"
            selection["query"] = f"({query}) ({study['term']})"
            client.post(f"/api/tags/{label}/add", json={"selection": selection})
            tagged = _tagged(catalog, label)
            assert len(tagged) == study["series"]
            assert {by_series[u]["StudyInstanceUID"] for u in tagged} == {study["study_uid"]}
            assert tagged <= matching


def test_groups_are_scoped_to_the_users_projects(
    client: TestClient, catalog: CatalogBackend
) -> None:
    ana = bearer(catalog, "ana", "curator")
    root = bearer(catalog, "root", "admin")
    catalog.projects.create("lung", actor="root")
    catalog.projects.set_members("lung", add=["ana"], actor="root")
    catalog.projects.assign("lung", Selection.of(None, ["1.1", "1.5"]), actor="root")
    seen = client.post(GROUPS, json={"query": "*"}, headers=ana).json()
    assert [(p["patient_id"], p["series"]) for p in seen["items"]] == [("P-A", 1), ("P-B", 1)]
    assert seen["total"] == 2
    everything = client.post(GROUPS, json={"query": "*"}, headers=root).json()
    assert everything["total"] == 5
    # another patient's studies, or the series outside the project: nothing
    outside = client.post(GROUPS, json={"level": "studies", "patient_id": "CX"}, headers=ana).json()
    assert outside["items"] == [] and outside["total"] == 0
    studies = client.post(
        GROUPS, json={"level": "studies", "patient_id": "P-A"}, headers=ana
    ).json()
    assert [(s["study_uid"], s["series"]) for s in studies["items"]] == [("2.1", 1)]
    nobody = client.post(GROUPS, json={"query": "*"})
    assert nobody.status_code == 401


def test_a_bad_query_is_a_400_naming_it(client: TestClient) -> None:
    answer = client.post(GROUPS, json={"query": "Modality:(CT"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "query_syntax"
    unknown = client.get(GROUPS, params={"q": "PatientI:1", "level": "studies"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["suggestions"] == ["PatientID"]
