"""``/api/clinical/tables``: upload (multipart and raw body), list, show, delete, and
bad input answered with a 4xx that says what is wrong."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.server import ServerSettings, create_app
from tests.authn import bearer

CSV = b"PatientID,Age,Diagnosis\nP001,64,nsclc\nP002,58,benign\nP900,50,benign\n"
URL = "/api/clinical/tables"


def serve(catalog: CatalogBackend, home: Path) -> Iterator[TestClient]:
    settings = ServerSettings(home=home, catalog_url=catalog.url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def client(any_catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    """The app over the series on each engine."""
    yield from serve(any_catalog, tmp_path / "home")


@pytest.fixture
def sqlite_client(sqlite_catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    """The app over a SQLite catalog (bad input is refused before the engine is asked)."""
    yield from serve(sqlite_catalog, tmp_path / "home")


def upload(
    client: TestClient, data: bytes = CSV, filename: str = "outcomes.csv", **form: str
) -> Any:
    form.setdefault("key", "PatientID")
    return client.post(URL, files={"file": (filename, data, "text/csv")}, data=form)


def test_upload_list_show_delete(client: TestClient, any_catalog: CatalogBackend) -> None:
    client.headers.update(bearer(any_catalog, "ana", "curator"))
    bob = bearer(any_catalog, "bob", "admin")  # deleting a table is an admin's
    response = upload(client)
    assert response.status_code == 201, response.text
    body = response.json()
    table = body["table"]
    assert table["name"] == "outcomes" and table["fields"] == "clin.outcomes.*"
    assert table["series_count"] == 3 and body["unmatched_keys"] is None
    report = table["report"]
    assert (report["rows_read"], report["matched_keys"], report["unmatched_keys"]) == (3, 2, 1)
    assert "P900" not in response.text
    search = client.get("/api/count", params={"q": "clin.outcomes.age:>60"})
    assert search.json()["series"] == 2 and search.json()["patients"] == 1
    listed = client.get(URL).json()["items"]
    assert [t["name"] for t in listed] == ["outcomes"]
    shown = client.get(f"{URL}/outcomes").json()
    assert shown["report"]["columns"][0]["field"] == "clin.outcomes.age"
    deleted = client.delete(f"{URL}/outcomes", headers=bob)
    assert deleted.status_code == 200 and deleted.json() == {"name": "outcomes", "series_count": 3}
    assert client.get(URL).json()["items"] == []
    assert client.get("/api/count", params={"q": "has:clin.outcomes"}).json()["series"] == 0
    audit = client.get("/api/audit", params={"action": "clinical.remove"}, headers=bob)
    audit = audit.json()["items"]
    assert audit[0]["actor"] == "bob"


def test_upload_options_and_unmatched_keys_on_request(sqlite_client: TestClient) -> None:
    client = sqlite_client
    response = upload(
        client, name="Labs 2024", key="patientid", key_column="PatientID", show_unmatched="true"
    )
    assert response.status_code == 201, response.text
    assert response.json()["table"]["name"] == "labs_2024"
    assert response.json()["unmatched_keys"] == ["P900"]
    stored = client.get(f"{URL}/labs_2024").text
    assert "P900" not in stored


def test_parquet_and_raw_body_uploads(client: TestClient) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"PatientID": ["P001", "P003"], "bmi": [24.5, 31.0]}), buffer)
    response = upload(client, buffer.getvalue(), "body.parquet")
    assert response.status_code == 201, response.text
    assert response.json()["table"]["report"]["format"] == "parquet"
    assert response.json()["table"]["series_count"] == 3
    raw = client.post(
        URL,
        params={"key": "PatientID", "filename": "vitals.tsv"},
        content=b"PatientID\tpulse\nP002\t71\n",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert raw.status_code == 201, raw.text
    assert raw.json()["table"]["name"] == "vitals" and raw.json()["table"]["series_count"] == 1


def test_reupload_replaces(client: TestClient) -> None:
    upload(client)
    response = upload(client, b"PatientID,Age\nP002,59\n")
    report = response.json()["table"]["report"]
    assert report["series_removed"] == 2 and report["series_written"] == 1
    count = client.get("/api/count", params={"q": "has:clin.outcomes.diagnosis"}).json()
    assert count["series"] == 0
    assert client.get("/api/count", params={"q": "clin.outcomes.age:59"}).json()["series"] == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "message"),
    [
        ({"key": "MRN"}, 422, "unknown_key_kind", "use one of PatientID"),
        ({"key": "AccessionNumber"}, 422, "missing_key_column", "no AccessionNumber column"),
        ({"key_column": "pid"}, 422, "missing_key_column", "no column 'pid'"),
        ({"duplicates": "newest"}, 422, "invalid_duplicates", "refuse, first, last"),
        ({"data": b""}, 400, "empty_file", "outcomes.csv is empty"),
        ({"data": b"PatientID,Age\n"}, 400, "empty_file", "no data rows"),
        ({"filename": "o.parquet"}, 400, "unreadable_file", "not a readable Parquet"),
        ({"filename": "o.xlsx"}, 415, "unsupported_format", "save the sheet as CSV"),
        ({"name": "!!!"}, 422, "invalid_name", "no letters"),
    ],
)
def test_bad_uploads_are_4xx_with_a_message(
    sqlite_client: TestClient, kwargs: dict[str, Any], status: int, code: str, message: str
) -> None:
    client = sqlite_client
    kwargs = dict(kwargs)
    data = kwargs.pop("data", CSV)
    filename = kwargs.pop("filename", "outcomes.csv")
    response = upload(client, data, filename, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and message in error["message"]
    assert client.get(URL).json()["items"] == []


def test_malformed_requests(sqlite_client: TestClient) -> None:
    client = sqlite_client
    no_key = client.post(URL, files={"file": ("o.csv", CSV, "text/csv")})
    assert no_key.status_code == 422 and no_key.json()["error"]["code"] == "missing_key"
    no_file = client.post(URL, data={"key": "PatientID"}, files={"other": ("x", b"1")})
    assert no_file.status_code == 400 and "no 'file' part" in no_file.json()["error"]["message"]
    unnamed = client.post(URL, params={"key": "PatientID"}, content=CSV)
    assert unnamed.status_code == 415
    assert client.get(f"{URL}/nope").status_code == 404
    gone = client.delete(f"{URL}/nope")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_duplicates_refused_then_chosen(client: TestClient) -> None:
    data = b"PatientID,Age\nP001,64\nP001,65\n"
    refused = upload(client, data)
    assert refused.status_code == 422 and "rows 1 and 2" in refused.json()["error"]["message"]
    assert "P001" not in refused.text
    chosen = upload(client, data, duplicates="last")
    assert chosen.status_code == 201
    assert client.get("/api/count", params={"q": "clin.outcomes.age:65"}).json()["series"] == 2
