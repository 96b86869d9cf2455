"""The header features of dcm-classifier's MR series-type model, computed as it computes them.

dcm-classifier 0.9.9 (https://github.com/BRAINSia/dcm-classifier, Apache-2.0, © Michal Brzus,
Hans J. Johnson and the dcm-classifier authors, University of Iowa) ships a random-forest
model (``models/ova_rf_classifier.onnx``) that names the contrast of an MR volume from 28
values of the header of its first file. The package itself pulls ITK, pandas and more, so
this module reproduces the extraction it performs on a pydicom data set, rule for rule, from
its ``dicom_config.py`` (the feature list), ``utility_functions.py`` (``sanitize_dicom_dataset``,
``get_coded_dictionary_elements``, ``get_bvalue``, ``get_diffusion_gradient_direction``) and
``dicom_volume.py`` (the diffusion features), including its quirks (a missing
ScanningSequence reads as spin echo, because ``"se"`` occurs in ``"unknownscanningsequence"``).
``tests/annotation/test_mr_type.py`` checks the vectors against values its own code gave.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

#: the model's inputs, in the order of its input tensor (dicom_config.inference_features)
INFERENCE_FEATURES: tuple[str, ...] = (
    "Diffusionb-valueBool",
    "EchoTime",
    "EchoTrainLength",
    "FlipAngle",
    "HasDiffusionGradientOrientation",
    "ImageType_ADC",
    "ImageType_DERIVED",
    "ImageType_DIFFUSION",
    "ImageType_EADC",
    "ImageType_FA",
    "ImageType_ORIGINAL",
    "ImageType_TRACEW",
    "ImagingFrequency",
    "InversionTime",
    "Manufacturer_siemens",
    "NumberOfAverages",
    "PixelBandwidth",
    "RepetitionTime",
    "SAR",
    "ScanningSequence_GR",
    "ScanningSequence_IR",
    "ScanningSequence_SE",
    "SequenceVariant_MP",
    "SequenceVariant_SP",
    "dBdt",
    "has_b0",
    "has_pos_b0",
    "likely_diffusion",
)

#: the model's class codes -> label names (image_type_inference.imagetype_to_integer_mapping)
CLASS_NAMES: dict[int, str] = {
    0: "t1w",
    1: "gret2star",
    2: "t2w",
    3: "flair",
    4: "b0",
    5: "tracew",
    6: "adc",
    7: "fa",
    8: "eadc",
    9: "dwig",
}

#: labels of diffusion-derived volumes (a positive b-value with another label is re-checked)
DIFFUSION_LABELS = frozenset({"tracew", "adc", "fa", "eadc", "dwig"})

#: dcm-classifier's value for "unknown"
UNKNOWN = -12345.0

#: attributes a volume must have to be classified (dicom_config.required_DICOM_fields)
REQUIRED = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SeriesNumber",
    "ImageOrientationPatient",
    "PixelBandwidth",
    "EchoTime",
    "RepetitionTime",
    "FlipAngle",
    "PixelSpacing",
    "SliceThickness",
)

#: numeric attributes that are optional (UNKNOWN when absent or not a number)
_OPTIONAL_NUMBERS = (
    "EchoTrainLength",
    "ImagingFrequency",
    "InversionTime",
    "NumberOfAverages",
    "dBdt",
    "SAR",
)

#: b-value tags, most trusted first (standard, GE, Philips, Siemens, Siemens historical
#: (skipped, as dcm-classifier does), old Siemens, United Imaging)
_B_VALUE_TAGS: tuple[tuple[str, int], ...] = (
    ("standard", 0x00189087),
    ("ge", 0x00431039),
    ("philips", 0x20011003),
    ("siemens", 0x0019100C),
    ("siemens_historical", 0x00291010),
    ("siemens_old", 0x0019000C),
    ("uhi", 0x00651009),
)

#: diffusion gradient direction tags, in dcm-classifier's order
_GRADIENT_TAGS: tuple[tuple[str, int], ...] = (
    ("standard", 0x00189076),
    ("ge", 0x001910E0),
    ("philips", 0x20011004),
    ("siemens", 0x0019100E),
    ("siemens_historical", 0x0019000E),
    ("siemens_old", 0x0019000E),
    ("uhi", 0x00651037),
)


class UnclassifiableVolume(ValueError):
    """A header dcm-classifier marks INVALID; ``missing`` names what is absent or unusable."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            "dcm-classifier's model needs "
            + ", ".join(self.missing)
            + (" (missing, empty or not a number)")
        )


