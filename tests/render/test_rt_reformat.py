"""RTSTRUCT contours on reformatted planes (issue 19): the section of a contour on a
coronal or sagittal cut lies over the structure it outlines in the image's reformat, in
the display convention, for a standard and a flipped series (tests/render/orientation_cases:
a circle of radius 8 mm around the bright left sphere at x = +30 mm, on the slice z = 0;
the grid is 3 mm, x from -48 mm, y from -48 mm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from radcurate.render.api import render_slice
from radcurate.render.overlay import render_overlay
from tests.render.orientation_cases import GREY, GREY_TOLERANCE, write_rtstruct, write_series

#: the cut through the circle's centre: coronal index counts anterior to posterior
#: (y = 0 is column (0 + 48) / 3), sagittal right to left (x = 30 is (30 + 48) / 3)
CUTS = {"coronal": 16, "sagittal": 26}


@pytest.fixture(scope="module", params=["axial standard", "axial flipped"])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("rt-reformat")
    uid = write_series(root / "a" / "ct", request.param)
    first = pydicom.dcmread(next((root / "a" / "ct").iterdir()), stop_before_pixels=True)
    rt_uid = write_rtstruct(
        root / "a" / "rt", uid, str(first.StudyInstanceUID), str(first.FrameOfReferenceUID)
    )
    catalog = open_catalog(f"sqlite:///{root / 'catalog.sqlite'}")
    ingest([str(root / "a")], catalog, workers=1)
    return catalog, uid, rt_uid, request.param


@pytest.mark.parametrize("plane", list(CUTS))
def test_contour_section_lies_over_its_structure(case: Any, plane: str) -> None:
    catalog, uid, rt_uid, name = case
    overlay = render_overlay(catalog, rt_uid, CUTS[plane], plane)
    assert overlay.index == CUTS[plane] and overlay.drawn == [1]
    alpha = np.asarray(overlay.image)[..., 3]
    image = np.asarray(render_slice(catalog, uid, CUTS[plane], plane=plane).image)[..., 0]
    assert image.shape == alpha.shape, f"{name} {plane}: not the size of the slice under it"
    ys, xs = np.nonzero(alpha)
    assert len(xs) > 0, f"{name} {plane}: nothing drawn"
    # one slice (z = 0) high, 16 mm wide: a thin band over the left sphere's bright pixels
    under = image[ys, xs].astype(int)
    assert np.median(under) == pytest.approx(GREY["left"], abs=GREY_TOLERANCE), (name, plane)
    if plane == "coronal":  # the patient's left on the screen's right
        assert xs.mean() > 0.7 * alpha.shape[1], f"{name}: the section is not on the right"
    # its width is the circle's chord through the centre: 16 mm = 5-6 pixels of 3 mm
    assert 4 <= xs.max() - xs.min() + 1 <= 7
    # outlines opaque, fills translucent
    assert set(np.unique(alpha)) <= {0, 70, 255} and 255 in alpha


def test_a_cut_off_the_contour_draws_nothing_and_bad_index_is_refused(case: Any) -> None:
    catalog, _, rt_uid, _ = case
    assert render_overlay(catalog, rt_uid, 2, "coronal").drawn == []
    with pytest.raises(IndexError):
        render_overlay(catalog, rt_uid, 999, "sagittal")


def test_the_acquired_plane_as_axial(case: Any, tmp_path: Path) -> None:
    catalog, _, rt_uid, _ = case
    views = [render_overlay(catalog, rt_uid, k, "axial") for k in range(16)]
    assert sum(1 for v in views if v.drawn) == 1
