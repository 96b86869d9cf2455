"""DICOM attribute matching for QIDO-RS (PS3.4 C.2.2.2): one match, checked against DICOM JSON.

Examples
--------
>>> m = parse_match("StudyDate", "20190101-20191231")
>>> m.kind, element_matches(m, {"vr": "DA", "Value": ["20190615"]})
('range', True)
>>> name = {"vr": "PN", "Value": [{"Alphabetic": "DOE^J"}]}
>>> element_matches(parse_match("PatientName", "*doe*"), name)
True
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from radcurate.dicom.values import iso_date, iso_datetime, iso_time
from radcurate.dicomweb.dicomjson import keyword_of, tag_of, vr_of

__all__ = ["Match", "QidoError", "element_matches", "iso_value", "parse_match"]

MODALITIES_IN_STUDY = "00080061"


class QidoError(ValueError):
    """A QIDO-RS request that cannot be answered; the message says why (a 400)."""


@dataclass(frozen=True)
class Match:
    """One attribute match of a query."""

    tag: str
    vr: str
    kind: Literal["universal", "values", "pattern", "range"]
    values: tuple[str, ...] = ()
    low: str | None = None
    high: str | None = None

    @property
    def keyword(self) -> str:
        """The attribute's keyword (or tag)."""
        return keyword_of(self.tag)


def parse_match(key: str, value: str) -> Match:
    """One ``key=value`` matching parameter of a QIDO-RS request."""
    if "." in key:
        raise QidoError(f"matching inside sequences ({key!r}) is not supported")
    tag = tag_of(key)
    if tag is None:
        raise QidoError(f"unknown attribute {key!r}: use a DICOM keyword or 8 hex digits")
    vr = vr_of(tag) or "LO"
    if tag == MODALITIES_IN_STUDY:
        vr = "CS"
    if value == "":
        return Match(tag, vr, "universal")
    if vr in ("DA", "TM", "DT") and "-" in value and not (vr == "DT" and value[:1] == "-"):
        low, _, high = value.partition("-")
        if vr == "DT" and "-" in high:  # an offset in the upper bound is not a range separator
            raise QidoError(f"{key}: ranges with UTC offsets are not supported")
        for bound in (low, high):
            if bound and iso_value(vr, bound) is None:
                raise QidoError(f"{key}: {bound!r} is not a valid {vr} value")
        if not low and not high:
            raise QidoError(f"{key}: a range needs at least one end")
        return Match(tag, vr, "range", low=low or None, high=high or None)
    parts = tuple(value.split("\\"))
    if vr in ("DA", "TM", "DT"):
        for part in parts:
            if iso_value(vr, part) is None:
                raise QidoError(f"{key}: {part!r} is not a valid {vr} value")
        return Match(tag, vr, "values", parts)
    if any("*" in p or "?" in p for p in parts) and vr != "UI":
        return Match(tag, vr, "pattern", parts)
    return Match(tag, vr, "values", parts)


def iso_value(vr: str, value: str) -> str | None:
    """A DA, TM or DT value in ISO form (None when invalid)."""
    if vr == "DA":
        return iso_date(value)
    if vr == "TM":
        return iso_time(value)
    return iso_datetime(value)


def _text_values(element: Mapping[str, Any] | None) -> list[str]:
    if not element or "Value" not in element:
        return []
    out = []
    for value in element["Value"]:
        if isinstance(value, dict):
            out.append(str(value.get("Alphabetic", "")))
        else:
            out.append(str(value))
    return out


def _number_equal(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def element_matches(match: Match, element: Mapping[str, Any] | None, fuzzy: bool = False) -> bool:
    """DICOM matching (PS3.4 C.2.2.2) of one match against one DICOM JSON element."""
    if match.kind == "universal":
        return True
    values = _text_values(element)
    if not values:
        return False
    if match.kind == "range":
        return any(_in_range(match, v) for v in values)
    fold = match.vr == "PN" or fuzzy
    for wanted in match.values:
        for value in values:
            if match.kind == "pattern":
                # wildcards ignore case, as Orthanc's (LIKE-based) and most PACS' do
                if fnmatch.fnmatchcase(value.lower(), _fn(wanted.lower())):
                    return True
            elif match.vr in ("DS", "IS", "FL", "FD", "US", "SS", "UL", "SL"):
                if _number_equal(value, wanted):
                    return True
            elif (value.lower() == wanted.lower()) if fold else value == wanted:
                return True
    return False


def _fn(pattern: str) -> str:
    # fnmatch knows [..] too: make brackets literal
    return pattern.replace("[", "[[]")


def _sortable(vr: str, value: str) -> str:
    return (iso_value(vr, value) or value).replace("-", "").replace(":", "").replace("T", "")


def _in_range(match: Match, value: str) -> bool:
    current = _sortable(match.vr, value)
    if match.low and current < _sortable(match.vr, match.low):
        return False
    if match.high:
        high = _sortable(match.vr, match.high)
        if current[: len(high)] > high:
            return False
    return True
