"""Search through the in-memory index, for both SQL backends (see catalog/index/).

``SQLCatalog`` answers ``count``, ``search``, ``series_uids``, ``aggregate``
and ``suggest_values`` here: the index decides indexed terms, and this mixin
answers the others in SQL (:meth:`IndexedSearchMixin._sql_rows`), restricted
to the side tables' few series where it can (tags, datasets, ``ai``/``qc``).
``catalog.use_search_index = False`` runs every query
in SQL instead, as the differential tests do for both paths.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radcurate.catalog.aggregations import (
    AggregateResult,
    AggregationError,
    AggregationRequest,
    Counts,
    ValueSuggestion,
)
from radcurate.catalog.base import FieldInfo
from radcurate.catalog.fields import infer_type
from radcurate.catalog.index import snapshot
from radcurate.catalog.index.aggregate import aggregate, suggest
from radcurate.catalog.index.answers import Matching
from radcurate.catalog.index.column import BoolArray, Column, IntArray
from radcurate.catalog.index.crosstab import MAX_GROUPS, Tabulation, VersionRef, tabulate
from radcurate.catalog.index.evaluate import Evaluator, is_result_path
from radcurate.catalog.index.series_index import SeriesIndex
from radcurate.catalog.querying import within_budget
from radcurate.catalog.search import Compiler, SearchDialect, job_match
from radcurate.catalog.search_sqlite import json_path
from radcurate.dicom.values import FieldType
from radcurate.query import parse
from radcurate.query.ast import (
    All,
    And,
    Compare,
    Dataset,
    FieldIn,
    FieldMatch,
    Has,
    Job,
    Missing,
    Node,
    Not,
    Project,
    Range,
    Tag,
    Text,
    walk,
)
from radcurate.query.fields import NAMESPACES, is_field_path, resolve_field
from radcurate.query.limits import check_budget, dedupe, outside_query, query_budget


class _BudgetedEvaluator(Evaluator):
    """An evaluator that stops (``QueryTimeoutError``) once the query's time budget is spent:
    the budget is checked before every node of the tree."""

    def _eval(self, node: Node) -> BoolArray:
        check_budget()
        return super()._eval(node)


#: guards the lazy creation of a catalog's index (threads of one server share the catalog)
_CREATING = threading.Lock()

#: frozen dataset versions whose index rows a catalog keeps (compare reads them again)
_VERSIONS_KEPT = 8

#: candidate series of terms that only read one side table
_TAGGED = "SELECT DISTINCT series_uid FROM series_tags"
_IN_DATASETS = "SELECT DISTINCT series_uid FROM dataset_series"
_IN_PROJECTS = "SELECT DISTINCT series_uid FROM project_series"


class IndexedSearchMixin:
    """The index half of ``SQLCatalog``'s search (the SQL half is in ``sql.py``)."""

    url: str
    dialect: str = ""
    use_search_index: bool = True
    #: seconds a query may take before it is stopped with ``QueryTimeoutError`` (None: no
    #: limit; ``radcurate serve --query-budget`` sets it)
    query_budget_s: float | None = None
    #: where index snapshots are kept (None: no snapshots; the server and CLI set one)
    index_snapshot_dir: Path | None = None
    _unsaved_changes: int = 0
    json_decoded: bool = False
    _series_index: SeriesIndex | None = None
    search_text_fields: Sequence[str]

    # provided by SQLCatalog
    def _search_dialect(self) -> SearchDialect:
        raise NotImplementedError

    def _search_read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _conn(self) -> Any:
        raise NotImplementedError

    def _end_read(self, conn: Any) -> None:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        raise NotImplementedError

    def _field_types(self) -> dict[str, FieldType]:
        raise NotImplementedError

    def change_watermark(self) -> int:
        raise NotImplementedError

    def changed_series(
        self, since: int, page_size: int = 20_000
    ) -> tuple[Iterator[list[tuple[Any, ...]]], list[str]]:
        raise NotImplementedError

    def changed_results(
        self, since: int, page_size: int = 20_000
    ) -> Iterator[list[tuple[str, dict[str, dict[str, Any]]]]]:
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by the curation half of SQLCatalog

        def _dataset_id(self, name: str) -> tuple[int, str]: ...

    # -- the index -----------------------------------------------------------------------------
    def search_index(self) -> SeriesIndex | None:
        """The index, brought up to date with the catalog (None when disabled).

        Building and refreshing it is upkeep shared by every query, run outside the calling
        query's time budget and cancel (:func:`radcurate.query.limits.outside_query`): cut
        short, it would be lost, and an index that takes longer to build than the budget
        (1,000,000 series) would be started again by every query and never finished."""
        if not self.use_search_index:
            return None
        with outside_query():
            return self._up_to_date_index()

    def _up_to_date_index(self) -> SeriesIndex:
        built = False
        with _CREATING:
            if self._series_index is None:
                directory = self.index_snapshot_dir
                loaded = None if directory is None else snapshot.load(directory, self._identity())
                built = loaded is None
                self._series_index = loaded or SeriesIndex()
                if loaded is not None:
                    gc.freeze()  # see SeriesIndex.refresh: no GC walks over the loaded index
        index = self._series_index
        self._unsaved_changes += index.refresh(self)
        if built and len(index) >= snapshot.MIN_ROWS:
            self.save_search_index()
        return index

    def save_search_index(self) -> Path | None:
        """Write the index snapshot now (when snapshots are on and there is an index)."""
        index, directory = self._series_index, self.index_snapshot_dir
        if index is None or directory is None:
            return None
        path = snapshot.save(index, directory, self._identity())
        self._unsaved_changes = 0
        return path

    def _save_index_on_close(self) -> None:
        if self._unsaved_changes >= snapshot.MIN_ROWS:
            self.save_search_index()

    def _identity(self) -> str:
        """This catalog, as opposed to another one at the same URL: URL + creation time."""
        rows = self._search_read("SELECT applied_at FROM schema_migrations WHERE version = 1", ())
        return f"{self.url}|{rows[0][0] if rows else ''}"

    def _evaluator(self, index: SeriesIndex) -> Evaluator:
        return _BudgetedEvaluator(
            index,
            self._sql_rows,
            self._field_types(),
            self.search_text_fields,
            lambda field: self._demand_column(index, field),
        )

    def _index_mask(
        self, tree: Node
    ) -> AbstractContextManager[tuple[SeriesIndex, BoolArray] | None]:
        """The index and the rows matching ``tree``, *held under the index lock* for the
        ``with`` block: a refresh by another thread cannot grow or change the index while the
        caller counts, pages or aggregates over the mask (one consistent snapshot)."""
        return self._locked_mask(tree)

    @contextmanager
    def _locked_mask(self, tree: Node) -> Iterator[tuple[SeriesIndex, BoolArray] | None]:
        with self._index_matching(tree) as found:
            yield None if found is None else (found.index, found.mask())

    def _index_matching(self, tree: Node) -> AbstractContextManager[Matching | None]:
        """The rows matching ``tree`` and the answers kept for them (catalog/index/answers.py),
        held under the index lock like :meth:`_index_mask`; None when the index is off."""
        return self._locked_matching(tree)

    @contextmanager
    def _locked_matching(self, tree: Node) -> Iterator[Matching | None]:
        index = self.search_index()
        if index is None:
            yield None
            return
        tree = dedupe(tree)
        self._load_demand_columns(index, tree)
        with index.lock, query_budget(self.query_budget_s):
            check_budget()  # a cancelled query stops here even when its answer is kept
            yield Matching(index, tree, lambda: self._evaluator(index), cache=True)

    def _load_demand_columns(self, index: SeriesIndex, tree: Node) -> None:
        """Load the columns ``tree``'s field terms need before the index lock is taken: a
        column first read under it (a million rows, seconds) held every other query back
        (:meth:`SeriesIndex.demand_column` reads the catalog without the lock)."""
        for node in walk(tree):
            if isinstance(node, (FieldMatch, FieldIn, Compare, Range, Has, Missing)):
                field = node.field
                if field not in index.columns and not is_result_path(field):
                    self._demand_column(index, field)

    # -- what the index reads besides changed series and results ------------------------------
    def membership_version(self) -> int:
        """A number that changes whenever tags or datasets change: the last curation audit
        entry (every membership change is audited in its own transaction)."""
        rows = self._search_read(
            "SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE action NOT LIKE ?", ("results.%",)
        )
        return int(rows[0][0])

    def memberships(self) -> Iterator[tuple[str, str, str]]:
        """``(series_uid, "tag" | "dataset" | "project", name)`` of every membership."""
        for kind, sql in (
            (
                "tag",
                "SELECT g.series_uid, t.name FROM series_tags g JOIN tags t ON t.id = g.tag_id",
            ),
            (
                "dataset",
                "SELECT g.series_uid, t.name FROM dataset_series g "
                "JOIN datasets t ON t.id = g.dataset_id",
            ),
            ("project", "SELECT series_uid, project FROM project_series"),
        ):
            for uid, name in self._search_read(sql, ()):
                yield str(uid), kind, str(name)

    def top_level_values(self, key: str, uids: Sequence[str] | None) -> Iterator[tuple[str, Any]]:
        """``(series_uid, value)`` of one top-level document key (facts before header, as in
        ``series_document``) for ``uids``, or every series (paged by UID); values as the
        driver gives them (JSON text unless ``json_decoded``)."""
        path = json_path(key) if self.dialect == "sqlite" else key
        params: tuple[str, ...] = (path, path)
        pick = "COALESCE(facts -> ?, header -> ?)"
        if key == "header_problems":  # its own column, as in series_document
            empty = "'[]'" if self.dialect == "sqlite" else "'[]'::jsonb"
            pick = f"COALESCE(NULLIF(header_problems, {empty}), facts -> ?, header -> ?)"
        if uids is not None:
            for start in range(0, len(uids), 500):
                chunk = tuple(uids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._search_read(
                    f"SELECT series_uid, {pick} FROM series WHERE series_uid IN ({marks})",
                    (*params, *chunk),
                )
                for uid, value in rows:
                    if value is not None:
                        yield str(uid), value
            return
        # every series: one sequential scan in table order (keyset pages in UID order read
        # the table in random order: 5x slower on a million rows), streamed in batches
        conn = self._conn()
        cur = conn.cursor()
        try:
            cur.execute(self._sql(f"SELECT series_uid, {pick} FROM series"), params)
            while rows := cur.fetchmany(50_000):
                for uid, value in rows:
                    if value is not None:
                        yield str(uid), value
        finally:
            cur.close()
            self._end_read(conn)

    def _demand_column(self, index: SeriesIndex, field: str) -> Column | None:
        """The index's column of a DICOM field, loaded now when it has none (None: a
        Series/StudyInstanceUID lookup, which the evaluator answers by UID)."""
        keyed = field in ("SeriesInstanceUID", "StudyInstanceUID")
        if keyed or field in NAMESPACES or is_result_path(field):
            return index.columns.get(field)
        known = field in index.demand_fields
        with outside_query():  # loaded once for every later query (search_index)
            column = index.demand_column(self, field)
        if not known and len(index) >= snapshot.MIN_ROWS:
            # a million rows read (seconds): the snapshot written at close keeps the column,
            # so the next server does not read it again (bench/load.py: the slowest requests
            # of a fresh server, 9-13 s, were the first ones on such a field)
            self._unsaved_changes += snapshot.MIN_ROWS
        return column

    def result_fields(self) -> list[FieldInfo]:
        """Every ``ai.*``/``qc.*``/``clin.*`` field some series has, most common first, its
        type inferred from its values (what autocompletion offers besides the registry)."""
        out = []
        with self._mask_for(All()) as (index, mask):
            for name in index.result_fields:
                column = index.columns[name]
                count = int(np.count_nonzero(column.present() & mask))
                if count:
                    first = next((v[0] for v in column.values if v), None)
                    out.append(FieldInfo(name, infer_type(first), count))
        return sorted(out, key=lambda f: (-f.series_count, f.name))

    # -- the terms the index leaves to SQL -----------------------------------------------------
    def _sql_rows(
        self,
        node: Node,
        outside_text_fields: Sequence[str],
        candidates: Sequence[str] | None = None,
    ) -> Iterable[str]:
        """UIDs of the series for which one term holds, read in SQL (among ``candidates``)."""
        if candidates is not None:
            where, params = Compiler(self._search_dialect(), self._field_types(), ()).where(node)
            found: list[str] = []
            for start in range(0, len(candidates), 500):
                chunk = tuple(candidates[start : start + 500])
                marks = ",".join("?" * len(chunk))
                sql = (
                    f"SELECT s.series_uid FROM series s WHERE s.series_uid IN ({marks}) AND {where}"
                )
                found += [r[0] for r in self._search_read(sql, (*chunk, *params))]
            return found
        dialect = self._search_dialect()
        types = self._field_types()
        if isinstance(node, Text):
            # the index answers the ai strings from its result columns: only tags, datasets
            # and text fields outside the index are left here
            compiler = Compiler(dialect, types, tuple(outside_text_fields), ai_text=False)
            where, params = compiler.where(node)
            source = "series" if outside_text_fields else f"({_TAGGED} UNION {_IN_DATASETS})"
            sql = f"SELECT s.series_uid FROM {source} s WHERE {where}"
            return [r[0] for r in self._search_read(sql, params)]
        where, params = Compiler(dialect, types, ()).where(node)
        if isinstance(node, Job):
            frag, job_params = job_match(node.pattern)
            sql = f"SELECT s.series_uid FROM series s WHERE {frag}"
            return [r[0] for r in self._search_read(sql, job_params)]
        if isinstance(node, Tag):
            source = f"({_TAGGED})"
        elif isinstance(node, Dataset):
            source = f"({_IN_DATASETS})"
        elif isinstance(node, Project):
            source = f"({_IN_PROJECTS})"
        else:
            assert isinstance(node, (FieldMatch, FieldIn, Compare, Range, Has, Missing))
            source = "series"
        sql = f"SELECT s.series_uid FROM {source} s WHERE {where}"
        return [r[0] for r in self._search_read(sql, params)]

    # -- counts, aggregations, suggestions -------------------------------------------------
    @contextmanager
    def _mask_for(self, query: str | Node) -> Iterator[tuple[SeriesIndex, BoolArray]]:
        """Like :meth:`_index_mask`, with a private index for this call when it is disabled."""
        with self._matching(query) as found:
            yield found.index, found.mask()

    @contextmanager
    def _matching(self, query: str | Node) -> Iterator[Matching]:
        """Like :meth:`_index_matching`, with a private index (nothing kept) when it is off."""
        tree = parse(query) if isinstance(query, str) else query
        with self._index_matching(tree) as found:
            if found is not None:
                yield found
                return
        index = SeriesIndex()
        index.refresh(self)
        with index.lock, query_budget(self.query_budget_s):
            yield Matching(index, dedupe(tree), lambda: self._evaluator(index), cache=False)

    @within_budget
    def counts(self, query: str | Node = "*") -> Counts:
        """Series, studies and patients matching ``query``."""
        with self._matching(query) as found:
            counted = found.answer("counts", found.index.counts)
        return Counts(counted["series"], counted["studies"], counted["patients"])

    @within_budget
    def aggregate(
        self, query: str | Node, requests: Sequence[AggregationRequest]
    ) -> AggregateResult:
        """Counts of ``query``'s matches and one aggregation per request (catalog/aggregations.py).

        Indexed fields are counted in memory; any other field is read from the
        matching series' documents (slower on large catalogs).
        """
        fields = [_aggregation_field(r.field) for r in requests]
        with self._matching(query) as found:
            index = found.index
            counted = found.answer("counts", index.counts)
            out = []
            for request, field in zip(requests, fields, strict=True):
                check_budget()  # a field outside the index reads documents: stop between them
                if field in index.columns:
                    column = index.columns[field]
                    out.append(
                        found.answer(
                            ("aggregate", request), partial(aggregate, column, request=request)
                        )
                    )
                    continue
                column = self._column_for(index, field)
                out.append(aggregate(column, found.mask(), request))
        out = [
            replace(result, field=request.field)
            for result, request in zip(out, requests, strict=True)
        ]
        return AggregateResult(
            Counts(counted["series"], counted["studies"], counted["patients"]), out
        )

    @within_budget
    def suggest_values(
        self, field: str, prefix: str = "", query: str | Node = "*", limit: int = 10
    ) -> list[ValueSuggestion]:
        """Values of ``field`` starting with ``prefix``, counted over ``query``'s matches
        without the query's own terms on ``field`` (so its other values stay visible)."""
        name = _aggregation_field(field)
        tree = parse(query) if isinstance(query, str) else query
        with self._matching(without_field(tree, name)) as found:
            index = found.index
            if name in index.columns:
                column = index.columns[name]
                return list(
                    found.answer(
                        ("suggest", name, prefix, limit),
                        lambda mask: suggest(column, mask, prefix, limit),
                    )
                )
            return suggest(self._column_for(index, name), found.mask(), prefix, limit)

    @within_budget
    def cross_tabulate(
        self,
        selections: Sequence[str | Node | VersionRef | Collection[str]],
        fields: Sequence[str],
        *,
        target: str | Node | None = None,
        exact: Collection[str] = (),
        exact_target: bool = False,
        edges: Mapping[str, tuple[float, ...]] | None = None,
        max_groups: int = MAX_GROUPS,
        numbers: bool = False,
    ) -> Tabulation:
        """Group counts of ``fields`` per selection and their tables against ``target``,
        counted on the index under one hold of its lock (catalog/index/crosstab.py).

        A selection is query text, a tree, a frozen dataset version (its members
        still held), or a collection of SeriesInstanceUIDs (unknown ones ignored).
        ``target`` is a field (``tag``/``dataset``: a series' names) or a tree: the
        series matching it against the others. Fields are document paths
        (:func:`radcurate.query.fields.resolve_field`).
        """
        with self._mask_for(All()) as (index, _):
            evaluator = self._evaluator(index)
            masks = []
            for selection in selections:
                if isinstance(selection, str):
                    selection = parse(selection)
                if isinstance(selection, Node):
                    masks.append(evaluator.mask(selection))
                elif isinstance(selection, VersionRef):
                    masks.append(self._version_rows(index, selection))
                else:
                    masks.append(index.rows_of(selection))
            size = max(m.shape[0] for m in masks)  # a refresh in between may have grown it
            masks = [np.pad(m, (0, size - m.shape[0])) for m in masks]
            columns = {name: self._table_column(index, name) for name in fields}
            found: Column | BoolArray | None = None
            if isinstance(target, str):
                found = self._table_column(index, target)
            elif target is not None:
                found = evaluator.mask(target)
            return tabulate(
                index,
                masks,
                columns,
                target=found,
                exact=frozenset(exact),
                exact_target=exact_target,
                edges=dict(edges or {}),
                max_groups=max_groups,
                numbers=numbers,
            )

    def _version_rows(self, index: SeriesIndex, ref: VersionRef) -> BoolArray:
        """The rows of a frozen version's members (those still held).

        A version never changes, so its rows are kept per index (the last
        :data:`_VERSIONS_KEPT`), keyed with its content hash: only the first
        comparison reads its member UIDs (one query, ~1 s per million members).
        """
        dataset_id, _ = self._dataset_id(ref.name)
        found = self._search_read(
            "SELECT content_hash FROM dataset_versions WHERE dataset_id = ? AND version = ?",
            (dataset_id, ref.version),
        )
        key = (id(index), dataset_id, ref.version, found[0][0] if found else None)
        kept: dict[tuple[Any, ...], IntArray] = self.__dict__.setdefault("_version_rows_kept", {})
        rows = kept.pop(key, None)
        keep = index is self._series_index  # not a private index of one call
        if rows is None:
            members = self._search_read(
                "SELECT series_uid FROM dataset_version_series "
                "WHERE dataset_id = ? AND version = ?",
                (dataset_id, ref.version),
            )
            get = index.row_of.get
            rows = np.fromiter((get(uid, -1) for (uid,) in members), np.int64, len(members))
            if rows.size and rows.min() < 0:  # members the index has no row for (yet)
                rows = rows[rows >= 0]
                keep = False  # one may arrive with a new row
        if keep:
            kept[key] = rows
            while len(kept) > _VERSIONS_KEPT:
                del kept[next(iter(kept))]
        mask = np.zeros(len(index), np.bool_)
        mask[rows] = True
        return mask & index.alive

    def _table_column(self, index: SeriesIndex, field: str) -> Column:
        return (
            index.columns.get(field)
            or index.membership.get(field)
            or self._column_for(index, _aggregation_field(field))
        )

    def _column_for(self, index: SeriesIndex, field: str) -> Column:
        """A column for an aggregation: loaded on demand, or an empty one for a result path
        no series has."""
        found = self._demand_column(index, field)
        if found is not None:
            return found
        column = Column(field)
        column.codes = np.full(len(index), -1, np.int64)
        return column


def _aggregation_field(name: str) -> str:
    if not is_field_path(name):
        raise AggregationError(f"not a field name: {name!r}")
    return resolve_field(name)


def without_field(tree: Node, field: str) -> Node:
    """``tree`` without its top-level terms on ``field`` (for suggestions of that field).

    Examples
    --------
    >>> from radcurate.query import parse, to_text
    >>> to_text(without_field(parse("Modality:CT Manufacturer:GE*"), "Manufacturer"))
    'Modality:CT'
    """

    def on_field(node: Node) -> bool:
        if isinstance(node, Not):
            return on_field(node.child)
        fields = (FieldMatch, FieldIn, Compare, Range, Has, Missing)
        return isinstance(node, fields) and node.field == field

    if on_field(tree):
        return All()
    if isinstance(tree, And):
        kept = [c for c in tree.children if not on_field(c)]
        if not kept:
            return All()
        return kept[0] if len(kept) == 1 else And(tuple(kept))
    return tree
