"""Workflow plugins: the example package's annotator that fails at import is reported by the
registry and by ``radcurate workflows``, and refused by name, without breaking the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import radcurate.workflow.registry as registry_module
from radcurate.catalog import CatalogBackend
from radcurate.cli import main
from radcurate.plugins import PluginLoadError, PluginNotFound
from radcurate.server import ServerSettings, create_app
from radcurate.workflow.registry import WorkflowRegistry, default_registry
from tests.plugins.conftest import PACKAGE
from tests.workflows.steps import ProbeWorkflow

BROKEN_REASON = "ModuleNotFoundError: No module named 'radcurate_example_missing_dependency'"


@pytest.fixture
def fresh_default(example_plugin: Path, monkeypatch: pytest.MonkeyPatch) -> WorkflowRegistry:
    """The process's default registry, read anew with the example plugin installed."""
    fresh = WorkflowRegistry()
    monkeypatch.setattr(registry_module, "_DEFAULT", fresh)
    return fresh


def test_the_broken_plugin_is_reported_not_raised(fresh_default: WorkflowRegistry) -> None:
    registry = fresh_default
    assert default_registry() is registry
    assert {"broken", "header-bodypart", "thumbnails"} <= set(registry.names())
    infos = {i.name: i for i in registry.infos()}
    assert "broken" not in infos
    assert {"header-bodypart", "thumbnails"} <= set(infos)
    [error] = [e for e in registry.errors() if e.name == "broken"]
    assert (error.group, error.target) == ("radcurate.annotators", f"{PACKAGE}.broken:annotate")
    assert error.error == BROKEN_REASON
    with pytest.raises(PluginLoadError, match=r"cannot load radcurate\.annotators plugin 'broken'"):
        registry.get("broken")
    with pytest.raises(PluginNotFound, match=r"available: .*broken, header-bodypart"):
        registry.get("nope")


def test_not_a_workflow_is_a_load_error() -> None:
    registry = WorkflowRegistry()
    registry.registries["qc_checks"].register("len", len)
    registry.register(ProbeWorkflow(), group="qc_checks")
    assert "len" not in {i.name for i in registry.infos()}
    assert {i.name: i.group for i in registry.infos()}["probe"] == "qc_checks"
    [error] = [e for e in registry.errors() if e.name == "len"]
    assert "is not a radcurate.workflow.Workflow" in error.error


def test_radcurate_workflows_lists_the_rest_and_warns(
    fresh_default: WorkflowRegistry, sqlite_catalog: CatalogBackend
) -> None:
    result = CliRunner().invoke(main, ["workflows", "--json"])
    assert result.exit_code == 0, result.output
    names = {w["name"] for w in json.loads(result.stdout)}
    assert {"header-bodypart", "thumbnails"} <= names and "broken" not in names
    assert "warning:" in result.stderr and "broken" in result.stderr
    assert "radcurate_example_missing_dependency" in " ".join(result.stderr.split())

    table = CliRunner().invoke(main, ["workflows"])
    assert table.exit_code == 0, table.output
    assert "header-bodypart" in table.stdout

    run = CliRunner().invoke(main, ["run", "broken", "--catalog", sqlite_catalog.url])
    assert run.exit_code == 2
    assert "cannot load radcurate.annotators plugin 'broken'" in " ".join(run.output.split())
    assert sqlite_catalog.jobs() == []


def test_the_api_lists_the_rest_and_refuses_the_broken_one(
    fresh_default: WorkflowRegistry, sqlite_catalog: CatalogBackend, tmp_path: Path
) -> None:
    settings = ServerSettings(home=tmp_path / "home", catalog_url=sqlite_catalog.url)
    with TestClient(create_app(settings)) as client:
        listed = client.get("/api/workflows")
        assert listed.status_code == 200
        names = {w["name"] for w in listed.json()}
        assert {"header-bodypart", "thumbnails"} <= names and "broken" not in names
        response = client.post("/api/workflows/broken/runs", json={"selection": {"query": "*"}})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "plugin_unavailable"
        assert BROKEN_REASON in response.json()["error"]["message"]
