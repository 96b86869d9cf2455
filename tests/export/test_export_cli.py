"""``radcurate export``: a job with progress, freezing an unfrozen dataset, the dicom format's
byte-for-byte copies, and clear errors for bad input."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from click.testing import CliRunner, Result
from pydicom import dcmread

from radcurate.catalog import CatalogBackend
from radcurate.cli import main
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split


def invoke(catalog: CatalogBackend, tmp_path: Path, *args: str) -> Result:
    env = {"RADCURATE_HOME": str(tmp_path / "home")}
    return CliRunner().invoke(main, ["export", *args, "--catalog", catalog.url], env=env)


def test_export_runs_as_a_job_and_freezes_first(
    demo_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["labelled", "--format", "nnunet", "--out", str(out), "--split", "train=0.5,test=0.5"]
    result = invoke(demo_catalog, tmp_path, *args)
    assert result.exit_code == 0, result.output
    assert "Froze labelled as version 1" in result.output
    assert "2 exported" in result.output
    jobs = demo_catalog.jobs(kind="export")
    assert len(jobs) == 1 and jobs[0].state == "done"
    assert jobs[0].result is not None and jobs[0].result["exported"] == 2
    assert jobs[0].params["split"]["fractions"] == {"train": 0.5, "test": 0.5}
    # a second export of the unchanged dataset reuses version 1 and needs --overwrite
    again = invoke(demo_catalog, tmp_path, *args)
    assert again.exit_code == 2 and "not empty" in again.output
    done = invoke(demo_catalog, tmp_path, *args, "--overwrite", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["version"] == 1 and not report["froze"] and report["state"] == "done"
    # the dataset card of the analysis layer, and the same bytes in a second export
    card = json.loads((out / "dataset-card.json").read_text())
    assert card["provenance"]["content_hash"] == report["content_hash"]
    assert card["export"]["balance"]["splits"]["train"]["patients"] == 1
    comparisons = card["export"]["balance"]["comparisons"]
    assert comparisons and comparisons[0]["overlap"]["leakage"] is False
    assert "<html" in (out / "dataset-card.html").read_text().lower()
    other = tmp_path / "other"
    again = invoke(demo_catalog, tmp_path, "labelled@1", *args[1:3], "--out", str(other), *args[5:])
    assert again.exit_code == 0, again.output
    for path in out.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (other / path.relative_to(out)).read_bytes(), path.name


def test_bad_options_are_clear_errors(demo_catalog: CatalogBackend, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    cases = [
        (["nope", "--format", "nifti", "--out", out], "no dataset 'nope'", 2),
        (["labelled", "--format", "nifti", "--out", out, "--split", "train=2"], "between 0", 2),
        (["labelled", "--format", "nifti", "--out", out, "--labels", "a,a"], "twice", 2),
        (["labelled", "--format", "nifti", "--out", out, "--deidentify", "--deid-key", "k" * 16],
         "dicom format", 2),
        (["labelled", "--format", "dicom", "--out", out, "--deidentify"], "needs a key", 2),
    ]  # fmt: skip
    for args, message, code in cases:
        result = invoke(demo_catalog, tmp_path, *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
    assert not (tmp_path / "out").exists()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dicom_copy_is_byte_for_byte_in_the_chosen_layout(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "dicom"
    options = ExportOptions("labelled", "dicom", out, parse_split("train=1.0"))
    report = export_dataset(shared_catalog, options)
    assert report.exported == 4 and report.failed == 0
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        rows = {r["series_uid"]: r for r in csv.DictReader(handle)}
    for uid, row in rows.items():
        folder = out / row["image"]
        assert row["image"].startswith("P000") and row["image"].count("/") == 2
        originals = sorted(_sha(Path(r.location)) for r in shared_catalog.instances(uid))
        assert sorted(_sha(p) for p in folder.iterdir()) == originals
    flat = export_dataset(
        shared_catalog, ExportOptions("labelled", "dicom", tmp_path / "flat", layout="series")
    )
    assert flat.exported == 4
    folders = sorted(p.name for p in (tmp_path / "flat").iterdir() if p.is_dir())
    assert [f[:6] for f in folders] == ["SE0001", "SE0002", "SE0003", "SE0004"]
    assert sorted(f[7:] for f in folders) == ["CT", "CT", "RTSTRUCT", "SEG"]


def test_deidentified_dicom_copy_leaves_no_identifier(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    from radcurate.export.deid import DeidOptions

    out = tmp_path / "deid"
    options = ExportOptions("labelled", "dicom", out, deid=DeidOptions(key=b"0123456789abcdef"))
    report = export_dataset(shared_catalog, options)
    assert report.exported == 4 and report.failed == 0
    document = shared_catalog.series_document(shared_catalog.series_uids("Modality:SEG")[0])
    assert document is not None
    secrets = [str(document["PatientID"]), str(document["SeriesInstanceUID"])]
    # what the export writes itself: manifest, summary, card, folder names
    own = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".dcm"]
    assert {p.name for p in own} >= {"manifest.csv", "manifest.parquet", "export.json"}
    for path in own:
        for secret in secrets:
            assert secret.encode() not in path.read_bytes(), path.name
    for path in out.rglob("*.dcm"):
        assert not any(secret in path.as_posix() for secret in secrets)
        ds = dcmread(path, stop_before_pixels=True)
        assert ds.PatientIdentityRemoved == "YES"
        assert str(ds.PatientID) not in secrets and str(ds.SeriesInstanceUID) not in secrets
