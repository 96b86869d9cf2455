"""CT body part, slice by slice: which region every axial cross-section shows.

``slice_regions(array, affine)`` labels each plane perpendicular to the craniocaudal axis
with one of head, neck, chest, abdomen, pelvis, legs (arms where only arms are seen,
``none`` where no body is) from image features alone; the ``annotate-bodypart`` workflow
(:class:`CTBodyPart`) writes what it finds onto the series.

How (details in :mod:`radcurate.analyze.bodypart_features` and
:mod:`radcurate.analyze.bodypart_regions`):

1. Geometry, not file order: the voxel axis closest to the patient's craniocaudal axis
   (z in patient space, superior positive) is found from the affine; the planes across it
   are the axial cross-sections (the slices themselves for an axial series, reformatted
   rows for a coronal or sagittal one). Each plane's z is that of its centre.
2. Each plane is reduced to pixels of about 3 mm (block means) and summarised: body
   outlines at ``HU > body_hu`` (-500, default), separate limb outlines, air inside the
   trunk (lungs), bone at ``HU >= bone_hu`` (200): its share, the skull ring, its lateral
   spread (pelvis).
3. Each plane scores each region (0-4); the scores are averaged over ``smoothing_mm``
   (10 mm) along the craniocaudal axis, and the labels are the highest-scoring path from
   head to feet in which regions only follow each other as head -> neck -> chest ->
   abdomen -> pelvis -> legs, every boundary costing half a point per mm of
   ``smoothing_mm`` (a dynamic programme, like a left-to-right hidden Markov model). A
   neck needs a head or a chest beside it (else the path is taken again without necks).
   The abdomen-pelvis boundary is then moved up to the top of the iliac crests
   (contiguous lateral bone above the pelvis).
4. ``ai.bodypart`` lists the regions that cover at least ``min_region_mm`` (60 mm) or
   ``min_region_fraction`` (25 %) of the scanned length, so a chest CT reaching into the
   upper abdomen stays ``["chest"]``; ``ai.bodypart_range`` keeps every region seen.

Conventions: the chest starts (from above) where the lungs fill about 6 % of the trunk
cross-section and ends (going down) where they fill less than about 14 %, so the lung bases
beside the liver dome count as abdomen; the pelvis starts at the iliac crests; legs start
where the thighs are separate outlines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from radcurate.analyze.bodypart_features import (
    PlaneFeatures,
    Thresholds,
    plane_features,
    reduce_factor,
    reduce_plane,
)
from radcurate.analyze.bodypart_regions import ORDERED, ordered_path, scores_of, smoothed
from radcurate.analyze.header_bodypart import REGIONS, regions_of_body_part
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.volume import Volume, series_volume_stream, volume_geometry
from radcurate.workflow.step import SeriesItem, Workflow

__all__ = [
    "BodyPartError",
    "CTBodyPart",
    "CTBodyPartParams",
    "SliceRegions",
    "body_part_results",
    "reduced_series_volume",
    "slice_regions",
]

F64 = npt.NDArray[np.float64]
_HEAD, _NECK, _CHEST, _ABDOMEN, _PELVIS = (ORDERED.index(r) for r in ORDERED[:5])
#: lateral bone (% of the trunk) that continues the pelvis upwards (iliac crests)
_CREST_PCT = 0.3
#: cost of a region boundary, in score x mm per mm of smoothing
_PENALTY = 0.5


class BodyPartError(ValueError):
    """A series the body-part annotator cannot label (the message says why)."""


@dataclass(frozen=True)
class SliceRegions:
    """The region of every axial plane of a volume.

    Attributes
    ----------
    labels
        One of head, neck, chest, abdomen, pelvis, legs, arms or ``none`` per plane, in
        array order along ``axis``.
    z_mm
        The craniocaudal coordinate (patient z, superior positive) of each plane's centre.
    axis
        The array axis the planes are taken along: 0 when the series is axial (the planes
        are its slices), 1 or 2 for a coronal or sagittal series.
    step_mm
        Craniocaudal distance between neighbouring planes.
    """

    labels: tuple[str, ...]
    z_mm: tuple[float, ...]
    axis: int
    step_mm: float

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Region -> (inferior z, superior z) of its first and last plane, head to feet."""
        found: dict[str, tuple[float, float]] = {}
        for label, z in zip(self.labels, self.z_mm, strict=True):
            if label == "none":
                continue
            low, high = found.get(label, (z, z))
            found[label] = (min(low, z), max(high, z))
        return {r: found[r] for r in REGIONS if r in found}

    def extents(self) -> dict[str, float]:
        """Region -> the length it covers (planes x step), in mm."""
        counts: dict[str, int] = {}
        for label in self.labels:
            if label != "none":
                counts[label] = counts.get(label, 0) + 1
        return {r: counts[r] * self.step_mm for r in REGIONS if r in counts}

    def covered(self, min_mm: float = 60.0, min_fraction: float = 0.25) -> list[str]:
        """The regions the volume covers, head to feet: each at least ``min_mm`` long or
        ``min_fraction`` of the length where a body is seen (at least the longest one)."""
        extents = self.extents()
        if not extents:
            return []
        total = sum(extents.values())
        kept = [r for r, mm in extents.items() if mm >= min_mm or mm >= min_fraction * total]
        return kept or [max(extents, key=lambda r: extents[r])]


