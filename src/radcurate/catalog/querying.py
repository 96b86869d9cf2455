"""Running queries: ``count``, ``search``, ``iter_search``, ``series_uids``.

Each goes through the in-memory search index when it is on (``catalog/indexed.py``)
and falls back to the query compiled to SQL (``catalog/search.py``) otherwise, or
where the index cannot serve a page (a sort field it does not hold, a cursor whose
series changed). Part of ``SQLCatalog``; see docs/search.md.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from radcurate.catalog.aggregations import Counts
from radcurate.catalog.base import SearchPage
from radcurate.catalog.index.paging import page as index_page
from radcurate.catalog.index.paging import sorted_rows
from radcurate.catalog.result_types import flat_results
from radcurate.catalog.rows import document_from_row
from radcurate.catalog.search import Cursor, SortSpec, compile_where, page_query
from radcurate.dicom.values import FieldType
from radcurate.query import parse
from radcurate.query.ast import Node
from radcurate.query.cancel import current_token
from radcurate.query.limits import (
    QueryCancelledError,
    budget_spent,
    check_budget,
    dedupe,
    query_budget,
)

if TYPE_CHECKING:
    from radcurate.catalog.base import FieldInfo
    from radcurate.catalog.index.answers import Matching
    from radcurate.catalog.index.column import BoolArray
    from radcurate.catalog.index.series_index import SeriesIndex
    from radcurate.catalog.result_store import ResultStore
    from radcurate.catalog.review_store import ReviewStore
    from radcurate.catalog.search import SearchDialect

#: rows per IN (...) list
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def within_budget(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a query method under the catalog's ``query_budget_s``; a SQLite statement the
    budget or a cancel (``radcurate.query.cancel``) interrupted
    (``search_sqlite.register_functions``) raises ``QueryTimeoutError`` /
    ``QueryCancelledError``, not SQLite's ``interrupted``."""

    @functools.wraps(method)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with query_budget(getattr(args[0], "query_budget_s", None)):
            try:
                return method(*args, **kwargs)
            except sqlite3.OperationalError:
                if budget_spent():
                    check_budget()  # raises QueryTimeoutError
                raise

    return run


def _check_cancelled() -> None:
    """Raise ``QueryCancelledError`` when the consumer's work was cancelled (its client went
    away): a long ``iter_search`` (a QIDO-RS listing) stops at its next page. Only the
    cancel token, not the time budget: a consumer may take its time between pages."""
    token = current_token()
    if token is not None and token.reason is not None:
        raise QueryCancelledError(token.reason)


