"""Small NIfTI files written with nibabel, and the DICOM geometry read back from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel
import numpy as np
import numpy.typing as npt
import pydicom

#: an oblique affine: rotated about two axes, anisotropic voxels, an odd origin
OBLIQUE = np.array(
    [
        [0.7 * np.cos(0.3), -0.8 * np.sin(0.3), 0.0, -101.25],
        [
            0.7 * np.sin(0.3) * np.cos(0.2),
            0.8 * np.cos(0.3) * np.cos(0.2),
            -2.5 * np.sin(0.2),
            37.5,
        ],
        [
            0.7 * np.sin(0.3) * np.sin(0.2),
            0.8 * np.cos(0.3) * np.sin(0.2),
            2.5 * np.cos(0.2),
            -12.0,
        ],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
#: x flipped (LAS, as many converters write): the slice axis runs against row x column
FLIPPED = np.array([[-1.5, 0, 0, 90.0], [0, 1.25, 0, -120.0], [0, 0, 3.0, -40.0], [0, 0, 0, 1.0]])
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def save(
    path: Path,
    data: npt.NDArray[Any],
    affine: npt.NDArray[Any] | None = None,
    *,
    qform: npt.NDArray[Any] | None = None,
    sform_code: int = 1,
) -> Path:
    """Write ``data`` with ``affine`` as the sform (and ``qform`` as the qform when given)."""
    image = nibabel.Nifti1Image(data, np.eye(4) if affine is None else affine)
    image.header.set_data_dtype(data.dtype)
    if qform is not None:
        image.set_qform(qform, code=1)
    if sform_code == 0:
        image.set_sform(None, code=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    nibabel.save(image, str(path))
    return path


def ct_like(shape: tuple[int, int, int] = (12, 10, 6), seed: int = 0) -> npt.NDArray[np.int16]:
    """int16 values from -1024 to 3000 (HU-like)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-1024, 3000, size=shape).astype(np.int16)


def slices(folder: Path) -> list[pydicom.Dataset]:
    """The slices of one series folder, by InstanceNumber."""
    found = [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]
    return sorted(found, key=lambda ds: int(ds.InstanceNumber))


def affine_of(datasets: list[pydicom.Dataset]) -> npt.NDArray[np.float64]:
    """The RAS affine of ``(column, row, slice)`` that the DICOM plane attributes describe."""
    iop = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    row_spacing, col_spacing = (float(v) for v in datasets[0].PixelSpacing)
    first = np.array([float(v) for v in datasets[0].ImagePositionPatient])
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * col_spacing
    lps[:3, 1] = iop[3:] * row_spacing
    if len(datasets) > 1:
        second = np.array([float(v) for v in datasets[1].ImagePositionPatient])
        lps[:3, 2] = second - first
    lps[:3, 3] = first
    ras: npt.NDArray[np.float64] = RAS_TO_LPS @ lps
    return ras


def pixels(datasets: list[pydicom.Dataset]) -> npt.NDArray[np.float64]:
    """The values after rescale as ``[i, j, k]`` (NIfTI order)."""
    planes = [
        ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        for ds in datasets
    ]
    return np.stack(planes, axis=0).transpose(2, 1, 0)


def nnunet_folder(root: Path, cases: int = 2, test_cases: int = 1) -> Path:
    """A DatasetNNN_Name raw folder: two channels per case, a label map per training case."""
    dataset = root / "Dataset042_Tiny"
    affine = np.diag([1.5, 1.5, 2.5, 1.0])
    for n in range(cases + test_cases):
        folder = "imagesTr" if n < cases else "imagesTs"
        case = f"tiny_{n:03d}"
        for channel in (0, 1):
            save(
                dataset / folder / f"{case}_{channel:04d}.nii.gz",
                ct_like(seed=10 * n + channel),
                affine,
            )
        if n < cases:
            labels = np.zeros((12, 10, 6), dtype=np.uint8)
            labels[2:5, 2:6, 1:3] = 1
            labels[6:9, 3:8, 2 + n : 5] = 2
            save(dataset / "labelsTr" / f"{case}.nii.gz", labels, affine)
    (dataset / "dataset.json").write_text(
        json.dumps(
            {
                "channel_names": {"0": "CT", "1": "noNorm"},
                "labels": {"background": 0, "liver": 1, "spleen": 2},
                "numTraining": cases,
                "file_ending": ".nii.gz",
            }
        )
    )
    return dataset
