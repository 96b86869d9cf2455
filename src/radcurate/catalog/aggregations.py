"""Aggregations of a field over the series a query matches: terms, histograms, date histograms.

The requests and results the dashboard, the bias views and ``radcurate
facets`` share; computed on the search index's columns
(:mod:`radcurate.catalog.index.aggregate`).

Counting rules (the tests hold every backend to them):

* **terms** counts *series*: a series with ``ImageType = [ORIGINAL, PRIMARY]``
  counts once for each; strings are grouped case-insensitively (as the query
  language matches them) and shown in their most common spelling; ``other``
  sums the counts of the values beyond the top ``size``; ``missing`` counts
  series without any value.
* **histogram**: numeric values in ``bins`` equal, "nice" bins (1, 2 or 5
  times a power of ten) over the matched values; a series counts once per
  bin its values fall in; ``other`` counts series whose values are all
  non-numeric, ``missing`` series without a value.
* **date_histogram**: ISO dates (``YYYY-MM-DD…``) by ``year``, ``month`` or
  ``day`` (automatic: years above three years of span, months above two
  months); empty periods between the first and last are included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AggregationType = Literal["terms", "histogram", "date_histogram"]
Interval = Literal["year", "month", "day"]

AGGREGATION_TYPES: tuple[str, ...] = ("terms", "histogram", "date_histogram")
INTERVALS: tuple[str, ...] = ("year", "month", "day")
#: limits that keep one request cheap
MAX_TERMS = 1000
MAX_BINS = 200


class AggregationError(ValueError):
    """An aggregation request that cannot be answered (bad type, size, field)."""


@dataclass(frozen=True)
class AggregationRequest:
    """One aggregation of a field."""

    field: str
    type: AggregationType = "terms"
    size: int = 10
    bins: int = 20
    interval: Interval | None = None

    def __post_init__(self) -> None:
        if self.type not in AGGREGATION_TYPES:
            raise AggregationError(
                f"unknown aggregation type {self.type!r}: use one of {', '.join(AGGREGATION_TYPES)}"
            )
        if not 1 <= self.size <= MAX_TERMS:
            raise AggregationError(f"size must be between 1 and {MAX_TERMS}, not {self.size}")
        if not 1 <= self.bins <= MAX_BINS:
            raise AggregationError(f"bins must be between 1 and {MAX_BINS}, not {self.bins}")
        if self.interval is not None and self.interval not in INTERVALS:
            raise AggregationError(
                f"unknown interval {self.interval!r}: use one of {', '.join(INTERVALS)}"
            )


@dataclass(frozen=True)
class Bucket:
    """One bar: a value (terms), a bin's low edge (histogram) or a period (dates)."""

    key: Any
    count: int
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (bin edges only for histograms)."""
        out: dict[str, Any] = {"key": self.key, "count": self.count}
        if self.low is not None:
            out["low"] = self.low
            out["high"] = self.high
        return out


@dataclass(frozen=True)
class Aggregation:
    """The buckets of one aggregation."""

    field: str
    type: AggregationType
    buckets: list[Bucket]
    other: int = 0
    missing: int = 0
    interval: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out: dict[str, Any] = {
            "field": self.field,
            "type": self.type,
            "buckets": [b.to_dict() for b in self.buckets],
            "other": self.other,
            "missing": self.missing,
        }
        if self.interval is not None:
            out["interval"] = self.interval
        return out


@dataclass(frozen=True)
class Counts:
    """Series, studies and patients."""

    series: int
    studies: int
    patients: int

    def to_dict(self) -> dict[str, int]:
        """A JSON-able dict."""
        return {"series": self.series, "studies": self.studies, "patients": self.patients}


@dataclass(frozen=True)
class AggregateResult:
    """The counts of a query's matches and each requested aggregation, in request order."""

    counts: Counts
    aggregations: list[Aggregation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "counts": self.counts.to_dict(),
            "aggregations": [a.to_dict() for a in self.aggregations],
        }


@dataclass(frozen=True)
class ValueSuggestion:
    """A value of a field and how many series have it."""

    value: Any
    count: int