class QueryMixin:
    """The query-running half of ``SQLCatalog``."""

    search_text_fields: tuple[str, ...]

    if TYPE_CHECKING:

        def _search_dialect(self) -> SearchDialect: ...

        def _search_read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

        def fields(self) -> list[FieldInfo]: ...

        def curation_of(self, series_uids: Sequence[str]) -> dict[str, dict[str, list[str]]]: ...

        result_store: ResultStore
        reviews: ReviewStore

        def _index_mask(
            self, tree: Node
        ) -> AbstractContextManager[tuple[SeriesIndex, BoolArray] | None]: ...

        def _index_matching(self, tree: Node) -> AbstractContextManager[Matching | None]: ...

    def _field_types(self) -> dict[str, FieldType]:
        return {f.name: f.type for f in self.fields()}

    def _compile(self, query: str | Node) -> tuple[str, tuple[Any, ...]]:
        tree = dedupe(parse(query) if isinstance(query, str) else query)
        return compile_where(
            tree,
            self._search_dialect(),
            field_types=self._field_types(),
            text_fields=self.search_text_fields,
        )

    @within_budget
    def count(self, query: str | Node) -> int:
        """How many series match ``query`` (query text or a tree).

        Text is parsed with :func:`radcurate.query.parse`; a bad query raises its
        :class:`~radcurate.query.QueryError` unchanged. Dates and times follow the
        field registry's types (else the DICOM dictionary), like the reference.
        """
        tree = dedupe(parse(query) if isinstance(query, str) else query)
        with self._index_mask(tree) as found:
            if found is not None:
                return int(found[1].sum())
        return self._count_where(self._compile(tree))

    def _count_where(self, where: tuple[str, tuple[Any, ...]]) -> int:
        """How many series satisfy a compiled condition (from ``catalog.search.compile_where``)."""
        sql = f"SELECT COUNT(*) FROM series s WHERE {where[0]}"
        return int(self._search_read(sql, where[1])[0][0])

    @within_budget
    def series_uids(self, query: str | Node) -> list[str]:
        """The SeriesInstanceUIDs of every series matching ``query``, in UID order.

        What bulk actions (tagging, datasets) act on; a bad query raises ``QueryError``.
        """
        tree = dedupe(parse(query) if isinstance(query, str) else query)
        with self._index_mask(tree) as found:
            if found is not None:
                index, mask = found
                return sorted(index.uids[r] for r in np.flatnonzero(mask).tolist())
        sql, params = self._compile(tree)
        rows = self._search_read(
            f"SELECT s.series_uid FROM series s WHERE {sql} ORDER BY s.series_uid", params
        )
        return [str(r[0]) for r in rows]

    @within_budget
    def search(
        self,
        query: str | Node,
        *,
        limit: int = 50,
        after: str | None = None,
        sort: str | None = None,
    ) -> SearchPage:
        """One page of the series matching ``query``, in a stable order.

        Parameters
        ----------
        query
            Query text or a tree (a bad query raises ``QueryError``).
        limit
            The most documents on the page (at least 1).
        after
            ``next_cursor`` of the previous page; the same query and sort must be given.
        sort
            A field (``SliceThickness``, ``-StudyDate`` for descending, tag
            numbers too). Series are ordered by the field's first value:
            numbers, then strings (lowercased, code-point order), then
            booleans, then series without a value (also when descending);
            ties and the default (None) by SeriesInstanceUID.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        spec = SortSpec.parse(sort)
        cursor = Cursor.decode(after, spec) if after else None
        tree = dedupe(parse(query) if isinstance(query, str) else query)
        with self._index_matching(tree) as found:
            if found is not None:
                index = found.index
                counts = Counts(**found.answer("counts", index.counts))
                paged = found.answer(
                    ("page", sort, after, limit),
                    lambda mask: index_page(index, mask, spec, cursor, limit),
                )
                uids = None if paged is None else [index.uids[r] for r in paged[0]]
        if found is not None and paged is not None and uids is not None:
            last = paged[1]
            documents = self._documents(uids)
            token = None if last is None else last.encode()
            return self._search_page(documents, token, counts, tree, limit, sort)
        where = self._compile(tree)
        if found is None:
            counts = self._counts_where(where)
        documents, last = self._page(where, spec, cursor, limit)
        token = None if last is None else last.encode()
        return self._search_page(documents, token, counts, tree, limit, sort)

    def _counts_where(self, where: tuple[str, tuple[Any, ...]]) -> Counts:
        """Series, studies and patients satisfying a compiled condition."""
        sql = (
            "SELECT COUNT(*), COUNT(DISTINCT s.study_uid), COUNT(DISTINCT s.patient_id) "
            f"FROM series s WHERE {where[0]}"
        )
        series, studies, patients = self._search_read(sql, where[1])[0]
        return Counts(int(series), int(studies), int(patients))

    def _search_page(
        self,
        documents: list[dict[str, Any]],
        token: str | None,
        counts: Counts,
        tree: Node,
        limit: int,
        sort: str | None,
    ) -> SearchPage:
        uids = [str(d.get("SeriesInstanceUID", "")) for d in documents]
        curation = self.curation_of(uids) if uids else {}
        # results ride along as flat "ai.key" fields (no DICOM keyword holds a dot)
        results = self.result_store.results_of(uids) if uids else {}
        reviews = self.reviews.reviews_of(uids) if uids else {}
        for document, uid in zip(documents, uids, strict=True):
            found = results.get(uid)
            if found:
                document.update(flat_results(found))
            review = reviews.get(uid)
            document["review"] = review.status if review is not None else "pending"
        return SearchPage(
            documents,
            token,
            counts.series,
            counts.studies,
            counts.patients,
            curation,
            self._following(tree, limit, sort),
        )

    def _following(self, tree: Node, limit: int, sort: str | None) -> Callable[[str], SearchPage]:
        return lambda token: self.search(tree, limit=max(limit, 500), after=token, sort=sort)

    def _documents(self, uids: Sequence[str]) -> list[dict[str, Any]]:
        """Documents of the given series, in that order (one round trip per chunk of 500)."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(uids, 500):
            marks = ",".join("?" * len(chunk))
            rows = self._search_read(
                "SELECT series_uid, header, facts, header_problems FROM series "
                f"WHERE series_uid IN ({marks})",
                tuple(chunk),
            )
            found.update({r[0]: document_from_row(r[1:]) for r in rows})
        return [found[u] for u in uids if u in found]

    def _page(
        self, where: tuple[str, tuple[Any, ...]], spec: SortSpec, cursor: Cursor | None, limit: int
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """The documents of one page, and the cursor after it (None on the last page)."""
        sql, params = page_query(self._search_dialect(), where, spec, cursor, limit + 1)
        rows = self._search_read(sql, params)
        documents = [document_from_row(r[1:4]) for r in rows[:limit]]
        if len(rows) <= limit:
            return documents, None
        uid, _, _, _, rank, number, text = rows[limit - 1]
        if number is not None and not isinstance(number, int):
            number = float(number)
        return documents, Cursor(spec.text(), int(rank), number, text, uid)

    def iter_search(
        self, query: str | Node, *, sort: str | None = None, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every series matching ``query``, in :meth:`search` order, read page by page."""
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        spec = SortSpec.parse(sort)
        tree = dedupe(parse(query) if isinstance(query, str) else query)  # bad queries raise here
        with self._index_mask(tree) as found:
            if found is not None and (spec.field is None or spec.field in found[0].columns):
                index, mask = found
                perm = sorted_rows(index, spec.field, spec.descending).perm
                uids = [index.uids[r] for r in perm[mask[perm]].tolist()]
                return self._documents_in_pages(uids, page_size)
        where = self._compile(tree)
        return self._pages(where, spec, page_size)

    def _documents_in_pages(self, uids: list[str], page_size: int) -> Iterator[dict[str, Any]]:
        for start in range(0, len(uids), page_size):
            _check_cancelled()
            yield from self._documents(uids[start : start + page_size])

    def _pages(
        self, where: tuple[str, tuple[Any, ...]], spec: SortSpec, page_size: int
    ) -> Iterator[dict[str, Any]]:
        cursor: Cursor | None = None
        while True:
            _check_cancelled()
            documents, cursor = self._page(where, spec, cursor, page_size)
            yield from documents
            if cursor is None:
                return
