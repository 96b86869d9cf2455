"""QIDO-RS (PS3.18 §10.6): search studies, series and instances in the catalog.

A query's attribute matches are compiled into the catalog's query language (a
coarse, case-insensitive filter that runs in SQL); every candidate is then
checked again here with DICOM's own rules (case-sensitive except for person
names, ``*``/``?`` wildcards ignoring case as Orthanc's do, date/time ranges,
UID lists), so the answer does
not depend on the catalog backend.

Examples
--------
>>> q = parse_query("study", [("PatientName", "*doe*"), ("StudyDate", "20190101-"), ("limit", "5")])
>>> q.limit, [(m.tag, m.kind) for m in q.matches]
(5, [('00100010', 'pattern'), ('00080020', 'range')])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from radcurate.catalog import CatalogBackend
from radcurate.catalog.lookup import KEY_COLUMNS
from radcurate.dicom.instance import InstanceRecord
from radcurate.dicomweb.dicomjson import (
    document_to_json,
    element_json,
    json_value,
    tag_of,
    vr_of,
)
from radcurate.dicomweb.matching import Match, QidoError, element_matches, iso_value, parse_match
from radcurate.query.ast import All, FieldIn, FieldMatch, Node, Range, conjoin
from radcurate.query.patterns import escape

Level = Literal["study", "series", "instance"]

__all__ = ["QidoError", "QidoQuery", "parse_query", "search"]

#: answer size when the client gives no limit (PS3.18 lets the server cap it)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000

T = {
    name: f"{tag:08X}"
    for name, tag in (
        ("SpecificCharacterSet", 0x00080005),
        ("StudyDate", 0x00080020),
        ("StudyTime", 0x00080030),
        ("AccessionNumber", 0x00080050),
        ("InstanceAvailability", 0x00080056),
        ("Modality", 0x00080060),
        ("ModalitiesInStudy", 0x00080061),
        ("ReferringPhysicianName", 0x00080090),
        ("TimezoneOffsetFromUTC", 0x00080201),
        ("RetrieveURL", 0x00081190),
        ("StudyDescription", 0x00081030),
        ("SeriesDescription", 0x0008103E),
        ("PatientName", 0x00100010),
        ("PatientID", 0x00100020),
        ("PatientBirthDate", 0x00100030),
        ("PatientSex", 0x00100040),
        ("StudyInstanceUID", 0x0020000D),
        ("SeriesInstanceUID", 0x0020000E),
        ("StudyID", 0x00200010),
        ("SeriesNumber", 0x00200011),
        ("InstanceNumber", 0x00200013),
        ("NumberOfStudyRelatedSeries", 0x00201206),
        ("NumberOfStudyRelatedInstances", 0x00201208),
        ("NumberOfSeriesRelatedInstances", 0x00201209),
        ("SOPClassUID", 0x00080016),
        ("SOPInstanceUID", 0x00080018),
        ("Rows", 0x00280010),
        ("Columns", 0x00280011),
        ("BitsAllocated", 0x00280100),
        ("NumberOfFrames", 0x00280008),
        ("PerformedProcedureStepStartDate", 0x00400244),
        ("PerformedProcedureStepStartTime", 0x00400245),
    )
}

#: attributes of each level (matching keys and default return keys, PS3.18 Table 6.7.1-2)
STUDY_TAGS = tuple(
    T[k]
    for k in (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDescription",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
    )
)
SERIES_TAGS = tuple(
    T[k]
    for k in (
        "Modality",
        "SeriesDescription",
        "SeriesInstanceUID",
        "SeriesNumber",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
    )
)
INSTANCE_TAGS = tuple(
    T[k]
    for k in (
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "BitsAllocated",
        "NumberOfFrames",
    )
)
COMPUTED = {
    T["ModalitiesInStudy"]: "study",
    T["NumberOfStudyRelatedSeries"]: "study",
    T["NumberOfStudyRelatedInstances"]: "study",
    T["NumberOfSeriesRelatedInstances"]: "series",
}
#: instance attributes known from the catalog's instance rows
_RECORD_FIELDS = {
    T["SOPClassUID"]: "sop_class_uid",
    T["SOPInstanceUID"]: "sop_uid",
    T["InstanceNumber"]: "instance_number",
    T["Rows"]: "rows",
    T["Columns"]: "columns",
    T["NumberOfFrames"]: "frames",
}
_CONTROL = {"limit", "offset", "fuzzymatching", "includefield", "orderby"}


@dataclass
class QidoQuery:
    """A parsed QIDO-RS query."""

    level: Level
    matches: list[Match] = field(default_factory=list)
    include: set[str] = field(default_factory=set)
    include_all: bool = False
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    fuzzy: bool = False
    study_uid: str | None = None
    series_uid: str | None = None
    #: those of the given SeriesInstanceUIDs the caller may see (None: all); the server
    #: restricts a user to their projects with it (server/scope.py)
    visible: Callable[[Sequence[str]], set[str]] | None = None


def _split_params(params: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for key, value in params:
        if key == "includefield":
            for part in value.split(","):
                if part.strip():
                    yield key, part.strip()
        else:
            yield key, value


def _int_param(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise QidoError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise QidoError(f"{name} must be between {low} and {high}, not {number}")
    return number


def parse_query(
    level: Level,
    params: Iterable[tuple[str, str]],
    *,
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> QidoQuery:
    """Read the query parameters of a QIDO-RS request.

    Raises
    ------
    QidoError
        For an unknown attribute, a bad range or a bad ``limit``/``offset``.
    """
    query = QidoQuery(level=level, study_uid=study_uid, series_uid=series_uid)
    for key, value in _split_params(params):
        if key == "limit":
            query.limit = _int_param("limit", value, 0, MAX_LIMIT)
        elif key == "offset":
            query.offset = _int_param("offset", value, 0, 10**9)
        elif key == "fuzzymatching":
            query.fuzzy = value.lower() == "true"
        elif key == "includefield":
            if value == "all":
                query.include_all = True
            else:
                tag = tag_of(value)
                if tag is None:
                    raise QidoError(f"includefield: unknown attribute {value!r}")
                query.include.add(tag)
        elif key in _CONTROL:
            continue
        else:
            query.matches.append(parse_match(key, value))
    return query


# -- the coarse filter, in the query language ---------------------------------------------


def _field(match: Match) -> str:
    return "Modality" if match.tag == T["ModalitiesInStudy"] else match.keyword


def _node(match: Match) -> Node | None:
    """The query-language node of a match (None: checked here only)."""
    if match.kind == "universal" or (match.tag in COMPUTED and match.tag != T["ModalitiesInStudy"]):
        return None
    name = _field(match)
    if match.tag in _RECORD_FIELDS or match.tag in INSTANCE_TAGS:
        return None  # instance attributes are matched on instance rows
    if match.kind == "range":
        low = iso_value(match.vr, match.low) if match.low else None
        high = iso_value(match.vr, match.high) if match.high else None
        return Range(name, low, high)
    if match.kind == "values" and match.vr in ("DA", "TM", "DT"):
        return FieldIn(name, tuple(escape(iso_value(match.vr, v) or v) for v in match.values))
    if match.kind == "pattern":
        # wildcards stay wildcards, everything else is literal
        return FieldIn(name, tuple(_pattern(v) for v in match.values))
    return FieldIn(name, tuple(escape(v) for v in match.values))


def _pattern(value: str) -> str:
    return "".join(c if c in "*?" else escape(c) for c in value)


def catalog_filter(query: QidoQuery) -> Node:
    """The query-language tree that finds candidate series of ``query``."""
    nodes: list[Node] = []
    if query.study_uid:
        nodes.append(FieldMatch("StudyInstanceUID", escape(query.study_uid)))
    if query.series_uid:
        nodes.append(FieldMatch("SeriesInstanceUID", escape(query.series_uid)))
    for match in query.matches:
        node = _node(match)
        if node is not None:
            nodes.append(node)
    return conjoin(nodes) if nodes else All()


# -- exact DICOM matching ---------------------------------------------------------------------


# -- running a query --------------------------------------------------------------------------


@dataclass
class Answer:
    """The matches of a query (DICOM JSON objects) and whether ``limit`` cut the list short."""

    items: list[dict[str, Any]]
    truncated: bool


def _include(query: QidoQuery, tags: Sequence[str]) -> set[str]:
    wanted = set(tags) | {m.tag for m in query.matches} | query.include
    return wanted


def search(catalog: CatalogBackend, query: QidoQuery, base_url: str) -> Answer:
    """Run ``query`` against ``catalog``; ``base_url`` is the DICOMweb root for RetrieveURLs."""
    if query.level == "study":
        return _studies(catalog, query, base_url)
    if query.level == "series":
        return _series(catalog, query, base_url)
    return _instances(catalog, query, base_url)


def _doc_json(document: Mapping[str, Any], tags: set[str] | None) -> dict[str, Any]:
    return document_to_json(document, tags)


def _study_wanted(query: QidoQuery) -> set[str] | None:
    if query.include_all:
        return None
    return _include(query, (*STUDY_TAGS, T["SpecificCharacterSet"]))


def _studies(catalog: CatalogBackend, query: QidoQuery, base_url: str) -> Answer:
    representative: dict[str, dict[str, Any]] = {}
    needed = query.offset + query.limit + 1
    series_checks = [m for m in query.matches if m.tag not in COMPUTED]
    modality_checks = [m for m in query.matches if m.tag == T["ModalitiesInStudy"]]
    page = min(500, max(50, needed * 2))
    for document in candidate_documents(catalog, query, page):
        study = str(document.get("StudyInstanceUID", ""))
        if study in representative or not study:
            continue
        as_json = document_to_json(document, {m.tag for m in series_checks})
        if not all(element_matches(m, as_json.get(m.tag), query.fuzzy) for m in series_checks):
            continue
        if modality_checks:
            modality = element_json(T["Modality"], document.get("Modality"))
            if not all(element_matches(m, modality, query.fuzzy) for m in modality_checks):
                continue
        representative[study] = document
        if len(representative) >= needed:
            break
    chosen = list(representative)[query.offset : query.offset + query.limit]
    truncated = len(representative) > query.offset + query.limit
    members = _study_members(catalog, chosen, query.visible)
    wanted = _study_wanted(query)
    items = []
    for study in chosen:
        document = representative[study]
        series = members.get(study) or [
            (str(document.get("SeriesInstanceUID")), document.get("Modality"), 0)
        ]
        out = _doc_json(document, wanted)
        modalities = sorted({str(modality) for _, modality, _ in series if modality})
        out[T["ModalitiesInStudy"]] = (
            {"vr": "CS", "Value": modalities} if modalities else {"vr": "CS"}
        )
        out[T["NumberOfStudyRelatedSeries"]] = {"vr": "IS", "Value": [len(series)]}
        instances = sum(count for _, _, count in series)
        out[T["NumberOfStudyRelatedInstances"]] = {"vr": "IS", "Value": [instances]}
        out[T["RetrieveURL"]] = {"vr": "UR", "Value": [f"{base_url}/studies/{study}"]}
        _ensure(out, T["StudyInstanceUID"], "UI", study)
        items.append(dict(sorted(out.items())))
    return Answer(items, truncated)


def _ensure(out: dict[str, Any], tag: str, vr: str, value: str) -> None:
    if tag not in out or "Value" not in out[tag]:
        out[tag] = {"vr": vr, "Value": [value]}


#: (SeriesInstanceUID, Modality, instance count) of one series of a study
StudyMember = tuple[str, str | None, int]


def _study_members(
    catalog: CatalogBackend,
    study_uids: Sequence[str],
    visible: Callable[[Sequence[str]], set[str]] | None = None,
) -> dict[str, list[StudyMember]]:
    """(series, modality, instance count) of every (visible) series of each study."""
    members: dict[str, list[StudyMember]] = {uid: [] for uid in study_uids}
    keys = list(catalog.series_keys("StudyInstanceUID", study_uids))
    if visible is not None:
        seen = visible([k.series_uid for k in keys])
        keys = [k for k in keys if k.series_uid in seen]
    for key in keys:
        members.setdefault(key.study_uid, []).append(
            (key.series_uid, key.modality, key.instance_count)
        )
    return members


def _series_wanted(query: QidoQuery) -> set[str] | None:
    if query.include_all:
        return None
    tags = (*SERIES_TAGS, T["SpecificCharacterSet"])
    if query.study_uid is None:
        tags = (*tags, T["StudyInstanceUID"])
    return _include(query, tags)


#: indexed attributes selective enough to look up whatever else the query asks
_SELECTIVE = frozenset({"StudyInstanceUID", "SeriesInstanceUID", "PatientID"})


def _indexed_keyword(match: Match) -> str | None:
    """The indexed column's keyword a match can be answered from, if any."""
    keyword = "Modality" if match.tag == T["ModalitiesInStudy"] else match.keyword
    return keyword if keyword in KEY_COLUMNS and match.kind == "values" else None


