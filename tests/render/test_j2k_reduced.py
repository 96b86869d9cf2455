"""JPEG 2000 thumbnails decoded at reduced resolution match the full-resolution ones."""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from radcurate.imaging.frames import decode_frame_reduced, reduction_for
from radcurate.imaging.series import load_series
from radcurate.render import render, render_series, render_slice
from radcurate.render.result import RenderOptions
from tests.render.cases import GOLDEN_SIZE, TOLERANCE, Workspace, catalog_of, find, mean_abs_diff

J2K = "1.2.840.10008.1.2.4.90"


def _bench_ct(folder: Path, slices: int = 3) -> Path:
    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    try:
        from thumbnails import write_ct_series
    finally:
        sys.path.pop(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_ct_series(folder, slices, j2k=True)
    return folder


def test_reduction_keeps_the_picture_at_least_the_target_size() -> None:
    assert reduction_for(512, 512, 256, None) == 1
    assert reduction_for(512, 512, 128, None) == 2
    assert reduction_for(512, 512, 129, None) == 1
    assert reduction_for(256, 256, 256, None) == 0
    assert reduction_for(512, 256, 128, [0.5, 1.0]) == 1  # rows shrink when drawn
    assert reduction_for(4096, 4096, 16, None) == 8  # never below 8 pixels


def test_phantom_j2k_thumbnail_matches_full_resolution(workspace: Workspace) -> None:
    uid = workspace.uid(Modality="CT", transfer_syntaxes=[J2K])
    series = load_series(workspace.catalog, uid)
    # a bone window: reduced (256 px frames -> 128 px)
    bone = {"size": GOLDEN_SIZE, "window": 2000.0, "level": 500.0}
    reduced = render(series, RenderOptions(**bone))  # type: ignore[arg-type]
    full = render(series, RenderOptions(**bone, reduced_decode=False))  # type: ignore[arg-type]
    assert reduced.details["decode_reduction"] == 1
    assert full.details["decode_reduction"] == 0
    assert reduced.slice_index == full.slice_index
    assert reduced.caption == full.caption
    assert max(mean_abs_diff(reduced.image, full.image)) <= TOLERANCE
    # the header's brain window (W80) turns the skull into hard edges: decoded again in full
    thumb = render(series, RenderOptions(size=GOLDEN_SIZE))
    assert thumb.details["decode_reduction"] == 0
    full = render(series, RenderOptions(size=GOLDEN_SIZE, reduced_decode=False))
    assert max(mean_abs_diff(thumb.image, full.image)) < 0.5


def test_large_j2k_ct_thumbnail_matches_full_resolution(tmp_path: Path) -> None:
    catalog = catalog_of([_bench_ct(tmp_path / "ct")], tmp_path / "c.sqlite")
    series = load_series(catalog, find(catalog, Modality="CT"))
    for size, reduction in ((GOLDEN_SIZE, 2), (256, 1)):
        reduced = render(series, RenderOptions(size=size))
        full = render(series, RenderOptions(size=size, reduced_decode=False))
        assert reduced.details["decode_reduction"] == reduction
        assert reduced.image.size == full.image.size == (size, size)
        assert max(mean_abs_diff(reduced.image, full.image)) <= TOLERANCE
    # the geometry is the same: the organ (bright) sits at the same place
    reduced_grey = np.asarray(render_series(catalog, series.series_uid, size=128).image)[..., 0]
    full = render(series, RenderOptions(size=128, reduced_decode=False)).image
    full_grey = np.asarray(full)[..., 0]
    centre = [np.argwhere(g > 150).mean(axis=0) for g in (reduced_grey, full_grey)]
    assert np.abs(centre[0] - centre[1]).max() < 1.0, centre


def test_viewer_slices_stay_at_full_resolution(tmp_path: Path) -> None:
    catalog = catalog_of([_bench_ct(tmp_path / "ct", 2)], tmp_path / "c.sqlite")
    uid = find(catalog, Modality="CT")
    assert render_slice(catalog, uid).image.size == (512, 512)
    assert render_slice(catalog, uid, size=128).details["decode_reduction"] == 0
    assert render_series(catalog, uid, size=512).details["decode_reduction"] == 0


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_reduced_values_are_the_low_pass_of_the_stored_values(signed: bool) -> None:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:256, :256]
    values = 400.0 * np.sin(xx / 23.0) * np.cos(yy / 31.0) + rng.normal(0, 5, (256, 256))
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.Rows = ds.Columns = 256
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = int(signed)
    stored = (values if signed else values + 1024).astype(np.int16 if signed else np.uint16)
    ds.PixelData = stored.tobytes()
    ds.compress(JPEG2000Lossless)
    ds = pydicom.dcmread(io.BytesIO(_save(ds)))
    result = decode_frame_reduced(ds, 0, None, 64)
    assert result is not None
    pixels, reduction = result
    assert reduction == 2 and pixels.shape == (64, 64)
    blocks = stored.astype(np.float64).reshape(64, 4, 64, 4).mean(axis=(1, 3))
    # the low-pass samples sit at 4i (block centres at 4i + 1.5): close, not equal
    assert np.abs(pixels - blocks).mean() < 25.0
    assert abs(float(pixels.mean() - blocks.mean())) < 2.0
    assert np.corrcoef(pixels.ravel(), blocks.ravel())[0, 1] > 0.99
    assert (pixels.min() < 0) == signed


def test_non_j2k_and_colour_objects_are_not_reduced(workspace: Workspace) -> None:
    uid = workspace.uid(Modality="CT", transfer_syntaxes=["1.2.840.10008.1.2.5"])
    assert render_series(workspace.catalog, uid, size=64).details["decode_reduction"] == 0
    record = workspace.catalog.instances(uid)[0]
    assert decode_frame_reduced(pydicom.dcmread(record.location), 0, None, 64) is None


def test_a_broken_codestream_falls_back_to_full_resolution(tmp_path: Path) -> None:
    folder = _bench_ct(tmp_path / "ct", 1)
    path = next(folder.iterdir())
    ds = pydicom.dcmread(path)
    # declare more bits than the codestream holds: the reduced decoder refuses, pydicom decodes
    ds.PixelRepresentation = 1
    assert decode_frame_reduced(ds, 0, None, 128) is None


def _save(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
