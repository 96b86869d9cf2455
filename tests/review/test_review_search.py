"""``review:`` terms through the search index and through SQL agree with the reference
evaluator, on the varied corpus of the search differential tests (both engines), with
statuses set by hand-picked and generated queries, including terms on the ``review``
pseudo-field (``has:review``, JSON ``match``) and aggregations of it."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.aggregations import AggregationRequest
from radcurate.catalog.curation import Selection
from radcurate.catalog.sql import SQLCatalog
from radcurate.query import QueryError, SearchRecord, from_json, to_text
from radcurate.query.ast import (
    REVIEW_STATUSES,
    And,
    FieldIn,
    FieldMatch,
    Has,
    Missing,
    Node,
    Not,
    Or,
    Review,
)
from tests.catalog import test_search_differential as corpus_module

Corpus = tuple[CatalogBackend, dict[str, SearchRecord]]


def seed_reviews(catalog: CatalogBackend, records: dict[str, SearchRecord]) -> None:
    """About a third accepted, some rejected or questionable, some reset to pending."""
    rng = random.Random(15)
    uids = sorted(records)
    for status in ("accepted", "rejected", "questionable"):
        chosen = [u for u in uids if rng.random() < 0.2]
        catalog.reviews.set_reviews(Selection.of(None, include=chosen), status, actor="seed")
    catalog.reviews.set_reviews(Selection.of("Modality:SR"), "rejected", "reports", actor="qa")
    for u in uids[:5]:
        catalog.reviews.set_review(u, "pending", actor="undo")
    stored = catalog.reviews.reviews_of(uids)
    for u in uids:
        records[u] = replace(records[u], review=stored[u].status)


@pytest.fixture(params=["index", "sql"])
def corpus(catalog_url: str, request: pytest.FixtureRequest) -> Iterator[Corpus]:
    with open_catalog(catalog_url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.use_search_index = request.param == "index"
        records = corpus_module.build_corpus(catalog)
        seed_reviews(catalog, records)
        yield catalog, records


QUERIES = [
    "review:accepted", "review:rejected", "review:questionable", "review:pending",
    "-review:rejected", "NOT review:pending", "review:(accepted OR questionable)",
    "review:accepted Modality:CT", "review:rejected OR tag:excluded", "-review:rejected -tag:*",
    "Modality:SR -review:rejected", "review:pending NOT review:pending", "has:review",
    "missing:review", "NOT has:review", "review:accepted chest", "(review:accepted OR "
    "review:rejected) dataset:lidc-*", "accepted", "review:questionable ai.bodypart:chest",
]  # fmt: skip


def test_review_queries_match_the_oracle(corpus: Corpus) -> None:
    catalog, records = corpus
    statuses = Counter(r.review for r in records.values())
    assert all(statuses[s] > 5 for s in REVIEW_STATUSES), statuses
    failures = [f for q in QUERIES if (f := corpus_module.check(catalog, records, q)) is not None]
    assert not failures, "\n".join(failures)


def test_terms_on_the_review_field(corpus: Corpus) -> None:
    """JSON ``match``/``in``/``has`` on the ``review`` pseudo-field: its one value is the status."""
    catalog, records = corpus
    trees = [
        {"op": "match", "field": "review", "pattern": "ACC*"},
        {"op": "match", "field": "review", "pattern": "*ed"},
        {"op": "in", "field": "review", "patterns": ["pending", "nothing"]},
        {"op": "compare", "field": "review", "cmp": ">", "value": "p"},
        {"op": "not", "arg": {"op": "has", "field": "review"}},
    ]
    for obj in trees:
        tree = from_json(obj)
        want = corpus_module.expected(catalog, records, tree)
        assert catalog.count(tree) == len(want), obj
        assert set(catalog.series_uids(tree)) == want, obj


def test_review_facet_counts_statuses(corpus: Corpus) -> None:
    catalog, records = corpus
    for query in ("*", "Modality:CT", "-review:rejected"):
        tree = corpus_module.parse(query)
        want = Counter(records[u].review for u in corpus_module.expected(catalog, records, tree))
        result = catalog.aggregate(query, [AggregationRequest("review", size=10)])
        facet = result.aggregations[0]
        assert {b.key: b.count for b in facet.buckets} == dict(want), query
        assert facet.missing == 0
        progress = catalog.reviews.progress(query)
        assert progress.total == sum(want.values())
        assert progress.reviewed == progress.total - want["pending"]


reviews = st.sampled_from(REVIEW_STATUSES).map(Review)
mixed: st.SearchStrategy[Node] = st.one_of(
    reviews,
    reviews,
    corpus_module.atoms,
    st.builds(FieldMatch, st.just("review"), st.sampled_from(["accepted", "*ed", "p*", "x"])),
    st.builds(FieldIn, st.just("review"), st.just(("rejected", "questionable"))),
    st.builds(Has, st.just("review")),
    st.builds(Missing, st.just("review")),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(Not, children), st.builds(And, many), st.builds(Or, many))


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=st.recursive(mixed, _extend, max_leaves=5))
def test_generated_review_queries_match_the_oracle(corpus: Corpus, tree: Node) -> None:
    catalog, records = corpus
    try:
        text = to_text(tree)
    except QueryError:
        return
    found = corpus_module.check(catalog, records, text)
    assert found is None, found