def _uid_constraints(query: QidoQuery) -> dict[str, set[str]]:
    """Exact values of the indexed attributes a query pins down (path UIDs included)."""
    pinned: dict[str, set[str]] = {}
    if query.study_uid:
        pinned["StudyInstanceUID"] = {query.study_uid}
    if query.series_uid:
        pinned["SeriesInstanceUID"] = {query.series_uid}
    for match in query.matches:
        keyword = _indexed_keyword(match)
        if keyword is not None:
            values = set(match.values)
            pinned[keyword] = pinned[keyword] & values if keyword in pinned else values
    return pinned


def candidate_documents(
    catalog: CatalogBackend, query: QidoQuery, page_size: int = 500
) -> Iterator[dict[str, Any]]:
    """Series documents that may match ``query``, in SeriesInstanceUID order.

    Queries that pin a study, series or patient use the catalog's indexed columns
    (``catalog.series_keys``) and read documents one by one as needed; the others
    (a modality alone among them: a sixth of the catalog is no look-up) go through the
    catalog's search, whose in-memory index answers them.
    """
    documents = _candidates(catalog, query, page_size)
    if query.visible is None:
        yield from documents
        return
    for document in documents:
        if query.visible([str(document.get("SeriesInstanceUID"))]):
            yield document


def _candidates(
    catalog: CatalogBackend, query: QidoQuery, page_size: int
) -> Iterator[dict[str, Any]]:
    pinned = _uid_constraints(query)
    if pinned.keys() & _SELECTIVE:
        for uid in _pinned_series(catalog, pinned, page_size):
            document = catalog.series_document(uid)
            if document is not None:
                yield document
        return
    yield from catalog.iter_search(catalog_filter(query), page_size=page_size)


