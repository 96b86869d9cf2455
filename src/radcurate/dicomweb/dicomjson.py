"""DICOM JSON (PS3.18 F.2) from catalog documents and from pydicom data sets.

Catalog documents hold typed values (ISO dates, numbers, decoded person
names); :func:`document_to_json` turns them back into the DICOM JSON model,
with the VR from the data dictionary. :func:`dataset_to_json` converts a data
set read from a file, replacing bulk data by ``BulkDataURI``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

__all__ = [
    "dataset_to_json",
    "document_to_json",
    "element_json",
    "json_value",
    "tag_of",
    "vr_of",
]

#: VRs whose JSON values are numbers
NUMBER_VRS = frozenset({"DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"})
#: VRs of binary values (never answered from a document: they are summarised there)
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


@lru_cache(maxsize=1 << 14)
def tag_of(name: str) -> str | None:
    """The 8-hex-digit tag of a keyword or of a tag written as hex (``00100020``).

    Examples
    --------
    >>> tag_of("PatientID"), tag_of("00100020"), tag_of("(0010,0020)"), tag_of("Nope")
    ('00100020', '00100020', '00100020', None)
    """
    text = name.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].replace(",", "")
    if len(text) == 8:
        try:
            int(text, 16)
        except ValueError:
            pass
        else:
            return text.upper()
    number = tag_for_keyword(text)
    return None if number is None else f"{number:08X}"


@lru_cache(maxsize=1 << 14)
def vr_of(tag: str) -> str | None:
    """The VR of a public tag from the dictionary (first of ``US or SS`` choices), or None."""
    try:
        vr = str(dictionary_VR(int(tag, 16)))
    except (KeyError, ValueError):
        return None
    return vr.split(" or ")[0]


def keyword_of(tag: str) -> str:
    """The keyword of a tag, or the tag itself for private and unknown ones."""
    try:
        return keyword_for_tag(int(tag, 16)) or tag
    except ValueError:
        return tag


def _dicom_date(value: str) -> str:
    return value.replace("-", "") if len(value) == 10 and value[4] == "-" else value


def _dicom_time(value: str) -> str:
    return value.replace(":", "")


def _dicom_datetime(value: str) -> str:
    date, sep, rest = value.partition("T")
    if not sep:
        date, offset = _split_offset(value, 10)
        return _dicom_date(date) + offset.replace(":", "")
    time, offset = _split_offset(rest, 0)
    return _dicom_date(date) + _dicom_time(time) + offset.replace(":", "")


def _split_offset(text: str, start: int) -> tuple[str, str]:
    for index in range(start, len(text)):
        if text[index] in "+-" and index > 0:
            return text[:index], text[index:]
    return text, ""


def json_value(vr: str, value: Any) -> Any:
    """One typed document value as a DICOM JSON value (None: not representable).

    Examples
    --------
    >>> json_value("DA", "2019-03-01"), json_value("TM", "14:30:05.25")
    ('20190301', '143005.25')
    >>> json_value("PN", "Doe^Jane")
    {'Alphabetic': 'Doe^Jane'}
    """
    if value is None:
        return None
    if vr in NUMBER_VRS:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return (
            int(number) if number.is_integer() and vr in ("IS", "US", "SS", "UL", "SL") else number
        )
    if vr == "PN":
        return {"Alphabetic": str(value)}
    if vr == "DA":
        return _dicom_date(str(value))
    if vr == "TM":
        return _dicom_time(str(value))
    if vr == "DT":
        return _dicom_datetime(str(value))
    if isinstance(value, (dict, list)):
        return None
    return str(value)


def element_json(tag: str, value: Any, vr: str | None = None) -> dict[str, Any] | None:
    """The DICOM JSON element of a typed document value (None when it cannot be represented)."""
    vr = vr or vr_of(tag)
    if vr is None or vr in BINARY_VRS:
        return None
    if vr == "SQ":
        if not isinstance(value, list):
            return {"vr": "SQ"}
        items = [document_to_json(item) for item in value if isinstance(item, Mapping)]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    values = value if isinstance(value, list) else [value]
    if vr in NUMBER_VRS and all(type(v) is int or type(v) is float for v in values):
        return {"vr": vr, "Value": values} if values else {"vr": vr}  # as they are (json_value)
    converted = [json_value(vr, v) for v in values]
    kept = [v for v in converted if v is not None]
    if not kept:
        return {"vr": vr}
    return {"vr": vr, "Value": kept}


def document_to_json(
    document: Mapping[str, Any], only: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """DICOM JSON of a document's DICOM attributes (derived and private fields left out).

    ``only`` restricts the answer to these tags (8 hex digits).
    """
    wanted = None if only is None else set(only)
    out: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if not name[:1].isupper() and not name[:1].isdigit():
            continue  # derived facts (lower_snake)
        tag = tag_of(name)
        if tag is None or tag.startswith("0002"):
            continue
        if wanted is not None and tag not in wanted:
            continue
        if int(tag[:4], 16) % 2 == 1:
            continue  # private: the VR is not known from the document
        element = element_json(tag, value)
        if element is not None:
            out[tag] = element
    return dict(sorted(out.items()))


BulkHandler = Callable[[str], str]


def dataset_to_json(
    ds: Dataset, bulk_uri: BulkHandler, threshold: int = 1024, path: str = ""
) -> dict[str, Any]:
    """DICOM JSON of a whole data set; binary values above ``threshold`` bytes by ``BulkDataURI``.

    ``bulk_uri`` maps a tag path (``7FE00010``, or ``00540016/0/00181072`` inside
    sequences) to the URI that retrieves that value.
    """
    out: dict[str, Any] = {}
    for element in ds:
        tag = f"{element.tag:08X}"
        if tag.startswith("0002") or element.tag.element == 0:
            continue
        out[tag] = _element(element, bulk_uri, threshold, f"{path}{tag}")
    return out


def _element(
    element: DataElement, bulk_uri: BulkHandler, threshold: int, path: str
) -> dict[str, Any]:
    vr = str(element.VR)
    if vr == "SQ":
        items = [
            dataset_to_json(item, bulk_uri, threshold, f"{path}/{index}/")
            for index, item in enumerate(element.value)
        ]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    if " or " in vr:
        vr = "OW" if "OW" in vr else vr.split(" or ")[0]
    if vr in BINARY_VRS:
        value = element.value
        if value is None or len(value) == 0:
            return {"vr": vr}
        if len(value) > threshold:
            return {"vr": vr, "BulkDataURI": bulk_uri(path)}
        return {"vr": vr, "InlineBinary": base64.b64encode(bytes(value)).decode("ascii")}
    if element.is_empty:
        return {"vr": vr}
    try:
        converted = element.to_json_dict(None, threshold)
    except Exception:  # noqa: BLE001  # a broken value is answered empty, not as a 500
        return {"vr": vr}
    return dict(converted)
