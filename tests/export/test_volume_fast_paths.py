"""The fast paths of reading and writing volumes give pydicom's and numpy's values exactly."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut

from radcurate.export.volumes import write_image
from radcurate.imaging.volume import Volume, VolumeStream, modality_lut


@pytest.mark.parametrize(
    ("dtype", "slope", "intercept"),
    [(np.int16, "1", "-1024"), (np.uint16, "1", "-1024"), (np.int16, None, None),
     (np.uint16, "1.0", "0"), (np.int16, "1", "-1024.5"), (np.uint16, "2.5", "-10"),
     (np.int16, "0.000123", "3"), (np.uint8, "1", "7"), (np.int32, "1", "-1024")],
)  # fmt: skip
def test_modality_lut_equals_pydicom(dtype: type, slope: str | None, intercept: str | None) -> None:
    info = np.iinfo(dtype)
    pixels = np.random.default_rng(1).integers(info.min, info.max, (64, 48), dtype=dtype)
    attrs = Dataset()
    if slope is not None:
        attrs.RescaleSlope, attrs.RescaleIntercept = slope, intercept
    got = modality_lut(pixels, attrs)
    expected = np.asarray(apply_modality_lut(pixels, attrs), dtype=np.float32)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)


def _stream(planes: list[np.ndarray]) -> VolumeStream:
    volume = Volume(np.stack(planes).astype(np.float32), np.diag([0.7, 0.7, 1.5, 1.0]))
    return VolumeStream.of(volume)


@pytest.mark.parametrize(
    ("last", "dtype"),
    [(np.full((4, 5), 12.0), "int16"), (np.full((4, 5), 0.5), "float32"),
     (np.full((4, 5), -0.5), "float32"), (np.full((4, 5), np.nan), "float32"),
     (np.full((4, 5), 40000.0), "float32"), (np.full((4, 5), -32768.0), "int16"),
     (np.full((4, 5), -32769.0), "float32")],
)  # fmt: skip
def test_int16_only_when_every_value_is_a_whole_int16(
    tmp_path: Path, last: np.ndarray, dtype: str
) -> None:
    planes = [np.arange(20, dtype=np.float32).reshape(4, 5) - 1000, last.astype(np.float32)]
    path = tmp_path / "v.nii.gz"
    assert write_image(_stream(planes), path) == dtype
    data = np.asarray(nib.load(path).dataobj)
    assert str(data.dtype) == dtype
    expected = np.stack(planes).transpose(2, 1, 0)
    assert np.array_equal(data, expected, equal_nan=True)
