"""``qc-pixels``: each check on a positive and a negative case, on phantom series written as
real DICOM (bench/qc.py's writer), pydicom's MR_small.dcm and TotalSegmentator's real CT."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from radcurate.analyze.qc_pixels import PIXEL_CHECKS, PixelQC, PixelQCParams, pixel_measures
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from radcurate.workflow.step import SeriesItem, WorkflowParamsError

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_qc", ROOT / "bench" / "qc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()

CLEAN, CLEAN12, NOISY, TRUNCATED, METAL = (f"2.25.8100.{n}" for n in range(1, 6))
EMPTY, CLIPPED, DUPLICATED, BROKEN = (f"2.25.8100.{n}" for n in range(6, 10))
MR_CLEAN, MR_NOISY = "2.25.8100.20", "2.25.8100.21"
MR_SMALL = "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457"


def _mr_phantom(noise: float, seed: int) -> Any:
    """An MR-like phantom: a bright ellipse (500) with a darker core (300) on a background
    of magnitude noise (|complex Gaussian|, Rayleigh distributed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:96, 0:96]
    inside = ((x - 47.5) / 35) ** 2 + ((y - 47.5) / 28) ** 2 <= 1
    core = ((x - 47.5) / 12) ** 2 + ((y - 47.5) / 10) ** 2 <= 1
    plane = np.where(inside, 500.0, 0.0)
    plane[core] = 300.0
    volume = np.repeat(plane[None], 8, axis=0)
    real = volume + rng.normal(0, noise, volume.shape)
    imaginary = rng.normal(0, noise, volume.shape)
    return np.hypot(real, imaginary)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case written, ingested and checked by one ``qc-pixels`` run."""
    folder = tmp_path_factory.mktemp("qc-pixels")
    files = folder / "files"
    write = bench.write_series
    write(files / "clean", bench.phantom_ct(noise=12.0), series_uid=CLEAN)
    write(files / "clean12", bench.phantom_ct(noise=12.0, seed=1), series_uid=CLEAN12,
          bits_stored=12, signed=False, intercept=-1024.0)  # fmt: skip
    write(files / "noisy", bench.phantom_ct(noise=45.0, seed=2), series_uid=NOISY)
    write(files / "truncated", bench.phantom_ct(truncated=True, seed=3), series_uid=TRUNCATED)
    write(files / "metal", bench.phantom_ct(metal=True, seed=4), series_uid=METAL)
    empty = bench.phantom_ct(seed=5)
    empty[5] = -1024.0
    write(files / "empty", empty, series_uid=EMPTY)
    clipped = bench.phantom_ct(seed=6)  # 11 bits from -1024 HU: the top is 1023 HU
    clipped[:, 60:70, 60:70] = 1500.0
    write(files / "clipped", clipped, series_uid=CLIPPED, bits_stored=11, signed=False,
          intercept=-1024.0)  # fmt: skip
    duplicated = bench.phantom_ct(seed=7)
    duplicated[4] = duplicated[3]
    write(files / "duplicated", duplicated, series_uid=DUPLICATED)
    broken = bench.write_series(files / "broken", bench.phantom_ct(3, 32), series_uid=BROKEN)
    broken[1].write_bytes(broken[1].read_bytes()[:-500])  # pixel data cut short
    write(files / "mr-clean", _mr_phantom(8.0, 8), series_uid=MR_CLEAN, modality="MR")
    write(files / "mr-noisy", _mr_phantom(150.0, 9), series_uid=MR_NOISY, modality="MR")
    (files / "mr-small").mkdir()
    shutil.copy(get_testdata_file("MR_small.dcm"), files / "mr-small" / "MR_small.dcm")
    catalog = open_catalog(f"sqlite:///{folder / 'c.sqlite'}")
    ingest([files], catalog, workers=1)
    job = workflow_job(PixelQC(), WorkflowSelection(query="*"), {}, workers=1)
    record = run_job(catalog, WORKFLOW_KIND, job)
    return {"catalog": catalog, "record": record}


def pixels(checked: dict[str, Any], uid: str) -> dict[str, Any]:
    catalog: CatalogBackend = checked["catalog"]
    return dict(catalog.results(uid)["qc"]["pixels"])


def failing(checked: dict[str, Any], field: str) -> list[str]:
    """The series the check of ``field`` selects with its own ``fails`` query."""
    check = next(c for c in PIXEL_CHECKS if c.field == f"qc.pixels.{field}")
    return list(checked["catalog"].series_uids(check.fails))


def test_registered_with_its_checks() -> None:
    step = default_registry().get("qc-pixels")
    assert isinstance(step, PixelQC)
    fields = {c.field for c in step.checks}
    assert {"qc.pixels.noise_high", "qc.pixels.truncated_fov", "qc.pixels.metal_fraction",
            "qc.pixels.duplicate_frames", "qc.pixels.constant_slices",
            "qc.pixels.clipped_fraction", "qc.pixels.snr"} <= fields  # fmt: skip
    assert all(c.family == "pixels" and c.meaning and c.fails for c in step.checks)
    with pytest.raises(WorkflowParamsError, match="metal_hu"):
        PixelQC.parse_params({"metal_hu": 10})


def test_one_bad_series_does_not_stop_the_others(checked: dict[str, Any]) -> None:
    record = checked["record"]
    assert record.state == "done" and record.result is not None
    assert record.result["failed"] == 1 and record.result["processed"] == 11
    _, errors = checked["catalog"].job_errors(record.id)
    assert [uid for uid, _ in errors] == [BROKEN]
    assert "undecodable" in errors[0][1]


def test_noise_index_noisy_against_clean(checked: dict[str, Any]) -> None:
    clean, noisy = pixels(checked, CLEAN)["noise_hu"], pixels(checked, NOISY)["noise_hu"]
    assert clean == pytest.approx(12.0, rel=0.1)
    assert noisy == pytest.approx(45.0, rel=0.1)
    assert failing(checked, "noise_high") == [NOISY]
    assert pixels(checked, NOISY)["noise_limit_hu"] == 30.0  # no kernel named: standard
    assert "noise_hu" not in pixels(checked, MR_CLEAN)  # CT only


def test_truncated_field_of_view(checked: dict[str, Any]) -> None:
    truncated, clean = pixels(checked, TRUNCATED), pixels(checked, CLEAN)
    assert truncated["truncated_fov"] is True and truncated["fov_edge_fraction"] > 0.1
    assert truncated["truncated_fov_slices"] == 12
    assert clean["truncated_fov"] is False and clean["fov_edge_fraction"] == 0.0
    assert failing(checked, "truncated_fov") == [TRUNCATED]


def test_metal(checked: dict[str, Any]) -> None:
    metal = pixels(checked, METAL)
    assert metal["metal"] is True and metal["metal_fraction"] > 1e-3
    assert metal["clipped_fraction"] == 0.0  # 16 bits hold 4000 HU
    assert pixels(checked, CLEAN)["metal"] is False
    assert pixels(checked, CLIPPED)["metal"] is False  # 1500 HU: contrast, not metal
    assert failing(checked, "metal_fraction") == [METAL]
    assert checked["catalog"].series_uids("qc.pixels.metal:true") == [METAL]


def test_empty_slices(checked: dict[str, Any]) -> None:
    empty = pixels(checked, EMPTY)
    assert empty["constant_slices"] == 1 and empty["constant_slice_indexes"] == [5]
    assert pixels(checked, CLEAN)["constant_slices"] == 0
    assert failing(checked, "constant_slices") == [EMPTY]


def test_clipped_values(checked: dict[str, Any]) -> None:
    clipped = pixels(checked, CLIPPED)
    assert clipped["clipped_fraction"] == pytest.approx(100 / (128 * 128), rel=0.01)
    assert pixels(checked, CLEAN)["clipped_fraction"] == 0.0
    # 12 bits from -1024 HU: air noise reaches stored 0, which is the floor, not clipping
    assert pixels(checked, CLEAN12)["clipped_fraction"] == 0.0
    assert failing(checked, "clipped_fraction") == [CLIPPED]


def test_duplicate_frames_and_digests(checked: dict[str, Any]) -> None:
    duplicated = pixels(checked, DUPLICATED)
    assert duplicated["duplicate_frames"] == 1 and duplicated["duplicate_frame_indexes"] == [4]
    clean = pixels(checked, CLEAN)
    assert clean["duplicate_frames"] == 0
    assert len(clean["series_digest"]) == 64
    assert clean["series_digest"] != pixels(checked, CLEAN12)["series_digest"]
    assert "frame_digests" not in clean
    assert failing(checked, "duplicate_frames") == [DUPLICATED]


def test_frame_digests_on_request_and_series_digest_is_order_free(
    checked: dict[str, Any],
) -> None:
    catalog: CatalogBackend = checked["catalog"]
    params = PixelQCParams.model_validate({"store_frame_digests": True})
    values = pixel_measures(SeriesItem(catalog, CLEAN), params)
    assert len(values["frame_digests"]) == 12 and len(set(values["frame_digests"])) == 12
    assert values["series_digest"] == pixels(checked, CLEAN)["series_digest"]


def test_mr_measures_on_phantoms(checked: dict[str, Any]) -> None:
    clean, noisy = pixels(checked, MR_CLEAN), pixels(checked, MR_NOISY)
    for key in ("snr", "cnr", "cv", "cjv", "efc", "fber"):
        assert key in clean and key in noisy
    # background SD of Rayleigh noise is 0.655 sigma: SNR = mean(F) / (0.655 sigma)
    assert clean["snr"] > 3 * noisy["snr"] and clean["cnr"] > 3 * noisy["cnr"]
    assert clean["fber"] > 10 * noisy["fber"]
    assert clean["cjv"] < noisy["cjv"]
    assert 0.0 < clean["efc"] < noisy["efc"] < 1.0
    assert clean["foreground_fraction"] == pytest.approx(np.pi * 35 * 28 / 96**2, rel=0.05)
    assert "metal" not in clean and "truncated_fov" not in clean  # CT only
    assert failing(checked, "snr") == [MR_NOISY]


def test_mr_measures_on_a_real_mr_file(checked: dict[str, Any]) -> None:
    """pydicom's MR_small.dcm (64 x 64, a real scan): values as measured."""
    real = pixels(checked, MR_SMALL)
    assert real["snr"] == pytest.approx(9.10, rel=0.01)
    assert real["cv"] == pytest.approx(0.217, rel=0.01)
    assert real["efc"] == pytest.approx(0.782, rel=0.01)
    assert 0.15 < real["foreground_fraction"] < 0.3


