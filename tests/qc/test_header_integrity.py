"""qc.header.*: duplicates, patient/study consistency, required attributes, burned-in
annotation and identifying attributes; and that ingest's results are the qc-header
workflow's (a later ``radcurate run qc-header`` skips every unchanged series)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pydicom
from click.testing import CliRunner

from radcurate.analyze.qc_header import HeaderQC
from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.dicom.qc_header import HEADER_QC_PRODUCER, HEADER_QC_VERSION
from radcurate.dicom.qc_iod import generate_tables, requirements
from radcurate.ingest import ingest
from radcurate.workflow.registry import default_registry
from tests.data import shipped_dicom_roots
from tests.qc.test_header_geometry import STEP, qc_of, write_series
from tests.reference_data import totalsegmentator_reference


def header(folder: Path, tmp_path: Path) -> dict[str, Any]:
    found: dict[str, Any] = qc_of(folder, tmp_path)["header"]
    return found


def test_complete_clean_series_passes_every_header_check(tmp_path: Path) -> None:
    write_series(tmp_path / "s", STEP[:4])
    h = header(tmp_path / "s", tmp_path)
    assert h["iod"] == "ct-image" and h["type2_checked"] is True
    assert h["missing_required"] == [] and h["missing_required_count"] == 0
    assert h["duplicate_sop_instances"] == 0 and h["duplicate_sop_conflicts"] == 0
    assert h["inconsistent_patient_attributes"] == []
    assert h["burned_in_annotation"] == "absent"
    # ReferringPhysicianName is present but empty: not an identifying value
    assert h["identifying_attributes"] == [
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "AccessionNumber",
        "StudyID",
    ]
    assert h["private_attributes"] == 0


def test_identical_copies_are_duplicates_differing_ones_conflicts(tmp_path: Path) -> None:
    paths = write_series(tmp_path / "s", STEP[:4])
    shutil.copy(paths[0], tmp_path / "s" / "copy.dcm")
    h = header(tmp_path / "s", tmp_path / "c1")
    assert (h["duplicate_sop_instances"], h["duplicate_sop_conflicts"]) == (1, 0)

    changed = pydicom.dcmread(paths[1])
    changed.ImagePositionPatient = [-2.0, -2.0, 99.0]
    changed.save_as(tmp_path / "s" / "changed.dcm")
    h = header(tmp_path / "s", tmp_path / "c2")
    assert (h["duplicate_sop_instances"], h["duplicate_sop_conflicts"]) == (2, 1)


def test_a_copy_in_another_transfer_syntax_is_no_conflict(tmp_path: Path) -> None:
    mr = shipped_dicom_roots()[0] / "test_files"
    folder = tmp_path / "mr"
    folder.mkdir()
    for name in ("MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm"):
        shutil.copy(mr / name, folder / name)
    h = header(folder, tmp_path / "c1")
    assert (h["duplicate_sop_instances"], h["duplicate_sop_conflicts"]) == (1, 0)
    shutil.copy(mr / "MR_small_padded.dcm", folder / "MR_small_padded.dcm")  # same syntax, longer
    h = header(folder, tmp_path / "c2")
    assert (h["duplicate_sop_instances"], h["duplicate_sop_conflicts"]) == (1, 1)


def test_patient_attributes_that_differ_are_named_never_stored(tmp_path: Path) -> None:
    def odd(i: int, z: float) -> dict[str, Any]:
        return {"PatientName": "Other^Person", "PatientBirthDate": "19991231"} if i == 2 else {}

    write_series(tmp_path / "s", STEP[:4], per_slice=odd)
    catalog_url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    h = header(tmp_path / "s", tmp_path)
    assert h["inconsistent_patient_attributes"] == ["PatientName", "PatientBirthDate"]
    with open_catalog(f"sqlite:///{tmp_path / 'qc.sqlite'}") as catalog:
        uid = next(catalog.iter_series_documents())["SeriesInstanceUID"]
        stored = json.dumps([r.to_dict() for r in catalog.instances(uid)])
        assert "Other^Person" not in stored and "Test^Phantom" not in stored
        assert "19991231" not in stored
    assert catalog_url  # (the helper's catalog is the one read above)

    write_series(tmp_path / "t", STEP[:4], per_slice=lambda i, z: {"StudyDate": "20230101"})
    assert header(tmp_path / "t", tmp_path / "c2")["inconsistent_patient_attributes"] == []


def test_missing_required_attributes_type1_and_type2(tmp_path: Path) -> None:
    # Type 1 ImageType removed, Type 1 PixelSpacing emptied, Type 2 KVP removed,
    # Type 2 PatientName emptied (allowed), Type 3 ConvolutionKernel absent (allowed)
    write_series(
        tmp_path / "s", STEP[:3], ImageType=None, PixelSpacing="", KVP=None, PatientName=""
    )
    h = header(tmp_path / "s", tmp_path)
    assert h["missing_required"] == ["ImageType", "KVP", "PixelSpacing"]
    assert h["missing_required_count"] == 3


def test_required_attributes_of_an_unknown_sop_class() -> None:
    assert requirements("1.2.3.4") is None
    sr = requirements(pydicom.uid.ComprehensiveSRStorage)
    assert sr is not None and "ValueType" in sr.type1 and "GraphicType" not in sr.type1


def test_burned_in_annotation(tmp_path: Path) -> None:
    write_series(
        tmp_path / "y",
        STEP[:3],
        per_slice=lambda i, z: {"BurnedInAnnotation": "YES" if i else "NO"},
    )
    assert header(tmp_path / "y", tmp_path / "c1")["burned_in_annotation"] == "YES"
    write_series(tmp_path / "n", STEP[:3], BurnedInAnnotation="NO")
    assert header(tmp_path / "n", tmp_path / "c2")["burned_in_annotation"] == "NO"


def test_identifying_attributes_present(tmp_path: Path) -> None:
    write_series(
        tmp_path / "s",
        STEP[:3],
        InstitutionName="General Hospital",
        OperatorsName="Tech^One",
        PatientName="",
        AccessionNumber="",
    )
    found = header(tmp_path / "s", tmp_path)["identifying_attributes"]
    assert "InstitutionName" in found and "OperatorsName" in found
    assert "PatientName" not in found and "AccessionNumber" not in found


def test_totalsegmentator_ct_blank_uids_are_missing_type1(tmp_path: Path) -> None:
    h = header(totalsegmentator_reference() / "example_ct_dicom", tmp_path)
    # blanked by its anonymiser (ingest derived values: qc.uids_derived)
    assert h["missing_required"] == [
        "SOPClassUID",
        "SOPInstanceUID",
        "SeriesInstanceUID",
        "StudyInstanceUID",
    ]
    # names and IDs were emptied (Type 2: allowed), the institution's address was not
    assert "PatientName" not in h["identifying_attributes"]
    assert "InstitutionAddress" in h["identifying_attributes"]
    assert h["burned_in_annotation"] == "absent" and h["private_attributes"] > 0


def test_pydicom_odd_files_get_their_header_flags(tmp_path: Path) -> None:
    files = shipped_dicom_roots()[0] / "test_files"
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in ("MR_small.dcm", "MR_truncated.dcm", "GDCMJ2K_TextGBR.dcm", "rtplan.dcm"):
        shutil.copy(files / name, folder / name)
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([folder], catalog, workers=1)
        by_name = {}
        for document in catalog.iter_series_documents():
            uid = document["SeriesInstanceUID"]
            name = Path(min(r.source for r in catalog.instances(uid))).name
            by_name[name] = catalog.results(uid)["qc"]["header"]
    # MR_truncated carries MR_small's SOP Instance UID in a shorter file
    assert by_name["MR_small.dcm"]["duplicate_sop_conflicts"] == 1
    # a secondary capture without Modality, InstanceNumber, patient and study attributes
    odd = by_name["GDCMJ2K_TextGBR.dcm"]
    assert {"Modality", "InstanceNumber", "PatientID", "AccessionNumber"} <= set(
        odd["missing_required"]
    )
    assert by_name["rtplan.dcm"]["missing_required"] == []


def test_the_iod_tables_match_the_installed_highdicom() -> None:
    package = Path(__file__).parents[2] / "src" / "radcurate" / "dicom"
    for name, text in generate_tables().items():
        assert (package / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python -m radcurate.dicom.qc_iod"
        )


def test_ingest_writes_the_workflow_results_and_a_run_skips_them(
    catalog_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "a", STEP[:4])
    write_series(tmp_path / "b", [0.0, 2.5, 7.5])
    with open_catalog(catalog_url) as catalog:
        ingest([tmp_path / "a", tmp_path / "b"], catalog, workers=1)
        uids = [d["SeriesInstanceUID"] for d in catalog.iter_series_documents()]
        for uid in uids:
            sets = {s.provenance.producer: s for s in catalog.result_store.result_sets(uid)}
            provenance = sets[HEADER_QC_PRODUCER].provenance
            assert provenance.version == HEADER_QC_VERSION and provenance.input_hash
        assert catalog.count("qc.geometry.missing_slices:>0") == 1
        assert catalog.count("qc.geometry.regular_volume:true") == 1

    env = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}
    args = ["run", "qc-header", "--catalog", catalog_url, "--json", "--workers", "1"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["processed"], report["skipped"], report["failed"]) == (0, 2, 0), report

    forced = CliRunner().invoke(main, [*args, "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    with open_catalog(catalog_url) as catalog:
        for uid in uids:  # the workflow computes exactly what ingest wrote
            assert len(catalog.result_store.result_history(uid, HEADER_QC_PRODUCER)) == 1
            history = catalog.result_store.result_history(uid, HEADER_QC_PRODUCER)[0]
            current = {s.provenance.producer: s for s in catalog.result_store.result_sets(uid)}[
                HEADER_QC_PRODUCER
            ]
            assert history.values == current.values


def test_ingest_without_header_qc_writes_none(tmp_path: Path) -> None:
    write_series(tmp_path / "s", STEP[:3])
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([tmp_path / "s"], catalog, workers=1, header_qc=False)
        uid = next(catalog.iter_series_documents())["SeriesInstanceUID"]
        assert catalog.results(uid)["qc"] == {}

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}
    for flag, expected in (("--no-header-qc", False), ("--header-qc", True)):
        args = ["ingest", str(tmp_path / "s"), "--catalog", url, "--workers", "1", "--json"]
        result = CliRunner().invoke(main, [*args, "--no-thumbnails", flag], env=env)
        assert result.exit_code == 0, result.output
        with open_catalog(url) as catalog:
            uid = next(catalog.iter_series_documents())["SeriesInstanceUID"]
            assert ("geometry" in catalog.results(uid)["qc"]) is expected
        (tmp_path / "s" / "slice000.dcm").touch()  # changed: the next ingest finalizes it again


def test_the_workflow_declares_its_checks() -> None:
    workflow = default_registry().get("qc-header")
    assert isinstance(workflow, HeaderQC) and workflow.version == HEADER_QC_VERSION
    fields = {c.field for c in workflow.checks}
    assert {
        "qc.geometry.regular_volume",
        "qc.geometry.missing_slices",
        "qc.header.missing_required_count",
        "qc.header.inconsistent_patient_attributes",
    } <= fields
    assert all(c.family in ("geometry", "header") and c.fails for c in workflow.checks)


def test_each_failing_query_selects_exactly_its_planted_defects(tmp_path: Path) -> None:
    """Every check's ``fails`` query, run on a catalog of planted defects and a clean series."""
    ten = STEP
    planted: dict[str, dict[str, Any]] = {
        "clean": {},
        "gap": {"heights": [z for i, z in enumerate(ten) if i != 5]},
        "uneven": {"heights": [0.0, 2.5, 5.0, 8.4, 10.9, 13.4]},
        "twice": {"heights": [*ten[:5], *ten[:5]]},
        "scout": {
            "per_slice": lambda i, z: (
                {
                    "ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"],
                    "ImageOrientationPatient": [1.0, 0.0, 0.0, 0.0, 0.0, -1.0],
                }
                if i == 0
                else {}
            )
        },
        "tilted": {
            "per_slice": lambda i, z: {"ImagePositionPatient": [-2.0, -2.0 + z * 0.25, z]},
            "GantryDetectorTilt": 14.0,
        },
        "spacing": {"per_slice": lambda i, z: {"PixelSpacing": [0.7, 0.7]} if i == 3 else {}},
        "beds": {
            "heights": [*ten, *(z + 12.5 for z in ten)],
            "per_slice": lambda i, z: {"AcquisitionNumber": 1 + i // 10},
        },
        "names": {"per_slice": lambda i, z: {"PatientSex": "F"} if i == 1 else {}},
        "required": {"KVP": None},
        "burned": {"BurnedInAnnotation": "YES"},
    }
    folders = {}
    for name, spec in planted.items():
        spec = dict(spec)
        heights = spec.pop("heights", ten)
        per_slice = spec.pop("per_slice", None)
        write_series(tmp_path / name, heights, per_slice=per_slice, **spec)
        folders[name] = tmp_path / name
    expected = {
        "qc.geometry.regular_volume": {
            *("gap", "uneven", "twice", "scout", "tilted", "spacing", "beds"),
        },
        "qc.geometry.orientation_count": {"scout"},
        "qc.geometry.oblique_degrees": set(),
        "qc.geometry.duplicate_positions": {"twice", "beds"},  # beds overlap on 5 positions
        "qc.geometry.missing_slices": {"gap"},
        "qc.geometry.spacing_uniform": {"uneven"},
        "qc.geometry.inplane_offset_mm": {"tilted"},
        "qc.geometry.pixel_spacing_consistent": {"spacing"},
        "qc.geometry.image_size_consistent": set(),
        "qc.geometry.gantry_tilt_degrees": {"tilted"},
        "qc.geometry.localizer": {"scout"},
        "qc.geometry.mixed_acquisitions": {"beds"},
        "qc.header.duplicate_sop_conflicts": set(),
        "qc.header.inconsistent_patient_attributes": {"names"},
        "qc.header.missing_required_count": {"required"},
        "qc.header.burned_in_annotation": {"burned"},
    }
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest(list(folders.values()), catalog, workers=1)
        names = {}
        for document in catalog.iter_series_documents():
            uid = document["SeriesInstanceUID"]
            names[uid] = Path(catalog.instances(uid)[0].source).parent.name
        for check in HeaderQC.checks:
            if check.field == "qc.header.identifying_attributes":
                continue  # every test series names its patient: informative only
            found = {names[u] for u in catalog.series_uids(check.fails)}
            assert found == expected[check.field], check.field
