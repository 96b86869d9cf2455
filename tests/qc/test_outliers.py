"""``qc-outliers``: robust z within protocol groups, series with the same pixels and label
volumes against their population, on a planted population (both engines) and end to end
after ``qc-pixels`` on phantom series."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from radcurate.analyze.qc_outliers import OUTLIER_CHECKS, OutlierQC, group_query, robust_z
from radcurate.analyze.qc_pixels import PixelQC
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.result_types import ResultRow
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_qc", ROOT / "bench" / "qc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()

#: group A (ACME / Phantom 1 / B30f / "QC phantom"): eight series, the last one noisy
GROUP_A = [f"2.25.8300.{n}" for n in range(1, 9)]
NOISE_A = [10.0, 11.0, 12.0, 10.5, 11.5, 12.5, 11.0, 30.0]
#: group B (kernel B70f): three series, too few for a z
GROUP_B = [f"2.25.8301.{n}" for n in range(1, 4)]
#: no ConvolutionKernel at all: a group of their own (the missing kernel must match)
NO_KERNEL = [f"2.25.8302.{n}" for n in range(1, 6)]
LIVER_ML = [1500.0, 1450.0, 1600.0, 1550.0, 1520.0, 400.0]


def _write(folder: Path, uid: str, **options: Any) -> None:
    bench.write_series(folder / uid, bench.phantom_ct(2, 16, noise=0.0), series_uid=uid,
                       **options)  # fmt: skip


def _plant(catalog: CatalogBackend, noise_a: list[float]) -> None:
    """qc.pixels values (producer qc-pixels) and liver volumes (producer qc-segmentation);
    the input hash of a group A series changes with its value (as a qc-pixels re-run on
    changed files would write it)."""
    rows = []
    for uid, noise in zip(GROUP_A, noise_a, strict=True):
        digest = "d" * 64 if uid == GROUP_A[0] else uid
        values = {"noise_hu": noise, "sd_value": 400.0, "series_digest": digest}
        rows.append(ResultRow(uid, {"qc": {"pixels": values}}, f"in{noise}"))
    for uid in GROUP_B + NO_KERNEL:
        digest = "d" * 64 if uid == GROUP_B[0] else uid
        noise = 90.0 if uid == NO_KERNEL[0] else 12.0 + len(rows) % 3
        values = {"noise_hu": noise, "series_digest": digest}
        rows.append(ResultRow(uid, {"qc": {"pixels": values}}, "in"))
    catalog.result_store.write_results(rows, producer="qc-pixels", version="1")
    livers = [ResultRow(uid, {"qc": {"segmentation": {"volume_ml": {"liver": ml}}}}, "in")
              for uid, ml in zip(GROUP_A[:6], LIVER_ML, strict=True)]  # fmt: skip
    catalog.result_store.write_results(livers, producer="qc-segmentation", version="1")


@pytest.fixture
def planted(catalog_url: str, tmp_path: Path) -> Iterator[CatalogBackend]:
    files = tmp_path / "files"
    for uid in GROUP_A:
        _write(files, uid)
    for uid in GROUP_B:
        _write(files, uid, kernel="B70f")
    for uid in NO_KERNEL:
        _write(files, uid, kernel=None)
    with open_catalog(catalog_url) as catalog:
        ingest([files], catalog, workers=1)
        _plant(catalog, NOISE_A)
        yield catalog


def _run(catalog: CatalogBackend, step: OutlierQC | None = None) -> dict[str, Any]:
    job = workflow_job(step or OutlierQC(), WorkflowSelection(query="*"), {}, workers=1)
    record = run_job(catalog, WORKFLOW_KIND, job)
    assert record.state == "done" and record.result is not None
    return dict(record.result)


def _outliers(catalog: CatalogBackend, uid: str) -> dict[str, Any]:
    return dict(catalog.results(uid)["qc"]["outliers"])


def test_robust_z() -> None:
    assert robust_z(30.0, NOISE_A) == pytest.approx((30.0 - 11.25) / (0.75 * 1.4826))
    assert robust_z(11.0, NOISE_A) == pytest.approx(-0.25 / (0.75 * 1.4826))
    # MAD 0: the mean absolute deviation stands in, so one deviant still stands out
    assert robust_z(5.0, [0, 0, 0, 0, 0, 5.0]) == pytest.approx(5.0 / (5.0 / 6 * 1.2533))
    assert robust_z(0.0, [0.0] * 6) is None


def test_registered_with_its_checks() -> None:
    step = default_registry().get("qc-outliers")
    assert isinstance(step, OutlierQC)
    assert {c.field for c in step.checks} == {c.field for c in OUTLIER_CHECKS}
    assert {c.family for c in step.checks} == {"pixels", "segmentation"}


def test_group_query_matches_missing_attributes() -> None:
    from radcurate.query import to_text

    text = to_text(group_query({"Manufacturer": "GE*", "SeriesDescription": "a b",
                                "ConvolutionKernel": ["B30f", "2"]}))  # fmt: skip
    assert 'Manufacturer:"GE*"' in text and 'SeriesDescription:"a b"' in text
    assert "missing:ManufacturerModelName" in text and "ConvolutionKernel:2" in text


def test_planted_population(planted: CatalogBackend) -> None:
    result = _run(planted)
    total = len(GROUP_A) + len(GROUP_B) + len(NO_KERNEL)
    assert result["processed"] == total and result["failed"] == 0
    noisy = _outliers(planted, GROUP_A[-1])
    assert noisy["group_size"] == 8 and noisy["scored"] is True
    assert noisy["pixels_worst_measure"] == "noise_hu"
    assert noisy["pixels_z"] == pytest.approx(16.86, abs=0.01)
    for uid in GROUP_A[:-1]:
        assert _outliers(planted, uid)["pixels_z"] < 3.5
    # the no-kernel group is its own (5 series): its noisy series stands out there
    assert _outliers(planted, NO_KERNEL[0])["pixels_worst_measure"] == "noise_hu"
    assert _outliers(planted, NO_KERNEL[0])["group_size"] == 5
    # too small a group: no z
    small = _outliers(planted, GROUP_B[1])
    assert small["group_size"] == 3 and small["scored"] is False and "pixels_z" not in small
    check = next(c for c in OUTLIER_CHECKS if c.field == "qc.outliers.pixels_z")
    assert planted.series_uids(check.fails) == sorted([GROUP_A[-1], NO_KERNEL[0]])


def test_same_pixels_in_two_series(planted: CatalogBackend) -> None:
    _run(planted)
    assert _outliers(planted, GROUP_A[0])["duplicate_pixel_series"] == [GROUP_B[0]]
    assert _outliers(planted, GROUP_B[0])["duplicate_pixel_series"] == [GROUP_A[0]]
    assert _outliers(planted, GROUP_A[1])["duplicate_pixel_series"] == []
    check = next(c for c in OUTLIER_CHECKS if "duplicate" in c.field)
    assert planted.series_uids(check.fails) == sorted([GROUP_A[0], GROUP_B[0]])


def test_label_volume_against_its_population(planted: CatalogBackend) -> None:
    _run(planted)
    small_liver = _outliers(planted, GROUP_A[5])
    assert small_liver["label_volume_worst"] == "liver"
    assert small_liver["label_volume_z"]["liver"] < -3.5
    assert small_liver["label_volume_max_z"] > 3.5
    assert abs(_outliers(planted, GROUP_A[0])["label_volume_z"]["liver"]) < 3.5
    assert "label_volume_z" not in _outliers(planted, GROUP_A[6])  # no liver there
    check = next(c for c in OUTLIER_CHECKS if "label" in c.field)
    assert planted.series_uids(check.fails) == [GROUP_A[5]]


def test_rerun_recomputes_exactly_when_the_population_changed(planted: CatalogBackend) -> None:
    step = OutlierQC()  # one instance, as a server's registry keeps it (its cache lives on)
    _run(planted, step)
    again = _run(planted, step)
    assert again["processed"] == 0 and again["skipped"] == again["total"]
    changed = list(NOISE_A)
    changed[2] = 25.0  # one series of group A: its eight members are scored again
    _plant(planted, changed)
    third = _run(planted, step)
    # group A only: group B's first series shares a digest with group A's first, but the
    # digests did not change
    assert third["processed"] == len(GROUP_A)
    assert _outliers(planted, GROUP_A[-1])["pixels_z"] < 16.86


def test_after_qc_pixels_end_to_end(tmp_path: Path) -> None:
    """Six clean phantoms, one noisy, one copy of a clean one under other UIDs (same group):
    qc-pixels then qc-outliers."""
    files = tmp_path / "files"
    uids = [f"2.25.8400.{n}" for n in range(1, 9)]
    for n, uid in enumerate(uids[:7]):
        hu = bench.phantom_ct(6, 96, noise=40.0 if n == 6 else 12.0, seed=n)
        bench.write_series(files / uid, hu, series_uid=uid, pixel_mm=1.5)
    bench.write_series(files / uids[7], bench.phantom_ct(6, 96, noise=12.0, seed=0),
                       series_uid=uids[7], pixel_mm=1.5)  # fmt: skip
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([files], catalog, workers=1)
        job = workflow_job(PixelQC(), WorkflowSelection(query="*"), {}, workers=1)
        assert run_job(catalog, WORKFLOW_KIND, job).state == "done"
        result = _run(catalog)
        assert result["processed"] == 8
        noisy = _outliers(catalog, uids[6])
        assert noisy["pixels_z"] > 3.5 and noisy["pixels_z_by_measure"]["noise_hu"] > 3.5
        assert all(_outliers(catalog, u)["pixels_z"] < 3.5 for u in uids[:6])
        assert _outliers(catalog, uids[0])["duplicate_pixel_series"] == [uids[7]]
        assert _outliers(catalog, uids[1])["duplicate_pixel_series"] == []


def test_values_rewritten_by_hand_are_seen_once_the_cache_expires(
    planted: CatalogBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value rewritten under unchanged provenance (same producer, version and input hash)
    does not change the cache's fingerprint; the cache holds it for CACHE_SECONDS only."""
    import radcurate.analyze.qc_outliers as module

    step = OutlierQC()
    _run(planted, step)
    rows = [ResultRow(GROUP_A[3], {"qc": {"pixels": {"noise_hu": 10.5, "sd_value": 400.0,
                                                     "series_digest": GROUP_A[3],
                                                     "cv": 0.5}}}, "in10.5")]  # fmt: skip
    planted.result_store.write_results(rows, producer="qc-pixels", version="1")
    monkeypatch.setattr(module, "CACHE_SECONDS", 0.0)
    again = _run(planted, step)
    assert again["processed"] == len(GROUP_A)  # the new measure enters every hash