def test_non_image_series_do_not_apply(checked: dict[str, Any]) -> None:
    catalog: CatalogBackend = checked["catalog"]
    item = SeriesItem(catalog, CLEAN)
    item.__dict__["document"] = {"Modality": "SEG"}
    assert not PixelQC().applies(item)
    with pytest.raises(ValueError, match="no image pixels"):
        pixel_measures(item, PixelQCParams.model_validate({}))
    assert PixelQC().applies(SeriesItem(catalog, CLEAN))


def test_real_ct_flags_nothing(tmp_path: Path) -> None:
    """TotalSegmentator's real DICOM CT (20 x 512 x 512, rewritten uncompressed with UIDs):
    its noise index as measured, and no check fires on it."""
    from tests.reference_data import totalsegmentator_reference

    annotate = bench._annotate_bench()
    hu, affine = annotate.dicom_folder(totalsegmentator_reference() / "example_ct_dicom")
    bench.write_series(tmp_path / "real", hu, series_uid="2.25.8101",
                       pixel_mm=float(abs(affine[0, 0])))  # fmt: skip
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "real"], catalog, workers=1)
        values = pixel_measures(SeriesItem(catalog, "2.25.8101"), PixelQCParams.model_validate({}))
    assert values["noise_hu"] == pytest.approx(12.12, abs=0.1)
    assert values["truncated_fov"] is False and values["metal"] is False
    assert values["clipped_fraction"] == 0.0 and values["constant_slices"] == 0
    assert values["duplicate_frames"] == 0 and values["frames"] == 20


