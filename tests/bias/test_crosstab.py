"""The index-level counting (catalog/index/crosstab.py) against plain Python counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from radcurate.catalog.index.column import Column
from radcurate.catalog.index.crosstab import (
    crosstab,
    group_counts,
    grouping,
    quantile_edges,
    selected,
)


def _column(values: Sequence[tuple[object, ...]]) -> Column:
    column = Column("f")
    column.codes = np.asarray([column.code_of(v) for v in values], np.int32)
    return column


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 6), st.integers(-1, 4)), max_size=300))
def test_crosstab_counts_pairs(pairs: list[tuple[int, int]]) -> None:
    rows = np.asarray([p[0] for p in pairs], np.int64)
    columns = np.asarray([p[1] for p in pairs], np.int64)
    found = crosstab(rows, 7, columns, 5)
    got = {(int(r), int(c)): int(n) for r, c, n in zip(*found, strict=True)}
    assert got == Counter((r, c) for r, c in pairs if r >= 0 and c >= 0)


def test_large_tables_are_counted_sparse() -> None:
    rng = np.random.default_rng(1)
    rows, columns = rng.integers(-1, 3000, 20_000), rng.integers(-1, 2000, 20_000)
    found = crosstab(rows, 3000, columns, 2000)  # 6M cells: by sorting, not bincount
    got = {(int(r), int(c)): int(n) for r, c, n in zip(*found, strict=True)}
    keep = (rows >= 0) & (columns >= 0)
    assert got == Counter(zip(rows[keep].tolist(), columns[keep].tolist(), strict=True))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 1)), min_size=1,
                max_size=400), st.integers(2, 12))  # fmt: skip
def test_quantile_bins_hold_every_value_once(values: list[float], bins: int) -> None:
    distinct, counts = np.unique(np.asarray(values), return_counts=True)
    edges = quantile_edges(distinct, counts.astype(float), bins)
    assert len(edges) - 1 <= bins
    # increasing edges, each a value; the last bin may be the largest value alone ([v, v])
    assert list(edges[:-1]) == sorted(set(edges[:-1])) and edges[-1] >= edges[-2]
    assert set(edges) <= set(distinct.tolist())
    column = _column([(v,) for v in values] + [()])
    mask = np.ones(len(values) + 1, bool)
    found = grouping(column, selected(column, mask), max_distinct=0, bins=bins)
    codes = found.codes(selected(column, mask))
    tallies, missing = group_counts(codes, len(found))
    assert missing == 1 and int(tallies.sum()) == len(values)  # each value in one bin
    assert found.edges is not None
    for value, code in zip(values, codes[:-1].tolist(), strict=True):
        low, high = found.edges[code], found.edges[code + 1]
        assert low <= value < high or (value == high and code == len(found) - 1)


def test_categories_group_spellings_and_cap_the_rest() -> None:
    values = [("CT",)] * 5 + [("ct",)] * 2 + [("MR",)] * 3 + [("A", "B")] + [("x",), ("y",)]
    column = _column(values)
    mask = np.ones(len(values), bool)
    found = grouping(column, selected(column, mask), max_groups=3)
    assert found.labels == ("CT", "MR", "A\\B", "(other)")
    tallies, _ = group_counts(found.codes(selected(column, mask)), len(found))
    assert tallies.tolist() == [7, 3, 1, 2]
