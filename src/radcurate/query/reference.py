"""The reference evaluator: query trees run over records in plain Python (the oracle).

SQL backends compile trees to SQL and are tested against :func:`matches`, so
this module spells the semantics out as directly as possible; speed is not
a goal.

A *record* is a :class:`SearchRecord`: the series ``document`` plus the
series' ``tags``, ``datasets``, ``ai`` results, ``qc`` findings and ``review``
status (``pending`` when never reviewed). A plain
dict with a ``"document"`` key is read as a record; any other dict is taken
as the document itself.

Values of a field
    The field path is walked from the document (from ``ai``/``qc`` for
    ``ai.*``/``qc.*``): at each segment, every dict in hand contributes its
    value for that key; lists are flattened (multi-valued elements, sequence
    items), ``None`` is dropped. A field *matches* when **any one** of its
    values does, so a range or comparison must hold for a single value.

Comparing one value (``v``) with a query value (``q``)
    * ``v`` boolean: only ``F:true`` / ``F:false`` (any case) match.
    * ``v`` number: ``q`` must be a number (:func:`~radcurate.query.values.parse_number`);
      equality and ``<``, ``<=``, ``>``, ``>=`` are numeric. Patterns with
      wildcards never match a number.
    * ``v`` string on a date/time/datetime field (type from ``field_types``,
      else the DICOM dictionary): when ``q`` is a period
      (:func:`~radcurate.query.values.temporal_prefix`), ``F:q`` means "starts
      with the prefix", ``>= q`` means ``v >= q``, ``< q`` means ``v < q``,
      ``> q`` means after the whole period and ``<= q`` up to its end.
    * any other string: ``F:pattern`` is a whole-value, case-insensitive
      wildcard match; comparisons are code-point comparisons of the
      lowercased strings.
    * dicts (sequence items) match only ``F:*``.
    * the pattern ``*`` alone matches any value of any type, so ``F:*`` is
      ``has:F``.

Free text
    A term matches when its pattern, lowercased, matches a *substring* of a
    lowercased string value of a text field (``text_fields``, default
    :data:`DEFAULT_TEXT_FIELDS`; dotted paths allowed), of a tag, of a dataset
    name, or any string anywhere inside ``ai``. Numbers are not free text.
    The review status is not free text either.

Review
    ``review:S`` holds when the record's status is ``S``. The field ``review``
    (``has:review``, a JSON ``match`` on it, facets) has exactly one value:
    the status, ``pending`` included, so ``has:review`` holds for every record.

Examples
--------
>>> from radcurate.query.parser import parse
>>> doc = {"Modality": "CT", "SliceThickness": 1.25, "StudyDate": "2019-03-15",
...        "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"], "SeriesDescription": "Chest CT 1.25mm"}
>>> record = SearchRecord(doc, tags=["reviewed"], ai={"bodypart": "chest"})
>>> [matches(parse(q), record) for q in
...  ["modality:ct", "Modality:ct", "SliceThickness:<=1.5", "StudyDate:2019", "ImageType:axial",
...   "chest*1.25", "tag:rev*", "ai.bodypart:CHEST", "missing:PatientSex"]]
[False, True, True, True, True, True, True, True, True]
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from radcurate.dicom.values import FieldType
from radcurate.query.ast import (
    REVIEW_FIELD,
    REVIEW_STATUSES,
    All,
    And,
    Compare,
    CompareOp,
    Dataset,
    FieldIn,
    FieldMatch,
    Has,
    Job,
    Missing,
    Node,
    Not,
    Or,
    Project,
    Range,
    Review,
    Tag,
    Text,
)
from radcurate.query.fields import NAMESPACES, declared_type, split_path
from radcurate.query.patterns import fullmatch, has_wildcards, matches_everything, search, unescape
from radcurate.query.values import TEMPORAL, boolean_literal, parse_number, temporal_prefix

#: the fields free text searches by default (tags, datasets and ai strings are always searched)
DEFAULT_TEXT_FIELDS: tuple[str, ...] = (
    "SeriesDescription",
    "StudyDescription",
    "ProtocolName",
    "BodyPartExamined",
    "InstitutionName",
    "InstitutionalDepartmentName",
    "Manufacturer",
    "ManufacturerModelName",
    "ConvolutionKernel",
    "StationName",
    "PatientName",
    "ReferringPhysicianName",
    "ImageComments",
    "StudyComments",
    "AdmittingDiagnosesDescription",
    "ReasonForStudy",
    "RequestedProcedureDescription",
    "PerformedProcedureStepDescription",
    "ContrastBolusAgent",
    "Modality",
)

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

R = TypeVar("R", bound="SearchRecord | Mapping[str, Any]")


@dataclass
class SearchRecord:
    """What a query sees of one series."""

    document: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    ai: dict[str, Any] = field(default_factory=dict)
    qc: dict[str, Any] = field(default_factory=dict)
    clin: dict[str, Any] = field(default_factory=dict)
    #: the projects the series belongs to
    projects: list[str] = field(default_factory=list)
    #: ids of the jobs that wrote the record's current results
    jobs: list[str] = field(default_factory=list)
    #: the review status (one of ``REVIEW_STATUSES``; ``pending`` when never reviewed)
    review: str = "pending"

    @classmethod
    def of(cls, record: SearchRecord | Mapping[str, Any]) -> SearchRecord:
        """A record from a record, a record-shaped dict, or a bare document dict.

        Examples
        --------
        >>> SearchRecord.of({"Modality": "CT"}).document
        {'Modality': 'CT'}
        >>> SearchRecord.of({"document": {}, "tags": ["x"]}).tags
        ['x']
        """
        if isinstance(record, SearchRecord):
            return record
        if "document" not in record:
            return cls(dict(record))
        return cls(
            dict(record["document"]),
            tags=list(record.get("tags") or []),
            datasets=list(record.get("datasets") or []),
            ai=dict(record.get("ai") or {}),
            qc=dict(record.get("qc") or {}),
            clin=dict(record.get("clin") or {}),
            projects=list(record.get("projects") or []),
            jobs=list(record.get("jobs") or []),
            review=str(record.get("review") or "pending"),
        )


def _flatten(value: Any, out: list[Any]) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _flatten(item, out)
    else:
        out.append(value)


def field_values(record: SearchRecord, path: str) -> list[Any]:
    """Every value of a field in a record (lists flattened, None dropped).

    Examples
    --------
    >>> rec = SearchRecord({"Seq": [{"Code": "a"}, {"Code": ["b", None]}, {}]})
    >>> field_values(rec, "Seq.Code")
    ['a', 'b']
    >>> field_values(rec, "review")
    ['pending']
    """
    if path == REVIEW_FIELD:
        return [record.review]
    segments = split_path(path)
    current: list[Any]
    if segments[0] in NAMESPACES:
        current = [getattr(record, segments[0])]
        segments = segments[1:]
    else:
        current = [record.document]
    for segment in segments:
        found: list[Any] = []
        for item in current:
            if isinstance(item, dict) and segment in item:
                _flatten(item[segment], found)
        current = found
    return current


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def text_values(record: SearchRecord, text_fields: Sequence[str]) -> list[str]:
    """The strings free text searches: text fields, tags, datasets, every string in ``ai``."""
    out = [v for f in text_fields for v in field_values(record, f) if isinstance(v, str)]
    return out + list(record.tags) + list(record.datasets) + list(_strings(record.ai))


def value_matches(value: Any, pattern: str, field_type: FieldType | None = None) -> bool:
    """Whether one stored value equals/matches a field pattern (``F:pattern``).

    Examples
    --------
    >>> value_matches(512, "512"), value_matches(512, "5*"), value_matches(True, "TRUE")
    (True, False, True)
    >>> value_matches("2019-03-15", "2019-03", FieldType.DATE), value_matches("SIEMENS", "siem*")
    (True, True)
    """
    if matches_everything(pattern):
        return True
    literal = None if has_wildcards(pattern) else unescape(pattern)
    if isinstance(value, bool):
        return literal is not None and boolean_literal(literal) is value
    if isinstance(value, (int, float)):
        number = None if literal is None else parse_number(literal)
        return number is not None and value == number
    if not isinstance(value, str):
        return False
    if literal is not None and field_type in TEMPORAL:
        prefix = temporal_prefix(literal, field_type)
        if prefix is not None:
            return value.lower().startswith(prefix.lower())
    return fullmatch(pattern, value)


def value_compares(value: Any, op: CompareOp, query: str, field_type: FieldType | None) -> bool:
    """Whether ``value op query`` holds for one stored value.

    Examples
    --------
    >>> value_compares(1.25, "<=", "1.5", None), value_compares("abc", "<", "ABD", None)
    (True, True)
    >>> value_compares("2019-12-31", "<=", "2019", FieldType.DATE)
    True
    >>> value_compares("2019-12-31", ">", "2019", FieldType.DATE)
    False
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        number = parse_number(query)
        return number is not None and _OPS[op](value, number)
    if not isinstance(value, str):
        return False
    stored = value.lower()
    prefix = temporal_prefix(query, field_type) if field_type in TEMPORAL else None
    if prefix is None:
        return bool(_OPS[op](stored, query.lower()))
    prefix = prefix.lower()
    inside = stored.startswith(prefix)
    if op == "<":
        return stored < prefix
    if op == ">=":
        return stored >= prefix
    if op == "<=":
        return stored < prefix or inside
    return stored > prefix and not inside


