"""Issue 15, "Validation": every deliberate defect of the demo archive is flagged by the check
that targets it, and no error or warning check fires on its clean series.

The archive (one regular patient and the QC phantom patient, ``qc-defects.json`` naming each
defect's series and the ``qc.*`` fields expected to flag it) is ingested for real (header
checks at ingest) and checked by the composite ``qc`` workflow (conformance with dciodvfy,
pixels, segmentations, then the population outliers). A check "flags" a series when the
series matches the check's own ``fails`` query, exactly as ``radcurate qc`` and the QC panel
count it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import generate_archive
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.query import parse
from radcurate.workflow import QCCheck, WorkflowSelection
from radcurate.workflow.registry import default_registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CatalogBackend, Any]]:
    root = tmp_path_factory.mktemp("qc-validation")
    manifest = generate_archive(root / "archive", patients=1, seed=11, qc_defects=True)
    defects = json.loads((manifest.root / manifest.qc_manifest).read_text())
    with open_catalog(f"sqlite:///{root / 'catalog.sqlite'}") as catalog:
        ingest([manifest.root], catalog, workers=1)
        step = default_registry().get("qc")
        job = catalog.create_job(WORKFLOW_KIND, {"workflow": "qc"})
        record = run_job(catalog, job, workflow_job(step, WorkflowSelection(query="*")))
        assert record.state == "done", (record.error, record.message)
        yield catalog, defects


def _checks() -> dict[str, QCCheck]:
    return {check.field: check for _, check in default_registry().qc_checks()}


def _failing(catalog: CatalogBackend, check: QCCheck) -> set[str]:
    known = [f.name for f in catalog.fields()] + [f.name for f in catalog.result_fields()]
    try:
        node = parse(check.fails, fields=known)
    except Exception:  # noqa: BLE001 - a field no series carries: nothing fails it
        return set()
    return {str(d["SeriesInstanceUID"]) for d in catalog.iter_search(node)}


def test_manifest_names_registered_checks(checked: tuple[CatalogBackend, Any]) -> None:
    _, defects = checked
    checks = _checks()
    assert defects["defects"], "the archive plants defects"
    # a defect may also name measurement fields (e.g. volume per label); at least one of its
    # fields must be a declared check, which must then flag it
    unchecked = [d["name"] for d in defects["defects"] if not set(d["fields"]) & set(checks)]
    assert not unchecked, f"defects no declared check targets: {unchecked}"


def test_every_defect_is_flagged(checked: tuple[CatalogBackend, Any]) -> None:
    catalog, defects = checked
    checks = _checks()
    failing = {name: _failing(catalog, check) for name, check in checks.items()}
    missed = [
        f"{d['name']}: {field}"
        for d in defects["defects"]
        for field in d["fields"]
        if field in checks and d["series_uid"] not in failing[field]
    ]
    assert not missed, f"defects no check flagged: {missed}"


def test_clean_series_pass_every_check(checked: tuple[CatalogBackend, Any]) -> None:
    catalog, defects = checked
    clean = set(defects["clean_series"])
    assert clean, "the archive lists its clean series"
    fired = [
        f"{check.field} on {catalog.series_document(uid)['SeriesDescription']!r}"  # type: ignore[index]
        for check in _checks().values()
        if check.severity in ("error", "warning")
        for uid in sorted(_failing(catalog, check) & clean)
    ]
    assert not fired, f"checks firing on clean series: {fired}"


def test_qc_ran_on_every_image_series(checked: tuple[CatalogBackend, Any]) -> None:
    catalog, _ = checked
    assert catalog.count("Modality:CT -has:qc.pixels.noise_hu -qc.geometry.localizer:true") == 0
    assert catalog.count("Modality:(SEG OR RTSTRUCT) -has:qc.segmentation") == 0
    assert catalog.count("-has:qc.conformance.errors") == 0
