"""``annotate-ct-masks``: body, lungs, bone and subcutaneous fat of a CT, as a DICOM
Segmentation and as facts on the source series.

The masks come from HU thresholds, 3-D connected components and anatomical rules (the
``masks_*`` modules; docs/annotation.md has the method and its measured Dice). They are
written as a BINARY DICOM Segmentation referencing every source instance
(:mod:`~radcurate.analyze.seg_writer`), put into the store under the source study and
registered in the catalog as a series of its own, linked to the source by its
referenced series. The source series gets:

- ``ai.structures``: the structures found (non-empty), e.g. ``["body", "lung_left", ...]``;
- ``ai.volume_ml.<structure>``: each computed structure's volume (0 when absent);
- ``ai.lung_ml_ratio_lr``: left / right lung volume, when both lungs are there;
- ``ai.seg_series``: the Segmentation's SeriesInstanceUID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from radcurate.analyze.masks_structures import (
    MaskSet,
    MaskSettings,
    compute_masks,
    ordered,
)
from radcurate.analyze.seg_writer import (
    SegIdentity,
    build_segmentation,
    mask_frames,
    store_and_register,
)
from radcurate.catalog.result_types import params_hash
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import read_dataset
from radcurate.imaging.volume import Geometry, series_volume, volume_geometry
from radcurate.workflow.step import SeriesItem, Workflow

__all__ = ["CTMasks", "CTMasksParams", "check_series", "mask_facts"]

StructureName = Literal["body", "lung_left", "lung_right", "bone", "subcutaneous_fat"]

ALL_STRUCTURES: tuple[StructureName, ...] = (
    "body", "lung_left", "lung_right", "bone", "subcutaneous_fat",
)  # fmt: skip
#: fewer slices than this make no volume to find 3-D structures in
MIN_SLICES = 3
#: a structure smaller than this (ml) counts as not found
MIN_FOUND_ML = 1.0


class CTMasksParams(BaseModel):
    """Parameters of ``annotate-ct-masks`` (the thresholds of the mask rules)."""

    model_config = ConfigDict(extra="forbid")

    structures: list[StructureName] = Field(
        default_factory=lambda: list(ALL_STRUCTURES),
        description="Structures to find (the body is always found)",
    )
    body_hu: float = Field(-300.0, ge=-900, le=0, description="Body tissue is above this (HU)")
    lung_hu: float = Field(-400.0, ge=-900, le=-100, description="Lung is below this (HU)")
    gas_hu: float = Field(-950.0, ge=-1024, le=-800, description="Pure air is below this (HU)")
    max_gas_fraction: float = Field(
        0.25, gt=0, le=1, description="An air component with more pure air is gas, not lung"
    )
    bone_low_hu: float = Field(120.0, ge=0, le=500, description="Bone candidates (HU)")
    bone_seed_hu: float = Field(300.0, ge=100, le=2000, description="Bone seeds (HU)")
    working_mm: float = Field(
        2.5, ge=0.5, le=6, description="Voxel size the rules work at on fine volumes (mm)"
    )
    write_seg: bool = Field(True, description="Write and register the DICOM Segmentation")


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def check_series(document: Mapping[str, Any], instance_count: int) -> None:
    """Refuse what has no CT volume, with a reason a curator can act on.

    Raises
    ------
    ValueError
        Not CT, a localizer, or fewer than :data:`MIN_SLICES` slices.
    """
    modality = document.get("Modality")
    if modality != "CT":
        raise ValueError(f"not a CT series (Modality {modality!r}): the masks need HU values")
    image_type = document.get("ImageType") or []
    words = {str(v).upper() for v in (image_type if isinstance(image_type, list) else
                                      str(image_type).split("\\"))}  # fmt: skip
    if "LOCALIZER" in words or "SCOUT" in words:
        raise ValueError("a localizer (ImageType LOCALIZER): a projection, not a volume")
    frames = int(_first(document.get("NumberOfFrames")) or 1)
    if max(instance_count, frames) < MIN_SLICES:
        raise ValueError(
            f"{max(instance_count, frames)} slice(s): the masks need a volume of at least "
            f"{MIN_SLICES} slices"
        )


class CTMasks(Workflow):
    """CT body, lung, bone and subcutaneous fat masks as a DICOM Segmentation."""

    name = "annotate-ct-masks"
    title = "CT masks (body, lungs, bone, fat)"
    description = (
        "Body outline, left and right lung, bone (marrow included) and subcutaneous fat of "
        "a CT from HU thresholds and 3-D components; written as a DICOM Segmentation series "
        "linked to the source; ai.structures, ai.volume_ml.*, ai.lung_ml_ratio_lr, "
        "ai.seg_series on the source"
    )
    version = "1"
    Params = CTMasksParams
    modalities: ClassVar[tuple[str, ...]] = ("CT",)

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        geometry, masks = self.masks_of(item, params)
        values = mask_facts(masks)
        if not values["structures"]:
            raise ValueError("no body found: nothing in the volume is denser than air")
        if params.write_seg:
            values["seg_series"] = self.write_seg(
                item, params, geometry, masks, values["structures"]
            )
        return {"ai": values}

    def masks_of(self, item: SeriesItem, params: CTMasksParams) -> tuple[Geometry, MaskSet]:
        """The series' geometry and masks (refusals as in :func:`check_series`).

        Raises
        ------
        ValueError
            Not a CT volume, or no usable geometry.
        UndecodableError
            The pixel data cannot be decoded.
        """
        check_series(item.document, len(item.instances))
        try:
            geometry = volume_geometry(item.series_input())
        except ValueError as exc:
            raise ValueError(f"no usable volume geometry: {exc}") from None
        try:
            volume = series_volume(item.catalog, item.series_uid)
        except UndecodableError as exc:
            raise UndecodableError(f"undecodable: {exc}") from None
        settings = MaskSettings(
            working_mm=params.working_mm, body_hu=params.body_hu, lung_hu=params.lung_hu,
            gas_hu=params.gas_hu, max_gas_fraction=params.max_gas_fraction,
            bone_low_hu=params.bone_low_hu, bone_seed_hu=params.bone_seed_hu,
        )  # fmt: skip
        return geometry, compute_masks(volume.array, volume.affine, params.structures, settings)

    def write_seg(
        self, item: SeriesItem, params: CTMasksParams, geometry: Geometry, masks: MaskSet,
        names: Sequence[str],
    ) -> str:  # fmt: skip
        """Write the masks ``names`` as a Segmentation of the series into the store and the
        catalog (nothing when that very one is there); returns its SeriesInstanceUID."""
        sources = _source_headers(geometry)
        if "FrameOfReferenceUID" not in sources[0]:
            raise ValueError("no FrameOfReferenceUID: a Segmentation cannot be placed on it")
        if geometry.frames:  # one multi-frame source: its frames in stored order
            order = sorted(range(len(geometry.frames)), key=lambda k: geometry.frames[k])
        else:
            order = list(range(len(geometry.records)))
        dumped = params.model_dump(mode="json")
        identity = SegIdentity(self.name, self.version, params_hash(dumped), item.series_uid)
        seg = build_segmentation(
            sources, mask_frames(masks, names, order), ordered(names), identity,
            parameters={k: v for k, v in dumped.items() if k != "write_seg"},
        )  # fmt: skip
        store_and_register(seg, item.catalog, item.settings.store_url)
        return identity.series_uid


def _source_headers(geometry: Geometry) -> list[Any]:
    """The source instances' headers in the order of the volume's slices (one for a
    multi-frame object)."""
    if geometry.frames:
        return [read_dataset(geometry.records[0].location, pixels=False)]
    return [read_dataset(r.location, pixels=False) for r in geometry.records]


def mask_facts(masks: MaskSet) -> dict[str, Any]:
    """``structures``, ``volume_ml`` and ``lung_ml_ratio_lr`` of a mask set."""
    volumes = {name: round(masks.volume_ml(name), 1) for name in masks.names}
    found = [name for name in masks.names if volumes[name] >= MIN_FOUND_ML]
    facts: dict[str, Any] = {"structures": found, "volume_ml": volumes}
    left, right = volumes.get("lung_left", 0.0), volumes.get("lung_right", 0.0)
    if left >= MIN_FOUND_ML and right >= MIN_FOUND_ML:
        facts["lung_ml_ratio_lr"] = round(left / right, 3)
    return facts
