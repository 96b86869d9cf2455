"""Cross-tabulation on the search index: groups of a column's values, counts and tables.

A :class:`Grouping` maps each of a column's value tuples (its codes) to one
group, so that every series falls into exactly one group or none (missing):

- **numbers** (every tuple of the selection holds numbers; a tuple of several
  takes its first, e.g. PixelSpacing's row spacing): each distinct number is a
  group when there are at most ``max_distinct`` of them (or ``exact`` is asked
  for: Kruskal–Wallis and KS need the values themselves); ages in decades
  (``age_years`` and fields named ``*age*``); anything else in up to ``bins``
  quantile bins of the selection (edges at distinct values, so ties stay in one
  bin); or in the bins given by explicit ``edges`` (a reference population's);
- **dates** (``YYYYMMDD``/``YYYY-MM-DD`` strings) with more than
  ``max_distinct`` distinct values: by year;
- **everything else** as categories: strings case-insensitively (the most
  common spelling names the group), booleans, several values joined with
  ``\\``; beyond the ``max_groups`` most frequent, the rest is one ``(other)``
  group.

Counting is one ``np.bincount`` (or ``np.unique`` for large tables) over the
selected rows' group codes; a two-way table over combined codes
``row * k + column``: one pass per pair over the code arrays.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from radcurate.catalog.index.column import BoolArray, Column, IntArray

FloatArray = npt.NDArray[np.float64]
GroupKind = Literal["categorical", "numeric", "binned", "decades", "years"]

#: numbers with at most this many distinct values are groups of their own
MAX_DISTINCT = 12
#: quantile bins of other numbers
BINS = 10
#: most frequent categories kept; the rest is one ``(other)`` group
MAX_GROUPS = 50
OTHER = "(other)"
#: a dense two-way table up to this many cells (else counted sparse by sorting)
_DENSE_CELLS = 4_000_000
_DATE = re.compile(r"^(\d{4})-?\d{2}-?\d{2}")


@dataclass(frozen=True)
class Grouping:
    """How one field's values fall into groups, for one selection.

    ``lut[code]`` is the group of a column code, and its last entry, which code
    -1 reads, that of a row without a value (-1: none); ``labels`` name the
    groups (a string, number or boolean each); for binned numbers ``edges`` hold
    the ``len(labels) + 1`` bin edges (``[low, high)``, the last bin closed);
    ``numbers`` is the number of each exact numeric group.
    """

    field: str
    kind: GroupKind
    labels: tuple[Any, ...]
    lut: IntArray
    edges: tuple[float, ...] | None = None
    numbers: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def codes(self, codes: IntArray, missing: int = -1) -> IntArray:
        """The group of each row, given the rows' column codes (-1: in no group, or
        ``missing`` for rows without a value)."""
        lut = self.lut
        if missing != -1:
            lut = lut.copy()
            lut[-1] = missing
        return lut[codes]


def _number(values: tuple[Any, ...]) -> float | None:
    first = values[0]
    if isinstance(first, bool) or not isinstance(first, (int, float)):
        return None
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        return None
    return float(first)


def _category(values: tuple[Any, ...]) -> tuple[str, Any]:
    """A case-insensitive key and the spelling of a value tuple."""
    if len(values) == 1:
        value = values[0]
        if isinstance(value, str):
            return "s" + value.lower(), value
        if isinstance(value, bool):
            return "b" + str(value), value
        if isinstance(value, (int, float)):
            return "n" + repr(float(value)), value
    text = "\\".join(str(v) for v in values)
    return "s" + text.lower(), text


def selected(column: Column, mask: BoolArray) -> IntArray:
    """The column codes of the rows of ``mask`` (the codes themselves when it holds every
    row: no copy)."""
    codes = column.codes
    if mask.shape[0] == codes.shape[0] and mask.all():
        return codes
    return codes[mask]


def used_codes(codes: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """The codes (of ``size`` distinct values) that occur and how many rows hold each."""
    counts = np.bincount(codes + 1, minlength=size + 1)[1:]
    used = np.flatnonzero(counts)
    return used, counts[used]


def grouping(
    column: Column,
    codes: IntArray,
    *,
    exact: bool = False,
    edges: tuple[float, ...] | None = None,
    max_distinct: int = MAX_DISTINCT,
    bins: int = BINS,
    max_groups: int = MAX_GROUPS,
) -> Grouping:
    """The groups of ``column``'s values among rows with the column codes ``codes``
    (:func:`selected`; module docstring)."""
    used, counts = used_codes(codes, len(column.values))
    lut = np.full(len(column.values) + 1, -1, np.int64)
    values = [column.values[c] for c in used.tolist()]
    numbers = [_number(v) for v in values]
    if values and all(n is not None for n in numbers):
        found = np.asarray(numbers, np.float64)
        return _numeric(column.name, used, found, counts, lut, exact, edges, max_distinct, bins)
    keys: list[str] = []
    spellings: dict[str, Counter[Any]] = {}
    totals: Counter[str] = Counter()
    dates = bool(values) and all(
        len(v) == 1 and isinstance(v[0], str) and _DATE.match(v[0]) for v in values
    )
    for value, count in zip(values, counts.tolist(), strict=True):
        key, spelling = _category(value)
        keys.append(key)
        totals[key] += count
        spellings.setdefault(key, Counter())[spelling] += count
    if dates and len(totals) > max_distinct:
        years = sorted({str(v[0])[:4] for v in values})
        position = {year: i for i, year in enumerate(years)}
        lut[used] = [position[str(v[0])[:4]] for v in values]
        return Grouping(column.name, "years", tuple(years), lut)
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    kept = ranked[:max_groups]
    group = {key: i for i, key in enumerate(kept)}
    labels: list[Any] = [spellings[k].most_common(1)[0][0] for k in kept]
    if len(ranked) > max_groups:
        labels.append(OTHER)
    lut[used] = [group.get(k, max_groups) for k in keys]
    return Grouping(column.name, "categorical", tuple(labels), lut)


def _is_age(field: str) -> bool:
    return field == "age_years" or "age" in field.rsplit(".", 1)[-1].lower()


def _numeric(
    field: str,
    used: IntArray,
    found: FloatArray,
    counts: IntArray,
    lut: IntArray,
    exact: bool,
    edges: tuple[float, ...] | None,
    max_distinct: int,
    bins: int,
) -> Grouping:
    distinct, inverse = np.unique(found, return_inverse=True)
    if edges is None and (exact or distinct.size <= max_distinct):
        lut[used] = inverse
        labels = tuple(int(v) if float(v).is_integer() else float(v) for v in distinct)
        return Grouping(field, "numeric", labels, lut, numbers=distinct)
    kind: GroupKind = "binned"
    if edges is None:
        if _is_age(field):
            kind = "decades"
            low, high = np.floor(distinct[0] / 10) * 10, np.floor(distinct[-1] / 10) * 10 + 10
            edges = tuple(float(e) for e in np.arange(low, high + 1, 10.0))
        else:
            weights = np.bincount(inverse, weights=counts).astype(np.float64)
            edges = quantile_edges(distinct, weights, bins)
    cut = np.asarray(edges, np.float64)
    group = np.searchsorted(cut, found, side="right") - 1
    group[found == cut[-1]] = len(cut) - 2  # the last bin is closed
    group[(found < cut[0]) | (found > cut[-1])] = -1
    lut[used] = group
    names = [f"[{_fmt(a)}, {_fmt(b)})" for a, b in itertools.pairwise(cut.tolist())]
    if names:
        names[-1] = names[-1][:-1] + "]"
    return Grouping(field, kind, tuple(names), lut, edges=tuple(float(e) for e in cut))


def quantile_edges(distinct: FloatArray, weights: FloatArray, bins: int) -> tuple[float, ...]:
    """Edges of up to ``bins`` bins holding about equal shares of the values.

    ``distinct`` are sorted distinct values and ``weights`` their counts; every
    edge is a distinct value (a value's rows never straddle two bins), the last
    edge the largest value.

    Examples
    --------
    >>> quantile_edges(np.arange(10.0), np.ones(10), 5)
    (0.0, 2.0, 4.0, 6.0, 8.0, 9.0)
    """
    share = np.cumsum(weights) / weights.sum()
    starts = [0]
    for q in np.arange(1, bins) / bins:
        i = int(np.searchsorted(share, q - 1e-12, side="left")) + 1  # first value past q
        if i < distinct.size and i > starts[-1]:
            starts.append(i)
    return (*(float(distinct[i]) for i in starts), float(distinct[-1]))


def _fmt(value: float) -> str:
    return f"{value:g}"


def group_counts(codes: IntArray, size: int) -> tuple[IntArray, int]:
    """Rows per group (of ``size``) and rows in none (code -1): one ``bincount``."""
    counts = np.bincount(codes + 1, minlength=size + 1)
    return counts[1:], int(counts[0])


def crosstab(
    rows: IntArray, n_rows: int, columns: IntArray, n_columns: int
) -> tuple[IntArray, IntArray, IntArray]:
    """The non-empty cells ``(row, column, count)`` of two group-code arrays of the same rows.

    Rows where either code is -1 are left out. One ``bincount`` over the combined
    codes ``(row + 1) * (n_columns + 1) + column + 1`` (``np.unique`` when the
    table would be too large to hold densely).

    Examples
    --------
    >>> [a.tolist() for a in crosstab(np.array([0, 0, 1, -1]), 2, np.array([1, 1, 0, 0]), 2)]
    [[0, 1], [1, 0], [2, 1]]
    """
    width = n_columns + 1
    combined = rows.astype(np.int64)
    combined += 1
    combined *= width
    combined += columns
    combined += 1
    if (n_rows + 1) * width <= _DENSE_CELLS:
        table = np.bincount(combined, minlength=(n_rows + 1) * width)
        cells = np.flatnonzero(table)
        counts = table[cells]
    else:
        cells, counts = np.unique(combined, return_counts=True)
    row, column = cells // width - 1, cells % width - 1
    keep = (row >= 0) & (column >= 0)
    return row[keep], column[keep], counts[keep].astype(np.int64)


def dense(
    cells: tuple[IntArray, IntArray, IntArray], n_rows: int, n_columns: int
) -> npt.NDArray[np.int64]:
    """A sparse table as a dense ``n_rows x n_columns`` array."""
    table = np.zeros((n_rows, n_columns), np.int64)
    table[cells[0], cells[1]] = cells[2]
    return table


@dataclass(frozen=True)
class VersionRef:
    """A frozen dataset version as a selection: its member series (those still held)."""

    name: str
    version: int


#: the target of a cross-tabulation: a column, or a row mask (series matching a query)
Target = Column | BoolArray


@dataclass
class Tabulation:
    """Everything a bias report or a comparison counts, taken in one hold of the index lock.

    Per selection: its series/studies/patients (``counts``). Per field: its
    :class:`Grouping` over the union of the selections, and per selection the
    rows per group and the rows without a value (``tallies``). With a target:
    its grouping (a query target: group 0 matches, group 1 does not), the
    selected rows without a target value (``target_missing``), and per field
    the cells ``(group, target group, count)`` of the first selection, a field's
    missing rows counted in an extra last group ``len(grouping)``. With two
    selections: series and patients in both (``overlap``).
    """

    counts: list[dict[str, int]]
    groupings: dict[str, Grouping]
    tallies: dict[str, list[tuple[IntArray, int]]]
    target: Grouping | None = None
    target_missing: int = 0
    tables: dict[str, tuple[IntArray, IntArray, IntArray]] | None = None
    overlap: dict[str, int] | None = None
    #: with ``numbers``: per numeric field, its distinct numbers and rows per number per selection
    numbers: dict[str, tuple[FloatArray, list[IntArray]]] | None = None


def _target_grouping(target: Target, mask: BoolArray, exact: bool) -> tuple[Grouping, IntArray]:
    if isinstance(target, Column):
        codes = selected(target, mask)
        found = grouping(target, codes, exact=exact)
        return found, found.codes(codes)
    lut = np.asarray([-1], np.int64)
    codes = np.where(target[mask], 0, 1).astype(np.int64)
    return Grouping("(query)", "categorical", (True, False), lut), codes


def tabulate(
    index: Any,
    masks: list[BoolArray],
    columns: dict[str, Column],
    *,
    target: Target | None = None,
    exact: frozenset[str] = frozenset(),
    exact_target: bool = False,
    edges: dict[str, tuple[float, ...]] | None = None,
    max_groups: int = MAX_GROUPS,
    numbers: bool = False,
) -> Tabulation:
    """Count ``columns`` over the rows of ``masks`` of ``index`` (a ``SeriesIndex``; the
    caller holds its lock). ``exact`` fields (and the target with ``exact_target``) keep
    every distinct number as a group; ``edges`` bin a numeric field as given; ``numbers``
    also counts every distinct number of the numeric fields (:attr:`Tabulation.numbers`)."""
    union = masks[0]
    if len(masks) > 1:
        union = masks[0].copy()
        for mask in masks[1:]:
            union |= mask
    counts = [index.counts(mask) for mask in masks]
    out = Tabulation(counts, {}, {})
    target_codes: IntArray | None = None
    if target is not None:
        out.target, target_codes = _target_grouping(target, masks[0], exact_target)
        out.target_missing = int(np.count_nonzero(target_codes < 0))
        out.tables = {}
    if numbers:
        out.numbers = {}
    for name, column in columns.items():
        picked = [selected(column, mask) for mask in masks]
        found = grouping(
            column,
            picked[0] if len(masks) == 1 else selected(column, union),
            exact=name in exact,
            edges=(edges or {}).get(name),
            max_groups=max_groups,
        )
        out.groupings[name] = found
        out.tallies[name] = [group_counts(found.codes(codes), len(found)) for codes in picked]
        if target_codes is not None and out.tables is not None and out.target is not None:
            rows = found.codes(picked[0], missing=len(found))  # missing: a group of its own
            out.tables[name] = crosstab(rows, len(found) + 1, target_codes, len(out.target))
        if out.numbers is not None and found.kind in ("numeric", "binned", "decades"):
            if found.numbers is None:
                found = grouping(column, selected(column, union), exact=True)
            assert found.numbers is not None
            per = [group_counts(found.codes(codes), len(found))[0] for codes in picked]
            out.numbers[name] = (found.numbers, per)
    if len(masks) == 2:
        both = masks[0] & masks[1]
        patients = [np.unique(index.patient[m]) for m in masks]
        shared = np.intersect1d(patients[0], patients[1], assume_unique=True)
        out.overlap = {
            "series": int(np.count_nonzero(both)),
            "patients": int(np.count_nonzero(shared >= 0)),
        }
    return out
