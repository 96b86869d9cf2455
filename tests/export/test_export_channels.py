"""Multi-channel cases (``--channel NAME=QUERY``): a study with one series per channel, channel 0
the reference grid, the others resampled onto it (trilinear, in patient coordinates), labels
from any channel's SEG/RTSTRUCT, studies that make no case left out with a specific reason."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nibabel
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.ndimage import map_coordinates

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation_types import Selection
from radcurate.cli import main
from radcurate.export.channels import ChannelError, parse_channel
from radcurate.export.channels_resample import resample_linear_slice
from radcurate.export.job import ExportOptions, check_options, export_dataset
from radcurate.export.plan import ExportError, FrozenLookup
from radcurate.export.splits import parse_split
from radcurate.imaging.volume import LPS_TO_RAS, series_volume
from radcurate.ingest import ingest
from tests.export.channel_series import (
    CHANNELS,
    Grid,
    Study,
    lesion_mask,
    square_lps,
    write_series,
    write_studies,
)
from tests.export.test_export_tools import HAVE_MONAI, HAVE_NNUNET, INSTALL, _verify

CHANNEL_SPECS = tuple(parse_channel(c) for c in CHANNELS)
HALF = parse_split("train=0.5,test=0.5")


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Study]]:
    root = tmp_path_factory.mktemp("channels") / "archive"
    return root, write_studies(root)


@pytest.fixture(scope="module")
def catalog(
    studies: tuple[Path, dict[str, Study]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogBackend]:
    """The synthetic studies in a catalog; dataset ``mr`` holds every series."""
    path = tmp_path_factory.mktemp("channels-catalog") / "catalog.sqlite"
    with open_catalog(f"sqlite:///{path}") as made:
        ingest([studies[0]], made, workers=1)
        made.create_dataset("mr")
        made.add_to_dataset("mr", Selection(query="*"))
        made.freeze_dataset("mr")
        yield made


def _options(fmt: str, out: Path, **kw: object) -> ExportOptions:
    return ExportOptions("mr@1", fmt, out, kw.pop("split", HALF), channels=CHANNEL_SPECS, **kw)  # type: ignore[arg-type]


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _uid(study: Study, description: str) -> str:
    return str(study.series[description][0].SeriesInstanceUID)


def _data(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI file's voxels as ``(slices, rows, columns)`` and its affine."""
    image = nibabel.load(path)
    return np.transpose(np.asarray(image.dataobj), (2, 1, 0)), image.affine


