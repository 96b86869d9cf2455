"""Field names in queries: tag numbers to document keys, and checks against a field registry.

A field is a path of segments joined by dots (``Seq.Keyword`` reaches into
sequence items). A segment is a name (``[A-Za-z_][A-Za-z0-9_-]*``), a tag
number ``(gggg,eeee)`` or its 8-hex-digit form ``GGGGEEEE``. Tag numbers
resolve the way :func:`radcurate.dicom.document.field_name` names document
keys: public tags to their keyword, private, unknown and repeating-group
(50xx/60xx) tags to ``GGGGEEEE``. ``ai.*`` and ``qc.*`` paths name values of
a record's AI results and QC findings. ``has``, ``missing``, ``tag``,
``dataset`` and ``job`` are reserved words, not fields; ``review`` is a
pseudo-field whose one value is the record's review status (``review:`` terms
parse to :class:`~radcurate.query.ast.Review`, ``has:review`` and facets read it).

Examples
--------
>>> resolve_field("(0018,1210)")
'ConvolutionKernel'
>>> resolve_field("(0009,1001)")
'00091001'
>>> resolve_field("ProcedureCodeSequence.(0008,0104)")
'ProcedureCodeSequence.CodeMeaning'
>>> check_field("Modalty", ["Modality", "Manufacturer"])
Traceback (most recent call last):
  ...
radcurate.query.errors.UnknownFieldError: unknown field 'Modalty'; did you mean Modality?
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.tag import Tag

from radcurate.dicom.document import field_name
from radcurate.dicom.values import FieldType, field_type_for_vr
from radcurate.query.ast import REVIEW_FIELD
from radcurate.query.errors import UnknownFieldError

#: pseudo-fields of the language (``has:F``, ``missing:F``, ``tag:X``, ``dataset:X``, ``job:X``)
RESERVED = frozenset({"has", "missing", "tag", "dataset", "project", "job"})
#: first segments that name a record's derived results instead of the document: AI results,
#: QC findings and clinical-table columns
NAMESPACES = frozenset({"ai", "qc", "clin"})

_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_HEX8 = r"[0-9A-Fa-f]{8}(?![A-Za-z0-9_\-])"
_TAG = r"\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)"
SEGMENT = f"(?:{_TAG}|{_HEX8}|{_NAME})"
#: a whole field path as written in a query
FIELD_PATH = re.compile(f"{SEGMENT}(?:\\.{SEGMENT})*")
_TAG_NUMBER = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")
_HEX_KEY = re.compile(r"[0-9A-Fa-f]{8}")


def split_path(path: str) -> list[str]:
    """The segments of a field path (tag numbers hold no dots, so a plain split).

    Examples
    --------
    >>> split_path("a.(0008,0104)")
    ['a', '(0008,0104)']
    """
    return path.split(".")


def resolve_segment(segment: str) -> str:
    """The document key of one segment: tag numbers to keyword or ``GGGGEEEE``.

    Examples
    --------
    >>> resolve_segment("00080060"), resolve_segment("(6000,0010)"), resolve_segment("Rows")
    ('Modality', '60000010', 'Rows')
    """
    match = _TAG_NUMBER.fullmatch(segment)
    if match is not None:
        return field_name(Tag(int(match.group(1), 16), int(match.group(2), 16)))
    if _HEX_KEY.fullmatch(segment):
        return field_name(Tag(int(segment, 16)))
    return segment


def resolve_field(path: str) -> str:
    """The document path of a field as written in a query (every segment resolved)."""
    return ".".join(resolve_segment(s) for s in split_path(path))


def is_field_path(path: str) -> bool:
    """Whether the text is a well-formed field path that is not a reserved word.

    Examples
    --------
    >>> is_field_path("Seq.Keyword"), is_field_path("tag"), is_field_path("a b")
    (True, False, False)
    """
    if path in RESERVED or path in NAMESPACES:
        return False
    return FIELD_PATH.fullmatch(path) is not None


def _is_dicom_path(path: str) -> bool:
    return all(s in keyword_dict or _HEX_KEY.fullmatch(s) for s in split_path(path))


def is_known(field: str, registry: Iterable[str] | None) -> bool:
    """Whether a resolved field is acceptable given a registry (None accepts everything).

    Accepted: names in the registry, ``ai.*`` / ``qc.*`` / ``clin.*`` paths, the ``review``
    pseudo-field, and paths made only of DICOM dictionary keywords or ``GGGGEEEE`` keys (a
    valid keyword that no series has yet matches nothing rather than being an error).

    Examples
    --------
    >>> is_known("ai.bodypart", []), is_known("ConvolutionKernel", []), is_known("foo", [])
    (True, True, False)
    >>> is_known("review", [])
    True
    """
    if registry is None or field == REVIEW_FIELD:
        return True
    names = registry if isinstance(registry, (set, frozenset)) else set(registry)
    if field in names:
        return True
    segments = split_path(field)
    if segments[0] in NAMESPACES and len(segments) > 1:
        return True
    return _is_dicom_path(field)


def suggestions(field: str, registry: Iterable[str], limit: int = 5) -> list[str]:
    """Known names close to ``field``, best first (case-insensitive matches first).

    Examples
    --------
    >>> suggestions("modality", ["Modality", "Manufacturer"])
    ['Modality']
    """
    names = sorted(set(registry))
    lowered = {n.lower(): n for n in names}
    out = [n for n in names if n.lower() == field.lower()]
    for close in difflib.get_close_matches(field.lower(), list(lowered), n=limit, cutoff=0.6):
        if lowered[close] not in out:
            out.append(lowered[close])
    if not out:
        out = difflib.get_close_matches(field, list(keyword_dict), n=3, cutoff=0.75)
    return out[:limit]


def check_field(field: str, registry: Iterable[str] | None, position: int | None = None) -> None:
    """Raise :class:`UnknownFieldError` (with suggestions) when the field is not known."""
    if registry is None:
        return
    names = registry if isinstance(registry, (set, frozenset)) else set(registry)
    if not is_known(field, names):
        raise UnknownFieldError(field, suggestions(field, names), position=position)


def declared_type(field: str, field_types: Mapping[str, FieldType] | None) -> FieldType | None:
    """The declared type of a field: ``field_types`` first, else the DICOM dictionary.

    The dictionary is asked about the last segment (``Seq.StudyDate`` is a
    date); derived fields, private keys and ``ai.*``/``qc.*`` have no declared
    type unless ``field_types`` gives one.

    Examples
    --------
    >>> declared_type("StudyDate", None).value
    'date'
    >>> declared_type("age_years", {"age_years": FieldType.NUMBER}).value
    'number'
    >>> declared_type("ai.bodypart", None) is None
    True
    """
    if field_types is not None and field in field_types:
        return FieldType(field_types[field])
    segments = split_path(field)
    if segments[0] in NAMESPACES:
        return None
    last = segments[-1]
    if last not in keyword_dict:
        return None
    try:
        return field_type_for_vr(dictionary_VR(last))
    except KeyError:
        return None
