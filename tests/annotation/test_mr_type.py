"""``annotate-mr-type``: dcm-classifier's MR series-type model on real and phantom headers.

- The feature vectors equal those dcm-classifier 0.9.9's own code computes (values below were
  produced by running its ``DicomSingleVolumeInfoBase`` on the same headers, and the first
  one checked by hand against the header).
- Phantom MR series with known contrast (``radcurate.demo``'s T1 SE, T2 TSE and FLAIR on
  six Siemens, GE, Toshiba and Philips scanners at 1.5 T and 3 T, axial and sagittal) are all
  typed right; so are synthetic diffusion/perfusion/T2* series built on a real Siemens header (their
  labels equal what dcm-classifier's series pipeline gives for the same files).
- pydicom's MR files: the two with every attribute the model needs are typed, the others are
  refused naming what is missing (dcm-classifier marks them INVALID too).
- A missing model, a non-MR series and an Enhanced MR series get clear per-series reasons;
  the workflow runner writes ``ai.mr_type`` and a re-run skips.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from radcurate.analyze.mr_features import (
    INFERENCE_FEATURES,
    UnclassifiableVolume,
    acquisition_plane,
    b_value,
    volume_features,
)
from radcurate.analyze.mr_type import (
    MODEL_FILE,
    MODEL_FOLDER,
    MODEL_SHA256_0_9_9,
    ModelNotFoundError,
    MRSeriesType,
    model_location,
)
from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo.mr import write_mr
from radcurate.demo.phantom import PhantomCache
from radcurate.demo.planner import iter_plans
from radcurate.demo.sink import Sink, WriteContext
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.settings import Settings
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from radcurate.workflow.step import SeriesItem
from tests.data import shipped_dicom_roots
from tests.reference_data import dcm_classifier_model
from tests.workflows.conftest import write_series

EVERYTHING = WorkflowSelection(query="*")
U = -12345.0  # dcm-classifier's "unknown"
CONTRAST_LABELS = {"T1": "t1w", "T2": "t2w", "FLAIR": "flair"}


def _shipped(name: str) -> Path:
    return next(p for root in shipped_dicom_roots() for p in root.rglob(name) if p.is_file())


@pytest.fixture(scope="module")
def model() -> Path:
    return dcm_classifier_model()


@pytest.fixture(scope="module")
def step() -> MRSeriesType:
    found = default_registry().get("annotate-mr-type")
    assert isinstance(found, MRSeriesType)
    return found


# -- headers ------------------------------------------------------------------------------------
def siemens_header() -> Dataset:
    """pydicom-data's Siemens MR header (3-D T1 GRE, 1.5 T), overlays dropped, 8x8 pixels."""
    ds = pydicom.dcmread(_shipped("MR-SIEMENS-DICOM-WithOverlays.dcm"), stop_before_pixels=True)
    for tag in [e.tag for e in ds if e.tag.group >> 8 == 0x60]:
        del ds[tag]
    ds.Rows = ds.Columns = 8
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


ORIGINAL_DIFFUSION = ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"]
#: a spin-echo EPI diffusion acquisition
EPI = {
    "ScanningSequence": "EP",
    "SequenceVariant": ["SK", "SP"],
    "EchoTime": "89",
    "RepetitionTime": "5400",
    "FlipAngle": "90",
    "EchoTrainLength": "1",
}


def _changed(base: Dataset, changes: dict[str, Any]) -> Dataset:
    """A copy of ``base`` with attributes set (None deletes; ``b``/``g``: Siemens private
    b-value and gradient direction)."""
    ds = copy.deepcopy(base)
    for key, value in changes.items():
        if key in ("b", "g"):
            block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
            if key == "b":
                block.add_new(0x0C, "IS", str(value))
            else:
                block.add_new(0x0E, "FD", list(value))
        elif value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


def _round_trip(ds: Dataset, syntax: str) -> Dataset:
    """The header as a reader sees it after writing it with ``syntax``."""
    ds = copy.deepcopy(ds)
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer, stop_before_pixels=True)


