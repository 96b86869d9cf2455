"""Typing of DICOM element values by their VR.

Strings (CS, LO, SH, ...) stay strings, numeric VRs (DS, IS, US, FL, ...)
become numbers, DA/DT/TM become ISO 8601 strings, PN becomes its decoded text,
AS is kept as given and converted to years by :func:`age_in_years`.
"""

from __future__ import annotations

import base64
import math
import re
from enum import StrEnum
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue


class FieldType(StrEnum):
    """The type of a field in a series document (stored in the field registry)."""

    KEYWORD = "keyword"  # exact-match strings: CS, LO, SH, UI, AE, ...
    TEXT = "text"  # free text: PN, LT, ST, UT
    NUMBER = "number"
    DATE = "date"  # YYYY-MM-DD
    TIME = "time"  # HH:MM:SS[.ffffff]
    DATETIME = "datetime"
    AGE = "age"  # AS, e.g. 045Y
    SEQUENCE = "sequence"
    BINARY = "binary"
    BOOLEAN = "boolean"


NUMBER_VRS = frozenset({"DS", "IS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"})
TEXT_VRS = frozenset({"PN", "LT", "ST", "UT"})
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})

#: binary values up to this many bytes are kept (base64); longer ones are summarised
SMALL_BINARY_BYTES = 64

_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


def field_type_for_vr(vr: str) -> FieldType:
    """Map a DICOM VR to the document field type.

    Examples
    --------
    >>> field_type_for_vr("DS").value
    'number'
    >>> field_type_for_vr("PN").value
    'text'
    """
    if vr in NUMBER_VRS:
        return FieldType.NUMBER
    if vr == "DA":
        return FieldType.DATE
    if vr == "TM":
        return FieldType.TIME
    if vr == "DT":
        return FieldType.DATETIME
    if vr == "AS":
        return FieldType.AGE
    if vr == "SQ":
        return FieldType.SEQUENCE
    if vr in TEXT_VRS:
        return FieldType.TEXT
    if vr in BINARY_VRS:
        return FieldType.BINARY
    return FieldType.KEYWORD


def age_in_years(value: str) -> float | None:
    """Convert a DICOM Age String (AS) to years, or None when it is not valid.

    Examples
    --------
    >>> age_in_years("045Y")
    45.0
    >>> age_in_years("006M")
    0.5
    >>> round(age_in_years("003W"), 4)
    0.0575
    >>> age_in_years("abc") is None
    True
    """
    match = _AGE.match(value or "")
    if match is None:
        return None
    return int(match.group(1)) * _AGE_UNIT_YEARS[match.group(2).upper()]


def iso_date(value: str) -> str | None:
    """Convert a DA value (YYYYMMDD, or the old YYYY.MM.DD) to YYYY-MM-DD.

    Examples
    --------
    >>> iso_date("20190131")
    '2019-01-31'
    >>> iso_date("2019.01.31")
    '2019-01-31'
    >>> iso_date("2019") is None
    True
    """
    digits = value.strip().replace(".", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    month, day = int(digits[4:6]), int(digits[6:8])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"


def iso_time(value: str) -> str | None:
    """Convert a TM value (HHMMSS.FFFFFF, any trailing part optional; old HH:MM:SS) to ISO.

    Examples
    --------
    >>> iso_time("143005.25")
    '14:30:05.25'
    >>> iso_time("0930")
    '09:30'
    """
    text = value.strip().replace(":", "")
    main, _, frac = text.partition(".")
    if not main.isdigit() or len(main) not in (2, 4, 6) or (frac and not frac.isdigit()):
        return None
    parts = [main[i : i + 2] for i in range(0, len(main), 2)]
    if int(parts[0]) > 23 or any(int(p) > 60 for p in parts[1:]):
        return None
    out = ":".join(parts)
    return f"{out}.{frac}" if frac else out


def iso_datetime(value: str) -> str | None:
    """Convert a DT value (YYYYMMDDHHMMSS.FFFFFF&ZZXX, trailing parts optional) to ISO."""
    text = value.strip()
    offset = ""
    for sign in ("+", "-"):
        if sign in text[4:]:
            idx = text.index(sign, 4)
            text, offset = text[:idx], text[idx:]
            if len(offset) == 5:
                offset = f"{offset[:3]}:{offset[3:]}"
            break
    if len(text) < 4 or not text[:4].isdigit():
        return None
    if len(text) <= 8:
        if len(text) == 8:
            date = iso_date(text)
            return None if date is None else date + offset
        return text[:4] + ("-" + text[4:6] if len(text) >= 6 else "") + offset
    date = iso_date(text[:8])
    time = iso_time(text[8:])
    if date is None or time is None:
        return None
    return f"{date}T{time}{offset}"


def _number(raw: Any) -> float | int | None:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    if number.is_integer() and abs(number) < 2**53:
        return int(number)
    return number


def _scalar(vr: str, raw: Any) -> Any:
    """Type one value of a (possibly multi-valued) element; None when it is empty."""
    if raw is None:
        return None
    if vr in NUMBER_VRS:
        if vr == "AT":
            return f"{int(raw):08X}"
        number = _number(raw)
        return number if number is not None else _string(raw)
    text = _string(raw)
    if text is None:
        return None
    if vr == "DA":
        return iso_date(text) or text
    if vr == "TM":
        return iso_time(text) or text
    if vr == "DT":
        return iso_datetime(text) or text
    return text


def _string(raw: Any) -> str | None:
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    # NUL is padding in DICOM, never content (and PostgreSQL's JSONB refuses it)
    text = str(raw).replace("\x00", "").strip(" ")
    if not text.isprintable():
        # lone surrogates from undecodable bytes cannot be stored as UTF-8
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text or None


def binary_value(value: Any) -> str | dict[str, int] | None:
    """Keep small binary values (base64); summarise long ones by their length."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        if len(value) <= SMALL_BINARY_BYTES:
            return base64.b64encode(bytes(value)).decode("ascii")
        return {"binary_bytes": len(value)}
    return None


def typed_raw(vr: str, values: list[Any]) -> Any:
    """Type raw values (already split on backslashes) of one element; None when all are empty.

    Examples
    --------
    >>> typed_raw("DS", ["0.5", "0.5"])
    [0.5, 0.5]
    >>> typed_raw("CS", ["", "AXIAL"])
    'AXIAL'
    """
    kept = [v for v in (_scalar(vr, v) for v in values) if v is not None]
    if not kept:
        return None
    return kept if len(kept) > 1 else kept[0]


def typed_value(element: DataElement) -> Any:
    """The document value of a non-sequence element, typed by its VR.

    Multi-valued elements become lists; empty elements become None.
    """
    vr = str(element.VR)
    value = element.value
    if vr in BINARY_VRS:
        return binary_value(value)
    if value is None or value == "":
        return None
    if isinstance(value, (MultiValue, list, tuple)):
        return typed_raw(vr, list(value))
    if isinstance(value, (bytes, bytearray)) and vr not in TEXT_VRS and vr != "LO":
        return binary_value(value) if not value.isascii() else _scalar(vr, value)
    return _scalar(vr, value)
