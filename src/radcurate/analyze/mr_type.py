"""``annotate-mr-type``: the contrast of an MR series (T1w, T2w, FLAIR, diffusion, ...) from
its headers, by dcm-classifier's trained model, and its acquisition plane.

The model is dcm-classifier 0.9.9's ``ova_rf_classifier.onnx`` (Apache-2.0, © Michal Brzus,
Hans J. Johnson and the dcm-classifier authors, University of Iowa), run with onnxruntime
on the features :mod:`radcurate.analyze.mr_features` computes the way dcm-classifier does.
Like dcm-classifier, a series whose slice positions repeat is split into volumes (one per
repetition), each volume is classified from the header of its first file, and the series
label follows its rules: diffusion series (a positive b-value) are ``dwig`` when their
volumes have three or more gradient directions, else ``tracew``; ImageType PERFUSION gives
``perfusion``. No weights are downloaded: the model file is named by the ``model_path``
parameter or found under ``$RADCURATE_MODELS`` / ``$RADCURATE_HOME/models``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydicom import dcmread
from pydicom.dataset import Dataset

from radcurate.analyze.mr_features import (
    CLASS_NAMES,
    DIFFUSION_LABELS,
    INFERENCE_FEATURES,
    UNKNOWN,
    UnclassifiableVolume,
    VolumeFeatures,
    acquisition_plane,
    b_value,
    gradient_direction,
    volume_features,
)
from radcurate.dicom.instance import InstanceRecord
from radcurate.optional import import_optional
from radcurate.storage.locations import open_location
from radcurate.workflow.step import SeriesItem, Workflow

#: the model file's name in dcm-classifier's wheel (``dcm_classifier/models/``)
MODEL_FILE = "ova_rf_classifier.onnx"
#: the folder under the models root that holds it
MODEL_FOLDER = "dcm-classifier"
#: environment variable naming the models root (default: ``$RADCURATE_HOME/models``)
ENV_MODELS = "RADCURATE_MODELS"
#: sha256 of dcm-classifier 0.9.9's model (the one this annotator was checked with)
MODEL_SHA256_0_9_9 = "808fcd58e237ecc3fa657942d325c12ddbbaaf496cc1f849913e99248cba13e0"

#: how to get the model, quoted in the error when it is missing
HOW_TO_GET = (
    "get it from dcm-classifier's wheel (Apache-2.0): "
    "`pip download dcm-classifier==0.9.9 --no-deps -d /tmp/dcmc && "
    f"mkdir -p <models>/{MODEL_FOLDER} && "
    "unzip -j /tmp/dcmc/dcm_classifier-0.9.9-py3-none-any.whl "
    f"'dcm_classifier/models/{MODEL_FILE}' -d <models>/{MODEL_FOLDER}/`, where <models> is "
    f"${ENV_MODELS} or $RADCURATE_HOME/models; or pass -p model_path=/path/to/{MODEL_FILE}"
)

#: SOP classes whose acquisition parameters sit in functional groups, not where the model reads
_ENHANCED_MR = {
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
}


class ModelNotFoundError(FileNotFoundError):
    """The model file is not where the parameters or settings say; the message says how to
    get it."""


class MRSeriesTypeParams(BaseModel):
    """Parameters of the MR series-type annotator."""

    model_config = ConfigDict(extra="forbid")

    model_path: str | None = Field(
        None,
        description=f"The model file ({MODEL_FILE}) or a folder holding it; default: "
        f"${ENV_MODELS}/{MODEL_FOLDER}/{MODEL_FILE}, else "
        f"$RADCURATE_HOME/models/{MODEL_FOLDER}/{MODEL_FILE}",
    )
    min_probability: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Below this model probability the label is kept but "
        "ai.mr_type_low_confidence is true (dcm-classifier's LOW_PROBABILITY threshold)",
    )


def model_location(model_path: str | None, home: Path, environ: Mapping[str, str]) -> Path:
    """Where the model file should be: the parameter (a file, or a folder holding it),
    else ``$RADCURATE_MODELS``, else ``<home>/models``.

    Examples
    --------
    >>> str(model_location(None, Path("/h"), {}))
    '/h/models/dcm-classifier/ova_rf_classifier.onnx'
    >>> str(model_location(None, Path("/h"), {"RADCURATE_MODELS": "/m"}))
    '/m/dcm-classifier/ova_rf_classifier.onnx'
    """
    if model_path:
        path = Path(model_path).expanduser()
        if path.is_dir():
            nested = path / MODEL_FOLDER / MODEL_FILE
            return nested if nested.is_file() else path / MODEL_FILE
        return path
    root = Path(environ[ENV_MODELS]) if environ.get(ENV_MODELS) else home / "models"
    return root / MODEL_FOLDER / MODEL_FILE


@dataclass
class _Model:
    """A loaded model: its onnxruntime session and the digest of its file."""

    session: Any
    sha256: str

    def probabilities(self, rows: np.ndarray[Any, np.dtype[np.float32]]) -> list[dict[str, float]]:
        """Class probabilities (by label name) of each row of features."""
        inputs = self.session.get_inputs()
        outputs = [o.name for o in self.session.get_outputs()]
        _, probabilities = self.session.run(outputs, {inputs[0].name: rows})
        return [{CLASS_NAMES[int(k)]: float(p) for k, p in row.items()} for row in probabilities]


def _load_model(path: Path) -> _Model:
    if not path.is_file():
        raise ModelNotFoundError(f"MR series-type model not found at {path}: {HOW_TO_GET}")
    runtime = import_optional("onnxruntime", "the MR series-type annotator (annotate-mr-type)")
    data = path.read_bytes()
    options = runtime.SessionOptions()
    options.intra_op_num_threads = 1  # a small forest; workers are processes already
    options.inter_op_num_threads = 1
    try:
        session = runtime.InferenceSession(data, sess_options=options)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"{path} is not a readable ONNX model: {exc}") from exc
    shape = session.get_inputs()[0].shape
    if len(shape) != 2 or shape[1] != len(INFERENCE_FEATURES) or len(session.get_outputs()) < 2:
        raise ValueError(
            f"{path} is not dcm-classifier's model: it takes input {shape}, "
            f"not {len(INFERENCE_FEATURES)} header features"
        )
    return _Model(session, hashlib.sha256(data).hexdigest())


@dataclass
class _Volume:
    """One volume of a series: the header of its first file and what the model made of it."""

    header: Dataset
    features: VolumeFeatures | None
    invalid: UnclassifiableVolume | None
    probabilities: dict[str, float] | None = None

    @property
    def b_value(self) -> float:
        """The volume's b-value (read for invalid volumes too, as dcm-classifier does)."""
        return self.features.b_value if self.features is not None else b_value(self.header)

    @property
    def label(self) -> str:
        if self.probabilities is None:
            return "INVALID"
        return max(self.probabilities.items(), key=lambda kv: kv[1])[0]


