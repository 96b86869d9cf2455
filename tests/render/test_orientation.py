"""Issue 19, defect 4: every view is drawn in the radiological display convention, with
orientation markers, whatever ImageOrientationPatient the series was stored with.

One synthetic patient (tests/render/orientation_cases.py) is stored six ways (standard,
flipped left-right, rotated, upside down, coronal and sagittal acquisitions); the
thumbnail, the acquired plane and each reformat must put the bright left sphere on the
screen's right (axial, coronal), anterior up (axial) or left (sagittal), superior up,
and be the same picture for every stored orientation.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.imaging.reformat import display_orientation, orientation_label
from radcurate.ingest import ingest
from radcurate.render.api import render_series, render_slice
from tests.render.orientation_cases import (
    EXPECTED,
    GREY,
    GREY_TOLERANCE,
    MARKERS,
    ORIENTATIONS,
    write_all,
)

PLANES = ("axial", "coronal", "sagittal")
NEAREST = {
    "axial standard": "axial",
    "axial flipped": "axial",
    "axial rotated": "axial",
    "axial upside down": "axial",
    "coronal": "coronal",
    "sagittal": "sagittal",
}


@pytest.fixture(scope="module")
def oriented(tmp_path_factory: pytest.TempPathFactory) -> tuple[CatalogBackend, dict[str, str]]:
    root = tmp_path_factory.mktemp("orientation")
    uids = write_all(root / "archive")
    catalog = open_catalog(f"sqlite:///{root / 'catalog.sqlite'}")
    ingest([str(root / "archive")], catalog, workers=1)
    return catalog, uids


def grey(image: Any) -> np.ndarray[Any, Any]:
    return np.asarray(image.convert("RGB"))[..., 0].astype(np.int16)


def content(picture: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The picture without the black letterbox (the anatomy fills its box)."""
    ys, xs = np.nonzero(picture > 20)
    return picture[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def assert_convention(picture: np.ndarray[Any, Any], plane: str, what: str) -> None:
    box = content(picture)
    height, width = box.shape
    for structure, (fx, fy) in EXPECTED[plane].items():
        value = int(box[int(fy * height), int(fx * width)])
        assert abs(value - GREY[structure]) <= GREY_TOLERANCE, (
            f"{what}: the {structure} sphere is not where the {plane} convention puts it "
            f"(grey {value} at x={fx:.2f}, y={fy:.2f}; expected about {GREY[structure]})"
        )


@pytest.mark.parametrize("name", list(ORIENTATIONS))
@pytest.mark.parametrize("plane", PLANES)
def test_reformats_follow_the_display_convention(
    oriented: tuple[CatalogBackend, dict[str, str]], name: str, plane: str
) -> None:
    catalog, uids = oriented
    rendering = render_slice(catalog, uids[name], plane=plane)
    assert rendering.details["markers"] == MARKERS[plane]
    assert_convention(grey(rendering.image), plane, f"{name}, {plane}")
    standard = render_slice(catalog, uids["axial standard"], plane=plane)
    difference = np.abs(grey(rendering.image) - grey(standard.image)).mean()
    assert difference < 2.0, f"{name} {plane} differs from the standard series by {difference:.1f}"


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_acquired_plane_and_thumbnail_are_not_mirrored(
    oriented: tuple[CatalogBackend, dict[str, str]], name: str
) -> None:
    catalog, uids = oriented
    plane = NEAREST[name]
    native = render_slice(catalog, uids[name])
    assert native.details["markers"] == MARKERS[plane]
    assert_convention(grey(native.image), plane, f"{name}, acquired plane")
    thumbnail = render_series(catalog, uids[name], size=128)
    assert thumbnail.details["markers"] == MARKERS[plane]
    assert_convention(grey(thumbnail.image), plane, f"{name}, thumbnail")


def test_slice_route_png_and_views(
    oriented: tuple[CatalogBackend, dict[str, str]], tmp_path: Path
) -> None:
    """The PNGs the viewer gets, and the markers the views endpoint gives for each plane."""
    catalog, uids = oriented
    from radcurate.server.app import create_app
    from radcurate.server.settings import ServerSettings

    settings = ServerSettings(home=tmp_path, catalog_url=catalog.url)
    with TestClient(create_app(settings, catalog)) as client:
        for name in ("axial standard", "axial flipped", "sagittal"):
            uid = uids[name]
            views = client.get(f"/api/series/{uid}/views")
            assert views.status_code == 200, views.text
            body = views.json()
            assert body["planes"]["native"]["markers"] == MARKERS[NEAREST[name]]
            for plane in PLANES:
                assert body["planes"][plane]["markers"] == MARKERS[plane]
                index = body["planes"][plane]["index"]
                response = client.get(
                    f"/api/series/{uid}/slice", params={"plane": plane, "index": index}
                )
                assert response.status_code == 200, response.text
                picture = grey(Image.open(io.BytesIO(response.content)))
                assert_convention(picture, plane, f"{name}, {plane} PNG")
            thumb = client.get(f"/api/series/{uid}/thumbnail")
            assert thumb.status_code == 200
            assert_convention(
                grey(Image.open(io.BytesIO(thumb.content))), NEAREST[name], f"{name} thumbnail"
            )


def test_oblique_labels_name_the_dominant_directions_first() -> None:
    assert orientation_label((1, 0, 0)) == "L"
    assert orientation_label((-0.8, -0.6, 0)) == "RA"
    assert orientation_label((0.1, 0.05, -1)) == "I"  # under 14 degrees off: one letter
    tilted = display_orientation((1, 0, 0), (0, 0.866, -0.5))  # an axial tilted by 30 degrees
    assert tilted.plane == "axial" and tilted.markers["top"] == "AS"


def test_a_localizer_gets_each_slices_markers(tmp_path: Path) -> None:
    """A series of axial and coronal slices (a localizer): each acquired slice is drawn and
    marked in its own plane's convention."""
    from radcurate.render.views import series_views
    from tests.render.orientation_cases import write_series

    uid = write_series(tmp_path / "a" / "axial", "axial flipped")
    write_series(tmp_path / "a" / "coronal", "coronal", series_uid=uid)
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    ingest([str(tmp_path / "a")], catalog, workers=1)
    native = series_views(catalog, uid).planes["native"]
    assert native.slice_markers is not None and len(native.slice_markers) == native.count
    assert {tuple(sorted(m.items())) for m in native.slice_markers if m} == {
        tuple(sorted(MARKERS["axial"].items())),
        tuple(sorted(MARKERS["coronal"].items())),
    }
    for index, markers in enumerate(native.slice_markers):
        if index % 7:
            continue
        rendering = render_slice(catalog, uid, index)
        assert rendering.details["markers"] == markers


def test_an_oblique_slice_is_marked_not_resampled() -> None:
    """An axial slice rotated 30 degrees about the patient axis keeps its angle: two letters
    an edge, the dominant one first."""
    oblique = display_orientation((0.866, 0.5, 0.0), (-0.5, 0.866, 0.0))
    assert oblique.identity
    assert oblique.markers == {"right": "LP", "left": "RA", "bottom": "PR", "top": "AL"}


def test_projection_images_are_marked_from_patient_orientation() -> None:
    from radcurate.imaging.reformat import patient_orientation_markers

    assert patient_orientation_markers(["A", "F"]) == {
        "right": "A",
        "bottom": "F",
        "left": "P",
        "top": "H",
    }
    assert patient_orientation_markers(["L", "HP"])["top"] == "FA"  # type: ignore[index]
    assert patient_orientation_markers(None) is None
    assert patient_orientation_markers(["X", "F"]) is None


@pytest.mark.parametrize("name", ["axial standard", "axial flipped", "axial rotated"])
def test_contours_are_turned_with_the_image(tmp_path: Path, name: str) -> None:
    """An RTSTRUCT around the left sphere lies over it, on the screen's right, whatever
    the referenced series' stored orientation."""
    import pydicom

    from radcurate.render.overlay import render_overlay
    from tests.render.orientation_cases import write_rtstruct, write_series

    uid = write_series(tmp_path / "a" / "ct", name)
    first = pydicom.dcmread(next((tmp_path / "a" / "ct").iterdir()), stop_before_pixels=True)
    rt_uid = write_rtstruct(
        tmp_path / "a" / "rt", uid, str(first.StudyInstanceUID), str(first.FrameOfReferenceUID)
    )
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    ingest([str(tmp_path / "a")], catalog, workers=1)
    count = len(catalog.instances(uid))
    drawn = [render_overlay(catalog, rt_uid, k) for k in range(count)]
    index = next(k for k, overlay in enumerate(drawn) if overlay.drawn)
    alpha = np.asarray(drawn[index].image)[..., 3]
    ys, xs = np.nonzero(alpha)
    assert xs.mean() > 0.7 * alpha.shape[1], f"{name}: the contour is not on the screen's right"
    image = grey(render_slice(catalog, uid, index).image)
    assert image.shape == alpha.shape
    assert image[int(ys.mean()), int(xs.mean())] >= GREY["left"] - GREY_TOLERANCE
