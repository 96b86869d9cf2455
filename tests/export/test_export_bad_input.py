"""Bad input: unknown datasets and versions, taken output folders, series that cannot be
converted, rejected series, label choices; nothing half-written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from radcurate.catalog import CatalogBackend
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.labels import parse_labels
from radcurate.export.plan import ExportError
from radcurate.export.splits import parse_split
from tests.export.conftest import seg_series

TRAIN = parse_split("train=1.0")


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        return {r["series_uid"]: r for r in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [("nope", "no dataset 'nope'"), ("labelled@9", "no version 9"), ("labelled@x", "a number")],
)
def test_unknown_dataset_or_version(
    shared_catalog: CatalogBackend, tmp_path: Path, spec: str, message: str
) -> None:
    with pytest.raises(ExportError, match=message):
        export_dataset(shared_catalog, ExportOptions(spec, "nifti", tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.iterdir())


def test_a_non_empty_out_folder_is_refused_unless_overwrite(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_dataset(shared_catalog, ExportOptions("labelled", "nifti", out, TRAIN))
    assert (out / "keep.txt").read_text() == "mine"
    export_dataset(shared_catalog, ExportOptions("labelled", "nifti", out, TRAIN, overwrite=True))
    assert not (out / "keep.txt").exists() and (out / "manifest.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp or old folder left
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder is fine
    export_dataset(shared_catalog, ExportOptions("labelled", "nifti", empty, TRAIN))


def test_series_that_cannot_be_converted_are_recorded_and_the_rest_goes_on(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    report = export_dataset(shared_catalog, ExportOptions("demo", "nifti", out, TRAIN))
    rows = _rows(out)
    failed = {u: r for u, r in rows.items() if r["status"] == "failed"}
    left = {u: r for u, r in rows.items() if r["status"] == "left out"}
    assert failed and report.failed == len(failed) == len(report.errors)
    for uid, row in failed.items():
        assert row["reason"] and not row["image"]
        modality = shared_catalog.series_document(uid)["Modality"]  # type: ignore[index]
        # radiographs and ultrasound make no volume; the demo's CT with a missing slice fails
        expected = "inconsistent geometry" if modality == "CT" else "not a volume"
        assert modality in ("DX", "CR", "US", "CT") and expected in row["reason"]
    assert {shared_catalog.series_document(u)["Modality"] for u in failed} >= {"DX", "US", "CT"}  # type: ignore[index]
    assert {shared_catalog.series_document(u)["Modality"] for u in left} == {"SR"}  # type: ignore[index]
    assert all("not an image" in r["reason"] for r in left.values())
    exported = [r for r in rows.values() if r["status"] == "exported"]
    assert len(exported) == report.exported >= 10
    assert all((out / r["image"]).is_file() for r in exported)
    # no file of a failed series is left behind
    images = {p.relative_to(out).as_posix() for p in (out / "images").iterdir()}
    assert images == {r["image"] for r in exported}


def test_rejected_series_are_left_out_unless_asked(
    demo_catalog: CatalogBackend, tmp_path: Path
) -> None:
    seg, ct = seg_series(demo_catalog)
    demo_catalog.reviews.set_review(ct, "rejected", "motion")
    report = export_dataset(demo_catalog, ExportOptions("labelled", "nifti", tmp_path / "a", TRAIN))
    rows = _rows(tmp_path / "a")
    assert rows[ct]["status"] == "left out" and "rejected" in rows[ct]["reason"]
    assert rows[seg]["status"] == "left out"  # its image is rejected
    assert report.exported == 1
    again = ExportOptions("labelled@1", "nifti", tmp_path / "b", TRAIN, include_rejected=True)
    assert export_dataset(demo_catalog, again).exported == 2
    assert _rows(tmp_path / "b")[ct]["review"] == "rejected"


def test_labels_choose_and_merge_structures(shared_catalog: CatalogBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    spec = parse_labels("liver,kidney=kidney_l+kidney_r+kidneys")
    export_dataset(shared_catalog, ExportOptions("labelled", "nnunet", out, TRAIN, labels=spec))
    dataset = json.loads((out / "Dataset001_labelled" / "dataset.json").read_text())
    assert dataset["labels"] == {"background": 0, "liver": 1, "kidney": 2}
    rows = [r for r in _rows(out).values() if r["status"] == "exported"]
    assert len(rows) == 2
    assert all(json.loads(r["labels_present"]) == ["kidney", "liver"] for r in rows)
    with pytest.raises(ValueError, match="twice"):
        parse_labels("liver,Liver")


def test_nnunet_training_cases_need_labels(shared_catalog: CatalogBackend, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_dataset(shared_catalog, ExportOptions("demo", "nnunet", out, TRAIN))
    skipped = [r for r in _rows(out).values() if r["status"] == "skipped"]
    assert skipped and all("without labels" in r["reason"] for r in skipped)
    root = out / "Dataset001_demo"
    assert len(list((root / "imagesTr").iterdir())) == 2
    assert not (root / "imagesTs").exists()


class _StopAfter:
    """A progress sink that asks the export to stop after ``cases`` cases."""

    def __init__(self, cases: int):
        self.cases, self.seen = cases, 0

    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        self.seen = max(self.seen, done or 0)

    def check(self) -> None:
        if self.seen >= self.cases:
            raise KeyboardInterrupt


def test_a_stopped_export_leaves_nothing_half_written(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        export_dataset(shared_catalog, ExportOptions("demo", "nifti", out, TRAIN), _StopAfter(2))
    assert list(tmp_path.iterdir()) == []  # neither the export nor its partial folder
    old = tmp_path / "old"
    export_dataset(shared_catalog, ExportOptions("labelled", "nifti", old, TRAIN))
    before = sorted(p.relative_to(old) for p in old.rglob("*"))
    with pytest.raises(KeyboardInterrupt):
        export_dataset(
            shared_catalog,
            ExportOptions("demo", "nifti", old, TRAIN, overwrite=True),
            _StopAfter(2),
        )
    assert sorted(p.relative_to(old) for p in old.rglob("*")) == before  # the old one stays
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