def value_in_range(value: Any, node: Range, field_type: FieldType | None) -> bool:
    """Whether one stored value lies within a range (both bounds on this value)."""
    low_op: CompareOp = ">=" if node.include_low else ">"
    high_op: CompareOp = "<=" if node.include_high else "<"
    if node.low is not None and not value_compares(value, low_op, node.low, field_type):
        return False
    if node.high is not None and not value_compares(value, high_op, node.high, field_type):
        return False
    return node.low is not None or node.high is not None


def matches(
    node: Node,
    record: SearchRecord | Mapping[str, Any],
    *,
    text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS,
    field_types: Mapping[str, FieldType] | None = None,
) -> bool:
    """Whether a record matches a query tree.

    Parameters
    ----------
    node
        The tree (from :func:`~radcurate.query.parser.parse` or ``from_json``).
    record
        A :class:`SearchRecord`, a dict with ``document`` (and optionally
        ``tags``, ``datasets``, ``ai``, ``qc``), or a bare document dict.
    text_fields
        The document fields free text searches.
    field_types
        Field types from the registry (``{f.name: f.type for f in catalog.fields()}``);
        fields it does not list get their DICOM dictionary type.

    Examples
    --------
    >>> from radcurate.query.parser import parse
    >>> matches(parse("NOT Modality:SR"), {"Modality": "CT"})
    True
    """
    rec = SearchRecord.of(record)
    return _eval(node, rec, text_fields, field_types)