@dataclass(frozen=True)
class VolumeFeatures:
    """What the model and the series rules read from the header of a volume's first file."""

    #: the 28 model inputs by name
    features: dict[str, float]
    #: |ImageOrientationPatient| components (for the acquisition plane)
    orientation: tuple[float, ...]
    #: the b-value (rounded to 10), UNKNOWN when none is recorded
    b_value: float
    #: ImageType names PERFUSION (dcm-classifier's override of the label)
    perfusion: bool

    def vector(self) -> npt.NDArray[np.float32]:
        """The model input: one row of the 28 features as float32.

        Examples
        --------
        >>> v = VolumeFeatures(dict.fromkeys(INFERENCE_FEATURES, 1.0), (), UNKNOWN, False)
        >>> v.vector().shape
        (1, 28)
        """
        return np.array([[self.features[name] for name in INFERENCE_FEATURES]], dtype=np.float32)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except Exception:  # noqa: BLE001  # anything float() refuses, as dcm-classifier tests it
        return False
    return True


def _is_integer(value: Any) -> bool:
    try:
        int(value)
    except Exception:  # noqa: BLE001
        return False
    return True


def _value(dataset: Dataset, keyword: str) -> tuple[bool, Any]:
    """(present, value) of a top-level element; an undecodable value counts as absent."""
    if keyword not in dataset:
        return False, None
    try:
        return True, dataset[keyword].value
    except Exception:  # noqa: BLE001
        return False, None


def _required(dataset: Dataset) -> tuple[dict[str, Any], list[str]]:
    """sanitize_dicom_dataset's checks of the required attributes: values and what fails."""
    values: dict[str, Any] = {}
    missing: list[str] = []
    for keyword in REQUIRED:
        present, value = _value(dataset, keyword)
        if keyword in ("EchoTime", "RepetitionTime"):
            # derived images (ADC) often lack them: unknown, not invalid
            if not present or value is None or str(value) == "":
                values[keyword] = UNKNOWN
            elif _is_number(value):
                values[keyword] = value
            else:
                missing.append(keyword)
        elif not present:
            missing.append(keyword)
        elif keyword == "SeriesNumber":
            if not _is_integer(value):
                missing.append(keyword)
        elif keyword in ("PixelBandwidth", "SliceThickness"):
            if _is_number(value):
                values[keyword] = value
            else:
                missing.append(keyword)
        elif keyword == "PixelSpacing":
            if value is None or str(value) == "":
                missing.append(keyword)
        elif value is None or str(value) == "":
            missing.append(keyword)
        else:
            values[keyword] = value
    # the model reads FlipAngle as a number: anything else ends as INVALID there
    if "FlipAngle" in values and not _is_number(values["FlipAngle"]):
        missing.append("FlipAngle")
    return values, missing


def _optional_number(dataset: Dataset, keyword: str) -> Any:
    present, value = _value(dataset, keyword)
    if not present or value is None or not _is_number(value):
        return UNKNOWN
    return value


def _text(dataset: Dataset, keyword: str, unknown: str) -> str:
    """The lower-case text dcm-classifier matches words in (``str()`` of the pydicom value)."""
    if keyword not in dataset:
        return unknown.lower()
    try:
        value = dataset[keyword].value
    except Exception:  # noqa: BLE001  # dcm-classifier falls back to its number for unknown
        return str(int(UNKNOWN))
    return unknown.lower() if value is None else str(value).lower()


def _flags(text: str, names: Sequence[str]) -> dict[str, float]:
    """``Prefix_WORD`` = 1 when ``word`` occurs anywhere in ``text`` (substring match)."""
    return {name: 1.0 if name.split("_", 1)[1].lower() in text else 0.0 for name in names}


def b_value(dataset: Dataset) -> float:
    """The diffusion b-value (rounded to the nearest 10), or UNKNOWN (get_bvalue).

    The first b-value tag present decides, private ones included; a value above 5000
    or one that does not read as a number is UNKNOWN.

    Examples
    --------
    >>> ds = Dataset()
    >>> ds.DiffusionBValue = 996.0
    >>> b_value(ds)
    1000.0
    >>> b_value(Dataset())
    -12345.0
    """
    for name, tag in _B_VALUE_TAGS:
        if tag not in dataset:
            continue
        if name == "siemens_historical":
            continue  # not supported by dcm-classifier either
        element = dataset[tag]
        value: Any
        if name == "ge":
            try:
                value = element.value[0] % 100000
            except TypeError:
                return UNKNOWN
        else:
            value = element.value
        if element.VR == "OB":
            if isinstance(value, bytes):
                value = value.decode("utf-8", "backslashreplace")
            elif not isinstance(value, numbers.Number):
                return UNKNOWN
        if value is None:
            return UNKNOWN
        try:
            result = float(value)
        except Exception:  # noqa: BLE001
            return UNKNOWN
        if result > 5000:
            return UNKNOWN
        return float(round(result / 10.0) * 10)
    return UNKNOWN


