"""Answers computed from one state of the search index, kept until the index changes.

A dashboard, a count or a first page asked again while nothing changed is answered from
memory, as OpenSearch's shard request cache answers repeated aggregations until its next
refresh. The cache belongs to a :class:`~radcurate.catalog.index.series_index.SeriesIndex`
and is emptied by every refresh that changed anything (series, results, reviews, tags,
datasets, projects: :meth:`SeriesIndex.refresh`), always under the index lock, so a kept
answer is exactly what computing it again would give.

Only answers that depend on nothing but the index are kept: a query with a term the index
answers through SQL (a SeriesInstanceUID confirmed in SQL, a text field outside the index,
a job term) is computed each time (:attr:`Matching.pure`). Memory is bounded in bytes (masks
are a byte per row: 1 MB at a million series) and by count; the least recently used answer
goes first. ``RADCURATE_ANSWER_CACHE=0`` turns it off (each answer computed, as before).
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from radcurate.catalog.index.column import BoolArray

if TYPE_CHECKING:
    from radcurate.catalog.index.evaluate import Evaluator
    from radcurate.catalog.index.series_index import SeriesIndex
    from radcurate.query.ast import Node

__all__ = ["AnswerCache", "Matching", "answers_enabled"]

_T = TypeVar("_T")

#: answers kept at most, and their bytes (estimated: arrays exactly, the rest roughly)
MAX_ANSWERS = 1024
MAX_BYTES = 96 * 1024 * 1024
_MISSING: Any = object()


def answers_enabled() -> bool:
    """Whether repeated answers come from memory (``RADCURATE_ANSWER_CACHE``, default on)."""
    return os.environ.get("RADCURATE_ANSWER_CACHE", "1") != "0"


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes) + 112
    if isinstance(value, (list, tuple)):
        return 64 + sum(_size(v) for v in value)
    return sys.getsizeof(value) + 256


class AnswerCache:
    """Least-recently-used answers of one index state (the caller holds the index lock)."""

    def __init__(self, max_answers: int = MAX_ANSWERS, max_bytes: int = MAX_BYTES) -> None:
        self.max_answers = max_answers
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        #: lookups answered from memory, and lookups that were not (for tests and the bench)
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any:
        """The kept answer, or the module's ``_MISSING`` marker."""
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return _MISSING
        self._entries.move_to_end(key)
        self.hits += 1
        return found[0]

    def put(self, key: Hashable, value: Any) -> None:
        size = _size(value)
        if size > self.max_bytes // 4:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        self._entries[key] = (value, size)
        self._bytes += size
        while len(self._entries) > self.max_answers or self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        """Forget every answer (the index changed)."""
        self._entries.clear()
        self._bytes = 0


class Matching:
    """The rows of the index matching one query tree, and answers derived from them.

    Made under the index lock (:meth:`IndexedSearchMixin._matching`) and used inside it: the
    mask is evaluated only when an answer is not kept already."""

    def __init__(
        self, index: SeriesIndex, tree: Node, evaluator: Callable[[], Evaluator], cache: bool
    ) -> None:
        self.index = index
        self.tree = tree
        self._evaluator = evaluator
        self._cache: AnswerCache | None = index.answers if cache and answers_enabled() else None
        self._mask: BoolArray | None = None
        #: whether the mask depends on the index alone (else no answer of it is kept)
        self.pure = False

    def mask(self) -> BoolArray:
        """Rows (alive series) matching the tree; read-only when it is kept."""
        if self._mask is not None:
            return self._mask
        cache = self._cache
        if cache is not None:
            kept: BoolArray = cache.get(("mask", self.tree))
            if kept is not _MISSING:
                self.pure = True
                self._mask = kept
                return kept
        evaluator = self._evaluator()
        mask = evaluator.mask(self.tree)
        self.pure = not evaluator.asked_sql
        if cache is not None and self.pure:
            mask.flags.writeable = False
            cache.put(("mask", self.tree), mask)
        self._mask = mask
        return mask

    def answer(self, key: Hashable, compute: Callable[[BoolArray], _T]) -> _T:
        """``compute(mask)``, kept under ``key`` (with the tree) while the index is unchanged."""
        cache = self._cache
        if cache is None:
            return compute(self.mask())
        full = (key, self.tree)
        kept = cache.get(full)
        if kept is not _MISSING:
            return kept  # type: ignore[no-any-return]
        value = compute(self.mask())
        if self.pure:
            cache.put(full, value)
        return value
