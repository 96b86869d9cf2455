"""The query language of radcurate: one language for the UI, the API, the CLI and the SDK.

Full reference with examples: ``docs/query-language.md``. In short::

    lung  lung*  ?ung  "chest ct"         free text (substring, case-insensitive)
    Modality:CT  Manufacturer:SIEM*       field value (whole value, case-insensitive)
    Modality:(CT OR MR)                   one of several values
    SliceThickness:<=1.5                  comparison: < <= > >=
    age_years:[40 TO 60]  {40 TO *]       range, inclusive [ ] / exclusive { }, * open
    StudyDate:2019-01-01..2020-12-31      range; StudyDate:2019 is the whole year
    (0018,1210):B30*  (0009,1001):x       tag numbers, private tags too
    Seq.Keyword:value                     inside sequence items (any item)
    has:F  missing:F  tag:X  dataset:X  ai.name:v  qc.name:true
    review:accepted  -review:rejected     review status (accepted rejected questionable pending)
    -x  NOT x  a AND b  a b  a OR b  ( )  precedence NOT > AND > OR

Parsing never raises anything but :class:`QueryError` (syntax errors carry the
position). :func:`matches` is the reference semantics in plain Python.

Examples
--------
>>> tree = parse('Modality:(CT OR MR) "chest" -tag:excluded')
>>> to_text(tree)
'Modality:(CT OR MR) chest NOT tag:excluded'
>>> from_json(to_json(tree)) == tree
True
>>> matches(tree, {"document": {"Modality": "CT", "SeriesDescription": "Chest 1mm"}})
True
"""

from __future__ import annotations

from radcurate.query.ast import Node
from radcurate.query.errors import QueryError, QuerySyntaxError, UnknownFieldError
from radcurate.query.jsonform import from_json, to_json
from radcurate.query.parser import parse
from radcurate.query.reference import DEFAULT_TEXT_FIELDS, SearchRecord, evaluate, matches
from radcurate.query.text import to_text

__all__ = [
    "DEFAULT_TEXT_FIELDS",
    "Node",
    "QueryError",
    "QuerySyntaxError",
    "SearchRecord",
    "UnknownFieldError",
    "evaluate",
    "from_json",
    "matches",
    "parse",
    "to_json",
    "to_text",
]