def _cc_axis(affine: F64) -> int:
    """The affine column (0 column, 1 row, 2 slice) closest to the craniocaudal axis."""
    directions = affine[:3, :3]
    norms = np.linalg.norm(directions, axis=0)
    if np.any(norms <= 0) or abs(np.linalg.det(directions)) < 1e-9:
        raise BodyPartError("no usable geometry: the affine is degenerate")
    return int(np.argmax(np.abs(directions[2]) / norms))


def slice_regions(
    array: npt.NDArray[Any],
    affine: F64,
    *,
    thresholds: Thresholds | None = None,
    smoothing_mm: float = 10.0,
) -> SliceRegions:
    """The region of every axial plane of a CT volume (values in HU).

    Parameters
    ----------
    array
        ``(slices, rows, columns)``, HU after rescale (as :class:`~radcurate.imaging.volume.
        Volume`).
    affine
        4x4, voxel index ``(column, row, slice, 1)`` -> patient mm (RAS or LPS: only the
        z row, superior positive in both, and the in-plane x direction are read).
    thresholds
        HU thresholds of the features (default :class:`Thresholds`).
    smoothing_mm
        Length over which the region scores are averaged; a region boundary costs as much
        as half that length of full evidence.

    Raises
    ------
    BodyPartError
        Not a 3-D volume, or a degenerate affine.
    """
    if array.ndim != 3 or min(array.shape) < 1:
        raise BodyPartError(f"a 3-D volume is needed, not an array of shape {array.shape}")
    affine = np.asarray(affine, dtype=np.float64)
    column = _cc_axis(affine)
    axis = 2 - column  # array axes are (slice, row, column) = affine columns (2, 1, 0)
    planes = np.moveaxis(array, axis, 0)
    plane_columns = [2 - a for a in range(3) if a != axis]  # (plane row, plane column)
    norms = np.linalg.norm(affine[:3, :3], axis=0)
    spacing = (float(norms[plane_columns[0]]), float(norms[plane_columns[1]]))
    left_right = _unit(
        affine[0, plane_columns[0]] / norms[plane_columns[0]],
        affine[0, plane_columns[1]] / norms[plane_columns[1]],
    )
    factor = reduce_factor(spacing)
    reduced_spacing = (spacing[0] * factor, spacing[1] * factor)
    features = [
        plane_features(
            reduce_plane(planes[k], factor), reduced_spacing, left_right, thresholds or Thresholds()
        )
        for k in range(planes.shape[0])
    ]
    centre = (np.array(array.shape[::-1], dtype=np.float64) - 1) / 2  # (column, row, slice)
    index = np.tile(centre, (planes.shape[0], 1))
    index[:, column] = np.arange(planes.shape[0])
    z = affine[2, :3] @ index.T + affine[2, 3]
    step = max(abs(float(affine[2, column])), 1e-3)
    labels = _label(features, np.asarray(z, dtype=np.float64), step, smoothing_mm)
    return SliceRegions(tuple(labels), tuple(float(v) for v in z), axis, step)


def _unit(a: float, b: float) -> tuple[float, float]:
    norm = float(np.hypot(a, b))
    return (a / norm, b / norm) if norm > 1e-6 else (0.0, 1.0)


