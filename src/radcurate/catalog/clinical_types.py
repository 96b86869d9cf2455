"""Typing the columns of a clinical table: integers, numbers, dates, booleans, text.

Each cell is classified on its own (an empty cell or a missing-value token is
missing); a column takes a type only when every cell that has a value fits it.
A column mixing kinds (a number column with some text cells) is stored as
text, and the problem names the rows of the cells that do not fit, never their
values (they may be patient data). docs/clinical.md has the rules.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from radcurate.catalog.clinical_read import row_list

#: cell texts read as "no value" (any case, around spaces)
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "."})
#: the column types, as the report names them
COLUMN_TYPES = ("integer", "number", "date", "datetime", "boolean", "text", "empty")
#: rows a stored problem lists at most
MAX_PROBLEM_ROWS = 100

_INT = re.compile(r"^[+-]?(0|[1-9]\d*)$")
#: digits with a leading zero: a code (``007``), kept as text
_CODE = re.compile(r"^[+-]?0\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_LOCAL_DATE = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
#: kind of a cell -> the family a column of it has
_FAMILY = {
    "int": "number",
    "float": "number",
    "date": "date",
    "datetime": "date",
    "bool": "boolean",
    "text": "text",
}
_PLURAL = {"number": "numbers", "date": "dates", "boolean": "booleans", "text": "text"}


@dataclass
class TypedColumn:
    """One column typed: its values (None: missing) per data row, and what went wrong."""

    source: str
    field: str
    type: str
    values: list[Any]
    missing: int
    problems: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def summary(self, table: str) -> dict[str, Any]:
        """The report's entry: names, type, counts and problems (no values)."""
        return {
            "column": self.source,
            "field": f"clin.{table}.{self.field}",
            "type": self.type,
            "values": len(self.values) - self.missing,
            "missing": self.missing,
            "problems": self.problems,
        }


def classify(cell: Any) -> tuple[str, Any]:
    """``(kind, value)`` of one cell: kind ``missing``, ``int``, ``float``, ``bool``,
    ``date``, ``datetime`` or ``text``; the value as it is stored when the column has
    that kind's type (dates as ISO text).

    Examples
    --------
    >>> classify(" 61 "), classify("3.5e1"), classify("2020/3/1"), classify("N/A")
    (('int', 61), ('float', 35.0), ('date', '2020-03-01'), ('missing', None))
    >>> classify("007"), classify("2021-02-30"), classify("TRUE")
    (('text', '007'), ('text', '2021-02-30'), ('bool', True))
    """
    if cell is None:
        return "missing", None
    if isinstance(cell, bool):
        return "bool", cell
    if isinstance(cell, int):
        return "int", cell
    if isinstance(cell, float):
        return ("float", cell) if math.isfinite(cell) else ("missing", None)
    if isinstance(cell, datetime):
        return "datetime", cell.isoformat(timespec="seconds")
    if isinstance(cell, date):
        return "date", cell.isoformat()
    text = str(cell).strip()
    if text.lower() in MISSING_TOKENS:
        return "missing", None
    return _classify_text(text)


def _classify_text(text: str) -> tuple[str, Any]:
    if _INT.match(text):
        return "int", int(text)
    if _CODE.match(text):
        return "text", text
    if _FLOAT.match(text):
        number = float(text)
        return ("float", number) if math.isfinite(number) else ("text", text)
    if text.lower() in ("true", "false"):
        return "bool", text.lower() == "true"
    found = _DATE.match(text)
    if found:
        try:
            return "date", date(*(int(g) for g in found.groups())).isoformat()
        except ValueError:
            return "text", text
    if _DATETIME.match(text):
        try:
            return "datetime", datetime.fromisoformat(text).isoformat(timespec="seconds")
        except ValueError:
            return "text", text
    return "text", text


def _as_text(cell: Any, kind: str, value: Any) -> str:
    """A cell as stored in a text column."""
    if kind in ("date", "datetime"):
        return str(value)
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "true" if cell else "false"
    return str(cell)


def type_column(source: str, field_name: str, cells: Sequence[Any]) -> TypedColumn:
    """The typed values of one column (``cells[i]`` is data row ``i + 1``).

    Examples
    --------
    >>> type_column("Age", "age", ["61", "", "70.5"]).type
    'number'
    >>> mixed = type_column("Age", "age", ["61", "unknown", "70"])
    >>> mixed.type, mixed.values, mixed.problems[0]["rows"]
    ('text', ['61', 'unknown', '70'], [2])
    """
    classified = [classify(c) for c in cells]
    kinds = Counter(kind for kind, _ in classified if kind != "missing")
    missing = len(cells) - sum(kinds.values())
    column = TypedColumn(source, field_name, "empty", [None] * len(cells), missing)
    if not kinds:
        column.problems.append(
            {"kind": "empty", "message": "no cell has a value: no field is written", "rows": []}
        )
        return column
    families = Counter[str]()
    for kind, count in kinds.items():
        families[_FAMILY[kind]] += count
    if len(families) == 1:
        family = next(iter(families))
        column.type = _single_type(family, set(kinds))
        column.values = [value if kind != "missing" else None for kind, value in classified]
        if family == "text":
            column.problems += _local_dates(cells, classified)
        return column
    column.type = "text"
    column.values = [
        None if kind == "missing" else _as_text(cell, kind, value)
        for cell, (kind, value) in zip(cells, classified, strict=True)
    ]
    column.problems.append(_mixed_problem(families, classified))
    return column


def _single_type(family: str, kinds: set[str]) -> str:
    if family == "number":
        return "integer" if kinds == {"int"} else "number"
    if family == "date":
        return "date" if kinds == {"date"} else "datetime"
    return family


def _mixed_problem(families: Counter[str], classified: list[tuple[str, Any]]) -> dict[str, Any]:
    """The problem of a column mixing kinds: which cells do not fit its main kind."""
    main = max(sorted(families), key=lambda f: families[f])
    odd = [
        row
        for row, (kind, _) in enumerate(classified, start=1)
        if kind != "missing" and _FAMILY[kind] != main
    ]
    total = sum(families.values())
    mix = ", ".join(f"{families[f]} {_PLURAL[f]}" for f in sorted(families))
    message = (
        f"mixed types ({mix}): stored as text; {len(odd)} of {total} cells are not "
        f"{_PLURAL[main]} (rows {row_list(odd)})"
    )
    return {"kind": "mixed", "message": message, "rows": odd[:MAX_PROBLEM_ROWS]}


def _local_dates(cells: Sequence[Any], classified: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """A hint when every text cell looks like a day/month or month/day date."""
    texts = [
        str(c).strip() for c, (kind, _) in zip(cells, classified, strict=True) if kind != "missing"
    ]
    if texts and all(_LOCAL_DATE.match(t) for t in texts):
        return [
            {
                "kind": "ambiguous_dates",
                "message": "the cells look like dates in day/month or month/day order, which "
                "cannot be told apart: stored as text (write dates as YYYY-MM-DD to have them "
                "typed)",
                "rows": [],
            }
        ]
    return []
