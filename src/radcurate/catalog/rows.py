"""Rows of the catalog tables <-> Python objects (shared by both SQL backends)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from radcurate.catalog.base import SeriesHeader
from radcurate.dicom.instance import InstanceRecord

INSTANCE_COLUMNS = (
    "source, source_dir, location, size, mtime_ns, study_uid, series_uid, sop_uid, "
    "sop_class_uid, instance_number, pos_x, pos_y, pos_z, orientation, transfer_syntax, "
    "image_rows, image_columns, frames, attrs"
)


def dumps(value: Any) -> str:
    """Compact JSON for catalog columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(value: Any) -> Any:
    """Decode a JSON column (drivers that decode JSON themselves hand over dicts and lists)."""
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


def best_headers(headers: Sequence[SeriesHeader]) -> list[SeriesHeader]:
    best: dict[str, SeriesHeader] = {}
    for header in headers:
        current = best.get(header.series_uid)
        if current is None or header.source_location < current.source_location:
            best[header.series_uid] = header
    return [best[k] for k in sorted(best)]


def instance_row(r: InstanceRecord) -> tuple[Any, ...]:
    pos = r.position or (None, None, None)
    return (
        r.source,
        os.path.dirname(r.source),
        r.location,
        r.size,
        r.mtime_ns,
        r.study_uid,
        r.series_uid,
        r.sop_uid,
        r.sop_class_uid,
        r.instance_number,
        pos[0],
        pos[1],
        pos[2],
        dumps(list(r.orientation)) if r.orientation else None,
        r.transfer_syntax,
        r.rows,
        r.columns,
        r.frames,
        dumps(r.attrs) if r.attrs else None,
    )


def record_from_row(row: Sequence[Any]) -> InstanceRecord:
    orientation = loads(row[13])
    position = (row[10], row[11], row[12]) if row[10] is not None else None
    return InstanceRecord(
        source=row[0],
        location=row[2],
        size=int(row[3]),
        mtime_ns=int(row[4]),
        study_uid=row[5],
        series_uid=row[6],
        sop_uid=row[7],
        sop_class_uid=row[8],
        instance_number=row[9],
        position=position,
        orientation=tuple(orientation) if orientation else None,
        transfer_syntax=row[14],
        rows=row[15],
        columns=row[16],
        frames=row[17],
        attrs=loads(row[18]) or {},
    )


def document_from_row(row: Sequence[Any]) -> dict[str, Any]:
    document: dict[str, Any] = dict(loads(row[0]))
    document.update(loads(row[1]) or {})
    problems = loads(row[2])
    if problems:
        document["header_problems"] = problems
    return document
