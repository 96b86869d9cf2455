"""The viewer's correctness in Chromium (issue 19): orientation (defect 4), the controls
that apply to each kind of object (defect 9) and an RTDOSE with a bad instance (defect 10).

One synthetic patient is stored twice (tests/render/orientation_cases.py): with
ImageOrientationPatient (1,0,0,0,1,0) and with (-1,0,0,0,1,0) and mirrored pixel data.
Both must look the same in every plane: the bright sphere on the patient's left on the
screen's right under an "L" marker (axial, coronal), anterior up (axial) or on the left
(sagittal), superior up. Screenshots of each plane go to docs/img/viewer-orientation-*.png.

The server is this module's own ``radcurate serve`` on an archive of those series plus
pydicom's colour US, one-slice CT, SR and RTDOSE files and an undecodable CT
(tests/render/viewer_cases.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import UI, run_cli
from tests.render.orientation_cases import EXPECTED, GREY, GREY_TOLERANCE, MARKERS, write_series
from tests.render.viewer_cases import write_viewer_cases
from tests.serving import serving

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"
SERIES = ("axial standard", "axial flipped")
#: the display plane of each viewer plane for these axial series
SHOWN = {"native": "axial", "axial": "axial", "coronal": "coronal", "sagittal": "sagittal"}

#: the loaded slice image's pixels at fractions of its content box (the anatomy fills it)
SAMPLE = """([points]) => {
  const img = document.querySelector('[data-testid=slice]');
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let x0 = canvas.width, x1 = -1, y0 = canvas.height, y1 = -1;
  for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) {
    if (data[(y * canvas.width + x) * 4] > 20) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const at = ([fx, fy]) => (y0 + Math.floor(fy * h)) * canvas.width + x0 + Math.floor(fx * w);
  return points.map((p) => data[at(p) * 4]);
}"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("viewer-archive")
    study = "1.2.826.0.1.3680043.8.498.1919"
    uids = {name: write_series(root / name.replace(" ", "-"), name, study=study) for name in SERIES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # badVR.dcm is bad on purpose
        uids.update(write_viewer_cases(root / "cases"))
    return root, uids


@pytest.fixture(scope="module")
def server(
    archive: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """This module's ``radcurate serve`` (overrides the phantom one of conftest.py)."""
    root, _ = archive
    home = tmp_path_factory.mktemp("viewer-home")
    url = f"sqlite:///{home / 'catalog.sqlite'}"
    run_cli("ingest", str(root), "--catalog", url, "--no-thumbnails")
    with serving(url, home) as base:
        yield base


def open_series(ui: UI, uid: str) -> Any:
    ui.page.goto(f"{ui.base}/?series={uid}")
    detail = ui.page.locator("[data-testid=detail]")
    detail.wait_for()
    return detail


def wait_plane(ui: UI, plane: str) -> None:
    ui.page.wait_for_function(
        "p => { const i = document.querySelector('[data-testid=slice]');"
        " return i && i.complete && i.naturalWidth > 0 && i.dataset.shownPlane === p; }",
        arg=plane,
    )


@pytest.mark.parametrize("name", SERIES)
def test_every_plane_has_markers_and_the_convention(
    ui: UI, archive: tuple[Path, dict[str, str]], name: str
) -> None:
    _, uids = archive
    detail = open_series(ui, uids[name])
    ui.page.set_viewport_size({"width": 1280, "height": 900})
    for plane, shown in SHOWN.items():
        detail.locator("[data-testid=plane]").select_option(plane)
        wait_plane(ui, plane)
        structures = EXPECTED[shown]
        values = ui.page.evaluate(SAMPLE, [list(structures.values())])
        for structure, value in zip(structures, values, strict=True):
            assert abs(value - GREY[structure]) <= GREY_TOLERANCE, (
                f"{name}, {plane}: the {structure} sphere is not where the {shown} "
                f"convention puts it (grey {value}, expected about {GREY[structure]})"
            )
        assert detail.locator("[data-testid^=marker-]").count() == 4, f"{name}, {plane}: no markers"
        letters = {
            edge: detail.locator(f"[data-testid=marker-{edge}]").inner_text()
            for edge in ("top", "bottom", "left", "right")
        }
        assert letters == MARKERS[shown], f"{name}, {plane}: markers {letters}"
        # the bright (left) sphere lies on the side of the "L" marker, seen on the screen
        if "left" in structures:
            box = detail.locator("[data-testid=marker-right]").bounding_box()
            viewport = detail.locator("[data-testid=viewport]").bounding_box()
            assert box is not None and viewport is not None
            assert box["x"] > viewport["x"] + viewport["width"] / 2
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        slug = name.split()[-1]
        detail.locator("section.viewer").screenshot(
            path=str(DOCS_IMG / f"viewer-orientation-{slug}-{plane}.png")
        )


def test_controls_follow_the_object(ui: UI, archive: tuple[Path, dict[str, str]]) -> None:
    """Defect 9: no window/level for colour or undecodable pictures, no slider for one
    slice, an SR as selectable text without a "scroll slices" hint."""
    _, uids = archive
    presets, slider = "[aria-label='Window presets']", "[data-testid=slice-slider]"

    detail = open_series(ui, uids["us-colour"])
    wait_plane(ui, "native")
    assert detail.locator(presets).count() == 0, "window/level shown for a colour US"
    assert detail.locator("input[aria-label='Window width']").count() == 0
    assert detail.locator(slider).count() == 0, "a slider for a one-frame US"

    detail = open_series(ui, uids["ct-one-slice"])
    wait_plane(ui, "native")
    assert detail.locator(presets).count() == 1
    assert detail.locator(slider).count() == 0, "a slider for a one-slice series"
    assert "Scroll" not in detail.inner_text()

    detail = open_series(ui, uids["broken"])
    detail.locator("[data-testid=undecodable-note]").wait_for()
    assert detail.locator(presets).count() == 0, "window/level shown for an undecodable object"
    assert detail.locator(slider).count() == 0

    detail = open_series(ui, uids["sr"])
    text = detail.locator("[data-testid=sr-text]")
    text.wait_for()
    assert "Scroll" not in detail.inner_text(), "a 'scroll slices' hint for an SR"
    assert detail.locator("[data-testid=no-image] img").count() == 0, "the SR as a picture"
    content = text.inner_text()
    assert len(content.splitlines()) > 5
    assert text.evaluate("e => getComputedStyle(e).userSelect") != "none"
    # the text can be selected and copied as text
    text.locator("p").first.click(click_count=3)
    assert ui.page.evaluate("() => window.getSelection().toString().trim().length") > 0
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    detail.locator("section.viewer").screenshot(path=str(DOCS_IMG / "viewer-sr-text.png"))


def test_rtdose_with_a_bad_instance_opens_on_one_that_decodes(
    ui: UI, archive: tuple[Path, dict[str, str]]
) -> None:
    """Defect 10: the middle instance that decodes, not the undecodable card of the first."""
    _, uids = archive
    detail = open_series(ui, uids["rtdose"])
    wait_plane(ui, "native")
    width = ui.page.evaluate("() => document.querySelector('[data-testid=slice]').naturalWidth")
    assert width == 10, (
        f"the slice shown is {width} px wide: the undecodable card, not the 10x10 dose"
    )
    assert detail.locator("[data-testid=slice-label]").inner_text().endswith("/ 5")
