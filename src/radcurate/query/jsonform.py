"""The JSON form of a query tree, for API clients that build queries in code.

Every node is an object with an ``"op"``::

    {"op": "all"}
    {"op": "text", "pattern": "lung*"}
    {"op": "match", "field": "Modality", "pattern": "CT"}
    {"op": "in", "field": "Modality", "patterns": ["CT", "MR"]}
    {"op": "compare", "field": "SliceThickness", "cmp": "<=", "value": "1.5"}
    {"op": "range", "field": "age_years", "low": "40", "high": null,
     "include_low": true, "include_high": true}
    {"op": "has", "field": "ConvolutionKernel"}    {"op": "missing", "field": "PatientSex"}
    {"op": "tag", "pattern": "excluded"}           {"op": "dataset", "pattern": "lidc-*"}
    {"op": "job", "pattern": "4fe0…"}              {"op": "review", "status": "rejected"}
    {"op": "not", "arg": {...}}
    {"op": "and", "args": [{...}, ...]}            {"op": "or", "args": [{...}, ...]}

Patterns use ``*``/``?`` wildcards and backslash escapes
(:mod:`radcurate.query.patterns`); ``value``/``low``/``high`` may be JSON
numbers (written back as strings). Field names are resolved like query text
(``(0018,1210)`` becomes ``ConvolutionKernel``). :func:`from_json` checks the
whole tree and raises :class:`~radcurate.query.errors.QueryError` on anything
malformed, and returns the normal form (``and``/``or`` flattened, a lone
argument unwrapped, ``text`` of only ``*`` turned into ``all``).

Examples
--------
>>> from radcurate.query.parser import parse
>>> to_json(parse("Modality:CT -tag:excluded"))
{'op': 'and', 'args': [{'op': 'match', 'field': 'Modality', 'pattern': 'CT'}, \
{'op': 'not', 'arg': {'op': 'tag', 'pattern': 'excluded'}}]}
>>> from_json({"op": "compare", "field": "(0018,0050)", "cmp": "<=", "value": 1.5})
Compare(field='SliceThickness', op='<=', value='1.5')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from radcurate.query.ast import (
    COMPARE_OPS,
    REVIEW_STATUSES,
    All,
    And,
    Compare,
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
    conjoin,
    disjoin,
)
from radcurate.query.errors import QueryError
from radcurate.query.fields import check_field, is_field_path, resolve_field
from radcurate.query.limits import check_terms
from radcurate.query.parser import MAX_DEPTH
from radcurate.query.patterns import canonical, matches_everything


def to_json(node: Node) -> dict[str, Any]:
    """The JSON form (plain dicts, lists, strings, booleans and None) of a tree.

    Examples
    --------
    >>> from radcurate.query.ast import Range
    >>> to_json(Range("age_years", "40", None))
    {'op': 'range', 'field': 'age_years', 'low': '40', 'high': None, \
'include_low': True, 'include_high': True}
    """
    if isinstance(node, All):
        return {"op": "all"}
    if isinstance(node, Text):
        return {"op": "text", "pattern": node.pattern}
    if isinstance(node, FieldMatch):
        return {"op": "match", "field": node.field, "pattern": node.pattern}
    if isinstance(node, FieldIn):
        return {"op": "in", "field": node.field, "patterns": list(node.patterns)}
    if isinstance(node, Compare):
        return {"op": "compare", "field": node.field, "cmp": node.op, "value": node.value}
    if isinstance(node, Range):
        return {
            "op": "range",
            "field": node.field,
            "low": node.low,
            "high": node.high,
            "include_low": node.include_low,
            "include_high": node.include_high,
        }
    if isinstance(node, Has):
        return {"op": "has", "field": node.field}
    if isinstance(node, Missing):
        return {"op": "missing", "field": node.field}
    if isinstance(node, Tag):
        return {"op": "tag", "pattern": node.pattern}
    if isinstance(node, Dataset):
        return {"op": "dataset", "pattern": node.pattern}
    if isinstance(node, Project):
        return {"op": "project", "pattern": node.pattern}
    if isinstance(node, Job):
        return {"op": "job", "pattern": node.pattern}
    if isinstance(node, Review):
        return {"op": "review", "status": node.status}
    if isinstance(node, Not):
        return {"op": "not", "arg": to_json(node.child)}
    if isinstance(node, And):
        return {"op": "and", "args": [to_json(c) for c in node.children]}
    if isinstance(node, Or):
        return {"op": "or", "args": [to_json(c) for c in node.children]}
    raise TypeError(f"not a query node: {node!r}")


_KEYS: dict[str, set[str]] = {
    "all": set(),
    "text": {"pattern"},
    "match": {"field", "pattern"},
    "in": {"field", "patterns"},
    "compare": {"field", "cmp", "value"},
    "range": {"field", "low", "high", "include_low", "include_high"},
    "has": {"field"},
    "missing": {"field"},
    "tag": {"pattern"},
    "dataset": {"pattern"},
    "project": {"pattern"},
    "job": {"pattern"},
    "review": {"status"},
    "not": {"arg"},
    "and": {"args"},
    "or": {"args"},
}
_OPTIONAL = {"low", "high", "include_low", "include_high"}


def from_json(obj: Any, *, fields: Iterable[str] | None = None) -> Node:
    """Check and convert the JSON form to a (normal) tree.

    Raises
    ------
    QueryError
        When anything is malformed (the message names the path, e.g.
        ``args[1].field``), or (as ``UnknownFieldError``) when ``fields`` is
        given and a field is unknown.

    Examples
    --------
    >>> from_json({"op": "or", "args": [{"op": "tag", "pattern": "a"}]})
    Tag(pattern='a')
    >>> from_json({"op": "match", "field": "Modality"})
    Traceback (most recent call last):
      ...
    radcurate.query.errors.QueryError: query JSON: (root) needs 'pattern'
    """
    names = None if fields is None else frozenset(fields)
    return check_terms(_convert(obj, "(root)", 1, names))


def _fail(path: str, message: str) -> QueryError:
    return QueryError(f"query JSON: {path} {message}")


def _string(obj: dict[str, Any], key: str, path: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", f"must be a string, not {type(value).__name__}")
    return value


def _scalar(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise _fail(path, "must be a string or a finite number")


def _field(obj: dict[str, Any], path: str, names: frozenset[str] | None) -> str:
    written = _string(obj, "field", path)
    if not is_field_path(written):
        raise _fail(f"{path}.field", f"is not a field name: {written!r}")
    field = resolve_field(written)
    check_field(field, names)
    return field


def _convert(obj: Any, path: str, depth: int, names: frozenset[str] | None) -> Node:
    if depth > MAX_DEPTH:
        raise _fail(path, f"is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(obj, dict):
        raise _fail(path, f"must be an object, not {type(obj).__name__}")
    op = obj.get("op")
    if not isinstance(op, str) or op not in _KEYS:
        raise _fail(path, f"has no valid 'op' (one of {', '.join(sorted(_KEYS))})")
    allowed = _KEYS[op]
    extra = set(obj) - allowed - {"op"}
    if extra:
        raise _fail(path, f"has unexpected keys for {op!r}: {', '.join(sorted(map(str, extra)))}")
    for key in sorted(allowed - _OPTIONAL):
        if key not in obj:
            raise _fail(path, f"needs {key!r}")
    if op == "all":
        return All()
    if op == "review":
        status = _string(obj, "status", path)
        if status.lower() not in REVIEW_STATUSES:
            raise _fail(f"{path}.status", f"must be one of {', '.join(REVIEW_STATUSES)}")
        return Review(status.lower())
    if op in ("text", "tag", "dataset", "project", "job"):
        pattern = canonical(_string(obj, "pattern", path))
        if op == "tag":
            return Tag(pattern)
        if op == "project":
            return Project(pattern)
        if op == "job":
            return Job(pattern)
        if op == "dataset":
            return Dataset(pattern)
        if not pattern:
            raise _fail(f"{path}.pattern", "must not be empty")
        return All() if matches_everything(pattern) else Text(pattern)
    if op in ("not", "and", "or"):
        if op == "not":
            return Not(_convert(obj["arg"], f"{path}.arg", depth + 1, names))
        args = obj["args"]
        if not isinstance(args, list) or not args:
            raise _fail(f"{path}.args", "must be a non-empty list")
        children = [_convert(a, f"{path}.args[{i}]", depth + 1, names) for i, a in enumerate(args)]
        return conjoin(children) if op == "and" else disjoin(children)
    field = _field(obj, path, names)
    if op == "has":
        return Has(field)
    if op == "missing":
        return Missing(field)
    if op == "match":
        return FieldMatch(field, canonical(_string(obj, "pattern", path)))
    if op == "in":
        patterns = obj["patterns"]
        if not isinstance(patterns, list) or not patterns:
            raise _fail(f"{path}.patterns", "must be a non-empty list of strings")
        values = [
            canonical(_string({"p": p}, "p", f"{path}.patterns[{i}]"))
            for i, p in enumerate(patterns)
        ]
        return FieldMatch(field, values[0]) if len(values) == 1 else FieldIn(field, tuple(values))
    if op == "compare":
        cmp = obj["cmp"]
        if cmp not in COMPARE_OPS:
            raise _fail(f"{path}.cmp", f"must be one of {', '.join(COMPARE_OPS)}")
        return Compare(field, cmp, _scalar(obj["value"], f"{path}.value"))
    low = obj.get("low")
    high = obj.get("high")
    low_text = None if low is None else _scalar(low, f"{path}.low")
    high_text = None if high is None else _scalar(high, f"{path}.high")
    if low_text is None and high_text is None:
        raise _fail(path, "needs 'low' or 'high'")
    flags = []
    for key in ("include_low", "include_high"):
        flag = obj.get(key, True)
        if not isinstance(flag, bool):
            raise _fail(f"{path}.{key}", "must be true or false")
        flags.append(flag)
    return Range(field, low_text, high_text, flags[0], flags[1])
