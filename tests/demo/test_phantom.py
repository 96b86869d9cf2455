"""Tests of the phantom demo archive generator (``radcurate demo``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from radcurate.demo import DemoManifest, generate_archive
from radcurate.demo.ct import render_ct, sampler_for
from radcurate.demo.mr import render_mr
from radcurate.demo.phantom import Label, PhantomCache
from radcurate.demo.plan import EXPLICIT, SeriesPlan, StudyPlan
from radcurate.demo.planner import iter_plans
from radcurate.demo.qcplan import DEFECTS

CT = "1.2.840.10008.5.1.4.1.1.2"
SOP_CLASSES = {
    "CT": CT,
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US multi-frame": "1.2.840.10008.5.1.4.1.1.3.1",
    "legacy enhanced CT": "1.2.840.10008.5.1.4.1.1.2.2",
    "SEG": "1.2.840.10008.5.1.4.1.1.66.4",
    "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3",
    "basic text SR": "1.2.840.10008.5.1.4.1.1.88.11",
    "comprehensive SR": "1.2.840.10008.5.1.4.1.1.88.33",
}


@dataclass
class Scan:
    """What reading an archive back independently finds."""

    files: list[str] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    headers: dict[str, Dataset] = field(default_factory=dict)  # relpath -> header
    paths_by_sop: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def series(self) -> dict[str, list[tuple[str, Dataset]]]:
        out: dict[str, list[tuple[str, Dataset]]] = defaultdict(list)
        seen: set[str] = set()
        for rel, ds in self.headers.items():
            if ds.SOPInstanceUID not in seen:
                seen.add(ds.SOPInstanceUID)
                out[ds.SeriesInstanceUID].append((rel, ds))
        return out


def scan(root: Path) -> Scan:
    """Read every file with pydicom; 'readable' means it yields a SOP instance."""
    result = Scan()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        result.files.append(rel)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001
            result.unreadable.add(rel)
            continue
        if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds or "StudyInstanceUID" not in ds:
            result.unreadable.add(rel)
            continue
        result.headers[rel] = ds
        result.paths_by_sop[ds.SOPInstanceUID].append(rel)
    return result


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoManifest, Scan]:
    started = time.perf_counter()
    manifest = generate_archive(tmp_path_factory.mktemp("demo") / "archive")
    elapsed = time.perf_counter() - started
    print(f"default archive: {manifest.instances} instances in {elapsed:.2f} s")
    return manifest, scan(manifest.root)


def plans_by_series(patients: int = 10, seed: int = 0) -> dict[str, tuple[StudyPlan, SeriesPlan]]:
    return {
        s.uid: (st, s) for p in iter_plans(patients, seed) for st in p.studies for s in st.series
    }


def hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def pixels_of(root: Path, files: list[tuple[str, Dataset]]) -> dict[int, np.ndarray]:
    """Instance number -> pixel array of a single-frame series."""
    return {int(ds.InstanceNumber): pydicom.dcmread(root / rel).pixel_array for rel, ds in files}


def test_same_seed_same_bytes_and_overwrite(
    archive: tuple[DemoManifest, Scan], tmp_path: Path
) -> None:
    manifest, _ = archive
    again = generate_archive(tmp_path / "again", 10, 0)
    assert hashes(again.root) == hashes(manifest.root)
    # overwriting a previous demo archive of the same parameters is allowed and identical
    generate_archive(tmp_path / "again", 10, 0)
    assert hashes(again.root) == hashes(manifest.root)
    assert again.to_dict() | {"root": ""} == manifest.to_dict() | {"root": ""}


def test_other_seed_differs(archive: tuple[DemoManifest, Scan], tmp_path: Path) -> None:
    manifest, _ = archive
    other = generate_archive(tmp_path / "other", 1, 1)
    theirs = {h for rel, h in hashes(other.root).items() if rel not in other.unreadable}
    ours = {h for rel, h in hashes(manifest.root).items() if rel not in manifest.unreadable}
    assert theirs and not theirs & ours


def test_refuses_foreign_or_mismatched_directory(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a previous radcurate demo archive"):
        generate_archive(foreign, 1)
    older = tmp_path / "older"
    older.mkdir()
    (older / "README.txt").write_text("radcurate demo archive\nparameters: patients=5 seed=0\n")
    with pytest.raises(ValueError, match="other parameters"):
        generate_archive(older, 1)
    with pytest.raises(ValueError):
        generate_archive(tmp_path / "new", 0)


def test_manifest_matches_independent_count(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    assert manifest.files == len(found.files)
    assert set(manifest.unreadable) == found.unreadable
    assert manifest.readable_files == len(found.headers)
    assert manifest.instances == len(found.paths_by_sop)
    series = found.series()
    assert manifest.series == len(series)
    assert manifest.studies == len({ds.StudyInstanceUID for ds in found.headers.values()})
    # ten patients and the QC phantom patient (on by default from ten patients)
    assert manifest.patients == len({ds.PatientID for ds in found.headers.values()}) == 11
    modality = Counter(files[0][1].Modality for files in series.values())
    assert manifest.by_modality == dict(modality)


def test_every_object_kind_and_metadata_skew(archive: tuple[DemoManifest, Scan]) -> None:
    _, found = archive
    headers = list(found.headers.values())
    classes = {ds.SOPClassUID for ds in headers}
    missing = [name for name, uid in SOP_CLASSES.items() if uid not in classes]
    assert not missing
    syntaxes = {ds.file_meta.TransferSyntaxUID for ds in headers}
    assert {"1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80"} <= syntaxes
    assert "MONOCHROME1" in {ds.get("PhotometricInterpretation") for ds in headers}
    assert any(
        ds.SOPClassUID == SOP_CLASSES["US multi-frame"] and ds.NumberOfFrames > 1 for ds in headers
    )
    assert len({ds.Manufacturer for ds in headers if ds.Modality in ("CT", "MR")}) >= 3
    assert len({ds.Manufacturer for ds in headers}) >= 4
    assert len({ds.InstitutionName for ds in headers}) >= 3
    assert {ds.PatientAge[-1] for ds in headers} & {"D", "W", "M"}
    for ds in headers:
        study = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
        birth = dt.datetime.strptime(ds.PatientBirthDate, "%Y%m%d").date()
        assert dt.date(2012, 1, 1) <= study <= dt.date(2024, 12, 31)
        value, unit = int(ds.PatientAge[:3]), ds.PatientAge[3]
        days = (study - birth).days
        expected = {"D": days, "W": days // 7, "M": days / 30.44, "Y": days / 365.25}[unit]
        assert abs(expected - value) <= 1.0, (ds.PatientAge, ds.PatientBirthDate, ds.StudyDate)
    assert any(
        ds.get((0x0009, 0x0010)) is not None and ds[0x0009, 0x0010].value == "RADCURATE_DEMO"
        for ds in headers
    )
    assert any(len(ds.get("ProcedureCodeSequence", [])) > 1 for ds in headers)
    assert any(len(ds.get("ReferencedImageSequence", [])) > 1 for ds in headers)
    kernels = {
        (ds.InstitutionName, ds.ConvolutionKernel) for ds in headers if "ConvolutionKernel" in ds
    }
    assert len({k for _, k in kernels}) >= 4


def _hu_means(
    root: Path, files: list[tuple[str, Dataset]], study: StudyPlan, plan: SeriesPlan
) -> dict[Label, float]:
    sampler = sampler_for(PhantomCache(), study, plan)
    sums: dict[Label, list[float]] = defaultdict(list)
    for rel, _ in files:
        full = pydicom.dcmread(root / rel)
        hu = full.pixel_array * float(full.RescaleSlope) + float(full.RescaleIntercept)
        labels = sampler.labels(int(full.InstanceNumber) - 1)
        for label in np.unique(labels):
            sums[Label(int(label))].append(float(hu[labels == label].mean()))
    return {label: float(np.mean(v)) for label, v in sums.items()}


def test_hounsfield_units_per_tissue(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    plans = plans_by_series()
    series = found.series()
    checked = set()
    for uid, (study, plan) in plans.items():
        if plan.kind != "ct" or plan.defect or plan.region in checked:
            continue
        checked.add(plan.region)
        means = _hu_means(manifest.root, series[uid], study, plan)
        assert means[Label.AIR] < -980
        assert 20 < means[Label.MUSCLE] < 60 and -120 < means[Label.FAT] < -80
        if plan.region == "chest":
            assert -880 < means[Label.LUNG] < -820
        if plan.region == "abdomen":
            assert 45 < means[Label.LIVER] < 75
            assert 20 < means[Label.KIDNEY_MEDULLA] < 150 and 20 < means[Label.KIDNEY_CORTEX] <= 160
        if plan.region == "head":
            assert 20 < means[Label.GREY_MATTER] < 45 and means[Label.VENTRICLE] < 15
            assert means[Label.SKULL] > 900
        if plan.region != "head":
            assert means[Label.VERTEBRA_CANCELLOUS] > 300 and means[Label.VERTEBRA_CORTEX] > 800
    assert checked == {"chest", "abdomen", "head"}


def qc_document(manifest: DemoManifest) -> dict[str, Any]:
    """The archive's qc-defects.json."""
    document: dict[str, Any] = json.loads((manifest.root / manifest.qc_manifest).read_text())
    return document


