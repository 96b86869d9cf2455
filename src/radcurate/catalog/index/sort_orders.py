"""Every row of the index in each sort order asked for, kept across changes.

A sorted search pages through ``perm`` (the rows in sort order). Computing one from scratch
at a million series costs a Python sort of the UIDs (~1 s) and a ``lexsort`` (0.1-0.4 s), under
the index lock: while an ingest changed rows every few seconds, every sorted search after a
change paid that and the queries behind it waited (the load benchmark's p99 of 1.3-3.8 s).

Here an order is repaired instead: the rows changed since it was made (and the new ones) are
taken out, sorted among themselves and merged back by binary search, a few passes over
int64 arrays (tens of ms). A change notes which rows changed and, when only some fields
changed (results, reviews, a column read on demand), which fields, so orders by the other
fields keep their rows. When many rows changed, a fresh sort is cheaper and is done instead.

The key of a row is ``(ordinal of its sort value, rank of its UID)``: the UID rank breaks
ties exactly as the SQL backends do (code point order), and both fit in 32 bits, so a key is
one int64 and merging is ``searchsorted`` plus ``insert``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from radcurate.catalog.index.column import IntArray

#: repair an order when at most this share of its rows changed; sort again above it
REPAIR_SHARE = 0.125

Key = tuple[str | None, bool]


@dataclass
class SortedRows:
    """Every row in one sort order (``perm``), and where a row is in it."""

    perm: IntArray
    generation: int  # the changes it has seen
    _inverse: IntArray | None = None

    def position(self, row: int) -> int:
        """Where ``row`` is in ``perm`` (the inverse permutation, made when first asked: a
        cursor page needs it, a first page does not)."""
        if self._inverse is None:
            self._inverse = _inverse(self.perm)
        return int(self._inverse[row])


@dataclass
class _Change:
    generation: int
    rows: IntArray
    fields: frozenset[str] | None  # None: any field may have changed


class SortOrders:
    """Sort permutations by ``(field, descending)``, and the UID order, repaired on change.

    Not thread-safe by itself: the index calls it under its lock.
    """

    def __init__(self) -> None:
        self._orders: dict[Key, SortedRows] = {}
        self._changes: list[_Change] = []
        self._generation = 0
        self._uid_order: IntArray | None = None  # rows in UID order
        self._uid_rank: IntArray | None = None  # per row, its place in that order
        #: how many orders were sorted from scratch, and how many repaired (tests, profiles)
        self.sorted = self.repaired = 0

    # -- what changed --------------------------------------------------------------------------
    def changed(self, rows: IntArray, fields: Collection[str] | None = None) -> None:
        """``rows`` changed (their values of ``fields``, or of any field): orders by those
        fields repair them the next time they are asked for. New rows (beyond an order's
        size) need not be named."""
        if not self._orders or rows.size == 0:
            return
        self._generation += 1
        known = None if fields is None else frozenset(fields)
        self._changes.append(_Change(self._generation, np.asarray(rows, np.int64), known))
        if sum(c.rows.size for c in self._changes) > 1_000_000:  # repair costs more than a sort
            self._orders.clear()  # the UID order stays: UIDs do not change
            self._changes.clear()

    def forget(self, field: str) -> None:
        """Drop the orders by ``field`` (its column was replaced or let go)."""
        for key in [k for k in self._orders if k[0] == field]:
            del self._orders[key]

    def clear(self) -> None:
        """Drop every order (they are sorted again when asked for)."""
        self._orders.clear()
        self._changes.clear()
        self._uid_order = self._uid_rank = None

    # -- reading -------------------------------------------------------------------------------
    def uid_rank(self, uids: Sequence[str]) -> IntArray:
        """Per row, its position in SeriesInstanceUID (code point) order."""
        self._uid_orders(uids)
        assert self._uid_rank is not None
        return self._uid_rank

    def order(
        self,
        field: str | None,
        descending: bool,
        uids: Sequence[str],
        ordinals: Callable[[], IntArray],
    ) -> SortedRows:
        """Every row in sort order; ``ordinals()`` gives per row the position of its sort
        value (see :meth:`Column.sort_ordinals`)."""
        order, rank = self._uid_orders(uids)
        if field is None:  # UIDs never change: the UID order is the order
            return SortedRows(order, self._generation, rank)
        key = (field, descending)
        size = len(uids)
        known = self._orders.get(key)
        if known is not None and known.generation == self._generation and known.perm.size == size:
            return known
        keys = (ordinals().astype(np.int64) << 32) | rank
        stale = None if known is None else self._stale_rows(known, field, size)
        perm: IntArray
        if known is None or stale is None or stale.size > REPAIR_SHARE * size:
            perm = np.argsort(keys)  # keys are unique (the UID rank): no need for a stable sort
            self.sorted += 1
        else:
            perm = _repaired(known.perm, stale, keys, size)
            self.repaired += 1
        made = self._orders[key] = SortedRows(perm, self._generation)
        self._trim()
        return made

    # -- inside --------------------------------------------------------------------------------
    def _uid_orders(self, uids: Sequence[str]) -> tuple[IntArray, IntArray]:
        """The UID order and ranks, extended by the rows added since (UIDs are only added)."""
        size = len(uids)
        order = self._uid_order
        if order is None or size - order.size > REPAIR_SHARE * size:
            order = np.asarray(sorted(range(size), key=uids.__getitem__), np.int64)
        elif order.size < size:
            added = sorted(range(order.size, size), key=uids.__getitem__)
            # where each goes in the old order (binary search over UIDs through the order)
            old = order
            at = [bisect_left(old, uids[row], key=lambda r: uids[r]) for row in added]
            order = np.insert(old, np.asarray(at, np.int64), np.asarray(added, np.int64))
        if order is not self._uid_order:
            self._uid_order, self._uid_rank = order, _inverse(order)
        assert self._uid_rank is not None
        return order, self._uid_rank

    def _stale_rows(self, known: SortedRows, field: str, size: int) -> IntArray:
        """Rows whose key may have changed since ``known`` was made, new rows included (the
        log keeps every change an order has not seen: see :meth:`_trim`)."""
        parts = [
            c.rows
            for c in self._changes
            if c.generation > known.generation and (c.fields is None or field in c.fields)
        ]
        parts.append(np.arange(known.perm.size, size, dtype=np.int64))
        return np.unique(np.concatenate(parts))

    def _trim(self) -> None:
        """Forget changes every kept order has seen."""
        if not self._orders:
            self._changes.clear()
            return
        oldest = min(o.generation for o in self._orders.values())
        self._changes = [c for c in self._changes if c.generation > oldest]


def _inverse(perm: IntArray) -> IntArray:
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size, dtype=perm.dtype)
    return inverse


def _repaired(perm: IntArray, stale: IntArray, keys: IntArray, size: int) -> IntArray:
    """``perm`` (sorted by the keys it was made with) with the ``stale`` rows taken out and put
    back where their current ``keys`` place them; rows beyond ``perm`` are among ``stale``."""
    keep = np.ones(size, np.bool_)
    keep[stale] = False
    kept = perm[keep[perm]]
    moved = stale[np.argsort(keys[stale], kind="stable")]
    at = np.searchsorted(keys[kept], keys[moved])
    repaired: IntArray = np.insert(kept, at, moved)
    return repaired
