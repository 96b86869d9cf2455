"""NIfTI label maps as DICOM-SEG over the imported image slices, and their label tables.

A label table maps a label value to a name. It comes from an nnU-Net ``dataset.json``
(``"labels": {"background": 0, "liver": 1, ...}``, a region list ``[1, 2]`` taking
its first value) or a ``seg_info.json``-style table (``{"1": "liver"}``,
``{"liver": 1}``, or a list of ``{"value"|"label": 1, "name": "liver"}``). Values
without a name are called ``label <value>``.

Each value present in a label map (other than 0, the background) becomes one segment;
segments are numbered 1, 2, ... in the order of their values (DICOM requires numbers
from 1 without gaps), and the ``TrackingID`` of each keeps the original value
(``label=<value>``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from radcurate.ingest.nifti_dicom import NiftiError, derive_uid
from radcurate.optional import import_optional

__all__ = ["SEG_CONTENT_DATE", "label_table", "read_label_table", "seg_dataset"]

#: a fixed ContentDate/Time so the same label map always gives the same bytes
SEG_CONTENT_DATE = ("19700101", "000000")


def label_table(document: Any) -> dict[int, str]:
    """Label value -> name from a parsed dataset.json or seg_info.json-style document.

    Raises
    ------
    NiftiError
        A document in none of the accepted forms.

    Examples
    --------
    >>> label_table({"labels": {"background": 0, "liver": 1}})
    {1: 'liver'}
    >>> label_table({"2": "spleen"})
    {2: 'spleen'}
    """
    if isinstance(document, Mapping) and "labels" in document:
        document = document["labels"]
    if isinstance(document, Mapping) and "segments" in document:
        document = document["segments"]
    table: dict[int, str] = {}
    try:
        if isinstance(document, Mapping):
            for key, value in document.items():
                if isinstance(value, list):  # nnU-Net region: its first label
                    value = value[0]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    table[int(value)] = str(key)
                else:
                    table[int(str(key))] = str(value)
        elif isinstance(document, list):
            for item in document:
                number = item.get("value", item.get("label", item.get("labelID")))
                table[int(number)] = str(item.get("name", item.get("segment_label", number)))
        else:
            raise TypeError(type(document).__name__)
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise NiftiError(f"label table not understood ({exc})") from exc
    table.pop(0, None)
    return dict(sorted(table.items()))


def read_label_table(path: Path) -> dict[int, str]:
    """:func:`label_table` of a JSON file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NiftiError(f"label table {path.name} cannot be read ({type(exc).__name__})") from exc
    return label_table(document)


def seg_dataset(
    source_images: Sequence[Dataset],
    labels: npt.NDArray[Any],
    names: Mapping[int, str],
    *,
    series_uid: str,
    uid_root: str | None,
    series_number: int,
    description: str,
) -> tuple[Dataset, dict[str, int]]:
    """A binary DICOM-SEG of a label map ``labels[i, j, k]`` over ``source_images`` (slice k).

    Returns the dataset and the voxel count of each segment by name.

    Raises
    ------
    NiftiError
        The label map has no labelled voxel.
    """
    hd = import_optional("highdicom", "importing NIfTI label maps as DICOM-SEG")
    codes = import_optional("pydicom.sr.codedict", "importing NIfTI label maps").codes
    values = [int(v) for v in np.unique(labels) if v != 0]
    if not values:
        raise NiftiError("label map has no labelled voxel")
    remap = np.zeros(int(labels.max()) + 1, dtype=np.uint16)
    descriptions = []
    counts: dict[str, int] = {}
    for number, value in enumerate(values, start=1):
        remap[value] = number
        name = names.get(value, f"label {value}")
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name[:64],
                segmented_property_category=codes.SCT.AnatomicalStructure,
                segmented_property_type=codes.SCT.AnatomicalStructure,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
                tracking_id=f"label={value}",
                tracking_uid=derive_uid(uid_root, series_uid, "segment", str(value)),
            )
        )
        counts[name] = int(np.count_nonzero(labels == value))
    frames = np.ascontiguousarray(np.transpose(remap[labels], (2, 1, 0)))
    if frames.max() < 256:
        frames = frames.astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=list(source_images),
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=derive_uid(uid_root, series_uid, "instance"),
        instance_number=1,
        manufacturer="radcurate",
        manufacturer_model_name="radcurate import-nifti",
        software_versions="1",
        device_serial_number="0",
        series_description=description[:64],
    )
    day, clock = SEG_CONTENT_DATE
    for keyword, text in (
        ("ContentDate", day),
        ("ContentTime", clock),
        ("InstanceCreationDate", day),
        ("InstanceCreationTime", clock),
        ("SeriesDate", day),
        ("SeriesTime", clock),
    ):
        if keyword in seg:
            setattr(seg, keyword, text)
    _fix_generated(seg, derive_uid(uid_root, series_uid, "dimension-organization"), day + clock)
    return seg, counts


def _fix_generated(seg: Dataset, dimension_uid: str, when: str) -> None:
    """Replace what highdicom draws or stamps (the dimension organization UID, the
    contribution time) by values derived from the input, so the bytes are reproducible."""
    for item in seg.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = dimension_uid
    for item in seg.get("DimensionIndexSequence", []):
        if "DimensionOrganizationUID" in item:
            item.DimensionOrganizationUID = dimension_uid
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = when
