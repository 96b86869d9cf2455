"""An nnU-Net raw folder imports as one collection; sidecar values; idempotence; bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel
import numpy as np
import pydicom

from radcurate.catalog import open_catalog
from radcurate.ingest.nifti_import import import_nifti, read_meta
from tests.nifti_import.helpers import ct_like, nnunet_folder, save


def _documents(catalog_url: str) -> list[dict[str, object]]:
    with open_catalog(catalog_url) as catalog:
        return list(catalog.iter_series_documents())


def test_nnunet_folder_is_one_collection(catalog_url: str, tmp_path: Path) -> None:
    dataset = nnunet_folder(tmp_path / "raw")
    meta = {
        "Manufacturer": "ACME",
        "InstitutionName": "Test Hospital",
        "StudyDescription": "tiny abdomen",
        "cases": {"tiny_001": {"PatientID": "P-0001"}},
    }
    with open_catalog(catalog_url) as catalog:
        summary = import_nifti(dataset, catalog, tmp_path / "out", meta=meta, workers=1)
        info = catalog.info()
    assert summary.kind == "nnunet" and summary.collection == "Dataset042_Tiny"
    assert summary.skipped == []
    assert (summary.cases, summary.series, summary.segs) == (3, 6, 2)
    assert (info.patients, info.studies, info.series) == (3, 3, 8)
    docs = _documents(catalog_url)
    images = [d for d in docs if d["Modality"] != "SEG"]
    assert sorted(str(d["PatientID"]) for d in images) == sorted(
        ["tiny_000", "tiny_000", "P-0001", "P-0001", "tiny_002", "tiny_002"]
    )
    assert {d["Manufacturer"] for d in images} == {"ACME"}
    assert {d["InstitutionName"] for d in images} == {"Test Hospital"}
    assert {d["StudyDescription"] for d in images} == {"tiny abdomen"}
    # channel 0 is named CT in dataset.json: Modality CT; channel 1 (noNorm): OT, and said so
    assert sorted(str(d["Modality"]) for d in images) == ["CT"] * 3 + ["OT"] * 3
    assert any("OT" in note for note in summary.notes)
    by_study: dict[object, set[object]] = {}
    for doc in images:
        by_study.setdefault(doc["StudyInstanceUID"], set()).add(doc["SeriesNumber"])
    assert all(numbers == {1, 2} for numbers in by_study.values())
    # segment names from dataset.json, voxel counts from the label maps
    label = np.asanyarray(nibabel.load(str(dataset / "labelsTr" / "tiny_001.nii.gz")).dataobj)
    counts = summary.segments["tiny_001/tiny_001"]
    assert counts == {
        "liver": int((label == 1).sum()),
        "spleen": int((label == 2).sum()),
    }
    seg_file = tmp_path / "out" / "Dataset042_Tiny" / "tiny_001" / "seg_tiny_001.dcm"
    seg = pydicom.dcmread(seg_file)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["liver", "spleen"]
    assert seg.PatientID == "P-0001"


def test_importing_twice_changes_nothing(tmp_path: Path) -> None:
    dataset = nnunet_folder(tmp_path / "raw", cases=1, test_cases=0)
    url = f"sqlite:///{tmp_path / 'cat.sqlite'}"
    out = tmp_path / "out"
    with open_catalog(url) as catalog:
        first = import_nifti(dataset, catalog, out, meta={"Modality": "MR"}, workers=1)
    files = sorted(out.rglob("*.dcm"))
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in files}
    assert first.files_written == len(files) == 2 * 6 + 1
    with open_catalog(url) as catalog:
        second = import_nifti(dataset, catalog, out, meta={"Modality": "MR"}, workers=1)
    assert second.files_written == 0 and second.files_unchanged == len(files)
    assert second.ingest is not None and not second.ingest.changed_anything
    assert second.ingest.unchanged == len(files)
    assert {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in out.rglob("*.dcm")} == before
    # another output folder gets byte-identical files (UIDs derived, not drawn)
    import_nifti(dataset, None, tmp_path / "again", meta={"Modality": "MR"})
    for path, (data, _) in before.items():
        assert (tmp_path / "again" / path.relative_to(out)).read_bytes() == data


def test_changed_header_values_rewrite_the_files(tmp_path: Path) -> None:
    """The negative case of idempotence: another sidecar value changes the files."""
    image = save(tmp_path / "in" / "vol.nii.gz", ct_like(), np.eye(4))
    first = import_nifti(image, None, tmp_path / "out", meta={"Modality": "CT"})
    second = import_nifti(image, None, tmp_path / "out", meta={"Modality": "MR"})
    assert first.files_written == second.files_written == 6


def test_bad_inputs_are_skipped_with_reasons(tmp_path: Path) -> None:
    dataset = nnunet_folder(tmp_path / "raw", cases=2, test_cases=0)
    affine = np.diag([1.5, 1.5, 2.5, 1.0])
    (dataset / "imagesTr" / "broken_0000.nii.gz").write_bytes(b"not a nifti file at all")
    save(dataset / "imagesTr" / "movie_0000.nii.gz", np.zeros((4, 4, 3, 5), np.int16), affine)
    save(dataset / "imagesTr" / "odd_0000.nii.gz", ct_like(), affine)
    save(dataset / "labelsTr" / "odd.nii.gz", np.zeros((5, 5, 5), np.uint8), affine)
    save(dataset / "imagesTr" / "frac_0000.nii.gz", ct_like(), affine)
    save(dataset / "labelsTr" / "frac.nii.gz", np.full((12, 10, 6), 0.5, np.float32), affine)
    save(dataset / "labelsTr" / "orphan.nii.gz", np.zeros((12, 10, 6), np.uint8), affine)
    (dataset / "imagesTr" / "notes.txt").write_text("hello")
    with open_catalog(f"sqlite:///{tmp_path / 'cat.sqlite'}") as catalog:
        summary = import_nifti(dataset, catalog, tmp_path / "out", workers=1)
        info = catalog.info()
    reasons = dict(summary.skipped)
    assert "not a readable NIfTI file" in reasons["imagesTr/broken_0000.nii.gz"]
    assert "4-D image" in reasons["imagesTr/movie_0000.nii.gz"]
    assert "differs from its image" in reasons["labelsTr/odd.nii.gz"]
    assert "non-integer" in reasons["labelsTr/frac.nii.gz"]
    assert "without an image" in reasons["labelsTr/orphan.nii.gz"]
    assert "not CASE_XXXX" in reasons["imagesTr/notes.txt"]
    assert len(reasons) == 6
    # the rest went on: 2 good cases x 2 channels + odd + frac images, 2 SEGs
    assert (summary.series, summary.segs) == (6, 2)
    assert info.series == 8 and info.errors == 0


def test_sidecar_may_not_set_what_the_importer_writes(tmp_path: Path) -> None:
    image = save(tmp_path / "in" / "vol.nii.gz", ct_like(), np.eye(4))
    summary = import_nifti(image, None, tmp_path / "out", meta={"SOPInstanceUID": "1.2.3"})
    assert summary.series == 0
    assert "set by the importer" in summary.skipped[0][1]
    sidecar = tmp_path / "meta.json"
    sidecar.write_text(json.dumps({"Modality": "CT", "PatientID": "X1"}))
    assert read_meta(sidecar) == {"Modality": "CT", "PatientID": "X1"}
