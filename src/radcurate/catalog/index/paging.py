"""Sorted, keyset-paginated pages of index rows, in exactly the SQL backends' order.

Order: the sort field's first value — numbers, then strings (lowercased,
code points), then booleans, then rows without one, also when descending —
then SeriesInstanceUID. A page is ``mask[perm]`` (``perm`` = every row in
sort order, repaired when rows change: see ``sort_orders``) and a cut after the
cursor's row, so a page 900,000 deep costs what the first one does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from radcurate.catalog.index.column import sort_key
from radcurate.catalog.index.series_index import SeriesIndex
from radcurate.catalog.index.sort_orders import SortedRows
from radcurate.catalog.search import Cursor, SortSpec


def sorted_rows(index: SeriesIndex, field: str | None, descending: bool) -> SortedRows:
    """Every row of the index in sort order (``.perm``)."""
    return index.sorts.order(
        field, descending, index.uids, lambda: index.columns[field or ""].sort_ordinals(descending)
    )


def row_cursor(index: SeriesIndex, spec: SortSpec, row: int) -> Cursor:
    """The cursor of a row: its sort key as the SQL backends spell it."""
    uid = index.uids[row]
    if spec.field is None:
        return Cursor(spec.text(), 3, None, None, uid)
    column = index.columns[spec.field]
    code = int(column.codes[row])
    if code < 0:
        return Cursor(spec.text(), 3, None, None, uid)
    rank, key = sort_key(column.values[code][0])
    number: Any = key if rank in (0, 2) else None
    text = key if rank == 1 else None
    return Cursor(spec.text(), rank, number, text, uid)


def page(
    index: SeriesIndex,
    mask: Any,
    spec: SortSpec,
    after: Cursor | None,
    limit: int,
) -> tuple[list[int], Cursor | None] | None:
    """Rows of one page and the cursor after it (None on the last page).

    None when the index cannot place the cursor (its series changed its sort
    key or went away since that page): the caller pages in SQL instead.
    """
    if spec.field is not None and spec.field not in index.columns:
        return None
    ordered = sorted_rows(index, spec.field, spec.descending)
    perm = ordered.perm
    positions = np.flatnonzero(mask[perm])
    start = 0
    if after is not None:
        row = index.row_of.get(after.uid)
        if row is None or not index.alive[row] or row_cursor(index, spec, row) != after:
            return None
        start = int(np.searchsorted(positions, ordered.position(row), side="right"))
    chosen = perm[positions[start : start + limit + 1]].tolist()
    rows = chosen[:limit]
    if len(chosen) <= limit:
        return rows, None
    return rows, row_cursor(index, spec, rows[-1])
