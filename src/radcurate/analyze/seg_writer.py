"""Writing masks as a DICOM Segmentation beside their source series, reproducibly.

The Segmentation (highdicom, BINARY, one segment per structure, SNOMED CT coded) references
every source instance and shares the source's Frame of Reference. Its Series and SOP
Instance UIDs derive from the source series UID, the annotator's name and version and the
hash of its parameters, and every date, time and UID highdicom would take from the clock
or a random source is fixed from the input, so the same input always gives the same file
byte for byte. The store keeps the first copy of a SOP Instance and answers an identical one
as already there, so an identical re-run writes nothing and registers nothing.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from radcurate import __version__
from radcurate.analyze.masks_structures import MaskSet, Structure
from radcurate.catalog import CatalogBackend
from radcurate.catalog.base import IngestBatch, SeriesHeader
from radcurate.dicom.document import header_document
from radcurate.dicom.instance import instance_record
from radcurate.dicom.reading import read_header
from radcurate.storage import open_storage
from radcurate.storage.filesystem import FileStore

__all__ = ["SegIdentity", "build_segmentation", "derived_uid", "store_and_register"]

#: namespace of the name-based UUIDs behind the Segmentation's UIDs (fixed forever)
_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "radcurate:annotator-output")
#: SeriesNumber of the Segmentation series (source series numbers rarely reach it)
SEG_SERIES_NUMBER = 9901


def derived_uid(*parts: str) -> str:
    """A UID named by ``parts``: ``2.25.<integer of a name-based UUID>`` (PS3.5 B.2).

    Examples
    --------
    >>> derived_uid("1.2.3", "annotate-ct-masks", "1", "abc") == derived_uid(
    ...     "1.2.3", "annotate-ct-masks", "1", "abc")
    True
    >>> derived_uid("a").startswith("2.25.")
    True
    """
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '|'.join(parts)).int}"


@dataclass(frozen=True)
class SegIdentity:
    """Who made the Segmentation and under which UIDs."""

    annotator: str
    version: str
    params_hash: str
    source_series_uid: str

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID of the Segmentation."""
        return derived_uid(self.source_series_uid, self.annotator, self.version,
                           self.params_hash, "series")  # fmt: skip

    @property
    def sop_uid(self) -> str:
        """SOPInstanceUID of the Segmentation."""
        return derived_uid(self.source_series_uid, self.annotator, self.version,
                           self.params_hash, "instance")  # fmt: skip


def _description(number: int, item: Structure, algorithm: hd.AlgorithmIdentificationSequence
                 ) -> hd.seg.SegmentDescription:  # fmt: skip
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=item.label,
        segmented_property_category=item.category,
        segmented_property_type=item.type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
        display_color=hd.color.CIELabColor.from_rgb(*item.color),
    )
    if item.modifier is not None:
        (concept,) = description.SegmentedPropertyTypeCodeSequence
        concept.SegmentedPropertyTypeModifierCodeSequence = [hd.sr.CodedConcept.from_code(
            item.modifier)]  # fmt: skip
    return description


#: Type 2 attributes highdicom copies from the source (present, maybe empty, in a conforming
#: file; anonymised files often drop them)
_COPIED_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                 "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName")  # fmt: skip


def _complete(source: Dataset) -> Dataset:
    """``source`` with the Type 2 attributes highdicom reads present (empty when missing)."""
    missing = [k for k in _COPIED_TYPE2 if k not in source]
    if not missing:
        return source
    copy = Dataset(source)
    if hasattr(source, "file_meta"):
        copy.file_meta = source.file_meta
    for keyword in missing:
        setattr(copy, keyword, None)
    return copy


def _fixed_datetime(source: Dataset) -> tuple[str, str]:
    """A content date and time taken from the source (the same on every run)."""
    for date_key, time_key in (("ContentDate", "ContentTime"), ("SeriesDate", "SeriesTime"),
                               ("AcquisitionDate", "AcquisitionTime"),
                               ("StudyDate", "StudyTime")):  # fmt: skip
        date = str(source.get(date_key) or "")
        if len(date) == 8 and date.isdigit():
            time = str(source.get(time_key) or "").split(".")[0]
            return date, time if time.isdigit() and len(time) in (2, 4, 6) else "000000"
    return "19700101", "000000"


def _fix_volatile(seg: Dataset, identity: SegIdentity, date: str, time: str) -> None:
    """Replace what highdicom took from the clock or a random generator."""
    seg.InstanceCreationDate = date
    seg.InstanceCreationTime = time
    for item in seg.get("ContributingEquipmentSequence") or []:
        if "ContributionDateTime" in item:
            item.ContributionDateTime = f"{date}{time}"
    organization = seg.get("DimensionOrganizationSequence")
    if organization:
        old = str(organization[0].DimensionOrganizationUID)
        new = derived_uid(identity.sop_uid, "dimension-organization")
        organization[0].DimensionOrganizationUID = new
        for item in seg.get("DimensionIndexSequence") or []:
            if str(item.get("DimensionOrganizationUID", "")) == old:
                item.DimensionOrganizationUID = new


