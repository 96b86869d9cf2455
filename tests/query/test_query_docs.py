"""The docstring examples of every query module run, and the reference page's examples hold."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

from radcurate.query import matches, parse, to_text

MODULES = [
    "radcurate.query",
    "radcurate.query.ast",
    "radcurate.query.errors",
    "radcurate.query.fields",
    "radcurate.query.jsonform",
    "radcurate.query.lexer",
    "radcurate.query.parser",
    "radcurate.query.patterns",
    "radcurate.query.reference",
    "radcurate.query.text",
    "radcurate.query.values",
]
DOC = Path(__file__).resolve().parents[2] / "docs" / "query-language.md"


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
    assert result.attempted > 0


def test_every_query_in_the_reference_parses() -> None:
    """Lines of the form `query` -> `canonical` in docs/query-language.md hold."""
    text = DOC.read_text()
    pairs = re.findall(r"^\| `([^`]+)` \| `([^`]*)` \|", text, flags=re.MULTILINE)
    assert len(pairs) > 20
    for query, canonical in pairs:
        assert to_text(parse(query.replace("\\|", "|"))) == canonical.replace("\\|", "|"), query


def test_reference_example_record() -> None:
    record = {"document": {"Modality": "CT", "SeriesDescription": "Thorax 1.0 B30f"}}
    assert matches(parse("thorax b30"), record)