@pytest.fixture(scope="module")
def raw(catalog: CatalogBackend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("channels-nnunet") / "raw"
    report = export_dataset(catalog, _options("nnunet", out))
    assert report.exported == 3 and report.failed == 0, report.errors
    return out


def test_nnunet_layout_channel_names_and_left_out_studies(
    raw: Path, studies: tuple[Path, dict[str, Study]]
) -> None:
    root = raw / "Dataset001_mr"
    dataset = json.loads((root / "dataset.json").read_text())
    assert dataset["channel_names"] == {"0": "T1", "1": "FLAIR"}
    assert dataset["labels"] == {"background": 0, "lesion": 1, "tumour": 2}
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.nii.gz"))
    cases = sorted({f.split("/")[1][:9] for f in files})
    assert cases == ["case_0001", "case_0002", "case_0003"]  # A1, A2, B by (patient, study)
    for case in cases:  # every case: both channels and a label, in the same split's folders
        mine = [f for f in files if f"/{case}" in f]
        assert len(mine) == 3 and len({f.split("/")[0][-2:] for f in mine}) == 1, mine
        channels = {f.rsplit("_", 1)[-1] for f in mine if "images" in f}
        assert channels == {"0000.nii.gz", "0001.nii.gz"}
    trained = len([f for f in files if f.startswith("imagesTr/")]) // 2
    assert dataset["numTraining"] == trained
    rows = _manifest(raw)
    by_uid = {r["series_uid"]: r for r in rows}
    made = studies[1]
    # patient A's two studies are two cases in one split (patient-level)
    a = [by_uid[_uid(made[s], d)] for s in ("A1", "A2") for d in ("t1_se_tra", "t2_flair_tra")]
    assert len({r["split"] for r in a}) == 1 and len({r["case"] for r in a}) == 2
    assert [r["channel"] for r in a] == ["T1", "FLAIR", "T1", "FLAIR"]
    assert all(r["status"] == "exported" and r["label"] for r in a)
    # the reasons a study makes no case, on each of its series
    reason = {s: by_uid[_uid(made[s], "t1_se_tra")]["reason"] for s in "CDE"}
    assert "different frames of reference" in reason["C"]
    assert reason["D"] == "its study has no series for channel FLAIR (SeriesDescription:*flair*)"
    assert "channel T1 matches 2 series of its study (series numbers 1, 3)" in reason["E"]
    assert by_uid[_uid(made["E"], "t2_flair_tra")]["reason"] == reason["E"]
    assert all(by_uid[_uid(made[s], d)]["status"] == "left out"
               for s in "CE" for d in ("t1_se_tra", "t2_flair_tra"))  # fmt: skip
    # coverage: the same grid covers all; the oblique FLAIR of B only part of T1's grid
    flair = {s: float(by_uid[_uid(made[s], "t2_flair_tra")]["coverage"]) for s in ("A1", "B")}
    assert flair["A1"] == 1.0 and 0.3 < flair["B"] < 1.0


def test_channel_voxels_are_the_series_resampled_and_affines_match(
    raw: Path, catalog: CatalogBackend, studies: tuple[Path, dict[str, Study]]
) -> None:
    rows = {r["series_uid"]: r for r in _manifest(raw)}
    lookup = FrozenLookup(catalog, catalog.version_members("mr", 1))
    made = studies[1]
    for name in ("A1", "A2", "B"):
        t1 = series_volume(lookup, _uid(made[name], "t1_se_tra"))
        flair = series_volume(lookup, _uid(made[name], "t2_flair_tra"))
        row0, row1 = rows[_uid(made[name], "t1_se_tra")], rows[_uid(made[name], "t2_flair_tra")]
        channel0, affine0 = _data(raw / row0["image"])
        channel1, affine1 = _data(raw / row1["image"])
        label, label_affine = _data(raw / row0["label"])
        assert row0["label"] == row1["label"]
        assert np.array_equal(channel0, t1.array)  # the reference channel as read
        for affine in (affine0, affine1, label_affine):  # every file on the reference grid
            assert np.allclose(affine, t1.affine, atol=1e-4)
        assert channel1.shape == label.shape == t1.array.shape
        if name != "B":  # the identity grid: exactly the FLAIR's voxels, kept as int16
            assert channel1.dtype == np.int16 and np.array_equal(channel1, flair.array)
            continue
        # an oblique grid: trilinear at each T1 voxel centre, checked against scipy's
        to_source = np.linalg.inv(flair.affine) @ t1.affine
        kk, jj, ii = np.meshgrid(*(np.arange(n) for n in t1.array.shape), indexing="ij")
        index = np.stack([ii.ravel(), jj.ravel(), kk.ravel(), np.ones(ii.size)])
        x, y, z = (to_source @ index)[:3]
        inner = np.all([(c >= 0) & (c <= n - 1) for c, n in zip(
            (x, y, z), flair.array.shape[::-1], strict=True)], axis=0)  # fmt: skip
        outside = np.any([(c < -0.5) | (c >= n - 0.5) for c, n in zip(
            (x, y, z), flair.array.shape[::-1], strict=True)], axis=0)  # fmt: skip
        assert inner.sum() > 100 and outside.sum() > 20
        expected = map_coordinates(flair.array.astype(np.float64), [z, y, x], order=1)
        got = channel1.ravel().astype(np.float64)
        assert np.allclose(got[inner], expected[inner], atol=1e-3)
        assert not got[outside].any()  # beyond half a voxel outside: 0


def test_labels_come_from_a_seg_or_rtstruct_on_any_channel(
    raw: Path, catalog: CatalogBackend, studies: tuple[Path, dict[str, Study]]
) -> None:
    rows = {r["series_uid"]: r for r in _manifest(raw)}
    made = studies[1]
    # A1: the SEG lies over the FLAIR (channel 1, same grid); A2: over the T1
    for name in ("A1", "A2"):
        label, _ = _data(raw / rows[_uid(made[name], "t1_se_tra")]["label"])
        assert np.array_equal(label, lesion_mask(label.shape).astype(label.dtype))
        assert json.loads(rows[_uid(made[name], "t1_se_tra")]["labels_present"]) == ["lesion"]
    # B: the RTSTRUCT is drawn on the oblique FLAIR; its squares land on the T1 grid where the
    # squares lie in patient space (each labelled voxel centre within a voxel of a square)
    row = rows[_uid(made["B"], "t1_se_tra")]
    label, affine = _data(raw / row["label"])
    assert json.loads(row["labels_present"]) == ["tumour"] and (label == 2).sum() > 10
    k, j, i = np.nonzero(label == 2)
    lps = (LPS_TO_RAS @ affine @ np.stack([i, j, k, np.ones(i.size)]))[:3].T
    flair = made["B"].series["t2_flair_tra"][0]
    square = square_lps(flair)
    row_dir = np.array([float(v) for v in flair.ImageOrientationPatient[:3]])
    col_dir = np.array([float(v) for v in flair.ImageOrientationPatient[3:]])
    u, v = (lps - square[0]) @ row_dir, (lps - square[0]) @ col_dir
    size_u, size_v = (square[1] - square[0]) @ row_dir, (square[3] - square[0]) @ col_dir
    assert (u > -2.5).all() and (u < size_u + 2.5).all()
    assert (v > -2.5).all() and (v < size_v + 2.5).all()


def test_monai_and_nifti_layouts_and_byte_identical_repeats(
    catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "monai"
    export_dataset(catalog, _options("monai", out, workers=1))
    datalist = json.loads((out / "datalist.json").read_text())
    assert datalist["modality"] == {"0": "T1", "1": "FLAIR"}
    items = datalist["training"] + datalist["test"]
    assert len(items) == 3
    for item in items:
        assert item["image"] == [f"images/{item['case']}_0000.nii.gz",
                                 f"images/{item['case']}_0001.nii.gz"]  # fmt: skip
        assert all((out / p).is_file() for p in item["image"]) and (out / item["label"]).is_file()
    again = tmp_path / "again"  # another process layout (threads) gives the same bytes
    export_dataset(catalog, _options("monai", again, workers=3))
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for path in files:
        assert (out / path).read_bytes() == (again / path).read_bytes(), path
    summary = json.loads((out / "export.json").read_text())
    assert summary["options"]["channels"] == [
        {"name": "T1", "query": "SeriesDescription:*t1*"},
        {"name": "FLAIR", "query": "SeriesDescription:*flair*"},
    ]
    nifti = tmp_path / "nifti"
    export_dataset(catalog, _options("nifti", nifti))
    assert json.loads((nifti / "channels.json").read_text()) == {"0": "T1", "1": "FLAIR"}
    assert len(list((nifti / "images").iterdir())) == 6


def test_bad_channel_requests_are_clear_errors(catalog: CatalogBackend, tmp_path: Path) -> None:
    for text, message in [
        ("T1", "write NAME=QUERY"),
        ("=Modality:MR", "a channel name is"),
        ("T 1=Modality:MR", "a channel name is"),
        ("T1=Modality:(MR", "--channel T1:"),
    ]:
        with pytest.raises(ChannelError, match=message):
            parse_channel(text)
    twice = ExportOptions("mr@1", "nnunet", tmp_path / "a", channels=(
        parse_channel("T1=Modality:MR"), parse_channel("t1=Modality:CT")))  # fmt: skip
    with pytest.raises(ChannelError, match="given twice"):
        check_options(twice)
    dicom = ExportOptions("mr@1", "dicom", tmp_path / "b", channels=CHANNEL_SPECS)
    with pytest.raises(ExportError, match="nnunet, monai and nifti"):
        check_options(dicom)
    # a series matched by two channels' queries: the export does not start, nothing written
    overlap = (parse_channel("T1=Modality:MR"), parse_channel("FLAIR=SeriesDescription:*flair*"))
    out = tmp_path / "c"
    with pytest.raises(ExportError, match="--channel T1 and --channel FLAIR both match 5 series"):
        export_dataset(catalog, ExportOptions("mr@1", "nnunet", out, channels=overlap))
    assert not out.exists() and not list(tmp_path.glob(".c.partial-*"))
    # through the CLI: a usage error (exit 2) naming the option
    env = {"RADCURATE_HOME": str(tmp_path / "home")}
    args = ["export", "mr@1", "--format", "nnunet", "--out", str(tmp_path / "d"),
            "--catalog", catalog.url]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--channel", "T1"], env=env)
    assert result.exit_code == 2 and "write NAME=QUERY" in result.output
    overlapping = ["--channel", "T1=Modality:MR", "--channel", "X=SeriesDescription:*flair*"]
    result = CliRunner().invoke(main, [*args, *overlapping], env=env)
    assert result.exit_code == 2 and "both match" in result.output


def test_resample_slice_is_exact_on_coinciding_centres_and_zero_far_outside() -> None:
    source = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6) * 1.37
    shift = np.eye(4)
    shift[:3, 3] = [1.0, 2.0, 1.0]  # target centres on source centres, shifted
    plane, inside = resample_linear_slice(source, shift, 1, 3, 5)
    assert inside == 3 * 5 and np.array_equal(plane, source[2, 2:5, 1:6])
    far = np.eye(4)
    far[:3, 3] = [-0.6, 0.0, 0.0]  # more than half a voxel before the first column
    plane, inside = resample_linear_slice(source, far, 0, 1, 1)
    assert inside == 0 and plane[0, 0] == 0
    near = np.eye(4)
    near[:3, 3] = [-0.4, 0.0, 0.0]  # within half a voxel: the edge value
    plane, inside = resample_linear_slice(source, near, 0, 1, 1)
    assert inside == 1 and plane[0, 0] == source[0, 0, 0]


LOAD_CHANNELS = """
import json, sys
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged
root = sys.argv[1]
shapes = []
for key in ("training", "test"):
    for item in load_decathlon_datalist(f"{root}/datalist.json", True, key, root):
        loaded = LoadImaged(keys=["image", "label"], image_only=True)(item)
        shapes.append([list(loaded["image"].shape), list(loaded["label"].shape)])
print(json.dumps(shapes))
"""


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NNUNET, reason=f"nnunetv2 not installed ({INSTALL})")
def test_nnunet_verify_dataset_integrity_passes_on_a_multi_channel_export(
    raw: Path, tmp_path: Path
) -> None:
    folder = raw / "Dataset001_mr"
    done = _verify(folder, tmp_path)
    assert "VERIFIED" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    # negative: a case without its second channel is caught by the tool
    next((folder / "imagesTr").glob("*_0001.nii.gz")).unlink()
    broken = _verify(folder, tmp_path)
    assert broken.returncode != 0 and "VERIFIED" not in broken.stdout


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MONAI, reason=f"monai not installed ({INSTALL})")
def test_monai_loads_the_channels_of_every_item_stacked(
    catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "monai"
    export_dataset(catalog, _options("monai", out))
    script = tmp_path / "load.py"
    script.write_text(LOAD_CHANNELS)
    done = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shapes = json.loads(done.stdout.strip().splitlines()[-1])
    # two channels first, then the (columns, rows, slices) of the reference grid, as the label
    assert shapes == [[[2, 10, 12, 6], [10, 12, 6]]] * 3


def test_cli_two_channel_ct_of_the_demo_archive_aligns_the_seg(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    """The phantom's chest study holds a 5 mm (B30f, with the SEG) and a 2.5 mm (B70f) CT:
    with the 2.5 mm one as channel 0, the 5 mm one and its SEG are resampled onto it, and the
    mean HU under the liver and the lungs stay those of the 5 mm CT under its own SEG."""
    env = {"RADCURATE_HOME": str(tmp_path / "home")}
    sharp = "sharp=SeriesDescription:(*B70f* OR Lung*)"
    soft = "soft=SeriesDescription:(*B30f* OR Standard*)"
    outputs = {}
    for name, order in (("sharp_first", [sharp, soft]), ("soft_first", [soft, sharp])):
        out = tmp_path / name
        args = ["export", "demo", "--format", "nnunet", "--out", str(out), "--split",
                "train=1.0", "--catalog", shared_catalog.url, "--json"]  # fmt: skip
        for channel in order:
            args += ["--channel", channel]
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        # the chest study (labelled) is a case; the other two-kernel study has no labels
        assert report["exported"] == 1 and report["skipped"] == 1, report
        outputs[name] = out / "Dataset001_demo"
    table = json.loads((outputs["soft_first"] / "dataset.json").read_text())["labels"]
    own, own_labels = (
        np.asarray(nibabel.load(outputs["soft_first"] / p).dataobj)
        for p in ("imagesTr/case_0001_0000.nii.gz", "labelsTr/case_0001.nii.gz")
    )
    moved, moved_labels = (
        np.asarray(nibabel.load(outputs["sharp_first"] / p).dataobj)
        for p in ("imagesTr/case_0001_0001.nii.gz", "labelsTr/case_0001.nii.gz")
    )
    assert own.shape[2] == 30 and moved.shape[2] == 50 and moved.dtype == np.float32
    for structure in ("liver", "lungs"):
        value = table[structure]
        expected = float(own[own_labels == value].mean())
        got = float(moved[moved_labels == value].mean())
        assert abs(got - expected) <= 0.05 * abs(expected) + 2, (structure, got, expected)


def test_a_channel_outside_the_reference_volume_fails_its_case(tmp_path: Path) -> None:
    grid = Grid()
    study = Study("CHAN_F")
    write_series(tmp_path / "in", study, "t1_se_tra", 1, grid, 1)
    far = Grid(origin=(400.0, 0.0, 0.0))  # one frame of reference, 40 cm away
    write_series(tmp_path / "in", study, "t2_flair_tra", 2, far, 2)
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as made:
        ingest([tmp_path / "in"], made, workers=1)
        made.create_dataset("far")
        made.add_to_dataset("far", Selection(query="*"))
        out = tmp_path / "out"
        options = ExportOptions("far", "nifti", out, channels=CHANNEL_SPECS)
        report = export_dataset(made, options)
    assert report.exported == 0 and report.failed == 1
    assert "channel FLAIR does not overlap channel 0's volume" in report.errors[0][1]
    rows = _manifest(out)
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert not list((out / "images").glob("*"))  # the case's files are removed
