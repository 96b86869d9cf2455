"""Geometry from the NIfTI affine and values kept, read from the DICOM files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radcurate.ingest.nifti_dicom import NiftiError, encode_values, slice_geometry
from radcurate.ingest.nifti_import import import_nifti
from tests.nifti_import.helpers import FLIPPED, OBLIQUE, affine_of, ct_like, pixels, save, slices


def _import_one(tmp_path: Path, data: np.ndarray, affine: np.ndarray, **kw: object) -> Path:
    image = save(tmp_path / "in" / "vol.nii.gz", data, affine, **kw)  # type: ignore[arg-type]
    summary = import_nifti(image, None, tmp_path / "out", meta={"Modality": "CT"})
    assert summary.skipped == [] and summary.series == 1
    return tmp_path / "out" / "vol" / "vol" / "ch0000"


@pytest.mark.parametrize("affine", [OBLIQUE, FLIPPED, np.diag([0.8, 0.8, 5.0, 1.0])])
def test_plane_attributes_reproduce_the_affine(tmp_path: Path, affine: np.ndarray) -> None:
    data = ct_like()
    datasets = slices(_import_one(tmp_path, data, affine))
    assert len(datasets) == data.shape[2]
    assert (datasets[0].Rows, datasets[0].Columns) == (data.shape[1], data.shape[0])
    np.testing.assert_allclose(affine_of(datasets), affine, atol=1e-4)
    # every slice k lies at affine @ (0, 0, k)
    for k, ds in enumerate(datasets):
        lps = np.diag([-1.0, -1.0, 1.0]) @ (affine @ [0, 0, k, 1])[:3]
        np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], lps, atol=1e-4)
    normal = np.cross(
        [float(v) for v in datasets[0].ImageOrientationPatient[:3]],
        [float(v) for v in datasets[0].ImageOrientationPatient[3:]],
    )
    step = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, 2]
    assert float(datasets[0].SliceThickness) == pytest.approx(abs(step @ normal), abs=1e-4)
    np.testing.assert_array_equal(pixels(datasets), data)


def test_a_wrong_affine_would_be_caught(tmp_path: Path) -> None:
    """The geometry check can fail: another affine's slices do not match this one."""
    datasets = slices(_import_one(tmp_path, ct_like(), FLIPPED))
    assert not np.allclose(affine_of(datasets), OBLIQUE, atol=1e-4)


def test_sform_wins_over_qform(tmp_path: Path) -> None:
    qform = np.diag([2.0, 2.0, 2.0, 1.0])
    datasets = slices(_import_one(tmp_path, ct_like(), FLIPPED, qform=qform))
    np.testing.assert_allclose(affine_of(datasets), FLIPPED, atol=1e-4)


def test_qform_used_without_sform(tmp_path: Path) -> None:
    qform = np.array([[2.0, 0, 0, -10], [0, 2.0, 0, 5], [0, 0, 4.0, 7], [0, 0, 0, 1]])
    datasets = slices(_import_one(tmp_path, ct_like(), qform, qform=qform, sform_code=0))
    np.testing.assert_allclose(affine_of(datasets), qform, atol=1e-4)


def test_a_sheared_plane_is_refused() -> None:
    sheared = np.array([[1.0, 0.3, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1]])
    with pytest.raises(NiftiError, match="shears"):
        slice_geometry(sheared, 3)
    slice_geometry(OBLIQUE, 3)  # the oblique (orthogonal) one passes


def test_integral_values_are_stored_exactly() -> None:
    data = ct_like()
    encoding = encode_values(data)
    assert encoding.exact and encoding.stored.dtype == np.int16 and encoding.max_error == 0
    unsigned = encode_values(np.array([[[0, 60000]]], dtype=np.int32))
    assert unsigned.exact and unsigned.stored.dtype == np.uint16
    floats_integral = encode_values(data.astype(np.float32))
    assert floats_integral.exact and floats_integral.slope == 1.0


def test_float_values_are_rescaled_within_the_stated_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    data = (rng.normal(0.0, 1.0, size=(12, 10, 6)) * 123.456).astype(np.float32)
    encoding = encode_values(data)
    assert not encoding.exact and encoding.stored.dtype == np.uint16
    assert 0 < encoding.max_error <= encoding.slope / 2 * (1 + 1e-9)
    folder = _import_one(tmp_path, data, OBLIQUE)
    summary_values = pixels(slices(folder))
    error = float(np.abs(summary_values - data.astype(np.float64)).max())
    assert error <= encoding.max_error + 1e-9
    assert error > 0  # not exact: the rescale is really used


def test_out_of_range_integers_are_rescaled() -> None:
    data = np.array([[[-100000, 0, 250000]]], dtype=np.int32)
    encoding = encode_values(data)
    assert not encoding.exact
    back = encoding.stored * encoding.slope + encoding.intercept
    assert float(np.abs(back - data).max()) == pytest.approx(encoding.max_error)
    assert encoding.max_error <= encoding.slope / 2 * (1 + 1e-9)
