"""``radcurate bias``/``compare`` and ``/api/bias``/``/api/bias/compare`` on the planted catalog:
the same report, readable tables, and bad input as exit code 2 / HTTP 400, never a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection
from radcurate.cli import main
from radcurate.server import ServerSettings, create_app

ATTRIBUTES = "Manufacturer,ConvolutionKernel,KVP,StationName"


def _cli(planted: CatalogBackend, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"RADCURATE_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(main, [*args, "--catalog", planted.url], env=env)
    return result.exit_code, result.output


@pytest.fixture
def client(planted: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(home=tmp_path / "home", catalog_url=planted.url)
    with TestClient(create_app(settings, catalog=planted)) as test_client:
        yield test_client


def test_cli_bias_report(planted: CatalogBackend, tmp_path: Path) -> None:
    code, out = _cli(planted, tmp_path, "bias", "*", "--target", "clin.trial.dx", "-a", ATTRIBUTES)
    assert code == 0, out
    assert "1,500 series" in out and "RISK" in out and "Holm" in out
    assert "StationName" in out  # its reason is in the JSON below
    code, out = _cli(planted, tmp_path, "bias", "*", "-t", "clin.trial.dx", "-a", ATTRIBUTES,
                     "--json")  # fmt: skip
    report = json.loads(out)
    assert report["flags"] == ["Manufacturer", "ConvolutionKernel"]
    reference = tmp_path / "census.csv"
    reference.write_text("field,value,proportion\nPatientSex,M,0.49\nPatientSex,F,0.51\n")
    code, out = _cli(planted, tmp_path, "bias", "*", "-a", "PatientSex", "--reference",
                     str(reference), "--json")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["reference"][0]["js_distance"] < 0.05


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bias", "*", "-t", "Manufactuer"], "unknown field 'Manufactuer'"),
        (["bias", "*", "-t", "KVP", "-a", "Nope"], "unknown field 'Nope'"),
        (["bias", "Modality:(", "-t", "KVP"], "error:"),
        (["compare", "dataset:missing@1", "*"], "no dataset 'missing'"),
    ],
)
def test_cli_bad_input(
    planted: CatalogBackend, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out = _cli(planted, tmp_path, *args)
    assert code == 2 and message in out


def test_cli_compare(planted: CatalogBackend, tmp_path: Path) -> None:
    planted.create_dataset("siteA")
    planted.add_to_dataset("siteA", Selection.of('InstitutionName:"Site A"'))
    planted.freeze_dataset("siteA")
    code, out = _cli(planted, tmp_path, "compare", "dataset:siteA@1", "InstitutionName:\"Site B\"",
                     "-a", "Manufacturer,KVP")  # fmt: skip
    assert code == 0, out
    assert "patients and 0 series in both" in out and "Manufacturer" in out
    code, out = _cli(planted, tmp_path, "compare", "dataset:siteA@1", "*", "-a", "KVP", "--json")
    result = json.loads(out)
    assert result["overlap"]["series"] == 500 and result["overlap"]["leakage"] is True


def test_api_bias(client: TestClient) -> None:
    body = {"query": "*", "target": "clin.trial.dx", "attributes": ATTRIBUTES.split(",")}
    report = client.post("/api/bias", json=body).json()
    cells = {c["attribute"]: c for c in report["associations"]}
    assert cells["Manufacturer"]["flag"] and cells["Manufacturer"]["cramers_v"] >= 0.5
    assert cells["StationName"]["computable"] is False
    bars = {r["field"]: r for r in report["representation"]}
    assert bars["StationName"]["missing_rate"] == 1.0
    again = client.get("/api/bias", params={"q": "*", "target": "clin.trial.dx",
                                            "attributes": ATTRIBUTES})  # fmt: skip
    assert again.json() == report
    tree = {"op": "all"}
    as_tree = client.post("/api/bias", json={**body, "query": tree})
    assert as_tree.status_code in (200, 400)  # a JSON tree is accepted or refused cleanly
    census = "field,value,proportion\nKVP,120,1\n"
    found = client.post("/api/bias", json={**body, "reference": census}).json()
    assert found["reference"][0]["categories"][0]["value"] == "120"


@pytest.mark.parametrize(
    "body",
    [
        {"target": "Manufactuer"},
        {"target": "KVP", "attributes": ["two words"]},
        {"query": "Modality:(", "target": "KVP"},
        {"target": "KVP", "reference": "a,b\n1,2\n"},
        {"target": "KVP", "max_groups": 1},
    ],
)
def test_api_bad_input_is_a_client_error(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/api/bias", json=body)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["message"]


def test_api_not_computable_pairs(client: TestClient) -> None:
    empty = client.post("/api/bias", json={"query": "Modality:MR", "target": "clin.trial.dx"})
    assert empty.status_code == 200
    assert empty.json()["problems"] == ["no series match the selection"]
    one = client.post("/api/bias", json={"target": "Modality", "attributes": ["KVP"]}).json()
    assert one["associations"][0]["reason"] == "the target has one value in the selection"


def test_api_compare(client: TestClient) -> None:
    body = {"a": "KVP:100", "b": "KVP:(120 OR 140)", "attributes": ["KVP", "Manufacturer"]}
    result = client.post("/api/bias/compare", json=body).json()
    rows = {r["field"]: r for r in result["attributes"]}
    assert rows["KVP"]["js_distance"] == pytest.approx(1.0)
    assert rows["Manufacturer"]["js_distance"] < 0.1
    assert result["a"]["selection"] == "KVP:100"
    missing = client.post("/api/bias/compare", json={"a": "dataset:nope@2", "b": "*"})
    assert missing.status_code == 400 and "nope" in missing.json()["error"]["message"]
