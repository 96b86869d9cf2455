"""``/api/workflows``: list, start a run on each kind of selection and follow it as a job; the
results with provenance, in search pages and through ``job:ID``; per-series errors; 4xx."""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection
from radcurate.catalog.result_types import params_hash
from radcurate.server import ServerSettings, create_app
from radcurate.workflow import Workflow
from tests.workflows.conftest import series_uid
from tests.workflows.steps import CALLS, PROBE

CT = [series_uid(n) for n in range(4)]
MR = [series_uid(4), series_uid(5)]


def _client(catalog: CatalogBackend, tmp_path: Path) -> TestClient:
    settings = ServerSettings(
        home=tmp_path / "home", catalog_url=catalog.url, background_thumbnails=False
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(sqlite_catalog: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    with _client(sqlite_catalog, tmp_path) as test_client:
        yield test_client


def wait_done(client: TestClient, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] not in ("queued", "running"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


def start(client: TestClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/workflows/{name}/runs", json=body)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert job["kind"] == "workflow" and job["state"] in ("queued", "running", "done")
    return wait_done(client, job["id"])


def test_list_workflows(client: TestClient, probe: Workflow) -> None:
    response = client.get("/api/workflows")
    assert response.status_code == 200
    listed = {w["name"]: w for w in response.json()}
    assert {"thumbnails", "header-bodypart", PROBE} <= set(listed)
    assert listed[PROBE]["params_schema"]["properties"]["factor"]["minimum"] == 1
    assert listed["header-bodypart"]["group"] == "annotators"
    assert set(listed["thumbnails"]) == {
        "name", "title", "description", "version", "group", "params_schema",
    }  # fmt: skip


def test_run_follow_results_and_search(any_catalog: CatalogBackend, tmp_path: Path) -> None:
    with _client(any_catalog, tmp_path) as client:
        body = {"selection": {"query": "Modality:CT", "exclude": [CT[0]]}}
        job = start(client, "header-bodypart", body)
        assert job["state"] == "done", job
        assert (job["done"], job["total"]) == (3, 3)
        assert job["result"] == {
            "workflow": "header-bodypart", "total": 3, "processed": 3, "skipped": 0,
            "failed": 0, "written": 3,
        }  # fmt: skip
        assert job["params"] == {
            "workflow": "header-bodypart",
            "params": {"use_descriptions": True},
            "selection": {"query": "Modality:CT", "exclude": [CT[0]]},
            "force": False,
            "trigger": "api",
            "started_by": getpass.getuser(),  # auth off: the server's OS user (issue 18)
        }

        results = client.get(f"/api/series/{CT[1]}/results")
        assert results.status_code == 200, results.text
        answer = results.json()
        assert answer["results"]["ai"] == {
            "bodypart_header": ["chest"], "bodypart_header_source": "BodyPartExamined",
        }  # fmt: skip
        (provenance,) = [p for p in answer["provenance"] if p["producer"] == "header-bodypart"]
        assert provenance["producer"] == "header-bodypart" and provenance["version"] == "1"
        assert provenance["params"] == {"use_descriptions": True}
        assert provenance["params_hash"] == params_hash({"use_descriptions": True})
        assert provenance["job_id"] == job["id"]
        assert provenance["input_hash"] == "CHEST|Thorax 5mm||"
        assert provenance["keys"] == ["ai.bodypart_header", "ai.bodypart_header_source"]
        assert provenance["written_at"] and provenance["actor"]
        untouched = client.get(f"/api/series/{CT[0]}/results").json()
        producers = [p["producer"] for p in untouched["provenance"]]
        assert producers == ["qc-header"] and untouched["results"]["ai"] == {}
        assert client.get("/api/series/1.2.3.404/results").status_code == 404

        page = client.get(
            "/api/search",
            params={"q": f"job:{job['id']}", "fields": "SeriesInstanceUID,ai.bodypart_header"},
        )
        assert page.status_code == 200, page.text
        found = {i["series_uid"]: i["fields"]["ai.bodypart_header"] for i in page.json()["items"]}
        assert found == {CT[1]: ["chest"], CT[2]: ["abdomen"], CT[3]: ["head"]}
        assert page.json()["total"] == 3
        chest = client.get("/api/search", params={"q": "ai.bodypart_header:chest"}).json()
        assert {i["series_uid"] for i in chest["items"]} == {CT[1]}

        # again: everything is up to date; force runs it again
        again = start(client, "header-bodypart", body)
        assert (again["result"]["skipped"], again["result"]["processed"]) == (3, 0)
        forced = start(client, "header-bodypart", {**body, "force": True})
        assert (forced["result"]["skipped"], forced["result"]["processed"]) == (0, 3)
        assert forced["params"]["force"] is True


def test_every_kind_of_selection(
    client: TestClient, sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    catalog = sqlite_catalog
    catalog.create_dataset("heads")
    catalog.add_to_dataset("heads", Selection.of("Modality:MR"))
    catalog.freeze_dataset("heads")
    catalog.add_to_dataset("heads", Selection.of(None, include=[CT[3]]))

    def ran_on(body: dict[str, Any]) -> list[str]:
        job = start(client, PROBE, body)
        assert job["state"] == "done", job
        return catalog.series_uids(f"job:{job['id']}")

    assert ran_on({"dataset": "heads", "dataset_version": 1}) == MR
    assert ran_on({"dataset": "heads"}) == [CT[3]]
    assert ran_on({"uids": [CT[0]]}) == [CT[0]]
    stored = client.post("/api/selections", json={"query": "Modality:CT", "exclude": [CT[1]]})
    assert stored.status_code == 201, stored.text
    assert ran_on({"selection_id": stored.json()["id"]}) == [CT[2]]
    assert ran_on({"selection": {"query": "*"}, "params": {"factor": 2}}) == CT + MR


def test_per_series_errors(
    client: TestClient, sqlite_catalog: CatalogBackend, probe: Workflow, tmp_path: Path
) -> None:
    fail_file = tmp_path / "fail.txt"
    fail_file.write_text(f"{CT[1]}\n{MR[0]}\n")
    job = start(
        client, PROBE, {"selection": {"query": "*"}, "params": {"fail_file": str(fail_file)}}
    )
    assert job["state"] == "done"
    assert (job["result"]["processed"], job["result"]["failed"]) == (4, 2)
    errors = client.get(f"/api/jobs/{job['id']}/errors")
    assert errors.status_code == 200
    assert errors.json() == {
        "total": 2,
        "errors": [
            {"series_uid": CT[1], "error": f"RuntimeError: probe refuses {CT[1]}"},
            {"series_uid": MR[0], "error": f"RuntimeError: probe refuses {MR[0]}"},
        ],
    }
    page = client.get(f"/api/jobs/{job['id']}/errors", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [e["series_uid"] for e in page["errors"]] == [MR[0]]
    assert client.get("/api/jobs/nope/errors").status_code == 404
    count = client.get("/api/search", params={"q": f"job:{job['id']}"}).json()["total"]
    assert count == 4


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("nope", {"uids": [CT[0]]}, 404, "workflow_not_found"),
        (PROBE, {"uids": [CT[0]], "params": {"factor": 0}}, 422, "invalid_params"),
        (PROBE, {"uids": [CT[0]], "params": {"nope": 1}}, 422, "invalid_params"),
        (PROBE, {"selection": {"query": "Modality:(CT"}}, 400, None),
        (PROBE, {"selection": {"query": "NoSuchField:1"}}, 400, None),
        (PROBE, {"selection": {"query": {"op": "nope"}}}, 400, None),
        (PROBE, {"selection": {"query": "*"}, "uids": [CT[0]]}, 400, "invalid_selection"),
        (PROBE, {}, 400, "invalid_selection"),
        (PROBE, {"dataset": "nope"}, 404, "dataset_not_found"),
        (PROBE, {"dataset": "heads", "dataset_version": 9}, 404, "version_not_found"),
        (PROBE, {"selection_id": "nope"}, 404, "selection_not_found"),
        (PROBE, {"uids": [CT[0]], "dataset_version": 1}, 400, "invalid_selection"),
        (PROBE, {"uids": [CT[0]], "bogus": 1}, 422, None),
    ],
    ids=["unknown-workflow", "param-range", "param-extra", "query-syntax", "query-field",
         "query-json", "two-selections", "no-selection", "unknown-dataset", "unknown-version",
         "unknown-selection", "version-without-dataset", "unknown-body-field"],
)  # fmt: skip
def test_bad_requests(
    client: TestClient,
    sqlite_catalog: CatalogBackend,
    probe: Workflow,
    name: str,
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    sqlite_catalog.create_dataset("heads")
    response = client.post(f"/api/workflows/{name}/runs", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    assert client.get("/api/jobs").json()["items"] == [] and not CALLS