def build_segmentation(
    sources: Sequence[Dataset],
    frames: npt.NDArray[np.bool_],
    structures: Sequence[Structure],
    identity: SegIdentity,
    *,
    parameters: dict[str, Any] | None = None,
) -> hd.seg.Segmentation:
    """A BINARY Segmentation of ``frames`` over ``sources``.

    Parameters
    ----------
    sources
        The source instances' headers (pixel data not needed), in the order of ``frames``.
    frames
        ``(len(sources), rows, columns, len(structures))``: segment ``s`` on source ``k``.
    structures
        One per segment, numbered from 1 in this order.
    identity
        The annotator and the UIDs.
    parameters
        Recorded in the algorithm identification (AlgorithmParameters).
    """
    algorithm = hd.AlgorithmIdentificationSequence(
        name=f"radcurate {identity.annotator}",
        family=codes.DCM.MorphologicalOperations,
        version=identity.version,
        source="radcurate",
        parameters={k: str(v) for k, v in sorted((parameters or {}).items())} or None,
    )
    descriptions = [_description(n, s, algorithm) for n, s in enumerate(structures, start=1)]
    date, time = _fixed_datetime(sources[0])
    seg = hd.seg.Segmentation(
        source_images=[_complete(s) for s in sources],
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=identity.series_uid,
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=identity.sop_uid,
        instance_number=1,
        manufacturer="radcurate",
        manufacturer_model_name=identity.annotator,
        software_versions=f"radcurate {__version__} {identity.annotator} {identity.version}",
        device_serial_number="none",
        content_label="MASKS",
        content_description="CT body, lung, bone and fat masks (radcurate)",
        series_description=f"{identity.annotator} v{identity.version}",
        content_date=date,
        content_time=time,
        series_date=date,
        series_time=time,
    )
    _fix_volatile(seg, identity, date, time)
    return seg


def mask_frames(masks: MaskSet, names: Sequence[str], order: Sequence[int]
                ) -> npt.NDArray[np.bool_]:  # fmt: skip
    """The ``(frames, rows, columns, segments)`` array of ``names``; frame ``f`` is the volume's
    slice ``order[f]`` (the source instances' order)."""
    _, rows, columns = masks.shape
    stack = np.empty((len(names), len(order), rows, columns), dtype=bool)
    index = np.asarray(order)
    for s, name in enumerate(names):
        full = masks.full(name)
        stack[s] = full if np.array_equal(index, np.arange(len(full))) else full[index]
    frames: npt.NDArray[np.bool_] = np.moveaxis(stack, 0, -1)  # a view: no second copy
    return frames


def store_and_register(seg: Dataset, catalog: CatalogBackend, store_url: str) -> str:
    """Put the Segmentation into the store under its study and series, and into the catalog
    as an instance of its own series; returns its stored location.

    A SOP Instance the store already holds is kept as it is (the store's policy for
    originals; the same UIDs stand for the same input, annotator version and parameters),
    and one the catalog already lists is not registered again, so a re-run writes nothing.
    """
    store = open_storage(store_url)
    study, series, sop = (str(seg.StudyInstanceUID), str(seg.SeriesInstanceUID),
                          str(seg.SOPInstanceUID))  # fmt: skip
    known = {r.sop_uid: r for r in catalog.instances(series)}
    with tempfile.TemporaryDirectory(prefix="radcurate-seg-") as folder:
        staged = Path(folder) / f"{sop}.dcm"
        seg.save_as(staged, enforce_file_format=True)
        existing = store.path_for(study, series, sop) if isinstance(store, FileStore) else None
        if existing is not None and existing.is_file():
            location = str(existing)  # never a second copy beside it
        else:
            location = store.put(str(staged), study, series, sop)
        if sop in known:
            return known[sop].location
        on_disk = Path(location)
        stat = os.stat(on_disk if on_disk.is_file() else staged)
        header = read_header(staged)
        # the document indexes the series; thousands of per-frame plane positions are no
        # facts to search on (the file keeps them; viewers read the file)
        lean = Dataset(header)
        lean.file_meta = header.file_meta
        if "PerFrameFunctionalGroupsSequence" in lean:
            del lean.PerFrameFunctionalGroupsSequence
        record = instance_record(
            header, location=location, source=location, size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )  # fmt: skip
        document = header_document(lean)
        catalog.write_batch(
            IngestBatch(
                instances=[record],
                headers=[
                    SeriesHeader(
                        series_uid=series,
                        study_uid=study,
                        patient_id=record.patient_id,
                        modality=record.modality,
                        source_location=location,
                        fields=document.fields,
                        types=document.types,
                        problems=tuple(document.problems),
                    )
                ],
            )
        )
        catalog.finalize_series([series])
    return location