def _label(features: list[PlaneFeatures], z: F64, step: float, smoothing_mm: float) -> list[str]:
    """Labels of the planes (array order) from their features."""
    count = len(features)
    labels = ["none"] * count
    head_first = np.argsort(-z, kind="stable")
    trunk = [k for k in head_first if features[k].area_cm2 > 0 and not features[k].limb_pair]
    if trunk:
        scores = scores_of([features[k] for k in trunk], z[trunk])
        scores = smoothed(scores, round(smoothing_mm / step))
        weights = np.full(len(trunk), step)
        path = ordered_path(scores, weights, _PENALTY * smoothing_mm)
        if _NECK in path and not ({_HEAD, _CHEST} & set(path.tolist())):
            # a neck lies between head and chest: without either, a small section is a
            # child's abdomen rather than a neck
            scores[:, _NECK] = -1.0
            path = ordered_path(scores, weights, _PENALTY * smoothing_mm)
        path = _crest(path, [features[k] for k in trunk])
        for k, region in zip(trunk, path, strict=True):
            labels[k] = ORDERED[region]
    top = z[trunk[0]] if trunk else None
    bottom = z[trunk[-1]] if trunk else None
    for k in range(count):
        if not features[k].limb_pair:
            continue
        if top is not None and bottom is not None and z[k] > top:
            labels[k] = "arms"
        elif bottom is None or z[k] < bottom:
            labels[k] = "legs"
        else:  # a limb pair between trunk planes: take the nearest trunk plane's label
            nearest = min(trunk, key=lambda t: abs(z[t] - z[k]))
            labels[k] = labels[nearest]
    return labels


def _crest(path: npt.NDArray[np.intp], features: list[PlaneFeatures]) -> npt.NDArray[np.intp]:
    """Move the abdomen -> pelvis boundary up over contiguous lateral bone (iliac crests)."""
    starts = np.nonzero(path == _PELVIS)[0]
    if starts.size == 0:
        return path
    k = int(starts[0]) - 1
    out = path.copy()
    while k >= 0 and out[k] == _ABDOMEN and features[k].lateral_bone_pct >= _CREST_PCT:
        out[k] = _PELVIS
        k -= 1
    return out


class CTBodyPartParams(BaseModel):
    """Parameters of the CT body-part annotator."""

    model_config = ConfigDict(extra="forbid")

    smoothing_mm: float = Field(
        10.0,
        gt=0,
        le=200,
        description="Length (mm) along the craniocaudal axis over which the per-slice "
        "evidence is averaged; larger values suppress shorter regions",
    )
    body_hu: float = Field(
        -500.0, ge=-1000, le=0, description="HU above which a voxel is body, not air"
    )
    bone_hu: float = Field(200.0, ge=100, le=1000, description="HU from which a voxel is bone")
    min_region_mm: float = Field(
        60.0,
        ge=0,
        description="A region is listed in ai.bodypart when it covers at least this many mm "
        "(or min_region_fraction of the scan)",
    )
    min_region_fraction: float = Field(
        0.25,
        ge=0,
        le=1,
        description="A region is listed in ai.bodypart when it covers at least this fraction "
        "of the scanned length (or min_region_mm)",
    )


