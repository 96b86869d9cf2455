"""``/api/jobs``: the server fills missing thumbnails at startup, progress is visible, the
API keeps answering; thumbnail jobs on demand; errors are JSON."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydicom.uid import generate_uid

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.render.cache import ThumbnailCache
from radcurate.server import ServerSettings, create_app
from tests.jobs.conftest import write_ct_series
from tests.server.conftest import TEST_FILES


@pytest.fixture
def catalog(catalog_url: str, tmp_path: Path) -> Iterator[CatalogBackend]:
    """pydicom's test files (every kind of object) and a synthetic CT series."""
    write_ct_series(tmp_path / "ct", generate_uid(entropy_srcs=["api-jobs"]), range(4))
    with open_catalog(catalog_url) as opened:
        ingest([TEST_FILES, tmp_path / "ct"], opened, workers=1)
        yield opened


def _settings(catalog: CatalogBackend, tmp_path: Path, background: bool) -> ServerSettings:
    return ServerSettings(
        home=tmp_path / "home", catalog_url=catalog.url, background_thumbnails=background
    )


def _wait(client: TestClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if body["state"] not in ("queued", "running"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


def test_startup_job_fills_missing_thumbnails(catalog: CatalogBackend, tmp_path: Path) -> None:
    settings = _settings(catalog, tmp_path, background=True)
    series = catalog.info().series
    with TestClient(create_app(settings)) as client:
        (job,) = client.get("/api/jobs").json()["items"]
        assert job["kind"] == "thumbnails" and job["state"] in ("queued", "running", "done")
        assert job["params"]["trigger"] == "server startup"
        assert client.get("/api/info").status_code == 200  # answers while the job runs
        seen_progress = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = client.get(f"/api/jobs/{job['id']}").json()
            seen_progress.add(body["done"])
            if body["state"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert body["state"] == "done", body
        assert (body["done"], body["total"]) == (series, series)
        assert body["result"]["generated"] + body["result"]["failed"] == series
        assert body["finished_at"] is not None
    cache = ThumbnailCache(settings.thumbnail_root, settings.thumbnail_size)
    uids = [str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents()]
    missing = [u for u in uids if cache.lookup(catalog, u) is None]
    assert len(missing) == body["result"]["failed"]

    # a second start finds everything cached
    with TestClient(create_app(settings)) as client:
        newest = client.get("/api/jobs", params={"limit": 1}).json()["items"][0]
        again = _wait(client, newest["id"])
        assert again["result"]["generated"] == 0
        assert again["result"]["cached"] == series - body["result"]["failed"]


def test_thumbnail_job_on_request(catalog: CatalogBackend, tmp_path: Path) -> None:
    settings = _settings(catalog, tmp_path, background=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/jobs").json() == {"items": []}
        response = client.post("/api/jobs/thumbnails", json={"query": "Modality:CT"})
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["state"] == "queued" and job["params"]["query"] == "Modality:CT"
        done = _wait(client, job["id"])
        ct = catalog.count("Modality:CT")
        assert (done["state"], done["total"]) == ("done", ct)
        assert done["result"]["generated"] == ct
        listed = client.get("/api/jobs", params={"state": "done", "kind": "thumbnails"}).json()
        assert [j["id"] for j in listed["items"]] == [job["id"]]
        # the same again renders nothing; cancelling a finished job changes nothing
        again = _wait(
            client, client.post("/api/jobs/thumbnails", json={"query": "Modality:CT"}).json()["id"]
        )
        assert again["result"] == {**again["result"], "generated": 0, "cached": ct}
        cancelled = client.post(f"/api/jobs/{job['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "done"


def test_job_errors_are_json(catalog: CatalogBackend, tmp_path: Path) -> None:
    settings = _settings(catalog, tmp_path, background=False)
    with TestClient(create_app(settings)) as client:
        bad = client.post("/api/jobs/thumbnails", json={"query": "Modality:(CT"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "query_syntax"
        unknown = client.post("/api/jobs/thumbnails", json={"query": "NoSuchField:1"})
        assert unknown.status_code == 400
        extra = client.post("/api/jobs/thumbnails", json={"querry": "x"})
        assert extra.status_code == 422
        missing = client.get("/api/jobs/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"
        assert client.post("/api/jobs/nope/cancel").status_code == 404
        assert client.get("/api/jobs", params={"state": "sleeping"}).status_code == 422
        assert client.get("/api/jobs").json() == {"items": []}  # nothing was started


def test_shutdown_never_leaves_a_job_running(catalog: CatalogBackend, tmp_path: Path) -> None:
    settings = _settings(catalog, tmp_path, background=True)
    with TestClient(create_app(settings)) as client:
        (job,) = client.get("/api/jobs").json()["items"]
    # the app stopped at once: its job was asked to stop and ended (or had finished)
    record = catalog.job(job["id"])
    assert record is not None and record.state in ("cancelled", "done")
    assert not record.interrupted