def _pinned_series(
    catalog: CatalogBackend, pinned: Mapping[str, set[str]], page_size: int
) -> Iterator[str]:
    """SeriesInstanceUIDs with every pinned value, in order, a page of look-ups at a time.

    Pages through the most selective keyword's column and checks the others on the rows.
    """
    keyword = min(pinned, key=lambda k: (k not in _SELECTIVE, len(pinned[k])))  # not Modality
    others = [(KEY_COLUMNS[k], values) for k, values in pinned.items() if k != keyword]
    after: str | None = None
    while True:
        keys = catalog.series_keys(keyword, sorted(pinned[keyword]), after=after, limit=page_size)
        for key in keys:
            if all(getattr(key, column) in values for column, values in others):
                yield key.series_uid
        if len(keys) < page_size:
            return
        after = keys[-1].series_uid


def _matching_series(catalog: CatalogBackend, query: QidoQuery) -> Iterator[dict[str, Any]]:
    checks = [m for m in query.matches if m.tag not in COMPUTED and m.tag not in _RECORD_FIELDS]
    checks = [m for m in checks if m.tag not in INSTANCE_TAGS]
    for document in candidate_documents(catalog, query):
        as_json = document_to_json(document, {m.tag for m in checks})
        if all(element_matches(m, as_json.get(m.tag), query.fuzzy) for m in checks):
            yield document


