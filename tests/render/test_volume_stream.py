"""Volumes written slice by slice: the same NIfTI as the in-memory volume, a .nii.gz
streamed over HTTP, SEG labels too; errors before the first byte are JSON."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
from fastapi.testclient import TestClient

from radcurate.imaging.nifti import VOX_OFFSET, nifti_gzip, write_nifti
from radcurate.imaging.seg import seg_label_stream, seg_label_volume
from radcurate.imaging.volume import series_volume, series_volume_stream
from radcurate.server import ServerSettings, create_app
from tests.render.cases import Workspace


def _load_gz(data: bytes, tmp_path: Path, name: str) -> nib.Nifti1Image:
    path = tmp_path / name
    path.write_bytes(data)
    return nib.load(str(path))


def test_streamed_file_equals_the_volume(workspace: Workspace, tmp_path: Path) -> None:
    uid = workspace.ct_uid()
    volume = series_volume(workspace.catalog, uid)
    stream = series_volume_stream(workspace.catalog, uid)
    assert stream.shape == volume.array.shape and stream.dtype == np.float32
    data = b"".join(nifti_gzip(stream))
    raw = gzip.decompress(data)
    assert len(raw) == VOX_OFFSET + volume.array.size * 4
    image = _load_gz(data, tmp_path, "ct.nii.gz")
    np.testing.assert_allclose(image.affine, volume.affine, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(image.dataobj), volume.array.transpose(2, 1, 0))
    assert image.header.get_xyzt_units() == ("mm", "unknown")
    assert int(image.header["qform_code"]) == int(image.header["sform_code"]) == 1
    # nibabel's own writer gives the same voxels and affine
    reference = nib.Nifti1Image(
        np.ascontiguousarray(volume.array.transpose(2, 1, 0)), volume.affine
    )
    np.testing.assert_allclose(reference.header.get_zooms(), image.header.get_zooms(), atol=1e-6)
    # uncompressed .nii too, written from the stream
    plain = nib.load(
        str(write_nifti(series_volume_stream(workspace.catalog, uid), tmp_path / "ct.nii"))
    )
    np.testing.assert_array_equal(np.asarray(plain.dataobj), np.asarray(image.dataobj))


def test_seg_label_stream_equals_the_label_volume(workspace: Workspace, tmp_path: Path) -> None:
    seg = workspace.uid(Modality="SEG")
    labels = seg_label_volume(workspace.catalog, seg)
    stream = seg_label_stream(workspace.catalog, seg)
    assert stream.dtype == np.uint8 and stream.labels == labels.labels
    image = _load_gz(b"".join(nifti_gzip(stream)), tmp_path, "seg.nii.gz")
    data = np.asarray(image.dataobj)
    assert data.dtype == np.uint8
    np.testing.assert_array_equal(data, labels.array.transpose(2, 1, 0))
    assert {0, 1} < set(np.unique(data)) <= {0, *labels.labels}


def test_volume_download_is_streamed(workspace: Workspace, tmp_path: Path) -> None:
    settings = ServerSettings(home=tmp_path / "home", catalog_url=workspace.catalog.url)
    uid = workspace.ct_uid()
    with TestClient(create_app(settings)) as client:
        with client.stream("GET", f"/api/series/{uid}/volume.nii.gz") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/gzip"
            assert "content-length" not in response.headers  # chunked: never built whole
            assert uid in response.headers["content-disposition"]
            chunks = list(response.iter_bytes())
        image = _load_gz(b"".join(chunks), tmp_path, "api.nii.gz")
        volume = series_volume(workspace.catalog, uid)
        np.testing.assert_array_equal(np.asarray(image.dataobj), volume.array.transpose(2, 1, 0))
        seg = workspace.uid(Modality="SEG")
        labels = client.get(f"/api/series/{seg}/volume.nii.gz")
        assert labels.status_code == 200
        seg_image = nib.Nifti1Image.from_bytes(gzip.decompress(labels.content))
        assert np.asarray(seg_image.dataobj).max() == max(
            seg_label_volume(workspace.catalog, seg).labels
        )
        missing = client.get("/api/series/1.2.3/volume.nii.gz")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "series_not_found"
        sr = workspace.uid(Modality="SR", SeriesDescription="Radiology report")
        refused = client.get(f"/api/series/{sr}/volume.nii.gz")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_a_volume"