def reduced_series_volume(item: SeriesItem) -> Volume:
    """The series as HU with pixels reduced to about 3 mm, decoded one slice at a time.

    Raises
    ------
    BodyPartError
        No usable geometry, or pixels that cannot be decoded.
    """
    try:
        stream = series_volume_stream(item.catalog, item.series_uid)
    except UndecodableError as exc:
        raise BodyPartError(f"undecodable: {exc}") from exc
    except ValueError as exc:
        raise BodyPartError(f"no usable geometry: {exc}") from exc
    slices, rows, columns = stream.shape
    norms = np.linalg.norm(stream.affine[:3, :2], axis=0)
    factor = reduce_factor((float(norms[1]), float(norms[0])))
    shape = (slices, max(1, rows // factor), max(1, columns // factor))
    if factor > 1 and (rows < factor or columns < factor):
        factor, shape = 1, (slices, rows, columns)
    array = np.empty(shape, dtype=np.float32)
    try:
        count = 0
        for k, plane in enumerate(stream.slices()):
            array[k] = reduce_plane(plane, factor)
            count += 1
    except UndecodableError as exc:
        raise BodyPartError(f"undecodable: {exc}") from exc
    except ValueError as exc:
        raise BodyPartError(f"no usable geometry: {exc}") from exc
    if count != slices:
        raise BodyPartError(f"no usable geometry: {count} slices decoded, {slices} planned")
    affine = stream.affine.copy()
    affine[:3, :2] *= factor
    affine[:3, 3] += (stream.affine[:3, 0] + stream.affine[:3, 1]) * (factor - 1) / 2
    return Volume(array, affine, stream.sop_uids)


def body_part_results(
    regions: SliceRegions, body_part_examined: object, params: CTBodyPartParams
) -> dict[str, Any]:
    """The ``ai`` results of a labelled volume (see docs/annotation.md)."""
    covered = regions.covered(params.min_region_mm, params.min_region_fraction)
    header = regions_of_body_part(body_part_examined) if isinstance(body_part_examined, str) else ()
    mismatch = None if not header else not (set(header) & set(covered))
    return {
        "bodypart": covered,
        "bodypart_range": {
            r: [round(low, 1), round(high, 1)] for r, (low, high) in regions.ranges().items()
        },
        "bodypart_mismatch": mismatch,
        "bodypart_slices": slice_runs(regions.labels) if regions.axis == 0 else None,
    }


def slice_runs(labels: Sequence[str]) -> str:
    """Per-slice labels as runs, ``"abdomen*80 pelvis*32"`` (slice order): one short string
    per series, so the search index holds one value per series, not hundreds.

    Examples
    --------
    >>> slice_runs(["chest", "chest", "abdomen"])
    'chest*2 abdomen*1'
    """
    runs: list[list[Any]] = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    return " ".join(f"{label}*{count}" for label, count in runs)


def slice_labels(runs: str) -> list[str]:
    """The per-slice labels of :func:`slice_runs`' string.

    Examples
    --------
    >>> slice_labels("chest*2 abdomen*1")
    ['chest', 'chest', 'abdomen']
    """
    out: list[str] = []
    for run in runs.split():
        label, _, count = run.partition("*")
        out += [label] * int(count)
    return out


def _refuse(item: SeriesItem) -> None:
    """Raise :class:`BodyPartError` for a series that has no cross-sections to label."""
    document = item.document
    modality = document.get("Modality")
    if modality != "CT":
        raise BodyPartError(
            f"not a CT series (Modality {modality or 'missing'}): the body part is read from HU"
        )
    image_type = document.get("ImageType")
    values = image_type if isinstance(image_type, list) else [image_type]
    if any(isinstance(v, str) and v.upper() == "LOCALIZER" for v in values):
        raise BodyPartError("a localizer (ImageType LOCALIZER): it has no cross-sections")
    instances = item.instances
    if not instances:
        raise BodyPartError("the series has no instances")
    if len(instances) == 1 and (instances[0].frames or 1) <= 1:
        raise BodyPartError("a single slice: the body part needs a stack of slices")
    single_frames = all((r.frames or 1) <= 1 for r in instances)
    if single_frames and any(r.position is None or not r.orientation for r in instances):
        raise BodyPartError(
            "no geometry: a slice has no ImagePositionPatient or ImageOrientationPatient"
        )


class CTBodyPart(Workflow):
    """``ai.bodypart``, ``ai.bodypart_range``, ``ai.bodypart_mismatch``, ``ai.bodypart_slices``."""

    name = "annotate-bodypart"
    title = "CT body part, slice by slice"
    description = (
        "Labels every axial slice of a CT with head/neck/chest/abdomen/pelvis/legs (arms) "
        "from the image (body outline, lungs, bone, skull ring, pelvic bone), smoothed along "
        "the craniocaudal axis: ai.bodypart (regions covered), ai.bodypart_range (z from/to "
        "in mm per region), ai.bodypart_mismatch (contradicts BodyPartExamined) and "
        "ai.bodypart_slices (per-slice labels for the viewer)."
    )
    version = "1"
    Params = CTBodyPartParams
    modalities = ("CT",)

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, CTBodyPartParams)
        _refuse(item)
        try:
            geometry = volume_geometry(item.series_input())
        except UndecodableError as exc:
            raise BodyPartError(f"undecodable: {exc}") from exc
        except ValueError as exc:
            raise BodyPartError(f"no usable geometry: {exc}") from exc
        if geometry.shape[0] < 2:
            raise BodyPartError("a single slice: the body part needs a stack of slices")
        volume = reduced_series_volume(item)
        thresholds = Thresholds(body_hu=params.body_hu, bone_hu=params.bone_hu)
        regions = slice_regions(
            volume.array, volume.affine, thresholds=thresholds, smoothing_mm=params.smoothing_mm
        )
        return {"ai": body_part_results(regions, item.document.get("BodyPartExamined"), params)}
