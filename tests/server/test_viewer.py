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


@pytest.fixture(scope="module")
def overlay_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_archive(tmp_path_factory.mktemp("overlay") / "archive", patients=3).root


@pytest.fixture
def overlay_client(
    catalog_url: str, overlay_archive: Path, tmp_path: Path
) -> Iterator[tuple[TestClient, CatalogBackend]]:
    catalog = open_catalog(catalog_url)
    ingest([overlay_archive], catalog, workers=1)
    settings = ServerSettings(home=tmp_path / "home", catalog_url=catalog.url)
    with TestClient(create_app(settings, catalog)) as client:
        yield client, catalog
    catalog.close()


def _overlay(
    client: TestClient, uid: str, **params: int | str
) -> tuple[np.ndarray, dict[str, str]]:
    response = client.get(f"/api/series/{uid}/overlay", params=params)
    assert response.status_code == 200, response.text
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    image = _png(response)
    assert image.mode == "RGBA"
    return np.asarray(image), dict(response.headers)


def test_seg_and_rtstruct_overlays_fit_their_referenced_slice(
    overlay_client: tuple[TestClient, CatalogBackend],
) -> None:
    client, catalog = overlay_client
    import json

    for modality in ("SEG", "RTSTRUCT"):
        document = next(iter(catalog.iter_search(f"Modality:{modality}")))
        uid, reference = document["SeriesInstanceUID"], document["referenced_series"][0]
        pixels, headers = _overlay(client, uid)
        assert headers["x-referenced-series"] == reference
        count = int(headers["x-slice-count"])
        middle = int(headers["x-slice-index"])
        assert count == catalog.series_document(reference)["slice_count"]
        assert middle == count // 2
        # the same size as the slice under it, transparent off the segments
        base = _png(client.get(f"/api/series/{reference}/slice", params={"index": middle}))
        assert base.size == (pixels.shape[1], pixels.shape[0])
        drawn = pixels[..., 3] > 0
        assert 0 < drawn.mean() < 0.5
        legend = json.loads(headers["x-overlay-legend"])
        shown = json.loads(headers["x-overlay-drawn"])
        assert shown and set(shown) <= {n for n, _, _ in legend}
        # every drawn pixel has the colour of one of the legend's entries
        colours = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for _, _, c in legend}
        assert {tuple(p) for p in pixels[drawn][:, :3]} <= colours
        # another slice shows another part (the first slice differs from the middle)
        other, _ = _overlay(client, uid, index=0)
        assert not np.array_equal(other, pixels)
        # the same request twice draws the same picture
        again, _ = _overlay(client, uid)
        assert np.array_equal(again, pixels)


def test_seg_overlay_matches_its_label_volume(
    overlay_client: tuple[TestClient, CatalogBackend],
) -> None:
    client, catalog = overlay_client
    from radcurate.imaging.seg import seg_label_volume

    seg = next(iter(catalog.iter_search("Modality:SEG")))["SeriesInstanceUID"]
    labels = seg_label_volume(catalog, seg).array
    for index in (0, labels.shape[0] // 2, labels.shape[0] - 1):
        pixels, _ = _overlay(client, seg, index=index)
        assert np.array_equal(pixels[..., 3] > 0, labels[index] > 0)


def test_bad_overlay_requests_are_clear(
    overlay_client: tuple[TestClient, CatalogBackend],
) -> None:
    client, catalog = overlay_client
    ct = _ct(catalog)
    seg = next(iter(catalog.iter_search("Modality:SEG")))
    not_overlay = client.get(f"/api/series/{ct}/overlay")
    assert not_overlay.status_code == 400
    assert not_overlay.json()["error"]["code"] == "not_an_overlay"
    count = catalog.series_document(seg["referenced_series"][0])["slice_count"]
    out = client.get(f"/api/series/{seg['SeriesInstanceUID']}/overlay", params={"index": count})
    assert out.status_code == 400 and out.json()["error"]["code"] == "index_out_of_range"
    assert client.get(f"/api/series/{seg['SeriesInstanceUID']}/overlay?index=-1").status_code == 422
    missing = client.get("/api/series/1.2.3.4/overlay")
    assert missing.status_code == 404


def test_seg_overlay_on_reformats(overlay_client: tuple[TestClient, CatalogBackend]) -> None:
    client, catalog = overlay_client
    seg = next(iter(catalog.iter_search("Modality:SEG")))
    uid, reference = seg["SeriesInstanceUID"], seg["referenced_series"][0]
    document = catalog.series_document(reference)
    from radcurate.imaging.seg import seg_label_volume

    orientation = catalog.instances(reference)[0].orientation
    assert orientation is not None
    assert np.allclose(orientation, [1, 0, 0, 0, 1, 0], atol=1e-3)
    labels = seg_label_volume(catalog, uid).array
    native, _ = _overlay(client, uid)
    axial, headers = _overlay(client, uid, plane="axial")
    assert np.array_equal(axial, native)  # an axial CT: the acquired plane
    for plane, count in (("coronal", document["Rows"]), ("sagittal", document["Columns"])):
        pixels, headers = _overlay(client, uid, plane=plane)
        assert int(headers["x-slice-count"]) == count
        index = int(headers["x-slice-index"])
        base = _png(
            client.get(f"/api/series/{reference}/slice", params={"plane": plane, "index": index})
        )
        assert base.size == (pixels.shape[1], pixels.shape[0])
        assert 0 < (pixels[..., 3] > 0).mean() < 0.6
        # the cut of the label volume, superior up, as the image's reformat is drawn
        # (the phantom CT is axial: rows along x, columns along y)
        cut = labels[:, index, :] if plane == "coronal" else labels[:, :, index]
        expected = Image.fromarray((cut[::-1] > 0).astype(np.uint8) * 255)
        expected = expected.resize(base.size, Image.Resampling.NEAREST)
        assert np.array_equal(np.asarray(expected) > 0, pixels[..., 3] > 0)
    rt = next(iter(catalog.iter_search("Modality:RTSTRUCT")))["SeriesInstanceUID"]
    # RTSTRUCT contours on a reformat too (issue 19): their sections, the slice's size
    coronal = client.get(f"/api/series/{rt}/overlay", params={"plane": "coronal"})
    assert coronal.status_code == 200, coronal.text
    under = client.get(
        f"/api/series/{coronal.headers['x-referenced-series']}/slice",
        params={"plane": "coronal", "index": coronal.headers["x-slice-index"]},
    )
    assert _png(coronal).mode == "RGBA" and _png(coronal).size == _png(under).size
