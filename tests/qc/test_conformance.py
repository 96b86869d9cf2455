"""``qc-conformance``: dciodvfy (dicom3tools, installed by scripts/test-env.sh) on real files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.analyze.qc_conformance import ENV_EXECUTABLE, HOW_TO_INSTALL, dciodvfy_path
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.cli import main
from radcurate.ingest import ingest

#: pydicom test files and what dciodvfy says of them (checked by hand with dciodvfy -new)
FILES = ("CT_small.dcm", "rtplan.dcm", "JPEG2000.dcm")


def _uid(name: str) -> str:
    return str(dcmread(get_testdata_file(name), stop_before_pixels=True).SeriesInstanceUID)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogBackend]:
    folder = tmp_path / "files"
    folder.mkdir()
    for name in FILES:
        shutil.copy(get_testdata_file(name), folder / name)
    with open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as opened:
        ingest([folder], opened, workers=1)
        yield opened


def _run(catalog: CatalogBackend, tmp_path: Path, *args: str, **env: str) -> Result:
    environment = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": catalog.url}
    environment.update(env)
    return CliRunner().invoke(
        main, ["run", "qc-conformance", "*", "--workers", "1", "-q", "--json", *args],
        env=environment,
    )  # fmt: skip


def _conformance(catalog: CatalogBackend, name: str) -> dict[str, Any]:
    document = catalog.series_document(_uid(name))
    assert document is not None
    results = catalog.result_store.results(_uid(name))
    return dict(results.get("qc", {}).get("conformance", {}))


def test_dciodvfy_is_installed() -> None:
    assert dciodvfy_path() is not None, "scripts/test-env.sh installs dicom3tools"


def test_errors_warnings_and_messages(catalog: CatalogBackend, tmp_path: Path) -> None:
    result = _run(catalog, tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["processed"] == len(FILES) and report["failed"] == 0, report

    clean = _conformance(catalog, "CT_small.dcm")  # warnings only
    assert clean["errors"] == 0 and clean["warnings"] >= 1
    assert clean["iod"] == "CTImage" and clean["instances_checked"] == 1
    assert any("PatientWeight" in m["message"] for m in clean["messages"])

    plan = _conformance(catalog, "rtplan.dcm")  # file meta SOP Instance UID differs
    assert plan["errors"] >= 1 and plan["iod"] == "RTPlan"
    first = plan["messages"][0]
    assert first["severity"] == "error" and "MediaStorageSOPInstanceUID" in first["message"]

    missing = _conformance(catalog, "JPEG2000.dcm")  # Laterality Type 2C missing
    assert any(
        m["severity"] == "error" and "Laterality" in m["message"] for m in missing["messages"]
    )
    # values dciodvfy quotes (`= <operator>`) are not copied into the results
    assert not any("<operator>" in m["message"] for m in plan["messages"])

    assert catalog.count("qc.conformance.errors:>0") == 2
    assert catalog.count("qc.conformance.errors:0") == 1
    again = json.loads(_run(catalog, tmp_path).output)
    assert again["processed"] == 0 and again["skipped"] == len(FILES)


def test_not_installed_says_how(catalog: CatalogBackend, tmp_path: Path) -> None:
    result = _run(catalog, tmp_path, **{ENV_EXECUTABLE: str(tmp_path / "no-such-dciodvfy")})
    report = json.loads(result.output)
    assert report["failed"] == len(FILES), report
    total, errors = catalog.job_errors(report["job"])
    assert total == len(FILES) and all(HOW_TO_INSTALL in message for _, message in errors)
