"""The QC check summary: ``radcurate qc`` and ``GET /api/qc/checks`` count the series of a
query failing each registered check, and agree with ``radcurate facets`` and ``/api/count``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.catalog.result_types import ResultRow
from radcurate.cli import main
from radcurate.server.app import create_app
from radcurate.server.settings import ServerSettings
from radcurate.workflow import QCCheck, SeriesItem, Workflow
from radcurate.workflow.registry import default_registry
from tests.workflows.conftest import series_uid

GAP = QCCheck(
    field="qc.probe.missing",
    title="Probe: missing slices",
    meaning="Slices missing from the volume (a test check).",
    fails="qc.probe.missing:>0",
    family="probe",
    severity="error",
)
FLAG = QCCheck(
    field="qc.probe.flagged",
    title="Probe: flagged",
    meaning="A boolean test check.",
    fails="qc.probe.flagged:true",
    family="probe",
)
NEVER = QCCheck(
    field="qc.probe.never_written",
    title="Probe: never written",
    meaning="No series carries this field.",
    fails="qc.probe.never_written:true",
    family="probe",
)


class ProbeQC(Workflow):
    name = "probe-qc"
    checks: ClassVar[tuple[QCCheck, ...]] = (GAP, FLAG, NEVER)

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        return {"qc": {"probe": {"missing": 0, "flagged": False}}}


@pytest.fixture
def probe_qc() -> Iterator[Workflow]:
    step = ProbeQC()
    registry = default_registry()
    registry.register(step, group="qc_checks")
    yield step
    registry.registries["qc_checks"].unregister(step.name)


@pytest.fixture
def flagged(sqlite_catalog: CatalogBackend, probe_qc: Workflow) -> CatalogBackend:
    """Series 0 and 1 miss slices, series 1 and 4 are flagged, 5 was never checked."""
    values = {0: (2, False), 1: (1, True), 2: (0, False), 3: (0, False), 4: (0, True)}
    rows = [
        ResultRow(series_uid(n), {"qc": {"probe": {"missing": m, "flagged": f}}})
        for n, (m, f) in values.items()
    ]
    sqlite_catalog.result_store.write_results(rows, producer="probe-qc", version="1")
    return sqlite_catalog


def _by_field(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["field"]: c for c in checks}


def test_cli_counts_equal_facets(flagged: CatalogBackend, tmp_path: Path) -> None:
    env = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": flagged.url}
    runner = CliRunner()
    result = runner.invoke(main, ["qc", "Modality:CT", "--json"], env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    checks = _by_field(payload["checks"])
    assert payload["total"] == 4
    assert (checks[GAP.field]["count"], checks[GAP.field]["checked"]) == (2, 4)
    assert (checks[FLAG.field]["count"], checks[FLAG.field]["checked"]) == (1, 4)
    assert (checks[NEVER.field]["count"], checks[NEVER.field]["checked"]) == (0, 0)
    assert checks[GAP.field]["workflow"] == "probe-qc"
    for check in (GAP, FLAG):
        facets = runner.invoke(main, ["facets", f"Modality:CT {check.fails}", "--json"], env=env)
        assert facets.exit_code == 0, facets.output
        assert json.loads(facets.output)["counts"]["series"] == checks[check.field]["count"]
    table = runner.invoke(main, ["qc", "*", "--failing"], env=env)
    assert table.exit_code == 0, table.output
    assert "Probe: missing slices" in table.output and "Probe: never written" not in table.output


def test_cli_bad_query(flagged: CatalogBackend, tmp_path: Path) -> None:
    env = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": flagged.url}
    result = CliRunner().invoke(main, ["qc", "Modalty:CT"], env=env)
    assert result.exit_code == 2
    assert "Modality" in result.output  # the near field is suggested


def test_api_counts_equal_count_endpoint(flagged: CatalogBackend, tmp_path: Path) -> None:
    settings = ServerSettings(
        home=tmp_path / "home", catalog_url=flagged.url, background_thumbnails=False
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/qc/checks", params={"q": "*"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 6
        checks = _by_field(body["checks"])
        assert (checks[GAP.field]["count"], checks[GAP.field]["checked"]) == (2, 5)
        assert checks[FLAG.field]["count"] == 2
        assert checks[GAP.field]["severity"] == "error" and checks[GAP.field]["family"] == "probe"
        for check in (GAP, FLAG):
            count = client.get("/api/count", params={"q": check.fails}).json()["series"]
            assert count == checks[check.field]["count"]
        narrowed = _by_field(
            client.get("/api/qc/checks", params={"q": "Modality:MR"}).json()["checks"]
        )
        assert narrowed[GAP.field]["count"] == 0 and narrowed[FLAG.field]["count"] == 1
        assert client.get("/api/qc/checks", params={"q": "Modality:("}).status_code == 400
