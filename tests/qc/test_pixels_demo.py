"""The demo archive's QC phantom patient (``generate_archive(..., qc_defects=True)``): every
planted defect a pixel check targets is selected by that check's failing query, and no pixel
check selects a series of that patient it was not planted in (the clean reference
included). Outliers run after the pixel checks, as ``qc`` runs them."""

from __future__ import annotations

from typing import Any

import pytest

from radcurate.analyze.qc_outliers import OUTLIER_CHECKS, OutlierQC
from radcurate.analyze.qc_pixels import PIXEL_CHECKS, PixelQC
from radcurate.catalog import open_catalog
from radcurate.demo import generate_archive
from radcurate.demo.qcplan import DEFECTS
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection

CHECKS = [c for c in (*PIXEL_CHECKS, *OUTLIER_CHECKS) if c.family == "pixels"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("qc-demo")
    manifest = generate_archive(folder / "archive", patients=1, seed=0, qc_defects=True)
    catalog = open_catalog(f"sqlite:///{folder / 'c.sqlite'}")
    ingest([manifest.root], catalog, workers=1)
    for step in (PixelQC(), OutlierQC()):
        job = workflow_job(step, WorkflowSelection(query="*"), {}, workers=1)
        assert run_job(catalog, WORKFLOW_KIND, job).state == "done"
    planted = {
        key[len("qc_") : -len("_series")]: uid
        for key, uid in manifest.defects.items()
        if key.startswith("qc_") and key.endswith("_series")
    }
    some = catalog.series_document(next(iter(planted.values())))
    assert some is not None
    patient = set(catalog.series_uids(f"StudyInstanceUID:{some['StudyInstanceUID']}"))
    return {"catalog": catalog, "planted": planted, "patient": patient}


@pytest.mark.slow
@pytest.mark.parametrize("check", CHECKS, ids=[c.field for c in CHECKS])
def test_planted_defects_are_flagged_and_nothing_else(demo: dict[str, Any], check: Any) -> None:
    planted: dict[str, str] = demo["planted"]
    defects = {d.name: d for d in DEFECTS}
    expected = {uid for name, uid in planted.items() if check.field in defects[name].fields}
    allowed = expected | {uid for name, uid in planted.items() if check.field in defects[name].also}
    flagged = set(demo["catalog"].series_uids(check.fails)) & demo["patient"]
    assert expected <= flagged, f"{check.field}: planted but not flagged"
    assert flagged <= allowed, f"{check.field}: flags {flagged - allowed} it was not planted in"


@pytest.mark.slow
def test_clean_reference_is_measured_and_passes(demo: dict[str, Any]) -> None:
    catalog = demo["catalog"]
    clean = sorted(demo["patient"] - set(demo["planted"].values()))
    assert len(clean) == 1
    pixels = catalog.results(clean[0])["qc"]["pixels"]
    assert pixels["noise_hu"] == pytest.approx(8.0, rel=0.15)  # the phantom's own noise
    noisy = catalog.results(demo["planted"]["added_noise"])["qc"]["pixels"]["noise_hu"]
    assert noisy == pytest.approx(50.6, rel=0.1)
    assert pixels["truncated_fov"] is False and pixels["metal"] is False