def feature_headers() -> dict[str, Dataset]:
    base = siemens_header()
    headers = {
        "siemens_t1_gre": base,
        "dwi_gradient": _changed(base, {**EPI, "ImageType": ORIGINAL_DIFFUSION, "b": 1000,
                                        "g": [0.6, 0.8, 0.0]}),
        "trace": _changed(base, {**EPI, "ImageType": ["DERIVED", "PRIMARY", "DIFFUSION",
                                                      "TRACEW"], "b": 1000}),
        "adc_no_echo_time": _changed(base, {**EPI, "EchoTime": None, "ImageType": [
            "DERIVED", "PRIMARY", "DIFFUSION", "ADC"]}),
        "b0_standard_tag": _changed(base, {**EPI, "ImageType": ORIGINAL_DIFFUSION,
                                           "DiffusionBValue": 4.0}),
        "no_scanning_sequence": _changed(base, {"ScanningSequence": None,
                                                "SequenceVariant": None, "SAR": ""}),
        "inversion_recovery": _changed(base, {"ScanningSequence": ["SE", "IR"],
                                              "SequenceVariant": ["SK", "SP", "MP"],
                                              "InversionTime": "2500", "dBdt": None}),
    }  # fmt: skip
    # implicit VR: the private b-value is read through pydicom's private dictionary
    headers["trace_implicit_vr"] = _round_trip(headers["trace"], ImplicitVRLittleEndian)
    return headers


#: dcm-classifier 0.9.9's feature vectors of :func:`feature_headers` (INFERENCE_FEATURES order),
#: computed by its own DicomSingleVolumeInfoBase; the first checked by hand against the header:
#: no b-value, TE 2.81, ETL 1, flip 10, no gradient, ImageType DERIVED (only), 63.687936 MHz,
#: no TI, SIEMENS, NEX 1, BW 250, TR 5.53, SAR 0.10828..., GR, variant SP, dB/dt 0.
REFERENCE_VECTORS: dict[str, list[float]] = {
    "siemens_t1_gre": [0, 2.81, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 63.687936, U, 1, 1, 250, 5.53,
                       0.10828038305044, 1, 0, 0, 0, 1, 0, 0, 0, 0],
    "dwi_gradient": [1, 89, 1, 90, 1, 0, 0, 1, 0, 0, 1, 0, 63.687936, U, 1, 1, 250, 5400,
                     0.10828038305044, 0, 0, 0, 0, 1, 0, 0, 1, 1],
    "trace": [1, 89, 1, 90, 0, 0, 1, 1, 0, 0, 0, 1, 63.687936, U, 1, 1, 250, 5400,
              0.10828038305044, 0, 0, 0, 0, 1, 0, 0, 1, 1],
    "adc_no_echo_time": [0, U, 1, 90, 0, 1, 1, 1, 0, 0, 0, 0, 63.687936, U, 1, 1, 250, 5400,
                         0.10828038305044, 0, 0, 0, 0, 1, 0, 0, 0, 1],
    "b0_standard_tag": [1, 89, 1, 90, 0, 0, 0, 1, 0, 0, 1, 0, 63.687936, U, 1, 1, 250, 5400,
                        0.10828038305044, 0, 0, 0, 0, 1, 0, 1, 0, 1],
    "no_scanning_sequence": [0, 2.81, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 63.687936, U, 1, 1, 250,
                             5.53, U, 0, 0, 1, 0, 0, 0, 0, 0, 0],
    "inversion_recovery": [0, 2.81, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 63.687936, 2500, 1, 1, 250,
                           5.53, 0.10828038305044, 0, 1, 1, 1, 1, U, 0, 0, 0],
    "trace_implicit_vr": [1, 89, 1, 90, 0, 0, 1, 1, 0, 0, 0, 1, 63.687936, U, 1, 1, 250, 5400,
                          0.10828038305044, 0, 0, 0, 0, 1, 0, 0, 1, 1],
}  # fmt: skip

#: dcm-classifier's volume labels for the same headers (all axial)
REFERENCE_LABELS: dict[str, str] = {
    "siemens_t1_gre": "t1w", "dwi_gradient": "dwig", "trace": "tracew",
    "adc_no_echo_time": "adc", "b0_standard_tag": "b0", "no_scanning_sequence": "t1w",
    "inversion_recovery": "t1w", "trace_implicit_vr": "tracew",
}  # fmt: skip