def gradient_direction(dataset: Dataset) -> npt.NDArray[np.float64] | None:
    """The diffusion gradient direction (a unit 3-vector), or None
    (get_diffusion_gradient_direction)."""
    direction: npt.NDArray[Any] | None = None
    for name, tag in _GRADIENT_TAGS:
        if tag not in dataset:
            continue
        element = dataset[tag]
        if name == "siemens":
            raw = element.value
            if element.VR == "OB" and len(raw) == 24:
                direction = np.frombuffer(raw, dtype="double")
            else:
                direction = np.array(raw)
            break
        try:
            direction = np.array(element.value)
            break
        except TypeError:
            direction = None
    if direction is None:
        return None
    try:
        ok = direction.size == 3 and abs(1 - float(np.linalg.norm(direction))) <= 1e-2
    except (TypeError, ValueError):
        return None
    return direction.astype(np.float64) if ok else None


def volume_features(dataset: Dataset) -> VolumeFeatures:
    """The model inputs of a volume from the header of its first file.

    Raises
    ------
    UnclassifiableVolume
        When a required attribute is missing or unusable (dcm-classifier's INVALID).
    """
    required, missing = _required(dataset)
    if missing:
        raise UnclassifiableVolume(missing)
    features: dict[str, float] = {}
    for keyword in ("EchoTime", "RepetitionTime", "PixelBandwidth", "FlipAngle"):
        features[keyword] = float(np.float32(float(str(required[keyword]))))
    for keyword in _OPTIONAL_NUMBERS:
        value = _optional_number(dataset, keyword)
        features[keyword] = float(np.float32(float(str(value))))
    image_type = _text(dataset, "ImageType", "UnknownImageType")
    if "adc" in image_type:
        eadc = "eadc" in image_type
        features["ImageType_EADC"], features["ImageType_ADC"] = (1.0, 0.0) if eadc else (0.0, 1.0)
    else:
        features["ImageType_ADC"] = features["ImageType_EADC"] = 0.0
    features.update(
        _flags(
            image_type,
            ("ImageType_DERIVED", "ImageType_DIFFUSION", "ImageType_FA", "ImageType_ORIGINAL",
             "ImageType_TRACEW"),
        )
    )  # fmt: skip
    features.update(
        _flags(_text(dataset, "Manufacturer", "UnknownManufacturer"), ("Manufacturer_siemens",))
    )
    features.update(
        _flags(
            _text(dataset, "ScanningSequence", "UnknownScanningSequence"),
            ("ScanningSequence_GR", "ScanningSequence_IR", "ScanningSequence_SE"),
        )
    )
    features.update(
        _flags(
            _text(dataset, "SequenceVariant", "UnknownSequenceVariant"),
            ("SequenceVariant_MP", "SequenceVariant_SP"),
        )
    )
    b = b_value(dataset)
    has_gradient = gradient_direction(dataset) is not None
    features["Diffusionb-valueBool"] = 0.0 if b == UNKNOWN else 1.0
    features["has_b0"] = 1.0 if b == 0 else 0.0
    features["has_pos_b0"] = 1.0 if b > 0 else 0.0
    features["HasDiffusionGradientOrientation"] = 1.0 if has_gradient else 0.0
    diffusion_signs = (
        features["ImageType_DIFFUSION"],
        features["ImageType_ADC"],
        features["ImageType_EADC"],
        features["ImageType_TRACEW"],
        features["ImageType_FA"],
        features["HasDiffusionGradientOrientation"],
    )
    features["likely_diffusion"] = 1.0 if any(diffusion_signs) or int(b) > 0 else 0.0
    try:
        orientation = tuple(abs(float(v)) for v in required["ImageOrientationPatient"])
    except (TypeError, ValueError):
        raise UnclassifiableVolume(["ImageOrientationPatient"]) from None
    return VolumeFeatures(
        features=features,
        orientation=orientation,
        b_value=b,
        perfusion="perfusion" in image_type,
    )


def acquisition_plane(orientation: Sequence[float]) -> str:
    """``ax``, ``sag`` or ``cor`` from |ImageOrientationPatient| (dcm-classifier's decision tree).

    Examples
    --------
    >>> acquisition_plane([1, 0, 0, 0, 1, 0]), acquisition_plane([0, 1, 0, 0, 0, 1])
    ('ax', 'sag')
    >>> acquisition_plane([1, 0, 0, 0, 0, 1])
    'cor'
    """
    if len(orientation) < 6 or any(math.isnan(v) for v in orientation):
        raise ValueError(f"ImageOrientationPatient has {len(orientation)} values, not 6")
    if abs(orientation[5]) <= 0.5:
        return "ax"
    return "sag" if abs(orientation[0]) <= 0.707 else "cor"
