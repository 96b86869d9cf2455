"""The viewer's measurements (issue 19): GET /api/series/{uid}/measure against numpy on the
volume written (bench/viewer_ct.py: a 512 x 512 CT, PixelSpacing 0.75 mm, slices 2.5 mm
apart, standard orientation), in the acquired plane and in a coronal reformat, and for
the flipped copy of a series (tests/render/orientation_cases.py) whose picture is mirrored."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from bench.viewer_ct import SPACING, STEP, hounsfield, write_ct
from fastapi.testclient import TestClient
from PIL import Image

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from tests.render.orientation_cases import write_series

SLICES = 24


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("measure")
    uids = {
        "ct": write_ct(root / "archive" / "ct", SLICES),
        "standard": write_series(root / "archive" / "std", "axial standard"),
        "flipped": write_series(root / "archive" / "flip", "axial flipped"),
    }
    catalog = open_catalog(f"sqlite:///{root / 'catalog.sqlite'}")
    ingest([str(root / "archive")], catalog, workers=1)
    from radcurate.server.app import create_app
    from radcurate.server.settings import ServerSettings

    settings = ServerSettings(home=root / "home", catalog_url=catalog.url)
    with TestClient(create_app(settings, catalog)) as client:
        client.uids = uids  # type: ignore[attr-defined]
        yield client


def volume() -> np.ndarray[Any, Any]:
    """(slices from superior to inferior, rows, columns) HU, as written."""
    return np.stack([hounsfield(k, SLICES) for k in range(SLICES)]).astype(np.float64)


def get(api: Any, uid: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/api/series/{uid}/measure", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def picture_size(api: Any, uid: str, plane: str, index: int) -> tuple[int, int]:
    response = api.get(f"/api/series/{uid}/slice", params={"plane": plane, "index": index})
    assert response.status_code == 200, response.text
    size: tuple[int, int] = Image.open(io.BytesIO(response.content)).size
    return size


def test_rectangle_and_ellipse_on_the_acquired_plane_equal_numpy(api: Any) -> None:
    uid = api.uids["ct"]
    # the axial plane counts from inferior: index i is the (SLICES - 1 - i)-th slice written
    index = 5
    values = volume()[SLICES - 1 - index]
    found = get(api, uid, plane="axial", index=index, shape="rectangle", points="100,150,300,260")
    region = values[150:260, 100:300]
    assert found["unit"] == "HU"
    assert found["pixels"] == region.size
    assert found["mean"] == pytest.approx(region.mean(), abs=1e-6)
    assert found["sd"] == pytest.approx(region.std(), abs=1e-6)
    assert (found["min"], found["max"]) == (region.min(), region.max())
    assert found["area_mm2"] == pytest.approx(region.size * SPACING[0] * SPACING[1])
    # an ellipse inscribed in the box of the bone column: its centres only
    ellipse = get(api, uid, plane="native", index=index, shape="ellipse", points="380,230,420,282")
    r, c = np.mgrid[0:512, 0:512] + 0.5
    mask = ((c - 400) / 20) ** 2 + ((r - 256) / 26) ** 2 <= 1
    assert ellipse["pixels"] == int(mask.sum())
    assert ellipse["mean"] == 1000.0
    # the acquired plane is in geometric order too (feet first here): the same slice
    native = get(api, uid, plane="native", index=index, shape="ellipse", points="100,150,300,260")
    r, c = np.mgrid[0:512, 0:512] + 0.5
    mask = ((c - 200) / 100) ** 2 + ((r - 205) / 55) ** 2 <= 1
    assert native["mean"] == pytest.approx(values[mask].mean(), abs=1e-6)
    assert native["mean"] != pytest.approx(volume()[index][mask].mean(), abs=1e-3)


def test_length_in_mm_on_the_acquired_plane_and_a_coronal_reformat(api: Any) -> None:
    uid = api.uids["ct"]
    line = get(api, uid, plane="native", index=3, shape="line", points="100,100,300,100")
    assert line["length_mm"] == pytest.approx(200 * SPACING[1])
    # coronal: rows are slices 2.5 mm apart, stretched to 0.75 mm pixels in the picture
    width, height = picture_size(api, uid, "coronal", 256)
    assert (width, height) == (512, round(SLICES * STEP / SPACING[0]))
    top_to_bottom = get(
        api, uid, plane="coronal", index=256, shape="line", points=f"10,0,10,{height}"
    )
    assert top_to_bottom["length_mm"] == pytest.approx(SLICES * STEP, rel=0.01)
    assert top_to_bottom["spacing_mm"] == pytest.approx([STEP, SPACING[1]])


def test_region_on_a_coronal_reformat_equals_numpy(api: Any) -> None:
    uid = api.uids["ct"]
    _, height = picture_size(api, uid, "coronal", 240)
    found = get(
        api, uid, plane="coronal", index=240, shape="rectangle", points=f"100,0,300,{height}"
    )
    # coronal: row j of every slice, superior (written first) at the top, right on the left
    expected = volume()[:, 240, 100:300]
    assert found["pixels"] == expected.size
    assert found["mean"] == pytest.approx(expected.mean(), abs=1e-6)
    assert found["max"] == 300.0  # the cube's slices are in the column


def test_a_flipped_series_measures_what_it_shows(api: Any) -> None:
    """Stored mirrored (IOP -1,0,0): the picture is turned to the convention, and so are the
    values measured: the same box gives the same numbers on both series."""
    box = "24,14,29,19"  # around the bright left sphere (1000 HU), on the screen's right
    same = [
        get(api, api.uids[name], plane="native", shape="rectangle", points=box)
        for name in ("standard", "flipped")
    ]
    assert same[0]["mean"] == same[1]["mean"]
    assert same[0]["max"] == 1000.0


def test_bad_measurements_say_what_to_do(api: Any) -> None:
    uid = api.uids["ct"]
    cases = {
        "1,2,3": "four numbers",
        "0,0,9999,10": "off the picture",
        "10,10,10.2,10.2": "no pixel centre",
    }
    for points, message in cases.items():
        response = api.get(
            f"/api/series/{uid}/measure", params={"shape": "rectangle", "points": points}
        )
        assert response.status_code == 400, response.text
        assert message in response.json()["error"]["message"]
    response = api.get(
        f"/api/series/{uid}/measure",
        params={"shape": "line", "points": "0,0,1,1", "plane": "native", "index": 999},
    )
    assert response.status_code == 400
    assert "out of range" in response.json()["error"]["message"]
