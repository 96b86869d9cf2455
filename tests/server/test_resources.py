"""Series, instances, fields, info and errors over HTTP; every error is JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.server import ServerSettings, create_app

SQL_IN_TEXT = "1.2.3'; DROP TABLE series; --"


def _some_series(catalog: CatalogBackend, query: str = "Modality:CT") -> dict[str, Any]:
    return catalog.search(query, limit=1).documents[0]


def test_series_document_and_results(client: TestClient, catalog: CatalogBackend) -> None:
    document = _some_series(catalog)
    uid = document["SeriesInstanceUID"]
    catalog.set_results(uid, "ai", {"bodypart": "chest", "scores": {"nodule": 0.7}})
    body = client.get(f"/api/series/{uid}").json()
    assert body["series_uid"] == uid
    assert body["document"] == catalog.series_document(uid)
    assert body["results"] == {
        "ai": {"bodypart": "chest", "scores": {"nodule": 0.7}},
        "qc": catalog.results(uid)["qc"],  # the header checks ingest wrote
        "clin": {},
    }
    assert "geometry" in body["results"]["qc"]


def test_instances(client: TestClient, catalog: CatalogBackend) -> None:
    document = _some_series(catalog, "instance_count:>1")
    uid = document["SeriesInstanceUID"]
    body = client.get(f"/api/series/{uid}/instances").json()
    assert body["series_uid"] == uid
    assert len(body["items"]) == document["file_count"]
    assert {i["sop_uid"] for i in body["items"]} == {r.sop_uid for r in catalog.instances(uid)}
    assert all(i["series_uid"] == uid for i in body["items"])


def test_unknown_series_is_a_json_404(client: TestClient) -> None:
    for path in ("", "/instances", "/thumbnail"):
        response = client.get(f"/api/series/{SQL_IN_TEXT}{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "series_not_found"
        assert SQL_IN_TEXT in response.json()["error"]["message"]
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.delete("/api/info")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_fields(client: TestClient, catalog: CatalogBackend) -> None:
    everything = client.get("/api/fields").json()["items"]
    expected = [*catalog.fields(), *catalog.result_fields()]
    assert [f["name"] for f in everything] == [f.name for f in expected]
    modal = client.get("/api/fields", params={"prefix": "modal"}).json()["items"]
    assert modal and all(f["name"].lower().startswith("modal") for f in modal)
    modality = next(f for f in modal if f["name"] == "Modality")
    assert modality["type"] == "keyword"
    assert modality["series_count"] == catalog.count("has:Modality")
    assert len(client.get("/api/fields", params={"limit": 3}).json()["items"]) == 3


def test_info_and_errors(client: TestClient, catalog: CatalogBackend) -> None:
    assert client.get("/api/info").json() == catalog.info().to_dict()
    errors = client.get("/api/errors", params={"limit": 3}).json()["items"]
    assert [e["path"] for e in errors] == [e.source for e in catalog.errors(3)]
    assert all(e["reason"] and e["size"] >= 0 for e in errors)
    everything = client.get("/api/errors").json()["items"]
    assert len(everything) == catalog.info().errors
    assert client.get("/api/errors", params={"limit": -1}).status_code == 422


def test_openapi_has_stable_operation_ids(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path): op["operationId"]
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    }
    assert operations == {  # every route, by method and path (changes are API changes)
        ("GET", "/api/aggregate"): "aggregate_get",
        ("POST", "/api/aggregate"): "aggregate",
        ("GET", "/api/audit"): "list_audit",
        ("GET", "/api/auth/me"): "auth_me",
        ("POST", "/api/auth/login"): "auth_login",
        ("POST", "/api/auth/logout"): "auth_logout",
        ("GET", "/api/users"): "list_users",
        ("GET", "/api/projects"): "list_projects",
        ("POST", "/api/projects"): "create_project",
        ("PATCH", "/api/projects/{name}"): "update_project",
        ("DELETE", "/api/projects/{name}"): "delete_project",
        ("POST", "/api/projects/{name}/members"): "set_project_members",
        ("POST", "/api/projects/{name}/add"): "add_to_project",
        ("POST", "/api/projects/{name}/remove"): "remove_from_project",
        ("GET", "/api/access-log"): "list_access_log",
        ("POST", "/api/users"): "add_user",
        ("PATCH", "/api/users/{name}"): "update_user",
        ("DELETE", "/api/users/{name}"): "delete_user",
        ("GET", "/api/tokens"): "list_tokens",
        ("POST", "/api/tokens"): "create_token",
        ("DELETE", "/api/tokens/{token_id}"): "revoke_token",
        ("GET", "/api/autocomplete/fields"): "autocomplete_fields",
        ("GET", "/api/autocomplete/values"): "autocomplete_values",
        ("GET", "/api/count"): "count_series",
        ("GET", "/api/datasets"): "list_datasets",
        ("POST", "/api/datasets"): "create_dataset",
        ("DELETE", "/api/datasets/{name}"): "delete_dataset",
        ("GET", "/api/datasets/{name}"): "get_dataset",
        ("PATCH", "/api/datasets/{name}"): "update_dataset",
        ("POST", "/api/datasets/{name}/add"): "add_to_dataset",
        ("GET", "/api/datasets/{name}/diff"): "diff_dataset_versions",
        ("POST", "/api/datasets/{name}/remove"): "remove_from_dataset",
        ("GET", "/api/datasets/{name}/versions"): "list_dataset_versions",
        ("POST", "/api/datasets/{name}/versions"): "freeze_dataset",
        ("GET", "/api/datasets/{name}/versions/{version}"): "get_dataset_version",
        ("GET", "/api/datasets/{name}/versions/{version}/card"): "get_dataset_card",
        ("GET", "/api/datasets/{name}/versions/{version}/card.html"): "get_dataset_card_html",
        ("POST", "/api/datasets/{name}/exports"): "start_export",
        ("GET", "/api/exports"): "list_exports",
        ("GET", "/api/exports/{job_id}/download"): "download_export",
        ("DELETE", "/api/exports/{job_id}"): "delete_export",
        ("GET", "/api/errors"): "list_errors",
        ("GET", "/api/fields"): "list_fields",
        ("GET", "/api/info"): "get_info",
        ("GET", "/api/jobs"): "list_jobs",
        ("POST", "/api/jobs/thumbnails"): "start_thumbnail_job",
        ("GET", "/api/jobs/{job_id}"): "get_job",
        ("POST", "/api/jobs/{job_id}/cancel"): "cancel_job",
        ("GET", "/api/jobs/{job_id}/errors"): "get_job_errors",
        ("GET", "/api/workflows"): "list_workflows",
        ("GET", "/api/qc/checks"): "list_qc_checks",
        ("POST", "/api/bias"): "bias_report",
        ("GET", "/api/bias"): "bias_report_get",
        ("POST", "/api/bias/compare"): "bias_compare",
        ("GET", "/api/series/{series_uid}/review"): "get_review",
        ("PUT", "/api/series/{series_uid}/review"): "set_review",
        ("POST", "/api/review"): "review_selection",
        ("GET", "/api/review/progress"): "review_progress",
        ("POST", "/api/clinical/tables"): "import_clinical_table",
        ("GET", "/api/clinical/tables"): "list_clinical_tables",
        ("GET", "/api/clinical/tables/{name}"): "get_clinical_table",
        ("DELETE", "/api/clinical/tables/{name}"): "delete_clinical_table",
        ("POST", "/api/workflows/{name}/runs"): "start_workflow_run",
        ("GET", "/api/search"): "search_series",
        ("POST", "/api/search"): "search_series_post",
        ("GET", "/api/search/groups"): "search_groups_get",
        ("POST", "/api/search/groups"): "search_groups",
        ("POST", "/api/selections"): "create_selection",
        ("GET", "/api/selections/{selection_id}"): "get_selection",
        ("GET", "/api/series/{series_uid}"): "get_series",
        ("GET", "/api/series/{series_uid}/header"): "get_series_header",
        ("GET", "/api/series/{series_uid}/instances"): "list_instances",
        ("GET", "/api/series/{series_uid}/measure"): "get_measurement",
        ("GET", "/api/series/{series_uid}/overlay"): "get_overlay",
        ("GET", "/api/series/{series_uid}/results"): "get_series_results",
        ("GET", "/api/series/{series_uid}/slice"): "get_slice",
        ("GET", "/api/series/{series_uid}/thumbnail"): "get_thumbnail",
        ("GET", "/api/series/{series_uid}/views"): "get_views",
        ("GET", "/api/series/{series_uid}/volume.nii.gz"): "get_volume",
        ("GET", "/api/settings"): "get_user_settings",
        ("PUT", "/api/settings"): "put_user_settings",
        ("GET", "/api/dashboard-layouts"): "list_dashboard_layouts",
        ("GET", "/api/dashboard-layouts/{name}"): "get_dashboard_layout",
        ("PUT", "/api/dashboard-layouts/{name}"): "put_dashboard_layout",
        ("DELETE", "/api/dashboard-layouts/{name}"): "delete_dashboard_layout",
        ("GET", "/api/tags"): "list_tags",
        ("POST", "/api/tags"): "create_tag",
        ("DELETE", "/api/tags/{name}"): "delete_tag",
        ("GET", "/api/tags/{name}"): "get_tag",
        ("PATCH", "/api/tags/{name}"): "update_tag",
        ("POST", "/api/tags/{name}/add"): "tag_selection",
        ("POST", "/api/tags/{name}/remove"): "untag_selection",
        ("GET", "/dicomweb/instances"): "qido_instances",
        ("GET", "/dicomweb/series"): "qido_series",
        ("GET", "/dicomweb/studies"): "qido_studies",
        ("POST", "/dicomweb/studies"): "stow_studies",
        ("GET", "/dicomweb/studies/{study}"): "wado_study",
        ("POST", "/dicomweb/studies/{study}"): "stow_study",
        ("GET", "/dicomweb/studies/{study}/instances"): "qido_study_instances",
        ("GET", "/dicomweb/studies/{study}/metadata"): "wado_study_metadata",
        ("GET", "/dicomweb/studies/{study}/series"): "qido_study_series",
        ("GET", "/dicomweb/studies/{study}/series/{series}"): "wado_series",
        ("GET", "/dicomweb/studies/{study}/series/{series}/instances"): "qido_series_instances",
        ("GET", "/dicomweb/studies/{study}/series/{series}/instances/{sop}"): "wado_instance",
        (
            "GET",
            "/dicomweb/studies/{study}/series/{series}/instances/{sop}/bulkdata/{path}",
        ): "wado_bulkdata",
        (
            "GET",
            "/dicomweb/studies/{study}/series/{series}/instances/{sop}/frames/{frame_list}",
        ): "wado_frames",
        (
            "GET",
            "/dicomweb/studies/{study}/series/{series}/instances/{sop}/frames/{frame}/rendered",
        ): "wado_frame_rendered",
        (
            "GET",
            "/dicomweb/studies/{study}/series/{series}/instances/{sop}/metadata",
        ): "wado_instance_metadata",
        (
            "GET",
            "/dicomweb/studies/{study}/series/{series}/instances/{sop}/rendered",
        ): "wado_instance_rendered",
        (
            "GET",
            "/dicomweb/studies/{study}/series/{series}/instances/{sop}/thumbnail",
        ): "wado_instance_thumbnail",
        ("GET", "/dicomweb/studies/{study}/series/{series}/metadata"): "wado_series_metadata",
        ("GET", "/dicomweb/studies/{study}/series/{series}/rendered"): "wado_series_rendered",
        ("GET", "/dicomweb/studies/{study}/series/{series}/thumbnail"): "wado_series_thumbnail",
        ("GET", "/dicomweb/studies/{study}/thumbnail"): "wado_study_thumbnail",
    }
    search = spec["paths"]["/api/search"]["get"]
    assert search["tags"] == ["search"]
    assert "ErrorResponse" in str(search["responses"]["400"])


def test_no_catalog_is_opened_before_startup(tmp_path: Path) -> None:
    target = tmp_path / "later.sqlite"
    app = create_app(ServerSettings(home=tmp_path, catalog_url=f"sqlite:///{target}"))
    assert not target.exists()
    with TestClient(app) as client:
        assert target.exists()
        assert client.get("/api/info").json()["series"] == 0


def test_cors_only_when_configured(settings: ServerSettings) -> None:
    origin = {"Origin": "http://localhost:5173"}
    with TestClient(create_app(settings)) as client:
        assert "access-control-allow-origin" not in client.get("/api/info", headers=origin).headers
    allowed = ServerSettings(
        home=settings.home, catalog_url=settings.catalog_url, cors_origins=(origin["Origin"],)
    )
    with TestClient(create_app(allowed)) as client:
        response = client.get("/api/info", headers=origin)
        assert response.headers["access-control-allow-origin"] == origin["Origin"]


def test_an_internal_error_is_still_json(catalog: CatalogBackend, settings: ServerSettings) -> None:
    class Broken:
        url = catalog.url

        def info(self) -> None:
            raise RuntimeError("disk on fire")

    app = create_app(settings, catalog=Broken())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/info")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "disk on fire" not in response.text


def test_settings_from_env(tmp_path: Path) -> None:
    env = {"RADCURATE_HOME": str(tmp_path), "RADCURATE_CORS_ORIGINS": "http://a, http://b"}
    settings = ServerSettings.from_env(env)
    assert settings.catalog_url == f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    assert settings.cors_origins == ("http://a", "http://b")
    assert settings.thumbnail_root == tmp_path / "thumbnails"
    assert ServerSettings.from_env(env, catalog_url="sqlite:///x").catalog_url == "sqlite:///x"
