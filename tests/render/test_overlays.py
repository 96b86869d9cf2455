"""SEG and RTSTRUCT overlays land on the anatomy; cards say what they show."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from radcurate.imaging.rtstruct import project_points
from radcurate.render import RenderOptions, load_series, render, render_series
from tests.render.cases import Workspace, catalog_of, find


def test_seg_overlay_names_segments_and_its_slice(renderings: dict[str, Any]) -> None:
    seg = renderings["seg_overlay"]
    assert seg.renderer == "seg"
    assert seg.details["referenced_series_found"]
    assert len(seg.details["segments"]) >= 2
    assert seg.slice_index is not None


def test_seg_without_its_series_renders_the_mask_alone(
    workspace: Workspace, tmp_path: Path
) -> None:
    seg_uid = workspace.uid(Modality="SEG")
    folder = tmp_path / "seg"
    folder.mkdir()
    shutil.copy(workspace.catalog.instances(seg_uid)[0].location, folder / "seg.dcm")
    catalog = catalog_of([folder], tmp_path / "c.sqlite")
    rendering = render_series(catalog, seg_uid, size=64)
    assert rendering.renderer == "seg" and not rendering.undecodable
    assert rendering.details["referenced_series_found"] is False
    assert "not in the catalog" in (rendering.reason or "")
    assert np.asarray(rendering.image).max() > 0  # the mask is drawn


def test_rtstruct_contours_coincide_with_the_oblique_anatomy(workspace: Workspace) -> None:
    catalog, masks, busiest = workspace.oblique()
    uid = find(catalog, Modality="RTSTRUCT")
    rendering = render(load_series(catalog, uid), RenderOptions(size=None))
    assert rendering.renderer == "rtstruct"
    assert rendering.details["slice_sop_uid"] == busiest
    assert rendering.details["contours_drawn"] == 3
    mask = masks[busiest]
    boundary = mask & ~(
        np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
    )
    rows, cols = np.nonzero(boundary)
    for polygon in rendering.details["polygons"][:1]:  # the body outline
        xy = np.asarray(polygon)
        dist = np.sqrt(
            (xy[:, None, 0] - cols[None, :]) ** 2 + (xy[:, None, 1] - rows[None, :]) ** 2
        ).min(axis=1)
        assert dist.max() <= 1.5, dist.max()
    # the drawn outline (yellow ROI 1) sits on the body edge in the picture too
    picture = np.asarray(rendering.image)
    yellow = (picture[..., 0] > 240) & (picture[..., 1] > 240) & (picture[..., 2] < 40)
    ys, xs = np.nonzero(yellow)
    assert ys.size > 100
    near = np.sqrt((xs[:, None] - cols[None, :]) ** 2 + (ys[:, None] - rows[None, :]) ** 2)
    assert np.median(near.min(axis=1)) <= 1.5


def test_projection_solves_with_direction_cosines() -> None:
    angle = np.radians(30)
    row = [np.cos(angle), np.sin(angle), 0.0]
    col = [0.0, 0.0, -1.0]
    origin = np.array([10.0, -5.0, 40.0])
    spacing = [0.5, 2.0]  # row spacing, column spacing
    point = origin + 7 * spacing[1] * np.array(row) + 3 * spacing[0] * np.array(col)
    xy = project_points(point[None, :], origin, [*row, *col], spacing)
    assert np.allclose(xy, [[7.0, 3.0]])


def test_sr_card_contains_the_report(renderings: dict[str, Any]) -> None:
    card = renderings["sr_card"]
    assert card.renderer == "sr"
    text = "\n".join(card.text_lines)
    assert card.text_lines[0] == "Diagnostic Imaging Report"
    assert "No acute abnormality" in text
    assert "Liver, spleen and kidneys are unremarkable" in text


def test_undecodable_file_gives_a_flagged_card(renderings: dict[str, Any]) -> None:
    card = renderings["undecodable"]
    assert card.undecodable and card.renderer == "undecodable"
    assert "less than expected" in (card.reason or "")
    assert card.image.size == (128, 128)


def test_thumbnail_generation_flags_undecodable_series_in_qc(
    workspace: Workspace, tmp_path: Path
) -> None:
    from radcurate.render.cache import ThumbnailCache, generate_all

    catalog = workspace.undecodable()
    uid = find(catalog, Modality="MR")
    report = generate_all(catalog, cache=ThumbnailCache(tmp_path / "thumbs"))
    assert report.undecodable_series == [uid]
    qc = catalog.results(uid)["qc"]
    assert qc["undecodable"] is True
    assert "less than expected" in qc["undecodable_reason"]
    good = workspace.ct_uid()
    generate_all(workspace.catalog, [good], cache=ThumbnailCache(tmp_path / "thumbs"))
    assert workspace.catalog.results(good)["qc"]["undecodable"] is False