def _series(catalog: CatalogBackend, query: QidoQuery, base_url: str) -> Answer:
    wanted = _series_wanted(query)
    items: list[dict[str, Any]] = []
    skipped = 0
    count_checks = [m for m in query.matches if m.tag == T["NumberOfSeriesRelatedInstances"]]
    for document in _matching_series(catalog, query):
        count = int(document.get("instance_count") or 0)
        count_json = {"vr": "IS", "Value": [count]}
        if not all(element_matches(m, count_json) for m in count_checks):
            continue
        if skipped < query.offset:
            skipped += 1
            continue
        if len(items) >= query.limit:
            return Answer(items, True)
        out = _doc_json(document, wanted)
        study, series = document.get("StudyInstanceUID"), document.get("SeriesInstanceUID")
        out[T["NumberOfSeriesRelatedInstances"]] = count_json
        out[T["RetrieveURL"]] = {
            "vr": "UR",
            "Value": [f"{base_url}/studies/{study}/series/{series}"],
        }
        _ensure(out, T["SeriesInstanceUID"], "UI", str(series))
        items.append(dict(sorted(out.items())))
    return Answer(items, False)


def instance_json(record: InstanceRecord, document: Mapping[str, Any]) -> dict[str, Any]:
    """The instance-level attributes of an instance row (plus its series' UIDs)."""
    out: dict[str, Any] = {}
    for tag, name in _RECORD_FIELDS.items():
        value = getattr(record, name)
        if value is not None:
            vr = vr_of(tag) or "UI"
            out[tag] = {"vr": vr, "Value": [json_value(vr, value)]}
    bits = record.attrs.get("BitsAllocated")
    if bits is not None:
        out[T["BitsAllocated"]] = {"vr": "US", "Value": [bits]}
    out[T["StudyInstanceUID"]] = {"vr": "UI", "Value": [record.study_uid]}
    out[T["SeriesInstanceUID"]] = {"vr": "UI", "Value": [record.series_uid]}
    return out


