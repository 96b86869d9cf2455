"""A user's dashboard layout in their settings, and layouts shared under a name
(``/api/dashboard-layouts``): anyone signed in reads and applies them, the owner, a curator
or an admin changes them; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.server import ServerSettings, create_app
from tests.authn import bearer

LAYOUTS = "/api/dashboard-layouts"
CHEST = {
    "charts": [
        {"field": "Modality", "zoom": 3, "height": 240},
        {"field": "StudyDate", "height": 10},  # clamped to 60
        {"field": "age_years", "zoom": 1, "color": "red"},  # unknown keys dropped
    ],
    "width": 520,
}


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    with open_catalog(catalog_url) as opened:
        yield opened


@pytest.fixture
def client(catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(ServerSettings(home=tmp_path / "home"), catalog)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def people(catalog: CatalogBackend) -> dict[str, dict[str, str]]:
    return {
        "ana": bearer(catalog, "ana", "viewer"),
        "bob": bearer(catalog, "bob", "viewer"),
        "cur": bearer(catalog, "cur", "curator"),
        "root": bearer(catalog, "root", "admin"),
    }


def test_the_dashboard_is_part_of_the_users_settings(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    ana, bob = people["ana"], people["bob"]
    answer = client.put("/api/settings", json={"settings": {"dashboard": CHEST}}, headers=ana)
    assert answer.status_code == 200, answer.text
    saved = client.get("/api/settings", headers=ana).json()["settings"]["dashboard"]
    assert saved["width"] == 520
    assert saved["charts"] == [
        {"field": "Modality", "zoom": 3, "height": 240},
        {"field": "StudyDate", "height": 60},
        {"field": "age_years", "zoom": 1},
    ]
    assert "dashboard" not in client.get("/api/settings", headers=bob).json()["settings"]
    bad = client.put(
        "/api/settings", json={"settings": {"dashboard": {"charts": [{"zoom": 2}]}}}, headers=ana
    )
    assert bad.status_code == 422
    assert "field" in bad.json()["error"]["message"]


def test_anyone_reads_a_shared_layout_only_its_owner_or_a_curator_changes_it(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    ana, bob, cur, root = (people[n] for n in ("ana", "bob", "cur", "root"))
    put = client.put(
        f"{LAYOUTS}/Chest CT", json={"layout": CHEST, "description": "QC"}, headers=ana
    )
    assert put.status_code == 200, put.text
    shared = put.json()
    assert (shared["name"], shared["owner"], shared["description"]) == ("Chest CT", "ana", "QC")
    assert [c["field"] for c in shared["layout"]["charts"]] == [
        "Modality",
        "StudyDate",
        "age_years",
    ]
    # every user lists it and reads it (any case of its name)
    for who in (ana, bob, cur, root):
        listed = client.get(LAYOUTS, headers=who).json()["items"]
        assert [(i["name"], i["owner"]) for i in listed] == [("Chest CT", "ana")]
    assert client.get(f"{LAYOUTS}/chest ct", headers=bob).json()["layout"] == shared["layout"]
    assert client.get(f"{LAYOUTS}/nope", headers=bob).status_code == 404
    assert client.get(LAYOUTS).status_code == 401  # nobody signed in
    # another viewer may neither replace nor delete it
    other = {"charts": [{"field": "Manufacturer"}]}
    refused = client.put(f"{LAYOUTS}/chest CT", json={"layout": other}, headers=bob)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert client.delete(f"{LAYOUTS}/Chest CT", headers=bob).status_code == 403
    # a curator may; the owner stays
    replaced = client.put(f"{LAYOUTS}/Chest CT", json={"layout": other}, headers=cur)
    assert replaced.status_code == 200
    assert replaced.json()["owner"] == "ana"
    assert replaced.json()["layout"] == {"charts": [{"field": "Manufacturer"}]}
    # bob shares his own; the owner deletes theirs, an admin anyone's
    assert client.put(f"{LAYOUTS}/Bob's", json={"layout": other}, headers=bob).status_code == 200
    assert client.delete(f"{LAYOUTS}/Chest CT", headers=ana).status_code == 204
    assert client.delete(f"{LAYOUTS}/Bob's", headers=root).status_code == 204
    assert client.get(LAYOUTS, headers=bob).json()["items"] == []
    invalid = client.put(f"{LAYOUTS}/x", json={"layout": {"charts": "Modality"}}, headers=bob)
    assert invalid.status_code == 422
