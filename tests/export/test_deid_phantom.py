"""The phantom archive de-identified: no leak, references resolve, same key same UIDs, dates."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from radcurate.demo import generate_archive
from radcurate.export.deid import DeidOptions, burned_in_risk, deidentify_file
from tests.export.test_deid_leaks import _assert_clean, _dciodvfy_errors

KEY = b"phantom-key-1234"


def _walk_values(ds: Dataset, keyword: str) -> set[str]:
    found: set[str] = set()
    ds.walk(lambda _d, e: found.add(str(e.value)) if e.keyword == keyword and e.value else None)
    return found


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("phantom")
    generate_archive(root, patients=1, seed=3)
    files = []
    for path in sorted(root.rglob("*.dcm")):
        with path.open("rb") as fh:
            if fh.read(132)[128:] == b"DICM":
                files.append(path)
    return files


def _export(files: list[Path], out: Path, options: DeidOptions) -> list[tuple[Path, Path]]:
    written = []
    for i, src in enumerate(files):
        try:
            dcmread(src, stop_before_pixels=True)
        except (InvalidDicomError, EOFError, OSError, ValueError):  # the truncated file
            continue
        dst = out / f"{i:05d}.dcm"
        deidentify_file(src, dst, options)
        written.append((src, dst))
    return written


@pytest.mark.slow
def test_phantom_export(archive: list[Path], tmp_path: Path) -> None:
    options = DeidOptions(key=KEY, retain_long_modified_dates=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    pairs_a = _export(archive, tmp_path / "a", options)
    first = [d for _, d in pairs_a]
    second = [d for _, d in _export(archive, tmp_path / "b", options)]
    assert len(first) > 100
    # byte-identical across runs with the same key
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    other = _export(archive[:20], tmp_path / "c", DeidOptions(key=b"other-key-5678"))
    a0, c0 = dcmread(first[0]), dcmread(other[0][1])
    assert a0.SOPInstanceUID != c0.SOPInstanceUID

    exported = [dcmread(p) for p in first]
    instances = {ds.get("SOPInstanceUID") for ds in exported}
    series = {ds.get("SeriesInstanceUID") for ds in exported}
    frames = {ds.get("FrameOfReferenceUID") for ds in exported} - {None}
    originals = [dcmread(src, stop_before_pixels=True) for src, _ in pairs_a]
    original_instances = {o.get("SOPInstanceUID") for o in originals}
    checked_refs = 0
    for o, ds in zip(originals, exported, strict=True):
        if ds.get("Modality") in ("SEG", "RTSTRUCT", "SR"):
            refs = _walk_values(ds, "ReferencedSOPInstanceUID")
            # every reference that resolved in the archive resolves in the export (the
            # phantom's deliberately truncated file is left out of both)
            resolvable = _walk_values(o, "ReferencedSOPInstanceUID") & original_instances
            assert resolvable and len(refs & instances) == len(resolvable), ds.Modality
            assert _walk_values(ds, "SeriesInstanceUID") - {ds.SeriesInstanceUID} <= series
            ref_frames = _walk_values(ds, "FrameOfReferenceUID") | _walk_values(
                ds, "ReferencedFrameOfReferenceUID"
            )
            assert ref_frames <= frames
            checked_refs += 1
    assert checked_refs >= 2

    # one date shift per patient: intervals between studies are kept
    pairs = []
    for src, dst in pairs_a:
        o, d = dcmread(src, stop_before_pixels=True), dcmread(dst, stop_before_pixels=True)
        if o.get("StudyDate") and d.get("StudyDate"):
            delta = dt.datetime.strptime(d.StudyDate, "%Y%m%d") - dt.datetime.strptime(
                o.StudyDate, "%Y%m%d"
            )
            pairs.append(delta.days)
    assert len(set(pairs)) == 1 and pairs[0] < 0

    # no identifying value of any original in any exported file
    for src, dst in pairs_a:
        _assert_clean(src, dst.read_bytes(), times_kept=True)

    flagged = {burned_in_risk(ds) for ds in exported} - {None}
    assert "Modality US (ultrasound)" in flagged


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_phantom_dciodvfy_no_new_errors(archive: list[Path], tmp_path: Path) -> None:
    """One instance of each (modality, SOP class): CT, enhanced CT, MR, CR, DX, US, SEG, SR,
    RTSTRUCT; with and without the dates option."""
    chosen: dict[tuple[str, str], Path] = {}
    for path in archive:
        try:
            ds = dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, EOFError, OSError, ValueError):
            continue
        if "SOPClassUID" in ds:
            chosen.setdefault((str(ds.get("Modality")), str(ds.SOPClassUID)), path)
    assert len(chosen) >= 8
    for options in (DeidOptions(key=KEY), DeidOptions(key=KEY, retain_long_modified_dates=True)):
        for (modality, _), src in chosen.items():
            dst = tmp_path / "out.dcm"
            deidentify_file(src, dst, options)
            new = _dciodvfy_errors(dst) - _dciodvfy_errors(src)
            assert not new, (modality, sorted(new))
