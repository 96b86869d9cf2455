"""The QC phantom of the demo archive: every planted defect is really in the files.

Each defect is checked from the files themselves (pydicom, numpy, scipy for connected
components, highdicom's copy of the standard's IOD tables), never through radcurate's
QC code; the clean reference series of the same patient is checked not to carry it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from click.testing import CliRunner
from pydicom.dataset import Dataset

from radcurate.demo import DemoManifest, generate_archive
from radcurate.demo.qcplan import DEFECTS, qc_enabled

Files = list[tuple[Path, Dataset]]
HU = npt.NDArray[np.float64]


@dataclass
class QCArchive:
    """An archive with the QC phantom, read back independently."""

    manifest: DemoManifest
    document: dict[str, Any]
    series: dict[str, Files] = field(default_factory=lambda: defaultdict(list))

    def entry(self, name: str) -> dict[str, Any]:
        (found,) = [e for e in self.document["defects"] if e["name"] == name]
        return found

    def files(self, name: str) -> Files:
        uid = self.reference if name == "reference" else self.entry(name)["series_uid"]
        return self.series[uid]

    @property
    def reference(self) -> str:
        (uid,) = self.document["reference_series"]
        return str(uid)

    def hu(self, name: str) -> list[tuple[Dataset, HU]]:
        """(header, HU image) of each file of a series, in InstanceNumber order."""
        out = []
        for path, ds in sorted(self.files(name), key=lambda f: int(f[1].InstanceNumber)):
            full = pydicom.dcmread(path)
            image = full.pixel_array * float(full.RescaleSlope) + float(full.RescaleIntercept)
            out.append((ds, image))
        return out


def read_archive(manifest: DemoManifest) -> QCArchive:
    document = json.loads((manifest.root / manifest.qc_manifest).read_text())
    archive = QCArchive(manifest, document)
    for path in sorted(p for p in manifest.root.rglob("*") if p.is_file()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            uid = ds.SeriesInstanceUID
        except Exception:  # noqa: BLE001 - the archive's deliberately unreadable files
            continue
        archive.series[uid].append((path, ds))
    return archive


@pytest.fixture(scope="module")
def qc(tmp_path_factory: pytest.TempPathFactory) -> QCArchive:
    """The QC phantom patient alone (``patients=0``: about a second)."""
    manifest = generate_archive(
        tmp_path_factory.mktemp("qc") / "archive", patients=0, seed=0, qc_defects=True
    )
    return read_archive(manifest)


def hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def normal_of(ds: Dataset) -> npt.NDArray[np.float64]:
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    return np.cross(iop[:3], iop[3:])


def along(files: Files | list[Dataset]) -> npt.NDArray[np.float64]:
    """Sorted positions along the normal of the first image."""
    headers = [f[1] if isinstance(f, tuple) else f for f in files]
    n = normal_of(headers[0])
    return np.sort([np.array(ds.ImagePositionPatient, dtype=float) @ n for ds in headers])


# -- the manifest ---------------------------------------------------------------------------
def test_the_manifest_lists_every_defect_and_the_clean_series(qc: QCArchive) -> None:
    doc = qc.document
    names = [e["name"] for e in doc["defects"]]
    assert names == [d.name for d in DEFECTS]
    for entry in doc["defects"]:
        assert entry["series_uid"] in qc.series, entry["name"]
        assert entry["fields"] and all(f.startswith("qc.") for f in entry["fields"])
        assert entry["description"] and isinstance(entry["planted"], dict)
        assert qc.manifest.defects[f"qc_{entry['name']}_series"] == entry["series_uid"]
    flagged = {e["series_uid"] for e in doc["defects"]}
    assert len(flagged) == len(names)  # one series per defect
    assert doc["clean_series"] == doc["reference_series"] == [qc.reference]
    assert set(qc.series) == flagged | {qc.reference}
    assert doc["files"] == [] and doc["parameters"] == {"patients": 0, "seed": 0}
    # the README names every defect; the manifest file is counted as a non-DICOM file
    readme = (qc.manifest.root / "README.txt").read_text()
    assert all(f"  - {d.name}: " in readme for d in DEFECTS) and "qc-defects.json" in readme
    assert "parameters: patients=0 seed=0 qc-defects=yes\n" in readme
    assert qc.manifest.unreadable == ("README.txt", "qc-defects.json")
    m = qc.manifest
    assert (m.patients, m.studies, m.series) == (1, 1, len(DEFECTS) + 1)
    assert m.by_modality == {"CT": len(DEFECTS), "SEG": 1}
    # 17 series of 20 slices, one without two, one with 21 (twice), 28, the SEG
    assert m.instances == 20 * 14 + 18 + 21 + 21 + 28 + 1
    assert m.readable_files == m.instances + 1  # the second file of the SOP conflict


def test_every_qc_series_is_on_one_patient_and_study(qc: QCArchive) -> None:
    headers = [ds for files in qc.series.values() for _, ds in files]
    assert {ds.PatientID for ds in headers} == {qc.document["qc_patient"]}
    assert len({ds.StudyInstanceUID for ds in headers}) == 1
    assert len({ds.FrameOfReferenceUID for ds in headers}) == 1


# -- geometry -------------------------------------------------------------------------------
def test_reference_is_a_regular_axial_volume(qc: QCArchive) -> None:
    files = qc.files("reference")
    assert len(files) == 20
    assert {tuple(ds.ImageOrientationPatient) for _, ds in files} == {(1, 0, 0, 0, 1, 0)}
    assert np.allclose(np.diff(along(files)), 5.0, atol=1e-3)
    positions = np.array([ds.ImagePositionPatient for _, ds in files], dtype=float)
    assert np.allclose(positions[:, :2], positions[0, :2])  # no shear
    assert {ds.ImageType[2] for _, ds in files} == {"AXIAL"}
    assert {float(ds.GantryDetectorTilt) for _, ds in files} == {0.0}
    assert {int(ds.AcquisitionNumber) for _, ds in files} == {1}
    assert sorted(int(ds.InstanceNumber) for _, ds in files) == list(range(1, 21))


def test_gap(qc: QCArchive) -> None:
    files = qc.files("gap")
    steps = np.diff(along(files))
    assert len(files) == 18
    assert sorted(np.round(steps, 3)) == [5.0] * 16 + [15.0]  # two 5 mm slices missing
    numbers = {int(ds.InstanceNumber) for _, ds in files}
    assert set(range(1, 21)) - numbers == {10, 11}
    assert qc.entry("gap")["planted"]["missing_slices"] == 2


def test_uneven_spacing(qc: QCArchive) -> None:
    steps = np.diff(along(qc.files("uneven_spacing")))
    assert len(steps) == 19
    assert steps.max() / steps.min() > 1.2  # far beyond a 1 % tolerance ...
    assert steps.max() < 1.5 * steps.min()  # ... and no step is a missing slice
    assert abs(steps.mean() - 5.0) < 0.1


def test_mixed_orientation(qc: QCArchive) -> None:
    files = qc.files("mixed_orientation")
    orientations = Counter(tuple(float(v) for v in ds.ImageOrientationPatient) for _, ds in files)
    assert len(orientations) == 2
    (axial, n_axial), (oblique, n_oblique) = orientations.most_common()
    assert (n_axial, n_oblique) == (14, 6)  # too many to be localizers
    angle = np.degrees(np.arccos(np.dot(oblique[:3], axial[:3])))
    assert angle == pytest.approx(12.0, abs=0.01)
    assert {ds.ImageType[2] for _, ds in files} == {"AXIAL"}


def test_localizer_inside_an_axial_series(qc: QCArchive) -> None:
    images = qc.hu("localizer")
    localizers = [(ds, im) for ds, im in images if "LOCALIZER" in ds.ImageType]
    assert len(images) == 21 and len(localizers) == 1
    ((scout, projection),) = localizers
    assert list(scout.ImageType) == ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    assert int(scout.InstanceNumber) == 1
    assert np.allclose(normal_of(scout), (0, 1, 0))  # coronal
    axial = [ds for ds, _ in images if ds is not scout]
    assert all(np.allclose(normal_of(ds), (0, 0, 1)) for ds in axial)
    # a projection: the body shows over most of the image's height, brighter in the middle
    body_rows = (projection > -900).any(axis=1).mean()
    assert body_rows > 0.9
    assert projection[:, 64].max() > projection[:, 10].max() + 300


def test_gantry_tilt_shears_the_positions(qc: QCArchive) -> None:
    files = sorted(qc.files("gantry_tilt"), key=lambda f: int(f[1].InstanceNumber))
    assert {float(ds.GantryDetectorTilt) for _, ds in files} == {15.0}
    iop = np.array(files[0][1].ImageOrientationPatient, dtype=float)
    assert np.degrees(np.arccos(iop[4])) == pytest.approx(15.0, abs=0.01)
    positions = np.array([ds.ImagePositionPatient for _, ds in files], dtype=float)
    moves = np.diff(positions, axis=0)
    assert np.allclose(moves, [0, 0, -5.0], atol=1e-3)  # the table moves along z ...
    shear = moves @ iop[3:]  # ... so each image shifts in its own plane: a sheared stack
    assert np.allclose(shear, -5.0 * np.sin(np.radians(15)), atol=1e-3)
    reference = np.array([ds.ImagePositionPatient for _, ds in qc.files("reference")], float)
    assert np.allclose(np.diff(reference, axis=0) @ np.array([0, 1.0, 0]), 0)


def test_two_acquisitions_overlap(qc: QCArchive) -> None:
    files = qc.files("mixed_acquisitions")
    by_acquisition: dict[int, list[float]] = defaultdict(list)
    for _, ds in files:
        by_acquisition[int(ds.AcquisitionNumber)].append(float(ds.ImagePositionPatient[2]))
    assert sorted(by_acquisition) == [1, 2] and len(files) == 28
    one, two = (np.array(by_acquisition[a]) for a in (1, 2))
    assert min(one) < max(two) and min(two) < max(one)  # the ranges overlap
    assert len(set(np.round(one, 3)) & set(np.round(two, 3))) == 5


# -- header ---------------------------------------------------------------------------------
def test_one_sop_instance_uid_in_two_files_with_different_content(qc: QCArchive) -> None:
    files = qc.files("sop_conflict")
    counts = Counter(ds.SOPInstanceUID for _, ds in files)
    ((uid, n),) = [(u, n) for u, n in counts.items() if n > 1]
    assert n == 2 and uid == qc.entry("sop_conflict")["planted"]["sop_instance_uid"]
    a, b = (pydicom.dcmread(p) for p, ds in files if ds.SOPInstanceUID == uid)
    assert a.ConvolutionKernel != b.ConvolutionKernel
    assert not np.array_equal(a.pixel_array, b.pixel_array)
    assert a.ImagePositionPatient == b.ImagePositionPatient
    for name in ("reference", "duplicate_frame"):
        assert max(Counter(ds.SOPInstanceUID for _, ds in qc.files(name)).values()) == 1


def _frame_digests(files: Files) -> list[str]:
    full = [pydicom.dcmread(p) for p, _ in files]
    return [hashlib.sha256(ds.PixelData).hexdigest() for ds in full if "PixelData" in ds]


def test_same_pixels_under_two_sop_uids(qc: QCArchive) -> None:
    files = qc.files("duplicate_frame")
    digests = Counter(_frame_digests(files))
    assert len(files) == 21 and sorted(digests.values()) == [1] * 19 + [2]
    (twice,) = [d for d, n in digests.items() if n == 2]
    pairs = zip(files, _frame_digests(files), strict=True)
    uids = {ds.SOPInstanceUID for (_, ds), d in pairs if d == twice}
    assert uids == set(qc.entry("duplicate_frame")["planted"]["sop_instance_uids"])
    assert len(set(_frame_digests(qc.files("reference")))) == 20


def test_a_whole_series_with_another_series_pixels(qc: QCArchive) -> None:
    source, copy = qc.files("duplicate_series_source"), qc.files("duplicate_series")
    assert source[0][1].SeriesInstanceUID != copy[0][1].SeriesInstanceUID
    assert not {ds.SOPInstanceUID for _, ds in source} & {ds.SOPInstanceUID for _, ds in copy}

    def ordered(files: Files) -> list[str]:
        return _frame_digests(sorted(files, key=lambda f: int(f[1].InstanceNumber)))

    assert ordered(source) == ordered(copy)
    assert (
        qc.entry("duplicate_series")["planted"]["same_pixels_as"]
        == qc.entry("duplicate_series_source")["series_uid"]
    )
    # no other series shares a frame with the reference
    theirs = {d for u, f in qc.series.items() if u != qc.reference for d in _frame_digests(f)}
    assert not set(ordered(qc.files("reference"))) & theirs


def test_an_instance_disagrees_on_patient_sex(qc: QCArchive) -> None:
    sexes = Counter(ds.PatientSex for _, ds in qc.files("patient_mismatch"))
    assert sorted(sexes.values()) == [1, 19]
    (odd,) = [ds for _, ds in qc.files("patient_mismatch") if sexes[ds.PatientSex] == 1]
    assert int(odd.InstanceNumber) == 8
    patient_keys = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")
    for _, ds in qc.files("reference"):
        assert all(ds[k].value == qc.files("reference")[0][1][k].value for k in patient_keys)


def test_burned_in_annotation(qc: QCArchive) -> None:
    assert {ds.BurnedInAnnotation for _, ds in qc.files("burned_in")} == {"YES"}
    for uid, files in qc.series.items():
        if uid != qc.entry("burned_in")["series_uid"]:
            assert all(ds.get("BurnedInAnnotation", "NO") == "NO" for _, ds in files)


def _missing_required(ds: Dataset) -> set[str]:
    """Type 1/2 attributes of the mandatory modules of the CT Image IOD that ``ds`` lacks."""
    tables = pytest.importorskip("highdicom._standard_utils")
    iod = tables.get_iod_module_map()[tables.get_sop_class_iod_map()[ds.SOPClassUID]]
    modules = tables.get_module_attribute_map()
    missing = set()
    for module in (m["key"] for m in iod if m["usage"] == "M"):
        for attribute in modules[module]:
            keyword, kind = attribute["keyword"], attribute["type"]
            if attribute["path"] or kind not in ("1", "2"):
                continue
            if keyword not in ds or (kind == "1" and ds[keyword].value in (None, "", [])):
                missing.add(keyword)
    return missing


def test_missing_required_attributes(qc: QCArchive) -> None:
    for _, ds in qc.files("missing_attributes"):
        assert _missing_required(ds) == {"KVP", "AcquisitionNumber"}
    for _, ds in qc.files("reference"):
        assert _missing_required(ds) == set()


# -- pixels ---------------------------------------------------------------------------------
def _air_sd(image: HU) -> float:
    return float(image[2:22, 2:22].std())  # a corner of air outside the body


def test_added_noise(qc: QCArchive) -> None:
    reference, noisy = qc.hu("reference"), qc.hu("added_noise")
    base = np.mean([_air_sd(im) for _, im in reference])
    total = np.mean([_air_sd(im) for _, im in noisy])
    pairs = zip(reference, noisy, strict=True)
    added = np.std(np.concatenate([(b - a).ravel() for (_, a), (_, b) in pairs]))
    assert base == pytest.approx(8.0, rel=0.1)
    assert added == pytest.approx(50.0, rel=0.03)
    assert total == pytest.approx(np.hypot(8.0, 50.0), rel=0.1)
    for name in ("reference", "metal", "gap"):
        assert max(_air_sd(im) for _, im in qc.hu(name)) < 10


def _body(image: HU) -> npt.NDArray[np.bool_]:
    return image > -500


def test_truncated_field_of_view(qc: QCArchive) -> None:
    for ds, image in qc.hu("truncated_fov"):
        body = _body(image)
        assert body[:, 0].sum() > 20 and body[:, -1].sum() > 20  # cut at left and right
        assert float(ds.PixelSpacing[0]) * ds.Columns == pytest.approx(260.0)
    for _, image in qc.hu("reference"):
        body = _body(image)
        border = np.concatenate([body[0], body[-1], body[:, 0], body[:, -1]])
        assert not border.any()


def test_metal(qc: QCArchive) -> None:
    metal = [int((im > 3000).sum()) for _, im in qc.hu("metal")]
    assert sum(metal) >= 200 and sum(1 for m in metal if m) == 10
    body = sum(int(_body(im).sum()) for _, im in qc.hu("metal"))
    assert 0 < sum(metal) / body < 0.01  # a small insert
    assert max(float(im.max()) for _, im in qc.hu("reference")) < 2000


def test_empty_slice(qc: QCArchive) -> None:
    images = qc.hu("empty_slice")
    constant = [int(ds.InstanceNumber) for ds, im in images if im.min() == im.max()]
    assert constant == [11]
    assert float(images[10][1][0, 0]) == -1000.0
    assert all(im.std() > 100 for ds, im in images if int(ds.InstanceNumber) != 11)
    assert all(im.std() > 100 for _, im in qc.hu("reference"))


# -- segmentation ---------------------------------------------------------------------------
def test_bad_segmentation(qc: QCArchive) -> None:
    from scipy import ndimage

    ((path, _),) = qc.files("bad_segmentation")
    seg = pydicom.dcmread(path)
    slices = {ds.SOPInstanceUID: int(ds.InstanceNumber) - 1 for _, ds in qc.files("reference")}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == qc.reference
    labels = {s.SegmentNumber: s.SegmentLabel for s in seg.SegmentSequence}
    assert labels == {1: "Liver", 2: "Spleen", 3: "Stomach", 4: "Gallbladder"}
    frames = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    masks = {n: np.zeros((20, seg.Rows, seg.Columns), dtype=bool) for n in labels}
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        number = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        masks[number][slices[source.ReferencedSOPInstanceUID]] |= frame > 0
    ct = np.stack([im for _, im in qc.hu("reference")])
    body = ndimage.binary_fill_holes(ct > -500)
    voxel_ml = float(np.prod(seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
                             .PixelSpacing)) * 5.0 / 1000  # fmt: skip
    connectivity = np.ones((3, 3, 3), dtype=bool)
    parts = {}
    for number, mask in masks.items():
        found, count = ndimage.label(mask, structure=connectivity)
        parts[labels[number]] = sorted(np.bincount(found.ravel())[1:], reverse=True)
        assert count == len(parts[labels[number]])
    liver, spleen = parts["Liver"], parts["Spleen"]
    assert len(liver) == 2 and liver[1] * voxel_ml > 0.5 and liver[1] < liver[0] / 100
    assert len(spleen) == 1
    assert masks[3].sum() >= 16 and not (masks[3] & body).any()  # wholly outside the body
    assert masks[4].sum() == 0 and parts["Gallbladder"] == []  # empty
    for number in (1, 2):
        assert (masks[number] & ~body).sum() == 0  # the sound segments lie in the body
    # and the HU under the liver is liver's
    assert 45 < float(ct[masks[1]].mean()) < 75


def test_every_header_variant_is_what_pydicom_writes(qc: QCArchive) -> None:
    """The fast slice encoder (one per header variant) writes what pydicom would."""
    import io

    seen: set[tuple[object, ...]] = set()
    for uid, files in qc.series.items():
        for path, ds in files:
            variant = tuple(
                str(ds.get(k)) for k in ("ImageOrientationPatient", "ImageType",
                                         "ConvolutionKernel", "AcquisitionNumber", "PatientSex",
                                         "KVP", "GantryDetectorTilt", "BurnedInAnnotation")
            )  # fmt: skip
            if (uid, variant) in seen:
                continue
            seen.add((uid, variant))
            raw = path.read_bytes()
            buffer = io.BytesIO()
            pydicom.dcmwrite(buffer, pydicom.dcmread(io.BytesIO(raw)), enforce_file_format=True)
            assert buffer.getvalue() == raw, path.name
    # one per series, and the localizer, oblique slices, conflicting copy, bed 2, other sex
    assert len(seen) == len(DEFECTS) + 1 + 5


# -- reproducibility and switches -----------------------------------------------------------
def test_same_seed_same_bytes(qc: QCArchive, tmp_path: Path) -> None:
    again = generate_archive(tmp_path / "again", patients=0, seed=0, qc_defects=True)
    assert hashes(again.root) == hashes(qc.manifest.root)
    other = generate_archive(tmp_path / "other", patients=0, seed=1, qc_defects=True)
    ours = {h for r, h in hashes(qc.manifest.root).items() if r.endswith(".dcm")}
    assert not ours & {h for r, h in hashes(other.root).items() if r.endswith(".dcm")}


@pytest.mark.slow
def test_the_other_patients_are_untouched(tmp_path: Path) -> None:
    """The QC phantom adds its patient and manifest; every other file keeps its bytes."""
    with_qc = generate_archive(tmp_path / "qc", patients=1, seed=0, qc_defects=True)
    plain = generate_archive(tmp_path / "plain", patients=1, seed=0)
    ours, theirs = hashes(with_qc.root), hashes(plain.root)
    extra = {r for r in ours if r.startswith("QCPHANTOM0/")} | {"qc-defects.json"}
    assert set(ours) - set(theirs) == extra
    assert {r: h for r, h in ours.items() if r not in extra | {"README.txt"}} == {
        r: h for r, h in theirs.items() if r != "README.txt"
    }
    assert plain.qc_manifest == "" and not any(k.startswith("qc_") for k in plain.defects)
    assert (plain.patients, plain.series) == (1, with_qc.series - len(DEFECTS) - 1)
    document = json.loads((with_qc.root / with_qc.qc_manifest).read_text())
    names = [e["name"] for e in document["defects"]]
    assert names[len(DEFECTS) : len(DEFECTS) + 2] == ["missing_slice", "noisy"]


def test_the_default_and_the_switch(tmp_path: Path) -> None:
    assert qc_enabled(10, None) and not qc_enabled(9, None)
    assert qc_enabled(1, True) and not qc_enabled(100, False)
    with pytest.raises(ValueError, match="patients must be >= 1"):
        generate_archive(tmp_path / "none", patients=0)
    # an archive made with another QC switch is not overwritten
    older = tmp_path / "older"
    older.mkdir()
    (older / "README.txt").write_text("radcurate demo archive\nparameters: patients=0 seed=0\n")
    with pytest.raises(ValueError, match="other parameters"):
        generate_archive(older, patients=0, qc_defects=True)


def test_cli_switch(tmp_path: Path) -> None:
    from radcurate.cli import main

    out = tmp_path / "cli"
    args = ["demo", "--out", str(out), "--patients", "0", "--seed", "4", "--qc-defects"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (out / "qc-defects.json").is_file() and "qc_gap_series" in result.output
    assert "parameters: patients=0 seed=4 qc-defects=yes\n" in (out / "README.txt").read_text()
    refused = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "x"), "--patients", "0"])
    assert refused.exit_code != 0 and "qc_defects" in refused.output
