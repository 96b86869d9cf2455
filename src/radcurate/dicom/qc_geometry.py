"""Geometry of a series from its headers alone: orientation, slice stacking, gaps, localizers.

The checks follow the "regularly spaced 3-D volume" idea used by NCI's Imaging Data
Commons and highdicom: one orientation, slices stacked along the slice normal at one
spacing, no two at the same position; with the tolerances

- slices: 1 % of the nominal spacing (:data:`SLICE_RELATIVE_TOLERANCE`),
- in-plane: 0.1 mm (:data:`INPLANE_TOLERANCE_MM`),
- orientation: 0.01 in each direction cosine (:data:`ORIENTATION_TOLERANCE`).

Everything here is a pure function of plane records (one per slice or frame), built from
the catalog's instance rows (:func:`planes_of_instances`) or, for a multi-frame instance,
from the per-frame groups of its header document (:func:`planes_of_frames`). Nothing reads
pixel data.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radcurate.dicom.geometry import slice_normal
from radcurate.dicom.instance import InstanceRecord

#: slices closer than this fraction of the nominal spacing share a position; a gap off a
#: whole multiple of the spacing by more than this fraction is irregular
SLICE_RELATIVE_TOLERANCE = 0.01
#: largest in-plane distance between the slice origins of a straight stack (mm)
INPLANE_TOLERANCE_MM = 0.1
#: largest difference of a direction cosine for two orientations to be the same
ORIENTATION_TOLERANCE = 0.01
#: pixel spacings equal within this fraction
PIXEL_SPACING_RELATIVE_TOLERANCE = 0.001
#: positions closer than this share a position whatever the spacing (DS rounding)
SAME_POSITION_MM = 0.001
#: a minority orientation counts as localizer images when it has at most this many
#: images, or at most :data:`LOCALIZER_FRACTION` of the series
LOCALIZER_MAX_IMAGES = 3
LOCALIZER_FRACTION = 0.1
#: lists in the payload (missing positions, indexes) are cut at this length
MAX_LISTED = 100
#: attributes that may tell repeated positions apart (echoes, phases, b-values)
DIMENSION_ATTRIBUTES = (
    "AcquisitionNumber",
    "TemporalPositionIdentifier",
    "EchoNumbers",
    "EchoTime",
    "InversionTime",
    "DiffusionBValue",
    "FlipAngle",
    "RepetitionTime",
    "ImageType",
)

_AXES = ("sagittal", "coronal", "axial")


@dataclass(frozen=True, slots=True)
class Plane:
    """One image plane (a single-frame instance or one frame of a multi-frame one)."""

    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None = None
    size: tuple[int, int] | None = None
    localizer_type: bool = False
    attrs: Mapping[str, Any] = field(default_factory=dict)


def _pair(value: Any) -> tuple[float, float] | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) for v in value)
    ):
        return (float(value[0]), float(value[1]))
    return None


def _is_localizer(image_type: Any) -> bool:
    values = image_type if isinstance(image_type, list) else [image_type]
    return any(isinstance(v, str) and v.upper() == "LOCALIZER" for v in values)


def unique_instances(records: Iterable[InstanceRecord]) -> list[InstanceRecord]:
    """One record per SOP Instance UID (the one with the smallest location)."""
    by_sop: dict[str, InstanceRecord] = {}
    for record in sorted(records, key=lambda r: r.location):
        by_sop.setdefault(record.sop_uid, record)
    return list(by_sop.values())


def planes_of_instances(records: Iterable[InstanceRecord]) -> list[Plane]:
    """A plane per distinct instance."""
    return [
        Plane(
            position=r.position,
            orientation=r.orientation,
            pixel_spacing=_pair(r.attrs.get("PixelSpacing")),
            size=(r.rows, r.columns) if r.rows and r.columns else None,
            localizer_type=_is_localizer(r.attrs.get("ImageType")),
            attrs=r.attrs,
        )
        for r in unique_instances(records)
    ]


def _first(items: Any, keyword: str) -> Any:
    """``items[0][keyword]`` of a functional-group sequence in a document, or None."""
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0].get(keyword)
    return None


def planes_of_frames(document: Mapping[str, Any]) -> list[Plane]:
    """A plane per frame of a multi-frame header document (empty without per-frame positions)."""
    frames = document.get("PerFrameFunctionalGroupsSequence")
    if not isinstance(frames, list):
        return []
    shared = _first(document.get("SharedFunctionalGroupsSequence"), "PlaneOrientationSequence")
    shared_orientation = _first(shared, "ImageOrientationPatient")
    shared_measures = _first(
        document.get("SharedFunctionalGroupsSequence"), "PixelMeasuresSequence"
    )
    rows, columns = document.get("Rows"), document.get("Columns")
    size = (rows, columns) if isinstance(rows, int) and isinstance(columns, int) else None
    planes: list[Plane] = []
    for frame in frames:
        if not isinstance(frame, dict):
            continue
        position = _first(frame.get("PlanePositionSequence"), "ImagePositionPatient")
        orientation = (
            _first(frame.get("PlaneOrientationSequence"), "ImageOrientationPatient")
            or shared_orientation
        )
        spacing = _first(frame.get("PixelMeasuresSequence") or shared_measures, "PixelSpacing")
        if not (isinstance(position, list) and len(position) == 3):
            continue
        if not (isinstance(orientation, list) and len(orientation) == 6):
            continue
        planes.append(
            Plane(
                position=(float(position[0]), float(position[1]), float(position[2])),
                orientation=tuple(float(v) for v in orientation),
                pixel_spacing=_pair(spacing),
                size=size,
            )
        )
    return planes


def _angle_to_axis(vector: Sequence[float]) -> float:
    """Degrees between a direction and the nearest patient axis."""
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return math.degrees(math.acos(min(1.0, max(abs(v) for v in vector) / norm)))


def _same_orientation(a: Sequence[float], b: Sequence[float]) -> bool:
    if a == b:  # nearly always: one value written on every slice
        return True
    return all(abs(x - y) <= ORIENTATION_TOLERANCE for x, y in zip(a, b, strict=True))


def _orientation_groups(planes: list[Plane]) -> list[list[Plane]]:
    groups: list[tuple[tuple[float, ...], list[Plane]]] = []
    for plane in planes:
        assert plane.orientation is not None
        for reference, members in groups:
            if _same_orientation(reference, plane.orientation):
                members.append(plane)
                break
        else:
            groups.append((plane.orientation, [plane]))
    return sorted((m for _, m in groups), key=len, reverse=True)


def _consistency(planes: list[Plane], out: dict[str, Any]) -> None:
    sizes = {p.size for p in planes if p.size is not None}
    if sizes:
        out["image_size_consistent"] = len(sizes) == 1
    spacings = [p.pixel_spacing for p in planes if p.pixel_spacing is not None]
    if spacings:
        first = spacings[0]
        out["pixel_spacing_consistent"] = all(
            abs(s[i] - first[i]) <= PIXEL_SPACING_RELATIVE_TOLERANCE * max(abs(first[i]), 1e-9)
            for s in spacings
            for i in (0, 1)
        )
    tilts = [
        float(t)
        for p in planes
        if isinstance(t := p.attrs.get("GantryDetectorTilt"), (int, float))
        and not isinstance(t, bool)
    ]
    if tilts:
        largest: float = max(tilts, key=abs)
        out["gantry_tilt_degrees"] = round(largest, 3)


def geometry_qc(planes: list[Plane]) -> dict[str, Any]:
    """The ``qc.geometry`` payload of a series' planes (see docs/qc-header.md).

    Examples
    --------
    >>> axial = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    >>> planes = [Plane((0.0, 0.0, z), axial) for z in (0.0, 2.5, 5.0, 10.0)]
    >>> qc = geometry_qc(planes)
    >>> qc["missing_slices"], qc["missing_slice_positions"], qc["regular_volume"]
    (1, [7.5], False)
    """
    out: dict[str, Any] = {}
    _consistency(planes, out)
    valid: dict[tuple[float, ...], bool] = {}  # one normal per distinct orientation
    placed = [
        p
        for p in planes
        if p.position is not None
        and p.orientation is not None
        and valid.setdefault(p.orientation, slice_normal(p.orientation) is not None)
    ]
    out["positioned_images"] = len(placed)
    if not placed:
        return out
    groups = _orientation_groups(placed)
    out["orientation_count"] = len(groups)
    majority = groups[0]
    minority = [p for g in groups[1:] for p in g]
    few = len(minority) <= max(LOCALIZER_MAX_IMAGES, LOCALIZER_FRACTION * len(placed))
    outliers = minority if minority and len(majority) > len(minority) and few else []
    localizers = {id(p) for p in placed if p.localizer_type} | {id(p) for p in outliers}
    out["localizer_instances"] = len(localizers)
    out["localizer"] = bool(localizers)
    # the stack: every image but the localizers, measured along the majority's normal (a few
    # slices in another orientation still fill their positions: mixed, not missing)
    stack = [p for p in placed if id(p) not in localizers] or majority
    orientation = ([p for p in majority if id(p) not in localizers] or majority)[0].orientation
    assert orientation is not None
    normal = slice_normal(orientation)
    assert normal is not None
    oblique = max(_angle_to_axis(orientation[:3]), _angle_to_axis(orientation[3:]))
    out["oblique_degrees"] = round(oblique, 3)
    out["orthogonal"] = all(
        min(abs(c), abs(1.0 - abs(c))) <= ORIENTATION_TOLERANCE for c in orientation
    )
    out["plane"] = _AXES[max(range(3), key=lambda i: abs(normal[i]))]
    _stack(stack, orientation, out)
    out["regular_volume"] = (
        len(placed) >= 2
        and out["orientation_count"] == 1
        and not out["localizer"]
        and out.get("slices", 0) >= 2
        and out.get("duplicate_positions", 0) == 0
        and out.get("missing_slices", 0) == 0
        and out.get("spacing_uniform", False)
        and out.get("inplane_offset_mm", 0.0) <= INPLANE_TOLERANCE_MM
        and out.get("pixel_spacing_consistent", True)
        and out.get("image_size_consistent", True)
    )
    if len(placed) < 2:
        del out["regular_volume"]  # one image: not a volume, nor a broken one
    return out


def _stack(stack: list[Plane], orientation: Sequence[float], out: dict[str, Any]) -> None:
    """Positions along the normal: duplicates, spacing, gaps, in-plane offsets, acquisitions."""
    normal = slice_normal(orientation)
    assert normal is not None
    along = []
    shifts: dict[Any, float] = {}  # centre minus origin along the normal, per kind of image
    nx, ny, nz = normal
    for plane in stack:
        assert plane.position is not None
        key = (plane.orientation, plane.size, plane.pixel_spacing)
        shift = shifts.get(key)
        if shift is None:
            shift = shifts[key] = _center_shift(plane, normal)
        x, y, z = plane.position
        along.append((nx * x + ny * y + nz * z + shift, plane))
    along.sort(key=lambda item: item[0])
    distances = [d for d, _ in along]
    gaps = [b - a for a, b in itertools.pairwise(distances)]
    real = [g for g in gaps if g > 0.05]
    nominal = statistics.median(real) if real else 0.0
    same = max(SLICE_RELATIVE_TOLERANCE * nominal, SAME_POSITION_MM)
    # group positions that coincide; each group is one slice position
    groups: list[list[tuple[float, Plane]]] = []
    for item in along:
        if groups and item[0] - groups[-1][0][0] <= same:
            groups[-1].append(item)
        else:
            groups.append([item])
    out["slices"] = len(groups)
    out["duplicate_positions"] = len(along) - len(groups)
    varying = _duplicates_vary_in(groups)
    if varying:
        out["duplicates_vary_in"] = varying
    _inplane(along, orientation, normal, out)
    _acquisitions(groups, same, out)
    if len(groups) < 2:
        return
    positions = [g[0][0] for g in groups]
    steps = [b - a for a, b in itertools.pairwise(positions)]
    spacing = _nominal_spacing(steps)
    out["slice_spacing_mm"] = round(spacing, 4)
    tolerance = SLICE_RELATIVE_TOLERANCE * spacing
    missing_positions: list[float] = []
    missing_indexes: list[int] = []
    missing = irregular = 0
    index = 0
    for start, step in zip(positions, steps, strict=False):
        multiple = round(step / spacing)
        if multiple >= 1 and abs(step - multiple * spacing) <= tolerance:
            missing += multiple - 1
            for k in range(1, min(multiple, MAX_LISTED - len(missing_positions) + 1)):
                missing_positions.append(round(start + k * spacing, 2))
                missing_indexes.append(index + k)
            index += multiple
        else:
            irregular += 1
            index += max(multiple, 1)
    out["missing_slices"] = missing
    out["missing_slice_positions"] = missing_positions
    out["missing_slice_indexes"] = missing_indexes
    out["irregular_gaps"] = irregular
    out["spacing_uniform"] = irregular == 0


def _center_shift(plane: Plane, normal: Sequence[float]) -> float:
    """How far the image centre lies from its origin along ``normal`` (0 without size or
    pixel spacing).

    Positions are taken at centres, not origins, so an image turned about its centre keeps
    its place along the stack; for parallel images both give the same spacing.
    """
    if plane.size is None or plane.pixel_spacing is None or plane.orientation is None:
        return 0.0
    rows, columns = plane.size
    # PixelSpacing is (between rows, between columns); the row direction runs along a row
    along_row = (columns - 1) / 2 * plane.pixel_spacing[1]
    along_column = (rows - 1) / 2 * plane.pixel_spacing[0]
    o = plane.orientation
    return sum(n * (along_row * o[i] + along_column * o[3 + i]) for i, n in enumerate(normal))


def _nominal_spacing(steps: list[float]) -> float:
    """The smallest step when every step is a whole multiple of it (slices missing), else the
    median step (a few uneven steps among regular ones)."""
    smallest = min(steps)
    tolerance = SLICE_RELATIVE_TOLERANCE * smallest
    if all(abs(s - round(s / smallest) * smallest) <= tolerance for s in steps):
        return smallest
    return statistics.median(steps)


def _duplicates_vary_in(groups: list[list[tuple[float, Plane]]]) -> list[str]:
    """Attributes that differ between images sharing a position (echoes, phases, ...)."""
    found: set[str] = set()
    for group in groups:
        if len(group) < 2:
            continue
        for keyword in DIMENSION_ATTRIBUTES:
            values = {repr(p.attrs.get(keyword)) for _, p in group}
            if len(values) > 1:
                found.add(keyword)
    return sorted(found)


def _inplane(
    along: list[tuple[float, Plane]],
    reference: Sequence[float],
    normal: tuple[float, float, float],
    out: dict[str, Any],
) -> None:
    """Largest in-plane distance of a slice origin from the first one's, and the stack's tilt.

    Only images of the stack's orientation count (the origin of a rotated image is
    elsewhere by design; the orientation count reports those).
    """
    parallel = [
        (d, p.position)
        for d, p in along
        if p.position is not None
        and p.orientation is not None
        and _same_orientation(reference, p.orientation)
    ]
    if not parallel:
        return
    first_d, origin = parallel[0]
    largest = 0.0
    for d, position in parallel[1:]:
        offset = [
            c - f - (d - first_d) * n for c, f, n in zip(position, origin, normal, strict=True)
        ]
        largest = max(largest, math.sqrt(sum(o * o for o in offset)))
    out["inplane_offset_mm"] = round(largest, 3)
    last_d, last = parallel[-1]
    extent = last_d - first_d
    if extent > 0:
        shift = [c - f - extent * n for c, f, n in zip(last, origin, normal, strict=True)]
        out["stack_tilt_degrees"] = round(
            math.degrees(math.atan2(math.sqrt(sum(v * v for v in shift)), extent)), 3
        )


def _acquisitions(
    groups: list[list[tuple[float, Plane]]], same: float, out: dict[str, Any]
) -> None:
    """Several AcquisitionNumbers whose slice ranges overlap: acquisitions or beds mixed."""
    ranges: dict[Any, list[float]] = {}
    for group in groups:
        for d, plane in group:
            number = plane.attrs.get("AcquisitionNumber")
            if number is None:
                continue
            span = ranges.setdefault(repr(number), [d, d])
            span[0] = min(span[0], d)
            span[1] = max(span[1], d)
    out["acquisitions"] = len(ranges)
    mixed = False
    reach = -math.inf
    for start, end in sorted(ranges.values()):
        mixed = mixed or start <= reach + same
        reach = max(reach, end)
    out["mixed_acquisitions"] = mixed