def volume_first_files(instances: list[InstanceRecord]) -> list[InstanceRecord]:
    """The first file of each volume of a series (dcm-classifier's split by repeated position).

    When slice positions repeat, the files of each position, ordered by AcquisitionNumber
    and InstanceNumber, are spread over ``files // positions`` volumes; otherwise (or when
    the positions do not divide evenly) the series is one volume, whose first file is the
    representative (smallest location).
    """
    records: dict[str, InstanceRecord] = {}
    for record in sorted(instances, key=lambda r: r.location):
        records.setdefault(record.sop_uid, record)  # duplicate files are not volumes
    ordered = list(records.values())
    if not ordered:
        return []
    groups: dict[Any, list[InstanceRecord]] = {}
    for index, record in enumerate(ordered):
        key = record.position if record.position is not None else ("no position", index)
        groups.setdefault(key, []).append(record)
    if not 0 < len(groups) < len(ordered):
        return ordered[:1]
    count = len(ordered) // len(groups)
    if any(len(group) < count for group in groups.values()):
        return ordered[:1]

    def order(record: InstanceRecord) -> tuple[float, float]:
        number = record.attrs.get("AcquisitionNumber")
        acquisition = float(number) if isinstance(number, (int, float)) else UNKNOWN
        instance = record.instance_number
        return acquisition, float(instance) if instance is not None else UNKNOWN

    first = sorted(next(iter(groups.values())), key=order)
    return first[:count]


def _read_header(record: InstanceRecord) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_location(record.location) as handle:
                return dcmread(handle, stop_before_pixels=True, force=True)
    except Exception as exc:  # the reason goes into the job's errors
        raise ValueError(
            f"cannot read the header of {record.location}: {type(exc).__name__}: {exc}"
        ) from exc


def _diffusion_label(volumes: list[_Volume]) -> str:
    """dcm-classifier's infer_diffusion_from_gradient: ``dwig`` with >= 3 gradient directions."""
    if "ImageType" not in volumes[0].header:
        raise ValueError(
            "a diffusion series (positive b-value) without ImageType: dcm-classifier cannot "
            "tell trace from gradient volumes"
        )
    directions = [d for d in (gradient_direction(v.header) for v in volumes) if d is not None]
    if directions and len(np.unique(np.array(directions), axis=0)) >= 3:
        return "dwig"
    return "tracew"