def _eval(
    node: Node,
    rec: SearchRecord,
    text_fields: Sequence[str],
    types: Mapping[str, FieldType] | None,
) -> bool:
    if isinstance(node, All):
        return True
    if isinstance(node, Not):
        return not _eval(node.child, rec, text_fields, types)
    if isinstance(node, And):
        return all(_eval(c, rec, text_fields, types) for c in node.children)
    if isinstance(node, Or):
        return any(_eval(c, rec, text_fields, types) for c in node.children)
    if isinstance(node, Text):
        return any(search(node.pattern, v) for v in text_values(rec, text_fields))
    if isinstance(node, Tag):
        return any(fullmatch(node.pattern, t) for t in rec.tags)
    if isinstance(node, Dataset):
        return any(fullmatch(node.pattern, d) for d in rec.datasets)
    if isinstance(node, Project):
        return any(fullmatch(node.pattern, p) for p in rec.projects)
    if isinstance(node, Job):
        return any(fullmatch(node.pattern, j) for j in rec.jobs)
    if isinstance(node, Review):
        return rec.review == node.status
    values = field_values(rec, node.field)
    if isinstance(node, Has):
        return bool(values)
    if isinstance(node, Missing):
        return not values
    field_type = declared_type(node.field, types)
    if isinstance(node, FieldMatch):
        return any(value_matches(v, node.pattern, field_type) for v in values)
    if isinstance(node, FieldIn):
        return any(value_matches(v, p, field_type) for v in values for p in node.patterns)
    if isinstance(node, Compare):
        return any(value_compares(v, node.op, node.value, field_type) for v in values)
    return any(value_in_range(v, node, field_type) for v in values)


def evaluate(
    node: Node,
    records: Iterable[R],
    *,
    text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS,
    field_types: Mapping[str, FieldType] | None = None,
) -> list[R]:
    """The records that match, in their order.

    Examples
    --------
    >>> from radcurate.query.parser import parse
    >>> docs = [{"Modality": "CT"}, {"Modality": "MR"}, {"Modality": "SR"}]
    >>> evaluate(parse("Modality:(CT OR MR)"), docs)
    [{'Modality': 'CT'}, {'Modality': 'MR'}]
    """
    return [
        r for r in records if matches(node, r, text_fields=text_fields, field_types=field_types)
    ]


def review_statuses_matching(node: Node) -> tuple[str, ...]:
    """The review statuses for which a field term on the ``review`` pseudo-field holds.

    Backends that keep the status apart from the document rewrite such terms
    (``has:review``, a JSON ``match`` on ``review``) into ``review:`` terms with it.

    Examples
    --------
    >>> from radcurate.query.parser import parse
    >>> review_statuses_matching(parse("has:review"))
    ('accepted', 'rejected', 'questionable', 'pending')
    >>> from radcurate.query.ast import FieldMatch
    >>> review_statuses_matching(FieldMatch("review", "*ted"))
    ('accepted', 'rejected')
    """
    return tuple(
        status
        for status in REVIEW_STATUSES
        if _eval(node, SearchRecord({}, review=status), (), None)
    )