def _instances(catalog: CatalogBackend, query: QidoQuery, base_url: str) -> Answer:
    instance_checks = [m for m in query.matches if m.tag in INSTANCE_TAGS]
    extra = query.include - set(INSTANCE_TAGS)
    items: list[dict[str, Any]] = []
    skipped = 0
    for document in _matching_series(catalog, query):
        records = sorted(
            catalog.instances(str(document["SeriesInstanceUID"])),
            key=lambda r: (r.instance_number is None, r.instance_number or 0, r.sop_uid),
        )
        context = document_to_json(
            document, None if query.include_all else (extra | {m.tag for m in query.matches})
        )
        for record in records:
            own = instance_json(record, document)
            if not all(element_matches(m, own.get(m.tag)) for m in instance_checks):
                continue
            if skipped < query.offset:
                skipped += 1
                continue
            if len(items) >= query.limit:
                return Answer(items, True)
            out = {k: v for k, v in context.items() if k not in INSTANCE_TAGS}
            out.update(own)
            url = (
                f"{base_url}/studies/{record.study_uid}/series/{record.series_uid}"
                f"/instances/{record.sop_uid}"
            )
            out[T["RetrieveURL"]] = {"vr": "UR", "Value": [url]}
            items.append(dict(sorted(out.items())))
    return Answer(items, False)
