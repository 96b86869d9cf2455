"""Every kind of object gets a picture; plug-ins, cache, viewer slices and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from radcurate.render import (
    RendererRegistry,
    Rendering,
    RenderOptions,
    SeriesInput,
    ThumbnailCache,
    generate_all,
    render_series,
    render_slice,
)
from tests.render.cases import Workspace, catalog_of, find, pydicom_file

PYDICOM_FILES = {
    "US1_J2KR.dcm": "image",  # palette-free US RGB, JPEG 2000
    "SC_rgb_jpeg_dcmtk.dcm": "image",  # YBR_FULL JPEG baseline
    "OBXXXX1A.dcm": "image",  # PALETTE COLOR
    "emri_small_jpeg_2k_lossless.dcm": "image",  # multi-frame MR
    "waveform_ecg.dcm": "waveform",
    "reportsi.dcm": "sr",
    "MR-SIEMENS-DICOM-WithOverlays.dcm": "image",
    "CT_small.dcm": "image",
    "SC_rgb_rle_32bit.dcm": "image",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> object:
    folder = tmp_path_factory.mktemp("corpus")
    for name in PYDICOM_FILES:
        shutil.copy(pydicom_file(name), folder / name)
    return catalog_of([folder], folder.parent / "corpus.sqlite")


@pytest.mark.parametrize("name", sorted(PYDICOM_FILES))
def test_pydicom_files_render(corpus: object, name: str) -> None:
    catalog = corpus
    uid = next(
        str(d["SeriesInstanceUID"])
        for d in catalog.iter_series_documents()  # type: ignore[attr-defined]
        if any(Path(i.location).name == name for i in catalog.instances(d["SeriesInstanceUID"]))  # type: ignore[attr-defined]
    )
    rendering = render_series(catalog, uid, size=96)  # type: ignore[arg-type]
    assert not rendering.undecodable, rendering.reason
    assert rendering.renderer == PYDICOM_FILES[name]
    assert rendering.image.size == (96, 96) and rendering.image.mode == "RGB"
    assert np.asarray(rendering.image).std() > 5  # not a blank picture


def test_third_party_renderer_plugs_in(workspace: Workspace) -> None:
    class Stamp:
        name = "stamp"

        def score(self, series: SeriesInput) -> int:
            return 99 if series.modality == "CR" else 0

        def render(self, series: SeriesInput, options: RenderOptions) -> Rendering:
            return Rendering(Image.new("RGB", (8, 8)), self.name, "stamped")

    registry = RendererRegistry()
    assert {"image", "seg", "rtstruct", "sr", "waveform", "card"} <= set(registry.names())
    registry.register(Stamp())
    with pytest.raises(ValueError):
        registry.register(Stamp())
    cr = render_series(workspace.catalog, workspace.uid(Modality="CR"), registry=registry)
    assert cr.renderer == "stamp"
    ct = render_series(workspace.catalog, workspace.ct_uid(), registry=registry)
    assert ct.renderer == "image"


def test_viewer_reformats_keep_the_anatomy_upright(workspace: Workspace) -> None:
    uid = workspace.ct_uid()
    axial = render_slice(workspace.catalog, uid, 3)
    assert axial.slice_index == 3 and axial.image.size == (256, 256)
    coronal = render_slice(workspace.catalog, uid, plane="coronal")
    sagittal = render_slice(workspace.catalog, uid, plane="sagittal", window=2000, level=500)
    assert coronal.details["slices_read"] == len(workspace.catalog.instances(uid))
    assert coronal.image.size[0] == 256 and sagittal.image.size[0] == 256
    with pytest.raises(ValueError):
        render_slice(workspace.catalog, uid, plane="oblique")
    with pytest.raises(IndexError):
        render_slice(workspace.catalog, uid, 10_000)


def test_cache_keys_follow_content_and_generate_in_parallel(
    workspace: Workspace, tmp_path: Path
) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs", size=64)
    uid = workspace.ct_uid()
    path = cache.thumbnail_path(workspace.catalog, uid)
    assert path.is_file() and Image.open(path).size == (64, 64)
    assert cache.metadata(path)["renderer"] == "image"
    assert cache.thumbnail_path(workspace.catalog, uid) == path  # cached
    report = generate_all(workspace.catalog, cache=cache, workers=2)
    assert report.failed == 0, report.errors
    assert report.cached == 1 and report.generated == report.total - 1
    again = generate_all(workspace.catalog, cache=cache, workers=1)
    assert again.generated == 0 and again.cached == report.total
    # a series that changes gets a new key
    folder = tmp_path / "grow"
    folder.mkdir()
    records = workspace.catalog.instances(uid)
    for record in records[:5]:
        shutil.copy(record.location, folder / Path(record.location).name)
    catalog = catalog_of([folder], tmp_path / "grow.sqlite")
    first = cache.thumbnail_path(catalog, uid)
    shutil.copy(records[5].location, folder / Path(records[5].location).name)
    catalog_of([folder], tmp_path / "grow.sqlite")
    assert cache.thumbnail_path(catalog, uid) != first


def test_cli_thumbnails_and_render(workspace: Workspace, tmp_path: Path) -> None:
    from radcurate.cli.render import render
    from radcurate.cli.thumbnails import thumbnails

    url = workspace.catalog.url
    uid = workspace.ct_uid()
    result = CliRunner().invoke(
        thumbnails,
        ["--catalog", url, "--cache", str(tmp_path / "t"), "--series", uid, "--workers", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "1 rendered" in result.output
    out = tmp_path / "slice.png"
    result = CliRunner().invoke(
        render, [uid, "--catalog", url, "--out", str(out), "--plane", "sagittal", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).mode == "RGB" and '"renderer": "image"' in result.output
    result = CliRunner().invoke(render, ["1.2.3", "--catalog", url, "--out", str(out)])
    assert result.exit_code == 2


def test_cli_thumbnails_takes_a_query(workspace: Workspace, tmp_path: Path) -> None:
    import json

    from radcurate.cli.thumbnails import thumbnails

    url = workspace.catalog.url
    expected = workspace.catalog.count("Modality:(SEG OR RTSTRUCT)")
    assert expected >= 2
    result = CliRunner().invoke(
        thumbnails,
        ["Modality:(SEG OR RTSTRUCT)", "--catalog", url, "--cache", str(tmp_path / "t"),
         "--workers", "1", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["generated"] == expected
    result = CliRunner().invoke(thumbnails, ["Modalit:CT", "--catalog", url])
    assert result.exit_code == 2 and "did you mean Modality?" in result.output


def test_rtstruct_without_its_series_is_a_card(workspace: Workspace, tmp_path: Path) -> None:
    uid = workspace.uid(Modality="RTSTRUCT")
    folder = tmp_path / "rt"
    folder.mkdir()
    shutil.copy(workspace.catalog.instances(uid)[0].location, folder / "rt.dcm")
    catalog = catalog_of([folder], tmp_path / "c.sqlite")
    rendering = render_series(catalog, find(catalog, Modality="RTSTRUCT"), size=64)
    assert rendering.renderer == "rtstruct"
    assert "Liver" in "\n".join(rendering.text_lines)
    assert rendering.details["referenced_series_found"] is False
