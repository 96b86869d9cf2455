"""``radcurate import-nifti``: the default folder in the store, JSON summary, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from radcurate.cli import main
from tests.nifti_import.helpers import ct_like, nnunet_folder, save


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": "", "RADCURATE_STORE": ""}
    result = CliRunner().invoke(main, ["import-nifti", *args], env=env)
    return result.exit_code, result.output


def test_cli_imports_into_the_store_and_ingests(tmp_path: Path) -> None:
    dataset = nnunet_folder(tmp_path / "raw", cases=1, test_cases=1)
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"Manufacturer": "ACME"}))
    code, output = _run(tmp_path, str(dataset), "--meta", str(meta), "--json", "--workers", "1")
    assert code == 0, output
    summary = json.loads(output)
    store = tmp_path / "home" / "store" / "nifti-import" / "Dataset042_Tiny"
    assert summary["out_dir"] == str(store)
    assert (summary["cases"], summary["series"], summary["segs"]) == (2, 4, 1)
    assert summary["ingest"]["new_instances"] == 4 * 6 + 1
    assert len(list(store.rglob("*.dcm"))) == 25
    code, output = _run(tmp_path, str(dataset), "--meta", str(meta), "--json", "--workers", "1")
    again = json.loads(output)
    assert again["files_written"] == 0 and again["ingest"]["changed_anything"] is False


def test_cli_text_summary_names_skipped_files_and_the_rescale(tmp_path: Path) -> None:
    folder = tmp_path / "vols"
    save(folder / "a.nii.gz", ct_like(), np.eye(4))
    save(folder / "b.nii.gz", ct_like().astype(np.float32) / 7, np.eye(4))
    save(folder / "a_seg.nii.gz", np.zeros((3, 3, 3), np.uint8), np.eye(4))
    code, output = _run(tmp_path, str(folder), "--out", str(tmp_path / "dicom"), "--no-ingest")
    assert code == 0, output
    assert "2 series" in output
    assert "stored with a rescale" in output
    assert "a_seg.nii.gz: label map shape" in output
    assert "no Modality in the sidecar" in output


def test_cli_fails_when_nothing_can_be_imported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nii"
    bad.write_bytes(b"\0" * 10)
    code, output = _run(tmp_path, str(bad), "--no-ingest", "--out", str(tmp_path / "o"))
    assert code == 1
    assert "not a readable NIfTI file" in output
    bad_meta = tmp_path / "meta.json"
    bad_meta.write_text("[1, 2]")
    code, output = _run(tmp_path, str(bad), "--meta", str(bad_meta), "--no-ingest")
    assert code == 2 and "not a JSON object" in output
