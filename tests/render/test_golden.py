"""Rendered thumbnails match reviewed golden images (tests/render/make_goldens.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from radcurate.render import render_series
from tests.render.cases import (
    GOLDEN,
    GOLDEN_SIZE,
    TOLERANCE,
    Workspace,
    catalog_of,
    decompressed_copy,
    find,
    matches_golden,
    mean_abs_diff,
    shuffled_copy,
)

NAMES = sorted(p.stem for p in GOLDEN.glob("*.png"))


def test_every_golden_is_small_and_present() -> None:
    assert len(NAMES) >= 8
    for name in NAMES:
        with Image.open(GOLDEN / f"{name}.png") as image:
            assert max(image.size) <= 128


@pytest.mark.parametrize("name", NAMES)
def test_rendering_matches_golden(renderings: dict[str, Any], name: str) -> None:
    ok, diff = matches_golden(renderings[name].image, name)
    assert ok, f"{name}: mean abs diff per channel {diff} > {TOLERANCE}"


def test_comparison_fails_on_a_wrong_image(renderings: dict[str, Any]) -> None:
    ok, diff = matches_golden(renderings["cr_monochrome1"].image, "ct")
    assert not ok, diff
    flipped = renderings["ct"].image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    assert not matches_golden(flipped, "ct")[0]
    darker = Image.eval(renderings["ct"].image, lambda v: int(v * 0.8))
    assert not matches_golden(darker, "ct")[0]


def test_middle_slice_by_geometry_not_instance_number(workspace: Workspace, tmp_path: Path) -> None:
    folder = shuffled_copy(workspace.catalog, workspace.ct_uid(), tmp_path / "shuffled")
    catalog = catalog_of([folder], tmp_path / "c.sqlite")
    rendering = render_series(catalog, find(catalog, Modality="CT"), size=GOLDEN_SIZE)
    assert matches_golden(rendering.image, "ct")[0]
    records = catalog.instances(find(catalog, Modality="CT"))
    by_number = sorted(records, key=lambda r: r.instance_number or 0)[len(records) // 2]
    assert rendering.details["sop_uid"] != by_number.sop_uid  # the shuffle matters


def test_monochrome1_shows_bone_bright(renderings: dict[str, Any]) -> None:
    grey = np.asarray(renderings["cr_monochrome1"].image.convert("L"), dtype=float)
    h, w = grey.shape
    spine = grey[int(h * 0.3) : int(h * 0.6), int(w * 0.47) : int(w * 0.53)].mean()
    lung = grey[int(h * 0.3) : int(h * 0.5), int(w * 0.25) : int(w * 0.32)].mean()
    assert spine > lung + 40, (spine, lung)


@pytest.mark.parametrize(
    "match",
    [
        {"Modality": "CT", "transfer_syntaxes": ["1.2.840.10008.1.2.4.90"]},  # JPEG 2000
        {"Modality": "MR", "transfer_syntaxes": ["1.2.840.10008.1.2.4.80"]},  # JPEG-LS
        {"Modality": "CT", "transfer_syntaxes": ["1.2.840.10008.1.2.5"]},  # RLE
    ],
    ids=["jpeg2000", "jpeg-ls", "rle"],
)
def test_compressed_series_render_like_their_decompressed_copy(
    workspace: Workspace, tmp_path: Path, match: dict[str, Any]
) -> None:
    uid = workspace.uid(**match)
    compressed = render_series(workspace.catalog, uid, size=GOLDEN_SIZE)
    assert not compressed.undecodable, compressed.reason
    folder = decompressed_copy(workspace.catalog, uid, tmp_path / "plain")
    catalog = catalog_of([folder], tmp_path / "c.sqlite")
    plain_uid = find(catalog, transfer_syntaxes=["1.2.840.10008.1.2.1"])
    plain = render_series(catalog, plain_uid, size=GOLDEN_SIZE)
    assert max(mean_abs_diff(compressed.image, plain.image)) < 0.5
    assert compressed.slice_index == plain.slice_index