def test_geometry(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    gaps_seen = {}
    planted = {  # the QC phantom's defects (tests/demo/test_qc_defects.py); its reference stays
        e["series_uid"] for e in qc_document(manifest)["defects"] if e["name"] != "missing_slice"
    }
    for uid, files in found.series().items():
        ds0 = files[0][1]
        if ds0.SOPClassUID not in (CT, SOP_CLASSES["MR"]) or uid in planted:
            continue
        iop = np.array(ds0.ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        spacing = float(ds0.get("SpacingBetweenSlices", ds0.SliceThickness))
        positions = np.array([[float(v) for v in ds.ImagePositionPatient] for _, ds in files])
        for (_, ds), pos in zip(files, positions, strict=True):
            assert np.allclose(np.array(ds.ImageOrientationPatient, dtype=float), iop)
            assert abs(float(ds.SliceLocation) - pos @ normal) < 1e-3
        along = np.sort(positions @ normal)
        in_plane = positions - np.outer(positions @ normal, normal)
        assert np.allclose(in_plane, in_plane[0], atol=1e-3)
        steps = np.diff(along)
        assert len(files) >= 20
        gaps = np.flatnonzero(~np.isclose(steps, spacing, atol=1e-3))
        if uid == manifest.defects["missing_slice_series"]:
            assert len(gaps) == 1 and np.isclose(steps[gaps[0]], 2 * spacing, atol=1e-3)
            gaps_seen[uid] = 1
        else:
            assert len(gaps) == 0, (ds0.SeriesDescription, steps)
    assert gaps_seen


def test_compressed_series_are_lossless(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    series = found.series()
    cache = PhantomCache()
    compared = set()
    for uid, (study, plan) in plans_by_series().items():
        if plan.transfer_syntax == EXPLICIT or plan.kind not in ("ct", "mr"):
            continue
        files = series[uid]
        assert {ds.file_meta.TransferSyntaxUID for _, ds in files} == {plan.transfer_syntax}
        decoded = pixels_of(manifest.root, files)
        render = render_ct if plan.kind == "ct" else render_mr
        for k, expected in render(cache, study, plan):
            assert np.array_equal(decoded[k + 1], expected)
        compared.add(plan.transfer_syntax)
    assert len(compared) == 3


def test_fast_writer_matches_pydicom(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    checked = 0
    for rel, ds in list(found.headers.items())[::25]:
        if ds.file_meta.TransferSyntaxUID != EXPLICIT:
            continue
        raw = (manifest.root / rel).read_bytes()
        buffer = io.BytesIO()
        pydicom.dcmwrite(buffer, pydicom.dcmread(io.BytesIO(raw)), enforce_file_format=True)
        assert buffer.getvalue() == raw
        checked += 1
    assert checked > 5


def test_seg_references_its_ct(archive: tuple[DemoManifest, Scan]) -> None:
    hd = pytest.importorskip("highdicom")
    manifest, found = archive
    qc_seg = manifest.defects["qc_bad_segmentation_series"]
    ((rel, _),) = [
        (r, d)
        for r, d in found.headers.items()
        if d.Modality == "SEG" and d.SeriesInstanceUID != qc_seg
    ]
    seg = hd.seg.segread(manifest.root / rel)
    labels = {d.SegmentLabel for d in seg.SegmentSequence}
    assert labels == {"Liver", "Kidneys", "Lungs", "Spine"}
    ct_uid = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    ct_files = {ds.SOPInstanceUID: (r, ds) for r, ds in found.series()[ct_uid]}
    refs = {
        item.ReferencedSOPInstanceUID
        for frame in seg.PerFrameFunctionalGroupsSequence
        for item in frame.DerivationImageSequence[0].SourceImageSequence
    }
    assert refs and refs <= set(ct_files)
    # the HU under each segment is the organ's
    lungs = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=sorted(refs), segment_numbers=[3, 4], skip_overlap_checks=True
    )
    hu_lung, hu_spine = [], []
    for i, uid in enumerate(sorted(refs)):
        full = pydicom.dcmread(manifest.root / ct_files[uid][0])
        hu = full.pixel_array * float(full.RescaleSlope) + float(full.RescaleIntercept)
        hu_lung.extend(hu[lungs[i, :, :, 0] > 0])
        hu_spine.extend(hu[lungs[i, :, :, 1] > 0])
    assert -880 < np.mean(hu_lung) < -820 and np.mean(hu_spine) > 300


def test_rtstruct_and_sr_reference_existing_instances(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    sops = set(found.paths_by_sop)
    series = found.series()
    (rt,) = [ds for ds in found.headers.values() if ds.Modality == "RTSTRUCT"]
    rt = pydicom.dcmread(manifest.root / found.paths_by_sop[rt.SOPInstanceUID][0])
    names = {roi.ROIName for roi in rt.StructureSetROISequence}
    assert {"BODY", "Liver", "Kidney_L", "Kidney_R"} <= names
    ref_series = (
        rt.ReferencedFrameOfReferenceSequence[0]
        .RTReferencedStudySequence[0]
        .RTReferencedSeriesSequence[0]
    )
    assert ref_series.SeriesInstanceUID in series
    for roi in rt.ROIContourSequence:
        for contour in roi.ContourSequence:
            assert contour.ContourImageSequence[0].ReferencedSOPInstanceUID in sops
            assert len(contour.ContourData) == 3 * contour.NumberOfContourPoints
    assert {o.ReferencedROINumber for o in rt.RTROIObservationsSequence} == {
        r.ROINumber for r in rt.StructureSetROISequence
    }
    srs = [ds for ds in found.headers.values() if ds.Modality == "SR"]
    assert {ds.SOPClassUID for ds in srs} == {
        SOP_CLASSES["basic text SR"],
        SOP_CLASSES["comprehensive SR"],
    }
    for ds in srs:
        full = pydicom.dcmread(manifest.root / found.paths_by_sop[ds.SOPInstanceUID][0])
        for study in full.CurrentRequestedProcedureEvidenceSequence:
            for item in study.ReferencedSeriesSequence:
                assert item.SeriesInstanceUID in series
                assert {r.ReferencedSOPInstanceUID for r in item.ReferencedSOPSequence} <= sops


def test_defects(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    d = manifest.defects
    root = manifest.root
    assert (root / d["duplicate_file"]).read_bytes() == (root / d["duplicate_of"]).read_bytes()
    assert d["duplicate_file"] != d["duplicate_of"]
    # the byte-identical duplicate, and the QC phantom's conflicting one
    assert sum(len(v) > 1 for v in found.paths_by_sop.values()) == 2
    assert d["truncated_file"] in found.unreadable and d["non_dicom_file"] in found.unreadable
    truncated = (root / d["truncated_file"]).read_bytes()
    assert truncated[128:132] == b"DICM" and len(truncated) < 300
    assert not (root / d["non_dicom_file"]).read_bytes().startswith(b"\0" * 128)
    # the noisy series really is noisy: muscle HU spread far above the other series'
    spread = {}
    plans = plans_by_series()
    for uid, files in found.series().items():
        if uid not in plans or plans[uid][1].kind != "ct":
            continue
        study, plan = plans[uid]
        rel, _ = files[len(files) // 2]
        full = pydicom.dcmread(root / rel)
        hu = full.pixel_array * float(full.RescaleSlope) + float(full.RescaleIntercept)
        labels = sampler_for(PhantomCache(), study, plan).labels(int(full.InstanceNumber) - 1)
        spread[uid] = float(hu[labels == Label.MUSCLE].std())
    noisy = spread.pop(d["noisy_series"])
    assert noisy > 2 * max(spread.values())


def test_the_default_archive_has_the_qc_phantom(archive: tuple[DemoManifest, Scan]) -> None:
    manifest, found = archive
    document = qc_document(manifest)
    names = [e["name"] for e in document["defects"]]
    assert names[: len(DEFECTS) + 2] == [d.name for d in DEFECTS] + ["missing_slice", "noisy"]
    # what the other series carry by construction, checked here from the files
    inherent = document["defects"][len(DEFECTS) + 2 :]
    assert all(e["inherent"] for e in inherent) and inherent
    for entry in inherent:
        if entry["name"] == "seg_empty_segments":
            (rel,) = found.paths_by_sop[found.series()[entry["series_uid"]][0][1].SOPInstanceUID]
            seg = pydicom.dcmread(manifest.root / rel)
            used = {
                f.SegmentIdentificationSequence[0].ReferencedSegmentNumber
                for f in seg.PerFrameFunctionalGroupsSequence
            }
            empty = {s.SegmentLabel for s in seg.SegmentSequence if s.SegmentNumber not in used}
            assert empty == set(entry["planted"]["empty_segments"])
        else:
            assert entry["name"] in ("enhanced_same_pixels", "enhanced_source_same_pixels")
            classes = {
                found.series()[u][0][1].SOPClassUID
                for u in (entry["series_uid"], entry["planted"]["same_pixels_as"])
            }
            assert classes == {CT, "1.2.840.10008.5.1.4.1.1.2.2"}
    older = document["defects"][len(DEFECTS) : len(DEFECTS) + 2]
    assert older[0]["series_uid"] == manifest.defects["missing_slice_series"]
    assert older[1]["series_uid"] == manifest.defects["noisy_series"]
    assert {f["name"]: f["path"] for f in document["files"]} == {
        k: manifest.defects[k] for k in ("duplicate_file", "truncated_file", "non_dicom_file")
    }
    flagged = {e["series_uid"] for e in document["defects"]}
    assert set(document["clean_series"]) == set(found.series()) - flagged
    assert manifest.by_modality["CT"] == 9 + len(DEFECTS)
    readme = (manifest.root / "README.txt").read_text()
    assert "parameters: patients=10 seed=0\n" in readme and "QCPHANTOM" in readme


def test_cli_demo(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from radcurate.cli import main

    result = CliRunner().invoke(
        main, ["demo", "--out", str(tmp_path / "cli"), "--patients", "1", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "instances" in result.output
        and "SEG" in result.output
        and "truncated_file" in result.output
    )
    bad = CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "cli"), "--patients", "2"])
    assert bad.exit_code != 0 and "other parameters" in bad.output


@pytest.mark.slow
def test_hundred_patients(tmp_path: Path) -> None:
    started = time.perf_counter()
    manifest = generate_archive(tmp_path / "big", 100, 0)
    elapsed = time.perf_counter() - started
    rate = manifest.instances / elapsed
    print(
        f"--patients 100: {manifest.instances} instances, {manifest.files} files "
        f"in {elapsed:.1f} s ({rate:.0f} instances/s)"
    )
    assert manifest.patients == 101 and manifest.instances > 5000  # and the QC phantom
    assert manifest.by_modality["CT"] > manifest.by_modality.get("US", 0)
