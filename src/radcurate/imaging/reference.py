"""Finding the image a SEG or RTSTRUCT points at: the referenced series and the slice."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from pydicom.dataset import Dataset

from radcurate.dicom.geometry import position_along, slice_normal
from radcurate.imaging.series import SeriesInput
from radcurate.imaging.slices import series_slices

__all__ = ["find_referenced_series", "referenced_series_uids", "slice_index_for"]


def _walk_series_uids(ds: Dataset, depth: int = 0) -> Iterator[str]:
    if depth > 6:
        return
    for element in ds:
        if element.VR != "SQ":
            continue
        for item in element.value:
            if "SeriesInstanceUID" in item and element.keyword in (
                "ReferencedSeriesSequence",
                "RTReferencedSeriesSequence",
                "ReferencedInstanceSequence",
            ):
                yield str(item.SeriesInstanceUID)
            yield from _walk_series_uids(item, depth + 1)


def referenced_series_uids(series: SeriesInput, ds: Dataset | None = None) -> list[str]:
    """Series UIDs the object references: the document's ``referenced_series`` first,
    then ReferencedSeriesSequence / RTReferencedSeriesSequence items of ``ds``."""
    found = [str(u) for u in series.document.get("referenced_series") or []]
    if ds is not None:
        found.extend(_walk_series_uids(ds))
    return [u for u in dict.fromkeys(found) if u != series.series_uid]


def find_referenced_series(series: SeriesInput, ds: Dataset | None = None) -> SeriesInput | None:
    """The first referenced series the catalog holds (with instances), or None."""
    for uid in referenced_series_uids(series, ds):
        document = series.catalog.series_document(uid)
        if document is None:
            continue
        instances = series.catalog.instances(uid)
        if instances:
            return SeriesInput(series.catalog, uid, document, instances)
    return None


def slice_index_for(
    reference: SeriesInput,
    sop_uids: Collection[str] = (),
    point: Sequence[float] | None = None,
    normal: Sequence[float] | None = None,
) -> int | None:
    """Index (geometric order) of the referenced slice: by SOP Instance UID, else by the
    slice whose position along the normal is nearest ``point`` (within half a spacing)."""
    slices = series_slices(reference)
    for k, (record, frame) in enumerate(slices):
        if frame == 0 and record.sop_uid in sop_uids:
            return k
    if point is None:
        return None
    axis = normal
    if axis is None:
        doc_normal = reference.document.get("slice_normal")
        if doc_normal and len(doc_normal) == 3:
            axis = [float(v) for v in doc_normal]
        else:
            first = next((r.orientation for r, _ in slices if r.orientation), None)
            axis = slice_normal(first) if first else None
    if axis is None:
        return None
    target = position_along(tuple(axis), point)  # type: ignore[arg-type]
    best: tuple[float, int] | None = None
    for k, (record, frame) in enumerate(slices):
        if frame != 0 or record.position is None:
            continue
        gap = abs(position_along(tuple(axis), record.position) - target)  # type: ignore[arg-type]
        if best is None or gap < best[0]:
            best = (gap, k)
    if best is None:
        return None
    spacing = reference.document.get("slice_spacing_median")
    tolerance = max(0.5 * float(spacing), 0.05) if isinstance(spacing, (int, float)) else 1.0
    return best[1] if best[0] <= tolerance else None
