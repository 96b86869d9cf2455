"""The search index's column: wildcard matches kept per pattern for a string table's life
(never past a new value), within a bound; ``rows_with`` never picks a row without values."""

from __future__ import annotations

import numpy as np

from radcurate.catalog.index import column
from radcurate.catalog.index.column import Column, StringTable, pattern_regex


def _column(values: list[str | None]) -> Column:
    col = Column("SeriesDescription")
    col.codes = np.array([col.code_of((v,)) if v else -1 for v in values], np.int32)
    return col


def test_a_pattern_answers_the_same_codes_again_and_a_caller_cannot_change_them() -> None:
    table = StringTable([("ax t1", 0), ("cor t2", 1), ("ax t2", 2), ("ax t2", 3)])
    regex = pattern_regex("ax*", anchored=True)
    first = table.regex(regex)
    assert sorted(first) == [0, 2, 3]
    first.append(99)  # the caller's list is its own
    assert sorted(table.regex(regex)) == [0, 2, 3]
    assert sorted(table.regex(pattern_regex("*t2", anchored=True))) == [1, 2, 3]


def test_a_new_value_is_found_by_a_pattern_asked_before() -> None:
    col = _column(["axial t1", "coronal", None])
    regex = pattern_regex("*axial*", anchored=True)
    assert col.rows_with(col.strings.regex(regex)).tolist() == [True, False, False]
    code = col.code_of(("AXIAL T2",))  # a new distinct value: a new string table
    col.codes = np.append(col.codes, np.int32(code))
    assert col.rows_with(col.strings.regex(regex)).tolist() == [True, False, False, True]


def test_the_kept_patterns_are_bounded() -> None:
    table = StringTable([(f"series {n}", n) for n in range(50)])
    for n in range(column.REGEX_CACHE_SIZE + 40):
        assert table.regex(pattern_regex(f"*{n}x*", anchored=True)) == []
    assert len(table._matches) == column.REGEX_CACHE_SIZE
    # the most recent are the ones kept
    assert (pattern_regex(f"*{column.REGEX_CACHE_SIZE + 39}x*", anchored=True).pattern,
            pattern_regex("*0x*", anchored=True).flags) in table._matches  # fmt: skip


def test_rows_with_picks_first_and_last_codes_and_never_an_empty_row() -> None:
    col = _column([None, "a", "b", None, "c", "a"])
    a, c = col.code_of(("a",)), col.code_of(("c",))
    assert col.rows_with([a, c]).tolist() == [False, True, False, False, True, True]
    assert col.rows_with([]).tolist() == [False] * 6
    assert not col.rows_with(range(len(col.values))).tolist()[0]