def test_feature_vectors_equal_dcm_classifiers() -> None:
    headers = feature_headers()
    assert set(headers) == set(REFERENCE_VECTORS)
    for name, ds in headers.items():
        vector = volume_features(ds).vector()
        assert vector.dtype == np.float32 and vector.shape == (1, len(INFERENCE_FEATURES))
        expected = np.array([REFERENCE_VECTORS[name]], dtype=np.float32)
        assert np.array_equal(vector, expected), (name, vector - expected)


def test_model_labels_equal_dcm_classifiers(step: MRSeriesType, model: Path) -> None:
    headers = feature_headers()
    rows = np.concatenate([volume_features(headers[name]).vector() for name in REFERENCE_LABELS])
    probabilities = step.model(model).probabilities(rows)
    labels = [max(p.items(), key=lambda kv: kv[1])[0] for p in probabilities]
    assert dict(zip(REFERENCE_LABELS, labels, strict=True)) == REFERENCE_LABELS


def test_hand_checked_vector_of_the_siemens_header() -> None:
    features = volume_features(siemens_header()).features
    assert features["EchoTime"] == pytest.approx(2.81, rel=1e-6)
    assert features["RepetitionTime"] == pytest.approx(5.53, rel=1e-6)
    assert features["FlipAngle"] == 10 and features["PixelBandwidth"] == 250
    assert features["ImagingFrequency"] == pytest.approx(63.687936, rel=1e-6)
    assert features["InversionTime"] == -12345  # dcm-classifier's "unknown"
    assert (features["ImageType_DERIVED"], features["ImageType_ORIGINAL"]) == (1, 0)
    assert (features["ScanningSequence_GR"], features["ScanningSequence_SE"]) == (1, 0)
    assert (features["SequenceVariant_SP"], features["Manufacturer_siemens"]) == (1, 1)
    assert features["likely_diffusion"] == features["Diffusionb-valueBool"] == 0


def test_quirks_are_kept() -> None:
    headers = feature_headers()
    # "se" occurs in "unknownscanningsequence": a missing ScanningSequence reads as spin echo
    assert volume_features(headers["no_scanning_sequence"]).features["ScanningSequence_SE"] == 1
    # b-values are rounded to the nearest 10 (half to even) and read from private tags
    assert b_value(headers["b0_standard_tag"]) == 0
    assert b_value(_changed(headers["b0_standard_tag"], {"DiffusionBValue": 25.0})) == 20
    assert b_value(_changed(headers["b0_standard_tag"], {"DiffusionBValue": 6000.0})) == -12345
    assert b_value(headers["trace_implicit_vr"]) == 1000
    assert volume_features(headers["dwi_gradient"]).features["HasDiffusionGradientOrientation"]


def test_refusals_name_what_is_missing() -> None:
    with pytest.raises(UnclassifiableVolume, match="PixelBandwidth"):
        volume_features(pydicom.dcmread(_shipped("MR_small.dcm"), stop_before_pixels=True))
    with pytest.raises(UnclassifiableVolume, match="EchoTime"):
        volume_features(_changed(siemens_header(), {"EchoTime": ["20", "40"]}))
    with pytest.raises(UnclassifiableVolume, match="FlipAngle"):
        volume_features(_changed(siemens_header(), {"FlipAngle": None}))


def test_planes() -> None:
    assert acquisition_plane([1, 0, 0, 0, 1, 0]) == "ax"
    assert acquisition_plane([0, 1, 0, 0, 0, -1]) == "sag"
    assert acquisition_plane([1, 0, 0, 0, 0, -1]) == "cor"
    assert acquisition_plane([0.8, 0.6, 0, 0, 0.6, -0.8]) == "cor"  # oblique: nearest