def test_multiframe_object_reads_as_its_single_frame_source(tmp_path: Path) -> None:
    """A legacy-converted enhanced CT (highdicom) of a phantom series: one multi-frame object,
    its frames placed by position; same frames, same series digest and noise index."""
    import highdicom as hd
    from pydicom import dcmread

    paths = bench.write_series(
        tmp_path / "single", bench.phantom_ct(seed=9), series_uid="2.25.8102"
    )
    converted = hd.legacy.LegacyConvertedEnhancedCTImage(
        [dcmread(p) for p in reversed(paths)], series_instance_uid="2.25.8103",
        series_number=2, sop_instance_uid="2.25.8103.1", instance_number=1,
    )  # fmt: skip
    (tmp_path / "multi").mkdir()
    converted.save_as(tmp_path / "multi" / "enhanced.dcm")
    params = PixelQCParams.model_validate({})
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "single", tmp_path / "multi"], catalog, workers=1)
        single = pixel_measures(SeriesItem(catalog, "2.25.8102"), params)
        multi = pixel_measures(SeriesItem(catalog, "2.25.8103"), params)
    assert multi["frames"] == single["frames"] == 12
    assert multi["series_digest"] == single["series_digest"]
    assert multi["noise_hu"] == single["noise_hu"]
    assert multi["duplicate_frames"] == 0  # frames of one SOP Instance are not duplicates


def test_a_huge_mr_series_is_measured_on_every_nth_slice(
    checked: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import radcurate.analyze.qc_pixels as module

    monkeypatch.setattr(module, "_MR_MAX_VOXELS", 2 * 96 * 96)  # 8 slices: every 4th kept
    params = PixelQCParams.model_validate({})
    sampled = pixel_measures(SeriesItem(checked["catalog"], MR_CLEAN), params)
    full = pixels(checked, MR_CLEAN)
    assert sampled["frames"] == 8  # every frame is still checked
    assert sampled["snr"] == pytest.approx(full["snr"], rel=0.1)
    assert sampled["snr"] != full["snr"]  # but the measures saw fewer voxels
