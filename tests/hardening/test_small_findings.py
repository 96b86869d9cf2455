"""Issue 13, finding 9: small inputs that answered 500 or were silently accepted.

Each case was reproduced against the app before its fix: a NUL character on PostgreSQL
(psycopg DataError), a single 60 KB term on SQLite ("LIKE or GLOB pattern too complex"), a
version number beyond 64 bits (OverflowError) and ``sort=NoSuchField`` (accepted).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.server import ServerSettings, create_app
from tests.data import shipped_dicom_roots

FILES = shipped_dicom_roots()[0] / "test_files"


@pytest.fixture
def client(catalog_url: str, tmp_path: Path) -> Iterator[TestClient]:
    small = tmp_path / "files"
    small.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (small / name).write_bytes((FILES / name).read_bytes())
    with open_catalog(catalog_url) as catalog:
        ingest([small], catalog, workers=1)
    settings = ServerSettings(home=tmp_path / "home", catalog_url=catalog_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _catalog(client: TestClient) -> CatalogBackend:
    catalog: CatalogBackend = client.app.state.catalog  # type: ignore[attr-defined]
    return catalog


@pytest.mark.parametrize(
    "params",
    [
        {"q": "PatientName:a\x00b"},
        {"q": "a\x00b"},
        {"q": "x" * 60_000},
        {"q": "SeriesDescription:" + "ab*" * 20_000},
        {"q": "ab*" * 20_000},
        {"q": "PatientName:" + "ab*" * 20_000},
        {"q": "ImageType:" + "a" * 60_000},
        {"q": " ".join(["x"] * 2_000)},
    ],
    ids=[
        "nul-field",
        "nul-text",
        "long-text",
        "long-wildcard",
        "long-text-wildcard",
        "long-sql-wildcard",
        "long-list-field",
        "repeated-terms",
    ],
)
def test_odd_queries_get_4xx_or_answers_never_500(
    client: TestClient, params: dict[str, str]
) -> None:
    responses = [client.post("/api/search", json={"query": params["q"]})]
    if len(params["q"]) < 1000:  # longer ones do not fit a URL
        responses += [client.get(p, params=params) for p in ("/api/search", "/api/count")]
    for response in responses:
        assert response.status_code < 500, (response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert response.json()["error"]["message"], response.text


def test_nul_in_a_dataset_description_is_refused(client: TestClient) -> None:
    response = client.post("/api/datasets", json={"name": "d1", "description": "a\x00b"})
    assert 400 <= response.status_code < 500, response.text
    assert "NUL" in response.json()["error"]["message"]
    settings = client.put("/api/settings", json={"settings": {"x": "a\x00b"}})
    assert 400 <= settings.status_code < 500, settings.text
    frozen = client.post("/api/datasets", json={"name": "d3"})
    assert frozen.status_code == 201
    note = client.post("/api/datasets/d3/versions", json={"note": "a\x00b"})
    assert 400 <= note.status_code < 500, note.text


def test_huge_version_number_is_404(client: TestClient) -> None:
    assert client.post("/api/datasets", json={"name": "d2"}).status_code == 201
    response = client.get("/api/datasets/d2/versions/99999999999999999999999")
    assert response.status_code == 404, response.text


def test_unknown_sort_field_is_400(client: TestClient) -> None:
    response = client.get("/api/search", params={"q": "*", "sort": "NoSuchField"})
    assert response.status_code == 400, response.text
    assert "NoSuchField" in response.json()["error"]["message"]
    good = client.get("/api/search", params={"q": "*", "sort": "-Modality"})
    assert good.status_code == 200
