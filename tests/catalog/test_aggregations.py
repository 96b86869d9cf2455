"""Counts, aggregations and value suggestions against a plain-Python oracle, on every backend.

Uses the differential corpus (``tests/catalog/test_search_differential.py``),
through the in-memory index and with it switched off.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend
from radcurate.catalog.aggregations import AggregationError, AggregationRequest
from radcurate.catalog.index.aggregate import nice_step
from radcurate.catalog.indexed import without_field
from radcurate.query import SearchRecord, matches, parse
from radcurate.query.reference import field_values
from tests.catalog.test_search_differential import corpus, field_types

__all__ = ["corpus"]

Corpus = tuple[CatalogBackend, dict[str, SearchRecord]]


def _matching(
    catalog: CatalogBackend, records: dict[str, SearchRecord], query: str
) -> list[SearchRecord]:
    tree = parse(query)
    types = field_types(catalog)
    return [r for r in records.values() if matches(tree, r, field_types=types)]


def _key(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value.lower())
    return None


def oracle_terms(recs: list[SearchRecord], field: str) -> tuple[Counter[Any], int]:
    counts: Counter[Any] = Counter()
    missing = 0
    for rec in recs:
        values = field_values(rec, field)
        if not values:
            missing += 1
        counts.update({k for k in map(_key, values) if k is not None})
    return counts, missing


QUERIES = ["*", "Modality:(CT OR MR)", "thorax OR lung", "NOT has:StudyDate", "tag:reviewed"]
TERMS_FIELDS = ["Modality", "Manufacturer", "ImageType", "PatientSex", "Rows", "00091001",
                "ai.bodypart", "ProcedureCodeSequence.CodeValue", "contrast_given"]  # fmt: skip


def test_terms_and_counts_match_the_oracle(corpus: Corpus) -> None:
    for query in QUERIES:
        _check_terms(corpus, query)


def _check_terms(corpus: Corpus, query: str) -> None:
    catalog, records = corpus
    recs = _matching(catalog, records, query)
    requests = [AggregationRequest(f, "terms", size=3) for f in TERMS_FIELDS]
    result = catalog.aggregate(query, requests)  # type: ignore[attr-defined]
    assert result.counts.series == len(recs)
    assert result.counts.studies == len({r.document.get("StudyInstanceUID") for r in recs})
    for agg, field in zip(result.aggregations, TERMS_FIELDS, strict=True):
        counts, missing = oracle_terms(recs, field)
        got = {_key(b.key): b.count for b in agg.buckets}
        ranked = sorted(counts.values(), reverse=True)
        assert sorted(got.values(), reverse=True) == ranked[:3], field
        assert all(counts[k] == n for k, n in got.items()), field
        assert agg.other == sum(ranked[3:]), field
        assert agg.missing == missing, field


def test_histograms_match_the_oracle(corpus: Corpus) -> None:
    for query in QUERIES[:3]:
        for field in ["SliceThickness", "Rows", "age_years", "noise_level"]:
            _check_histogram(corpus, query, field)


def _check_histogram(corpus: Corpus, query: str, field: str) -> None:
    catalog, records = corpus
    recs = _matching(catalog, records, query)
    (agg,) = catalog.aggregate(query, [AggregationRequest(field, "histogram", bins=7)]).aggregations  # type: ignore[attr-defined]
    numeric = [
        [
            float(v)
            for v in field_values(r, field)
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        for r in recs
    ]
    assert agg.missing == sum(1 for r in recs if not field_values(r, field))
    assert agg.other == sum(
        1 for r, n in zip(recs, numeric, strict=True) if field_values(r, field) and not n
    )
    flat = [v for n in numeric for v in n]
    if not flat:
        assert agg.buckets == []
        return
    step = nice_step(min(flat), max(flat), 7)
    assert len(agg.buckets) <= 7
    for bucket in agg.buckets:
        want = sum(1 for n in numeric if any(bucket.low <= v < bucket.high or
                   (v == max(flat) and bucket is agg.buckets[-1]) for v in n))  # fmt: skip
        assert bucket.count == want, (field, bucket)
        assert math.isclose(bucket.high - bucket.low, step)


def test_date_histogram_by_year_and_month(corpus: Corpus) -> None:
    catalog, records = corpus
    recs = _matching(catalog, records, "*")
    result = catalog.aggregate(  # type: ignore[attr-defined]
        "*",
        [
            AggregationRequest("StudyDate", "date_histogram"),
            AggregationRequest("StudyDate", "date_histogram", interval="month"),
        ],
    )
    years = Counter(
        y
        for r in recs
        for y in {x[:4] for x in field_values(r, "StudyDate") if isinstance(x, str)}
        if y.isdigit()
    )
    by_year = result.aggregations[0]
    assert by_year.interval == "year"
    assert {b.key: b.count for b in by_year.buckets if b.count} == dict(years)
    months = [b.key for b in result.aggregations[1].buckets]
    assert months == sorted(months) and len(months) == len(set(months))
    assert sum(b.count for b in result.aggregations[1].buckets) >= sum(years.values())


def test_suggestions_ignore_the_fields_own_filter(corpus: Corpus) -> None:
    catalog, records = corpus
    query = "Manufacturer:siemens Modality:(CT OR MR)"
    scope = _matching(catalog, records, "Modality:(CT OR MR)")
    counts, _ = oracle_terms(scope, "Manufacturer")
    got = catalog.suggest_values("Manufacturer", "", query, limit=20)  # type: ignore[attr-defined]
    assert {(_key(s.value), s.count) for s in got} == set(counts.items())
    prefixed = catalog.suggest_values("Manufacturer", "SI", query)  # type: ignore[attr-defined]
    assert [s.value.lower()[:2] for s in prefixed] == ["si"] * len(prefixed) and prefixed
    assert catalog.suggest_values("Modality", "zz", "*") == []  # type: ignore[attr-defined]


def test_bad_requests_are_clear() -> None:
    with pytest.raises(AggregationError, match="unknown aggregation type"):
        AggregationRequest("Modality", "pie")  # type: ignore[arg-type]
    with pytest.raises(AggregationError, match="size"):
        AggregationRequest("Modality", size=0)
    assert str(without_field(parse("-Modality:CT"), "Modality")) == "All()"
