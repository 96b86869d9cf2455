"""The viewer's endpoints on a phantom archive: slices in every plane, NIfTI volumes, SEG labels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import generate_archive
from radcurate.ingest import ingest
from radcurate.server import ServerSettings, create_app


@pytest.fixture(scope="module")
def phantom(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, CatalogBackend]]:
    root = tmp_path_factory.mktemp("viewer")
    manifest = generate_archive(root / "archive", patients=10, seed=0)
    catalog = open_catalog(f"sqlite:///{root / 'c.sqlite'}")
    ingest([manifest.root], catalog, workers=1)
    settings = ServerSettings(home=root / "home", catalog_url=catalog.url)
    with TestClient(create_app(settings, catalog)) as client:
        yield client, catalog
    catalog.close()


def _ct(catalog: CatalogBackend) -> str:
    return max(
        (d for d in catalog.iter_search("Modality:CT") if d.get("slice_count")),
        key=lambda d: d["slice_count"],
    )["SeriesInstanceUID"]


def _png(response: object) -> Image.Image:
    return Image.open(io.BytesIO(response.content))  # type: ignore[attr-defined]


def test_slices_in_every_plane_with_window_and_level(
    phantom: tuple[TestClient, CatalogBackend],
) -> None:
    client, catalog = phantom
    uid = _ct(catalog)
    native = client.get(f"/api/series/{uid}/slice")
    assert native.status_code == 200 and native.headers["content-type"] == "image/png"
    middle = int(native.headers["X-Slice-Index"])
    assert middle >= 0
    first = client.get(f"/api/series/{uid}/slice", params={"index": 0})
    assert first.content != native.content
    for plane in ("axial", "coronal", "sagittal"):
        response = client.get(f"/api/series/{uid}/slice", params={"plane": plane, "size": 128})
        assert response.status_code == 200, response.text
        assert max(_png(response).size) == 128
    narrow = _png(client.get(f"/api/series/{uid}/slice", params={"window": 50, "level": 40}))
    wide = _png(client.get(f"/api/series/{uid}/slice", params={"window": 2000, "level": 0}))
    assert np.asarray(narrow).std() > np.asarray(wide).std()  # a narrow window spreads contrast


def test_bad_slice_requests_are_clear_400s(phantom: tuple[TestClient, CatalogBackend]) -> None:
    client, catalog = phantom
    uid = _ct(catalog)
    response = client.get(f"/api/series/{uid}/slice", params={"index": 100000})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "index_out_of_range"
    response = client.get(f"/api/series/{uid}/slice", params={"plane": "oblique"})
    assert response.status_code == 422
    assert client.get("/api/series/1.2.3/slice").json()["error"]["code"] == "series_not_found"


def test_volume_and_seg_labels_as_nifti(
    phantom: tuple[TestClient, CatalogBackend], tmp_path: Path
) -> None:
    import nibabel

    client, catalog = phantom
    seg = next(iter(catalog.iter_search("Modality:SEG")))
    ct = seg["referenced_series"][0]
    image = client.get(f"/api/series/{ct}/volume.nii.gz")
    assert image.status_code == 200, image.text
    labels = client.get(f"/api/series/{seg['SeriesInstanceUID']}/volume.nii.gz")
    assert labels.status_code == 200, labels.text
    (tmp_path / "ct.nii.gz").write_bytes(image.content)
    (tmp_path / "seg.nii.gz").write_bytes(labels.content)
    ct_img = nibabel.load(tmp_path / "ct.nii.gz")
    seg_img = nibabel.load(tmp_path / "seg.nii.gz")
    assert ct_img.shape == seg_img.shape
    assert np.allclose(ct_img.affine, seg_img.affine)
    hu = np.asarray(ct_img.dataobj)
    mask = np.asarray(seg_img.dataobj)
    assert mask.max() >= 2
    assert hu.shape[2] == catalog.series_document(ct)["slice_count"]
    assert hu[mask > 0].size > 0 and hu.min() < -500 < hu.max()


def test_a_single_image_is_not_a_volume(phantom: tuple[TestClient, CatalogBackend]) -> None:
    client, catalog = phantom
    sr = next(iter(catalog.iter_search("Modality:SR")))["SeriesInstanceUID"]
    response = client.get(f"/api/series/{sr}/volume.nii.gz")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_a_volume"
