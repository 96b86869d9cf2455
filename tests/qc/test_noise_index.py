"""The CT global noise index (Christianson 2015) follows √(g₀² + σ²) within 10 % when
Gaussian noise of σ HU is added: on TotalSegmentator's real CTs and on phantoms, measured
on arrays and through ``qc-pixels`` on DICOM series."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from radcurate.analyze.qc_noise import NoiseAccumulator, NoiseSettings, kernel_pixels, noise_index
from radcurate.analyze.qc_pixels import PixelQCParams, pixel_measures
from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from radcurate.workflow.step import SeriesItem
from tests.reference_data import totalsegmentator_reference

ROOT = Path(__file__).resolve().parents[2]
SIGMAS = (0.0, 10.0, 20.0, 40.0)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load("qc")
annotate = _load("annotate")


def _assert_follows(rows: list[dict[str, float]]) -> None:
    assert [r["sigma"] for r in rows] == list(SIGMAS)
    for row in rows:
        assert abs(row["ratio"] - 1.0) <= 0.10, row


def test_real_dicom_ct_follows_added_noise() -> None:
    """The 20-slice DICOM CT (512 x 512, 0.98 mm): g₀ = 12.1 HU; ratios measured 1.00, 1.00,
    1.02, 1.03."""
    hu, affine = annotate.dicom_folder(totalsegmentator_reference() / "example_ct_dicom")
    rows = bench.noise_response(hu, float(abs(affine[0, 0])), SIGMAS)
    assert rows[0]["measured"] == pytest.approx(12.12, abs=0.1)
    _assert_follows(rows)


def test_real_abdomen_ct_follows_added_noise() -> None:
    """The 112-slice abdomen-pelvis CT (3 mm voxels: the 5-pixel kernel spans 15 mm);
    ratios measured up to 1.06 at σ = 40."""
    hu, affine = annotate.nifti(totalsegmentator_reference() / "example_ct.nii.gz")
    rows = bench.noise_response(hu.astype(np.float32), float(np.linalg.norm(affine[:3, 0])))
    _assert_follows(rows)


def test_phantom_follows_added_noise() -> None:
    rows = bench.noise_response(bench.phantom_ct(12, 256, noise=5.0), 1.4)
    assert rows[0]["measured"] == pytest.approx(5.0, rel=0.05)
    _assert_follows(rows)


def test_through_the_workflow_on_dicom_phantoms(tmp_path: Path) -> None:
    """Phantoms with 5 HU of their own and σ added, written as DICOM and measured by
    ``qc-pixels`` (rounding to integers adds 1/12 HU² of variance: nothing measurable)."""
    base = bench.phantom_ct(12, 128, noise=5.0, seed=1)
    rng = np.random.default_rng(2)
    for k, sigma in enumerate(SIGMAS):
        noisy = base + rng.normal(0.0, sigma, base.shape) if sigma else base
        bench.write_series(tmp_path / "files" / str(k), noisy, series_uid=f"2.25.8200.{k}")
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "files"], catalog, workers=1)
        params = PixelQCParams.model_validate({})
        measured = [
            pixel_measures(SeriesItem(catalog, f"2.25.8200.{k}"), params)["noise_hu"]
            for k in range(len(SIGMAS))
        ]
    g0 = measured[0]
    assert g0 == pytest.approx(5.0, rel=0.1)
    for sigma, value in zip(SIGMAS, measured, strict=True):
        assert value == pytest.approx(math.hypot(g0, sigma), rel=0.10)


def test_the_tissue_mask_comes_from_the_smoothed_image() -> None:
    """Water at 50 HU with 60 HU of noise: half its pixels fall outside 0-100 HU, but the
    local mean stays inside, so the mask keeps the pixels and the index reads the noise
    (thresholding the raw pixels would keep only those near 50 and read far less)."""
    rng = np.random.default_rng(3)
    water = (50.0 + rng.normal(0.0, 60.0, (6, 128, 128))).astype(np.float32)
    assert noise_index(water, 1.0) == pytest.approx(60.0, rel=0.05)


def test_no_soft_tissue_gives_no_index() -> None:
    air = np.full((4, 64, 64), -1000.0, dtype=np.float32)
    air += np.random.default_rng(4).normal(0, 10, air.shape).astype(np.float32)
    assert noise_index(air, 1.0) is None
    accumulator = NoiseAccumulator(kernel_pixels(6.0, 1.0), NoiseSettings())
    accumulator.add(air[0])
    assert accumulator.pixels == 0 and accumulator.result() is None


def test_kernel_size_in_pixels() -> None:
    assert kernel_pixels(6.0, 0.7) == 9
    assert kernel_pixels(6.0, 3.0) == 5
    assert kernel_pixels(6.0, None) == 7
