"""Aggregations on one column of the search index (rules: catalog/aggregations.py).

Counts per distinct value tuple are one ``bincount`` over the matched rows'
codes; only tuples that occur are then visited in Python, so a facet costs
milliseconds at a million series.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from radcurate.catalog.aggregations import (
    Aggregation,
    AggregationRequest,
    Bucket,
    ValueSuggestion,
)
from radcurate.catalog.index.column import BoolArray, Column, IntArray

_DATE = re.compile(r"^(\d{4})-?(\d{2})?-?(\d{2})?")
#: at most this many buckets are filled in between the first and last period
_MAX_FILLED = 1000


def code_counts(column: Column, mask: BoolArray) -> tuple[IntArray, int]:
    """Series per value tuple among the matched rows, and matched rows without a value."""
    codes = column.codes[mask]
    present = codes[codes >= 0]
    counts = np.bincount(present, minlength=len(column.values))
    return counts, int(codes.size - present.size)


def _used(counts: IntArray) -> Iterator[tuple[int, int]]:
    for code in np.flatnonzero(counts).tolist():
        yield code, int(counts[code])


def _group_key(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value.lower())
    return None  # sequence items are not values to count


def value_counts(column: Column, counts: IntArray, codes: Any = None) -> list[tuple[Any, int]]:
    """``(value, series)`` per distinct value (strings case-insensitively), most frequent first."""
    totals: Counter[tuple[str, Any]] = Counter()
    spellings: dict[tuple[str, Any], Counter[Any]] = {}
    pairs = _used(counts) if codes is None else ((c, int(counts[c])) for c in codes)
    for code, count in pairs:
        if count <= 0:
            continue
        seen: set[tuple[str, Any]] = set()
        for value in column.values[code]:
            key = _group_key(value)
            if key is None or key in seen:
                continue
            seen.add(key)
            totals[key] += count
            spellings.setdefault(key, Counter())[value] += count
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1])))
    return [(spellings[key].most_common(1)[0][0], total) for key, total in ordered]


def terms(column: Column, mask: BoolArray, request: AggregationRequest) -> Aggregation:
    """The top ``size`` values, ``other`` and ``missing``."""
    counts, missing = code_counts(column, mask)
    values = value_counts(column, counts)
    top = values[: request.size]
    other = sum(count for _, count in values[request.size :])
    buckets = [Bucket(value, count) for value, count in top]
    return Aggregation(request.field, "terms", buckets, other, missing)


def nice_step(low: float, high: float, bins: int) -> float:
    """A bin width of 1, 2 or 5 times a power of ten giving at most ``bins`` bins.

    Examples
    --------
    >>> nice_step(0.0, 99.0, 20), nice_step(0.5, 5.0, 20), nice_step(3.0, 3.0, 20)
    (5.0, 0.5, 1.0)
    """
    span = high - low
    if span <= 0:
        return 1.0
    raw = span / bins
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        step = factor * power
        if math.floor(high / step) - math.floor(low / step) + 1 <= bins:
            return step
    return 10.0 * power * 2


def histogram(column: Column, mask: BoolArray, request: AggregationRequest) -> Aggregation:
    """Numeric values in equal, round bins."""
    counts, missing = code_counts(column, mask)
    numbers: list[tuple[list[float], int]] = []
    other = 0
    for code, count in _used(counts):
        found = [
            float(v)
            for v in column.values[code]
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if found:
            numbers.append((found, count))
        else:
            other += count
    if not numbers:
        return Aggregation(request.field, "histogram", [], other, missing)
    low = min(min(f) for f, _ in numbers)
    high = max(max(f) for f, _ in numbers)
    step = nice_step(low, high, request.bins)
    first = math.floor(low / step)
    size = math.floor(high / step) - first + 1
    bars = [0] * size
    for found, count in numbers:
        for i in {min(size - 1, math.floor(v / step) - first) for v in found}:
            bars[i] += count
    buckets = []
    for i, bar in enumerate(bars):
        edge = _round((first + i) * step, step)
        buckets.append(Bucket(edge, bar, edge, _round(edge + step, step)))
    return Aggregation(request.field, "histogram", buckets, other, missing)


def _round(value: float, step: float) -> float:
    digits = max(0, -math.floor(math.log10(step)) + 1) if step > 0 else 0
    return round(value, digits)


def _period(text: str, interval: str) -> str | None:
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day = match.groups()
    if interval == "year":
        return year
    if month is None:
        return None
    if interval == "month":
        return f"{year}-{month}"
    return None if day is None else f"{year}-{month}-{day}"


def _auto_interval(first: str, last: str) -> str:
    start, end = _DATE.match(first), _DATE.match(last)
    assert start is not None and end is not None
    years = int(end.group(1)) - int(start.group(1))
    if years > 3:
        return "year"
    months = years * 12 + int(end.group(2) or 1) - int(start.group(2) or 1)
    return "month" if months > 2 else "day"


def _periods_between(first: str, last: str, interval: str) -> list[str] | None:
    """Every period from ``first`` to ``last`` (None when there would be too many)."""
    out: list[str] = []
    if interval == "year":
        out = [f"{y:04d}" for y in range(int(first), int(last) + 1)]
    elif interval == "month":
        y, m = int(first[:4]), int(first[5:7])
        while f"{y:04d}-{m:02d}" <= last and len(out) <= _MAX_FILLED:
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    else:
        try:
            day = dt.date.fromisoformat(first)
            end = dt.date.fromisoformat(last)
        except ValueError:
            return None
        while day <= end and len(out) <= _MAX_FILLED:
            out.append(day.isoformat())
            day += dt.timedelta(days=1)
    return out if len(out) <= _MAX_FILLED else None


def date_histogram(column: Column, mask: BoolArray, request: AggregationRequest) -> Aggregation:
    """ISO dates counted per year, month or day."""
    counts, missing = code_counts(column, mask)
    dated: list[tuple[list[str], int]] = []
    other = 0
    for code, count in _used(counts):
        found = [v for v in column.values[code] if isinstance(v, str) and _DATE.match(v)]
        if found:
            dated.append((found, count))
        else:
            other += count
    if not dated:
        return Aggregation(request.field, "date_histogram", [], other, missing, request.interval)
    interval = request.interval or _auto_interval(
        min(min(f) for f, _ in dated), max(max(f) for f, _ in dated)
    )
    bars: Counter[str] = Counter()
    for found, count in dated:
        periods = {p for p in (_period(v, interval) for v in found) if p is not None}
        if not periods:
            other += count
        for period in periods:
            bars[period] += count
    keys = sorted(bars)
    if keys:
        filled = _periods_between(keys[0], keys[-1], interval)
        if filled is not None:
            keys = filled
    buckets = [Bucket(key, bars.get(key, 0)) for key in keys]
    return Aggregation(request.field, "date_histogram", buckets, other, missing, interval)


def aggregate(column: Column, mask: BoolArray, request: AggregationRequest) -> Aggregation:
    """One aggregation of ``column`` over the rows of ``mask``."""
    if request.type == "terms":
        return terms(column, mask, request)
    if request.type == "histogram":
        return histogram(column, mask, request)
    return date_histogram(column, mask, request)


def suggest(column: Column, mask: BoolArray, prefix: str, limit: int) -> list[ValueSuggestion]:
    """Values starting with ``prefix`` (case-insensitive), most frequent first."""
    counts, _ = code_counts(column, mask)
    lowered = prefix.lower()
    if lowered:
        table = column.strings
        start = table.after(lowered, inclusive=True)
        codes = []
        i = start
        while i < len(table.keys) and table.keys[i].startswith(lowered):
            codes.extend(table.codes[i])
            i += 1
        codes += [
            c
            for c in column.others
            if any(str(v).lower().startswith(lowered) for v in column.values[c])
        ]
        codes += [
            int(c)
            for c in column.numbers.codes.tolist()
            if str(column.values[c][0]).lower().startswith(lowered)
        ]
        pairs = value_counts(column, counts, codes)
    else:
        pairs = value_counts(column, counts)
    out = [
        ValueSuggestion(value, count)
        for value, count in pairs
        if str(value).lower().startswith(lowered)
    ]
    return out[:limit]
