"""Series-level facts computed over all instances of a series."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from radcurate.dicom.geometry import position_along, slice_normal, spacing_statistics
from radcurate.dicom.instance import IDENTITY_DIGEST_KEY, InstanceRecord
from radcurate.dicom.values import age_in_years

#: at most this many distinct values are listed per varying attribute
MAX_DISTINCT = 50


def series_facts(instances: Iterable[InstanceRecord]) -> dict[str, Any]:
    """Derived (lower_snake) fields of a series document.

    ``instance_count`` counts distinct SOP Instance UIDs; ``duplicate_files``
    the extra files carrying an already-seen one. Slice positions are sorted
    along the normal of the most common orientation, not by InstanceNumber.
    """
    records = list(instances)
    by_sop: dict[str, InstanceRecord] = {}
    for record in sorted(records, key=lambda r: r.location):
        by_sop.setdefault(record.sop_uid, record)
    unique = list(by_sop.values())
    facts: dict[str, Any] = {
        "instance_count": len(unique),
        "file_count": len(records),
        "duplicate_files": len(records) - len(unique),
        "frame_count": sum(r.frames or 1 for r in unique),
        "file_size_total": sum(r.size for r in records),
        "transfer_syntaxes": sorted({r.transfer_syntax for r in unique if r.transfer_syntax}),
    }
    numbers = [r.instance_number for r in unique if r.instance_number is not None]
    if numbers:
        facts["instance_number_min"] = min(numbers)
        facts["instance_number_max"] = max(numbers)
    facts.update(_geometry(unique))
    varying = _varying(unique)
    if varying:
        facts["varying"] = varying
        facts["varying_attributes"] = sorted(varying)
    thickness = [
        float(r.attrs["SliceThickness"])
        for r in unique
        if isinstance(r.attrs.get("SliceThickness"), (int, float))
    ]
    if thickness:
        facts["slice_thickness_min"] = min(thickness)
        facts["slice_thickness_max"] = max(thickness)
    return facts


def _geometry(records: list[InstanceRecord]) -> dict[str, Any]:
    orientations = Counter(
        tuple(round(v, 4) for v in r.orientation) for r in records if r.orientation
    )
    out: dict[str, Any] = {"orientation_count": len(orientations)}
    if not orientations:
        return out
    normal = slice_normal(orientations.most_common(1)[0][0])
    if normal is None:
        return out
    positions = sorted(
        round(position_along(normal, r.position), 4) for r in records if r.position is not None
    )
    if not positions:
        return out
    out["slice_normal"] = [round(v, 6) for v in normal]
    out["slice_positions"] = positions
    out["slice_count"] = len(set(positions))
    out["slice_extent"] = round(positions[-1] - positions[0], 4)
    stats = spacing_statistics(positions)
    if stats is not None:
        out["slice_spacing_min"] = stats["min"]
        out["slice_spacing_max"] = stats["max"]
        out["slice_spacing_mean"] = stats["mean"]
        out["slice_spacing_median"] = stats["median"]
    return out


def _varying(records: list[InstanceRecord]) -> dict[str, list[Any]]:
    seen: dict[str, dict[Any, Any]] = {}
    missing: Counter[str] = Counter()
    for record in records:
        for key, value in record.attrs.items():
            if key == IDENTITY_DIGEST_KEY:
                continue  # compared by the header QC; digests mean nothing to a reader
            bucket = seen.setdefault(key, {})
            if len(bucket) <= MAX_DISTINCT:
                bucket.setdefault(_frozen(value), value)
    for key in seen:
        missing[key] = sum(1 for r in records if key not in r.attrs)
    out: dict[str, list[Any]] = {}
    for key, bucket in sorted(seen.items()):
        if len(bucket) > 1 or (missing[key] and len(records) > 1):
            out[key] = [bucket[k] for k in sorted(bucket, key=_order)][:MAX_DISTINCT]
    return out


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a typed value (lists become tuples)."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def derived_header_fields(header: dict[str, Any]) -> dict[str, Any]:
    """Derived fields that come from the representative header alone (e.g. ``age_years``)."""
    out: dict[str, Any] = {}
    age = header.get("PatientAge")
    if isinstance(age, str):
        years = age_in_years(age)
        if years is not None:
            out["age_years"] = round(years, 4)
    return out


def _order(value: Any) -> tuple[int, Any]:
    """Numbers by value, then strings, then anything else by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, repr(value))
