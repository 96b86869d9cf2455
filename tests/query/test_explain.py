"""Why a series matched: every positive free-text term of a matching series is explained by
values that contain it; terms under NOT and field terms explain nothing."""

from __future__ import annotations

import random

import pytest

from radcurate.query.explain import MAX_VALUE, explain, free_text_terms
from radcurate.query.parser import parse
from radcurate.query.patterns import search
from radcurate.query.reference import SearchRecord, matches

WORDS = ["lung", "liver", "CHEST", "Thorax", "axial", "t2", "flair", "ct", "B70f", "äöü"]
FIELDS = ["SeriesDescription", "StudyDescription", "BodyPartExamined", "Manufacturer"]


def _record(rng: random.Random) -> SearchRecord:
    doc = {f: " ".join(rng.sample(WORDS, rng.randint(0, 3))) for f in FIELDS if rng.random() < 0.8}
    return SearchRecord(doc, tags=rng.sample(["lung-nodule", "todo", "liver_study"], 1))


@pytest.mark.parametrize("seed", range(40))
def test_every_term_of_a_match_is_explained(seed: int) -> None:
    rng = random.Random(seed)
    terms = [rng.choice(WORDS).lower()[: rng.randint(2, 5)] + rng.choice(["", "*"])
             for _ in range(rng.randint(1, 3))]  # fmt: skip
    tree = parse(" ".join(terms))
    for _ in range(30):
        record = _record(rng)
        found = explain(tree, record, limit=100)
        for item in found:  # every explanation is true ...
            assert search(item.term, item.value)
            assert item.value[item.start : item.end]
            assert search(item.term.strip("*"), item.value[item.start : item.end])
        if matches(tree, record):  # ... and a match explains each of its terms
            assert {m.term for m in found} == set(free_text_terms(tree))


def test_not_and_field_terms_explain_nothing() -> None:
    doc = {"SeriesDescription": "Lung 1.0", "Modality": "CT"}
    assert explain(parse("NOT liver"), doc) == []
    assert explain(parse("Modality:CT"), doc) == []
    got = explain(parse("lung NOT liver Modality:CT"), doc)
    assert [(m.term, m.field, m.value[m.start : m.end]) for m in got] == [
        ("lung", "SeriesDescription", "Lung")
    ]


def test_wildcards_highlight_the_shortest_match_and_long_values_are_cut() -> None:
    value = "x" * 300 + " Chest CT with contrast " + "y" * 300
    got = explain(parse("chest*ct"), {"StudyDescription": value})
    assert len(got) == 1
    item = got[0]
    assert item.value[item.start : item.end] == "Chest CT"
    assert len(item.value) <= MAX_VALUE + 2 and item.value.startswith("…")
    assert item.value.endswith("…")
