"""Field paths of documents, for the field registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radcurate.dicom.values import FieldType


def field_paths(document: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every field path in a document; fields inside sequence items as ``Seq.Field``.

    Examples
    --------
    >>> sorted(field_paths({"A": 1, "S": [{"B": 2}, {"C": 3}], "varying": {"X": [1, 2]}}))
    ['A', 'S', 'S.B', 'S.C', 'varying', 'varying.X']
    """
    paths: set[str] = set()
    for key, value in document.items():
        path = prefix + key
        paths.add(path)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    paths |= field_paths(item, path + ".")
        elif isinstance(value, Mapping):
            paths |= field_paths(value, path + ".")
    return paths


def infer_type(value: Any) -> FieldType:
    """The field type of a derived (non-DICOM) value, from its Python type.

    Examples
    --------
    >>> infer_type(3.5).value, infer_type(True).value, infer_type(["a"]).value
    ('number', 'boolean', 'keyword')
    """
    if isinstance(value, list):
        return infer_type(value[0]) if value else FieldType.KEYWORD
    if isinstance(value, bool):
        return FieldType.BOOLEAN
    if isinstance(value, (int, float)):
        return FieldType.NUMBER
    if isinstance(value, Mapping):
        return FieldType.SEQUENCE
    return FieldType.KEYWORD


def derived_types(document: Mapping[str, Any], prefix: str = "") -> dict[str, FieldType]:
    """Types of every path of a derived-facts document."""
    out: dict[str, FieldType] = {}
    for key, value in document.items():
        path = prefix + key
        out[path] = infer_type(value)
        if isinstance(value, Mapping):
            out.update(derived_types(value, path + "."))
    return out
