"""What a segmentation references and whether the catalog holds it: the source series, the
images named, the Frame of Reference."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydicom.dataset import Dataset

from radcurate.imaging.series import SeriesInput

__all__ = ["frame_of_reference_mismatch", "missing_instances", "object_frames_of_reference",
           "referenced_instances"]  # fmt: skip


def object_frames_of_reference(ds: Dataset) -> list[str]:
    """The Frame of Reference UIDs a SEG (FrameOfReferenceUID) or an RTSTRUCT (each ROI's
    ReferencedFrameOfReferenceUID, else ReferencedFrameOfReferenceSequence) is drawn in."""
    if str(ds.get("Modality", "")) != "RTSTRUCT":
        value = ds.get("FrameOfReferenceUID")
        return [str(value)] if value else []
    found = [
        str(item.ReferencedFrameOfReferenceUID)
        for item in ds.get("StructureSetROISequence") or []
        if item.get("ReferencedFrameOfReferenceUID")
    ]
    if not found:
        found = [
            str(item.FrameOfReferenceUID)
            for item in ds.get("ReferencedFrameOfReferenceSequence") or []
            if item.get("FrameOfReferenceUID")
        ]
    return list(dict.fromkeys(found))


def referenced_instances(ds: Dataset) -> set[str]:
    """SOP Instance UIDs of the images the object names (ReferencedInstanceSequence,
    ContourImageSequence, per-frame SourceImageSequence), not the study references."""
    found: set[str] = set()
    wanted = ("ReferencedInstanceSequence", "ContourImageSequence", "SourceImageSequence")

    def walk(node: Dataset, depth: int) -> None:
        if depth > 8:
            return
        for element in node:
            if element.VR != "SQ":
                continue
            for item in element.value:
                if element.keyword in wanted and "ReferencedSOPInstanceUID" in item:
                    found.add(str(item.ReferencedSOPInstanceUID))
                walk(item, depth + 1)

    walk(ds, 0)
    return found


def missing_instances(series: SeriesInput, ds: Dataset, referenced_series: Iterable[str]
                      ) -> int:  # fmt: skip
    """How many referenced images the catalog does not hold (in any referenced series)."""
    wanted = referenced_instances(ds)
    if not wanted:
        return 0
    held: set[str] = set()
    for uid in referenced_series:
        held.update(r.sop_uid for r in series.catalog.instances(uid))
    return len(wanted - held)


def frame_of_reference_mismatch(declared: Iterable[str], source: Mapping[str, Any]) -> bool:
    """Whether an object's Frame of Reference UIDs differ from its source's (a UID missing
    on either side counts as a difference: nothing ties the two together)."""
    theirs = str(source.get("FrameOfReferenceUID") or "")
    ours = {str(v) for v in declared} or {""}
    return not theirs or ours != {theirs}