def series_label(volumes: list[_Volume]) -> tuple[str, str]:
    """The series label and the rule that gave it (``model``, ``diffusion_rule``,
    ``perfusion_rule``), as dcm-classifier's ``ImageTypeClassifierBase.run_inference``."""
    if any(v.features is not None and v.features.perfusion for v in volumes):
        return "perfusion", "perfusion_rule"
    b_values = {v.b_value for v in volumes}
    first = volumes[0]
    if len(volumes) == 1:
        if first.invalid is not None:
            raise first.invalid
        if first.b_value > 0 and first.label not in DIFFUSION_LABELS:
            return _diffusion_label(volumes), "diffusion_rule"
        return first.label, "model"
    labels = {v.label for v in volumes}
    if len(labels) == 1:
        if UNKNOWN not in b_values:
            return _diffusion_label(volumes), "diffusion_rule"
    elif "dwig" in labels:
        return _diffusion_label(volumes), "diffusion_rule"
    elif "tracew" in labels:
        return "tracew", "diffusion_rule"
    elif UNKNOWN not in b_values:
        return _diffusion_label(volumes), "diffusion_rule"
    if first.invalid is not None:
        raise first.invalid
    return first.label, "model"


class MRSeriesType(Workflow):
    """``ai.mr_type``, ``ai.mr_type_p``, ``ai.mr_type_all`` and ``ai.plane`` of MR series."""

    name = "annotate-mr-type"
    title = "MR series type"
    description = (
        "The contrast of MR series (t1w, t2w, flair, gret2star, b0, tracew, dwig, adc, eadc, "
        "fa; perfusion) from header values by dcm-classifier's trained model, and the "
        "acquisition plane (ax/sag/cor): ai.mr_type, ai.mr_type_p, ai.mr_type_all, ai.plane."
    )
    version = "1"
    Params = MRSeriesTypeParams
    modalities = ("MR",)

    def __init__(self) -> None:
        self._models: dict[tuple[str, int, int], _Model] = {}

    def model(self, path: Path) -> _Model:
        """The model at ``path``, loaded once per file version and process."""
        try:
            stat = path.stat()
        except OSError:
            raise ModelNotFoundError(
                f"MR series-type model not found at {path}: {HOW_TO_GET}"
            ) from None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._models:
            self._models[key] = _load_model(path)
        return self._models[key]

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, MRSeriesTypeParams)
        document = item.document
        modality = document.get("Modality")
        if modality != "MR":
            raise ValueError(
                f"not an MR series (Modality {modality or 'missing'}): the MR series-type "
                "model reads MR acquisition parameters"
            )
        sop_class = document.get("SOPClassUID")
        if isinstance(sop_class, str) and sop_class in _ENHANCED_MR:
            raise ValueError(
                f"{_ENHANCED_MR[sop_class]} keeps its acquisition parameters in per-frame "
                "functional groups; dcm-classifier's model reads classic MR Image Storage headers"
            )
        model = self.model(model_location(params.model_path, item.settings.home, os.environ))
        volumes: list[_Volume] = []
        for record in volume_first_files(item.instances):
            header = _read_header(record)
            try:
                volumes.append(_Volume(header, volume_features(header), None))
            except UnclassifiableVolume as exc:
                volumes.append(_Volume(header, None, exc))
        if not volumes:
            raise ValueError("the series has no instances")
        valid = [v for v in volumes if v.features is not None]
        if valid:
            rows = np.concatenate([v.features.vector() for v in valid if v.features is not None])
            for volume, probabilities in zip(valid, model.probabilities(rows), strict=True):
                volume.probabilities = probabilities
        label, rule = series_label(volumes)
        mean = {
            name: round(float(np.mean([(v.probabilities or {})[name] for v in valid])), 4)
            for name in CLASS_NAMES.values()
        }
        assert valid[0].features is not None  # series_label raised when none is valid
        results: dict[str, Any] = {
            "mr_type": label,
            "mr_type_by": rule,
            "mr_type_all": mean,
            "plane": acquisition_plane(valid[0].features.orientation),
            "mr_type_model": f"sha256:{model.sha256[:16]}",
        }
        if label in mean:
            results["mr_type_p"] = mean[label]
            results["mr_type_low_confidence"] = mean[label] < params.min_probability
        if len(volumes) > 1:
            results["mr_volumes"] = len(volumes)
        return {"ai": results}