# -- series written to disk ------------------------------------------------------------------
def _write(ds: Dataset, path: Path) -> None:
    ds.PixelData = bytes(2 * int(ds.Rows) * int(ds.Columns))
    ds["PixelData"].VR = "OW"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def write_synthetic(base: Dataset, folder: Path, name: str, volumes: list[dict[str, Any]]) -> str:
    """A series of ``len(volumes)`` volumes of 3 slices each (volume after volume)."""
    uid = generate_uid(entropy_srcs=["radcurate-test", name])
    number = 0
    for v, changes in enumerate(volumes):
        for k in range(3):
            number += 1
            ds = _changed(base, changes)
            ds.SeriesInstanceUID = uid
            ds.SeriesDescription = name
            ds.SOPInstanceUID = generate_uid(entropy_srcs=[name, str(v), str(k)])
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = number
            ds.ImagePositionPatient = [0.0, 0.0, 5.0 * k]
            _write(ds, folder / name / f"{number:03d}.dcm")
    return uid


#: synthetic series -> (volumes, dcm-classifier's series label, plane); the labels are what
#: its ProcessOneDicomStudyToVolumesMappingBase + ImageTypeClassifierBase give for these files
SYNTHETIC: dict[str, tuple[list[dict[str, Any]], str, str]] = {
    "dwi_4dirs": (
        [{**EPI, "ImageType": ORIGINAL_DIFFUSION, "b": 0}]
        + [
            {**EPI, "ImageType": ORIGINAL_DIFFUSION, "b": 1000, "g": g}
            for g in ([1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.6, 0.8, 0])
        ],
        "dwig",
        "ax",
    ),
    "trace_b0": (
        [
            {**EPI, "ImageType": ORIGINAL_DIFFUSION, "b": 0},
            {**EPI, "ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "TRACEW"], "b": 1000},
        ],
        "tracew",
        "ax",
    ),
    "dwi_1dir": ([{**EPI, "ImageType": ORIGINAL_DIFFUSION, "DiffusionBValue": 1000.0}],
                 "tracew", "ax"),
    "adc": ([{**EPI, "ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"], "EchoTime": None}],
            "adc", "ax"),
    "fa": ([{**EPI, "ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "FA"]}], "fa", "ax"),
    "t2star": (
        [{"ScanningSequence": "GR", "SequenceVariant": ["SP", "OSP"], "EchoTime": "20",
          "RepetitionTime": "650", "FlipAngle": "20", "ImageType": ["ORIGINAL", "PRIMARY"]}],
        "gret2star",
        "ax",
    ),
    "perfusion": (
        [{"ScanningSequence": "EP", "SequenceVariant": "SK", "EchoTime": "30",
          "RepetitionTime": "1500", "FlipAngle": "90", "AcquisitionNumber": n,
          "ImageType": ["ORIGINAL", "PRIMARY", "PERFUSION", "NONE"]} for n in (1, 2, 3)],
        "perfusion",
        "ax",
    ),
    "t1_gre_sag": ([{"ImageOrientationPatient": [0, 1, 0, 0, 0, -1],
                     "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"]}], "t1w", "sag"),
}  # fmt: skip


def write_phantoms(root: Path) -> dict[str, tuple[str, str]]:
    """radcurate.demo's MR series (3 slices) as T1, T2 and FLAIR on six scanners.

    Returns series UID -> (expected label, expected plane).
    """
    sink = Sink(root)
    context = WriteContext(seed=0, sink=sink, cache=PhantomCache())
    expected: dict[str, tuple[str, str]] = {}
    for seed in (0, 1, 4, 6, 7):  # Siemens, GE, Toshiba, Philips; 1.5 T and 3 T
        for patient in iter_plans(1, seed):
            sink.start_patient()
            for study in patient.studies:
                for series in [s for s in study.series if s.kind == "mr"]:
                    assert series.geometry is not None
                    for contrast, label in CONTRAST_LABELS.items():
                        uid = generate_uid(entropy_srcs=[series.uid, contrast])
                        written = dataclasses.replace(
                            series,
                            contrast=contrast,
                            uid=uid,
                            geometry=dataclasses.replace(series.geometry, count=3),
                        )
                        write_mr(context, patient, study, written, False)
                        sagittal = series.description.endswith("_sag")
                        expected[uid] = (label, "sag" if sagittal else "ax")
    sink.finish()
    return expected


@dataclasses.dataclass
class MRCatalog:
    catalog: CatalogBackend
    expected: dict[str, tuple[str, str]]  # series UID -> (label, plane)
    ct_uid: str


@pytest.fixture(scope="module")
def mr_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MRCatalog]:
    folder = tmp_path_factory.mktemp("mr-type")
    root = folder / "data"
    expected = write_phantoms(root / "phantoms")
    base = siemens_header()
    for name, (volumes, label, plane) in SYNTHETIC.items():
        expected[write_synthetic(base, root / "synthetic", name, volumes)] = (label, plane)
    ct_uid = "1.2.826.0.1.3680043.10.99.7001"
    write_series(root / "ct", ct_uid, "CT", "CHEST", "Thorax", 2)
    with open_catalog(f"sqlite:///{folder / 'catalog.sqlite'}") as catalog:
        summary = ingest([root], catalog, workers=1)
        assert summary.errors == 0
        yield MRCatalog(catalog, expected, ct_uid)


def _process(step: MRSeriesType, catalog: CatalogBackend, uid: str, model: Path) -> Any:
    params = step.parse_params({"model_path": str(model)})
    return step.process(SeriesItem(catalog, uid, Settings()), params)["ai"]


def test_known_contrasts_are_typed(mr_catalog: MRCatalog, step: MRSeriesType, model: Path) -> None:
    right = 0
    wrong: list[tuple[str, str, str]] = []
    for uid, (label, plane) in mr_catalog.expected.items():
        ai = _process(step, mr_catalog.catalog, uid, model)
        document = mr_catalog.catalog.series_document(uid)
        assert document is not None
        if (ai["mr_type"], ai["plane"]) == (label, plane):
            right += 1
        else:
            wrong.append((str(document.get("SeriesDescription")), label, ai["mr_type"]))
        assert ai["mr_type_model"] == f"sha256:{MODEL_SHA256_0_9_9[:16]}"
        assert set(ai["mr_type_all"]) >= {"t1w", "t2w", "flair", "dwig", "tracew", "adc"}
        if ai["mr_type_by"] == "model":
            assert ai["mr_type_p"] == max(ai["mr_type_all"].values())
    # 6 scanners x 3 MR series x 3 contrasts (54) + 8 synthetic series (62), every one right
    assert len(mr_catalog.expected) >= 50
    assert not wrong, wrong
    assert right == len(mr_catalog.expected)


def test_series_rules(mr_catalog: MRCatalog, step: MRSeriesType, model: Path) -> None:
    by_name = {
        mr_catalog.catalog.series_document(uid)["SeriesDescription"]: uid  # type: ignore[index]
        for uid in mr_catalog.expected
    }
    dwi = _process(step, mr_catalog.catalog, by_name["dwi_4dirs"], model)
    assert (dwi["mr_type"], dwi["mr_type_by"], dwi["mr_volumes"]) == ("dwig", "diffusion_rule", 5)
    single = _process(step, mr_catalog.catalog, by_name["dwi_1dir"], model)
    assert "mr_volumes" not in single
    perfusion = _process(step, mr_catalog.catalog, by_name["perfusion"], model)
    assert (perfusion["mr_type_by"], perfusion["mr_volumes"]) == ("perfusion_rule", 3)
    assert "mr_type_p" not in perfusion  # not one of the model's classes


def test_pydicom_mr_files(step: MRSeriesType, model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mr"
    folder.mkdir()
    files = 0
    for root in shipped_dicom_roots():
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # noqa: BLE001  # not DICOM: not ours to test here
                continue
            if ds.get("Modality") == "MR":
                files += 1
                shutil.copy(path, folder / f"{files:03d}-{path.name}")
    assert files >= 30
    with open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}") as catalog:
        ingest([folder], catalog, workers=1)
        typed: dict[str, tuple[str, str]] = {}
        refused: dict[str, str] = {}
        for document in catalog.iter_series_documents():
            uid = str(document["SeriesInstanceUID"])
            names = [Path(r.source).name.split("-", 1)[1] for r in catalog.instances(uid)]
            try:
                ai = _process(step, catalog, uid, model)
            except ValueError as exc:
                refused.update(dict.fromkeys(names, str(exc)))
            else:
                typed.update(dict.fromkeys(names, (ai["mr_type"], ai["plane"])))
    # the two files with every attribute the model needs: a Siemens 3-D T1 GRE (MPR)
    assert typed == {
        "MR-SIEMENS-DICOM-WithOverlays.dcm": ("t1w", "ax"),
        "examples_overlay.dcm": ("t1w", "ax"),
    }
    assert "PixelBandwidth" in refused["MR_small.dcm"]
    assert "PixelBandwidth" in refused["MR2_J2KI.dcm"]
    assert len(typed) + len(refused) == files
    assert "Enhanced MR Image Storage" in refused["emri_small.dcm"]
    assert "functional groups" in refused["emri_small.dcm"]


def test_non_mr_is_refused(mr_catalog: MRCatalog, step: MRSeriesType, model: Path) -> None:
    with pytest.raises(ValueError, match=r"not an MR series \(Modality CT\)"):
        _process(step, mr_catalog.catalog, mr_catalog.ct_uid, model)
    assert not step.applies(SeriesItem(mr_catalog.catalog, mr_catalog.ct_uid))


def test_missing_model_says_how_to_get_it(
    mr_catalog: MRCatalog, step: MRSeriesType, tmp_path: Path
) -> None:
    uid = next(iter(mr_catalog.expected))
    item = SeriesItem(mr_catalog.catalog, uid, Settings(home=tmp_path / "home"))
    with pytest.raises(ModelNotFoundError) as caught:
        step.process(item, step.parse_params({}))
    message = str(caught.value)
    assert str(tmp_path / "home" / "models" / MODEL_FOLDER / MODEL_FILE) in message
    assert "pip download dcm-classifier==0.9.9 --no-deps" in message
    assert "model_path" in message


def test_model_location(tmp_path: Path, model: Path) -> None:
    home = tmp_path / "home"
    assert model_location(None, home, {}) == home / "models" / MODEL_FOLDER / MODEL_FILE
    models = tmp_path / "models"
    assert model_location(None, home, {"RADCURATE_MODELS": str(models)}) == (
        models / MODEL_FOLDER / MODEL_FILE
    )
    (models / MODEL_FOLDER).mkdir(parents=True)
    shutil.copy(model, models / MODEL_FOLDER / MODEL_FILE)
    # a folder: the file in it, or in its dcm-classifier/ subfolder
    assert model_location(str(models), home, {}) == models / MODEL_FOLDER / MODEL_FILE
    assert model_location(str(model.parent), home, {}) == model
    assert model_location(str(model), home, {}) == model


def test_not_a_model_is_a_clear_error(
    mr_catalog: MRCatalog, step: MRSeriesType, tmp_path: Path
) -> None:
    bogus = tmp_path / MODEL_FILE
    bogus.write_bytes(b"not onnx")
    uid = next(iter(mr_catalog.expected))
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        step.process(
            SeriesItem(mr_catalog.catalog, uid), step.parse_params({"model_path": str(bogus)})
        )


def test_runner_writes_results_and_a_rerun_skips(
    mr_catalog: MRCatalog, step: MRSeriesType, model: Path, tmp_path: Path
) -> None:
    catalog = mr_catalog.catalog
    home = tmp_path / "home"
    (home / "models" / MODEL_FOLDER).mkdir(parents=True)
    shutil.copy(model, home / "models" / MODEL_FOLDER / MODEL_FILE)  # the default location
    job = workflow_job(step, EVERYTHING, chunk_size=16, home=str(home))
    record = run_job(catalog, WORKFLOW_KIND, job)
    assert record.state == "done", record.error
    assert record.result is not None
    total = len(mr_catalog.expected) + 1
    assert (record.result["processed"], record.result["failed"]) == (total - 1, 1)
    count, errors = catalog.job_errors(record.id)
    assert count == 1 and errors[0][0] == mr_catalog.ct_uid
    assert "not an MR series" in errors[0][1]
    for uid, (label, plane) in mr_catalog.expected.items():
        ai = catalog.results(uid)["ai"]
        assert (ai["mr_type"], ai["plane"]) == (label, plane)
    assert set(catalog.series_uids("ai.mr_type:flair")) == {
        uid for uid, (label, _) in mr_catalog.expected.items() if label == "flair"
    }
    again = run_job(catalog, WORKFLOW_KIND, workflow_job(step, EVERYTHING, home=str(home)))
    assert again.result is not None
    assert (again.result["processed"], again.result["skipped"]) == (0, total - 1)
