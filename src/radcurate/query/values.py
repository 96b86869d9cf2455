"""How query values are read against typed document values (shared by every backend).

* :func:`parse_number`: the numbers a query may write (``512``, ``-1.5``,
  ``2e3``); ``nan``/``inf`` and anything else are not numbers.
* :func:`temporal_prefix`: for date, time and datetime fields, a value that is
  a whole period (``2019``, ``2019-03``, ``2019-03-15``, ``2019-03-15T10``,
  ``10:30``; the DICOM forms ``20190315`` and ``1030`` too) becomes the ISO
  prefix that every stored value inside that period starts with.
* :func:`boolean_literal`: ``true``/``false`` in any case.

Examples
--------
>>> parse_number("1.5"), parse_number("1e3"), parse_number("nan")
(1.5, 1000.0, None)
>>> temporal_prefix("2019", FieldType.DATE), temporal_prefix("20190315", FieldType.DATE)
('2019', '2019-03-15')
>>> temporal_prefix("2019-3", FieldType.DATE) is None
True
"""

from __future__ import annotations

import re

from radcurate.dicom.values import FieldType, iso_date, iso_time

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_TIME = r"\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_TIME_RE = re.compile(_TIME)
_DATETIME = re.compile(rf"\d{{4}}(?:-\d{{2}}(?:-\d{{2}}(?:[T ]{_TIME})?)?)?")
#: field types whose values are compared as periods
TEMPORAL = frozenset({FieldType.DATE, FieldType.TIME, FieldType.DATETIME})


def parse_number(text: str) -> float | None:
    """The number a query value writes, or None.

    Examples
    --------
    >>> parse_number("+3"), parse_number("0x10"), parse_number("1_000")
    (3.0, None, None)
    """
    return float(text) if _NUMBER.fullmatch(text) else None


def boolean_literal(text: str) -> bool | None:
    """``True``/``False`` for ``true``/``false`` (any case), else None.

    Examples
    --------
    >>> boolean_literal("TRUE"), boolean_literal("yes")
    (True, None)
    """
    lowered = text.lower()
    return True if lowered == "true" else False if lowered == "false" else None


def temporal_prefix(text: str, field_type: FieldType | None) -> str | None:
    """The ISO prefix of the period a query value names on a temporal field, or None.

    Examples
    --------
    >>> temporal_prefix("2019-03-15 10:30", FieldType.DATETIME)
    '2019-03-15T10:30'
    >>> temporal_prefix("1030", FieldType.TIME), temporal_prefix("10", FieldType.TIME)
    ('10:30', '10')
    >>> temporal_prefix("2019", FieldType.KEYWORD) is None
    True
    """
    if field_type == FieldType.DATE:
        if _DATE.fullmatch(text):
            return text
        return iso_date(text) if len(text) == 8 and text.isdigit() else None
    if field_type == FieldType.TIME:
        if _TIME_RE.fullmatch(text):
            return text
        return iso_time(text) if text.replace(".", "", 1).isdigit() else None
    if field_type == FieldType.DATETIME and _DATETIME.fullmatch(text):
        return text.replace(" ", "T")
    return None
