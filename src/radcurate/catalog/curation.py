"""Curation state of the catalog: tags, datasets and their frozen versions, selections,
the audit log and per-user settings (same SQL on both engines).

Everything is kept in its own tables keyed by SeriesInstanceUID, apart from the
DICOM document, so a re-ingest never loses it. Bulk actions take a
:class:`Selection` (a query plus explicit includes and excludes), resolve it to
UIDs with ``series_uids`` *before* writing, then apply set operations
(``INSERT ... ON CONFLICT DO NOTHING`` / ``DELETE``), never a read-modify-write
of a list: two people tagging at once never lose each other's work. Each
action writes its audit row in the same transaction.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from radcurate.catalog.rows import dumps
from radcurate.query import Node, from_json, parse, to_json

#: rows per IN (...) list
_CHUNK = 500
#: the longest tag or dataset name
MAX_NAME = 200
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: characters a name may not contain: query wildcards, the escape, '/' (names sit in URL
#: paths), control characters
_BAD_NAME = re.compile(r"[*?\\/\x00-\x1f\x7f]")
#: keys of user settings the UI reads, with their checks
SETTINGS_KEYS = ("card_fields", "dashboard_fields", "tag_shortcuts", "saved_searches")
MAX_TAG_SHORTCUTS = 9


class CurationError(ValueError):
    """Bad curation input; ``code`` names it, ``status`` is its HTTP status."""

    code = "invalid_curation"
    status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class CurationNotFoundError(CurationError, LookupError):
    """An unknown tag, dataset, version or selection."""

    code = "not_found"
    status = 404


class CurationConflictError(CurationError):
    """A name already taken, or an action the current state forbids."""

    code = "conflict"
    status = 409


@dataclass(frozen=True)
class Selection:
    """(series matching ``query``, none when it is None) ∪ ``include`` − ``exclude``.

    ``query`` is query text, a JSON tree (docs/query-language.md) or a parsed tree.
    """

    query: str | dict[str, Any] | Node | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        query: str | dict[str, Any] | Node | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Selection:
        """A selection from any sequences of UIDs."""
        return cls(query, tuple(include), tuple(exclude))

    def as_given(self) -> dict[str, Any]:
        """The JSON form recorded in the audit log and in stored selections."""
        query: Any = self.query
        if isinstance(query, Node):
            query = to_json(query)
        return {"query": query, "include": list(self.include), "exclude": list(self.exclude)}


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: rows ``changed``, and how many series the selection held."""

    changed: int
    series_count: int


@dataclass(frozen=True)
class TagInfo:
    """A tag, its colour (``#rrggbb`` or None) and how many series carry it."""

    name: str
    color: str | None
    series_count: int


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset with its member counts and number of frozen versions."""

    name: str
    description: str
    series: int
    studies: int
    patients: int
    versions: int


@dataclass(frozen=True)
class DatasetVersion:
    """A frozen version; ``series_uids`` only when read one at a time."""

    dataset: str
    version: int
    content_hash: str
    series_count: int
    instance_count: int
    created_at: float
    created_by: str
    note: str | None
    series_uids: tuple[str, ...] | None = None
    #: False when freezing found the latest version identical and returned it
    created: bool = True


@dataclass(frozen=True)
class StoredSelection:
    """A server-side selection."""

    id: str
    query: str | dict[str, Any] | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    series_count: int
    created_at: float
    created_by: str


@dataclass(frozen=True)
class AuditEntry:
    """One curation action."""

    id: int
    at: float
    actor: str
    action: str
    target: str | None
    selection: dict[str, Any] | None
    series_count: int | None
    detail: dict[str, Any] = field(default_factory=dict)


def check_name(name: str, what: str) -> str:
    """A tag or dataset name, stripped; raises :class:`CurationError` when unusable."""
    if not isinstance(name, str):
        raise CurationError(f"{what} name must be a string", code="invalid_name")
    name = name.strip()
    if not name:
        raise CurationError(f"{what} name must not be empty", code="invalid_name")
    if len(name) > MAX_NAME:
        raise CurationError(
            f"{what} name is {len(name)} characters; at most {MAX_NAME}", code="invalid_name"
        )
    if _BAD_NAME.search(name):
        raise CurationError(
            f"{what} name {name!r} may not contain *, ?, \\, / or control characters",
            code="invalid_name",
        )
    return name


def check_color(color: str | None) -> str | None:
    """``#rrggbb`` (lowercased) or None."""
    if color is None:
        return None
    if not isinstance(color, str) or not _COLOR.match(color):
        raise CurationError(f"color must look like #1f77b4, not {color!r}", code="invalid_color")
    return color.lower()


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate user settings (the keys the UI reads; other JSON keys are kept as given)."""
    if not isinstance(settings, Mapping):
        raise CurationError("settings must be a JSON object", code="invalid_settings")
    out = dict(settings)
    for key in ("card_fields", "dashboard_fields"):
        if key in out and not (
            isinstance(out[key], list) and all(isinstance(v, str) for v in out[key])
        ):
            raise CurationError(f"settings.{key} must be a list of field names")
    if "tag_shortcuts" in out:
        value = out["tag_shortcuts"]
        if not isinstance(value, list) or not all(isinstance(v, (str, type(None))) for v in value):
            raise CurationError("settings.tag_shortcuts must be a list of tag names")
        if len(value) > MAX_TAG_SHORTCUTS:
            raise CurationError(
                f"settings.tag_shortcuts has {len(value)} entries; at most {MAX_TAG_SHORTCUTS}"
            )
    if "saved_searches" in out:
        value = out["saved_searches"]
        ok = isinstance(value, list) and all(
            isinstance(v, dict)
            and isinstance(v.get("name"), str)
            and v["name"].strip()
            and isinstance(v.get("query"), (str, dict))
            for v in value
        )
        if not ok:
            raise CurationError(
                "settings.saved_searches must be a list of {name, query} with a non-empty name"
            )
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise CurationError(f"settings must be plain JSON: {exc}") from exc
    return out


def content_hash(sop_uids: Sequence[str]) -> str:
    """sha256 over the sorted, distinct SOP Instance UIDs, each followed by a newline.

    Examples
    --------
    >>> content_hash(["1.2", "1.1", "1.2"]) == content_hash(["1.1", "1.2"])
    True
    """
    digest = hashlib.sha256()
    for uid in sorted(set(sop_uids)):
        digest.update(uid.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _actor(actor: str | None) -> str:
    if actor is None or not actor.strip():
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no user name in the environment or passwd
            return "unknown"
    return actor.strip()


class CurationMixin:
    """Curation storage for :class:`~radcurate.catalog.sql.SQLCatalog`."""

    if TYPE_CHECKING:
        dialect: str
        json_decoded: bool
        row_lock: str

        def _sql(self, sql: str) -> str: ...

        def _transaction(self) -> AbstractContextManager[Any]: ...

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

        def series_uids(self, query: str | Node) -> list[str]: ...

        def fields(self) -> Any: ...

    def _on_curation_change(self) -> None:
        """Called after every committed curation write (a hook for caches of query results)."""

    def _json(self, value: Any) -> Any:
        if value is None or self.json_decoded:
            return value
        return json.loads(value)

    # -- selections --------------------------------------------------------------------
    def _tree(self, query: str | dict[str, Any] | Node) -> Node:
        if isinstance(query, Node):
            return query
        names = [f.name for f in self.fields()]
        if isinstance(query, str):
            return parse(query, fields=names)
        if isinstance(query, dict):
            return from_json(query, fields=names)
        raise CurationError(
            f"a selection's query must be text, a JSON tree or null, not {type(query).__name__}",
            code="invalid_selection",
        )

    def resolve_selection(self, selection: Selection) -> list[str]:
        """The UIDs a selection stands for, sorted; raises before anything is written.

        Raises
        ------
        QueryError
            The query is invalid (syntax, unknown field).
        CurationNotFoundError
            An included UID is not in the catalog.
        """
        for name in ("include", "exclude"):
            uids = getattr(selection, name)
            if not all(isinstance(u, str) and u for u in uids):
                raise CurationError(
                    f"selection {name} must be a list of non-empty SeriesInstanceUIDs",
                    code="invalid_selection",
                )
        chosen: set[str] = set()
        if selection.query is not None:
            chosen.update(self.series_uids(self._tree(selection.query)))
        extra = sorted(set(selection.include) - chosen)
        if extra:
            unknown = self._unknown_series(extra)
            if unknown:
                shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
                raise CurationNotFoundError(
                    f"{len(unknown)} included series not in the catalog: {shown}",
                    code="series_not_found",
                )
            chosen.update(extra)
        chosen.difference_update(selection.exclude)
        return sorted(chosen)

    def _unknown_series(self, uids: Sequence[str]) -> list[str]:
        known: set[str] = set()
        for chunk in _chunks(uids):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT series_uid FROM series WHERE series_uid IN ({marks})", tuple(chunk)
            )
            known.update(r[0] for r in rows)
        return [u for u in uids if u not in known]

    def create_selection(
        self, selection: Selection, *, actor: str | None = None
    ) -> StoredSelection:
        """Store a selection server-side (its query is checked, its count taken now)."""
        uids = self.resolve_selection(selection)
        given = selection.as_given()
        sel_id = uuid.uuid4().hex
        now = time.time()
        who = _actor(actor)
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO selections "
                    "(id, query, include_uids, exclude_uids, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                ),
                (
                    sel_id,
                    None if given["query"] is None else dumps(given["query"]),
                    dumps(given["include"]),
                    dumps(given["exclude"]),
                    now,
                    who,
                ),
            )
            self._audit(cur, who, "selection.create", sel_id, given, len(uids))
        return StoredSelection(
            sel_id,
            given["query"],
            tuple(given["include"]),
            tuple(given["exclude"]),
            len(uids),
            now,
            who,
        )

    def selection(self, selection_id: str) -> StoredSelection:
        """A stored selection, its series count taken now."""
        rows = self._read(
            "SELECT query, include_uids, exclude_uids, created_at, created_by "
            "FROM selections WHERE id = ?",
            (selection_id,),
        )
        if not rows:
            raise CurationNotFoundError(
                f"no selection {selection_id!r}", code="selection_not_found"
            )
        query, include, exclude, created_at, created_by = rows[0]
        sel = Selection(self._json(query), tuple(self._json(include)), tuple(self._json(exclude)))
        count = len(self.resolve_selection(sel))
        return StoredSelection(
            selection_id,
            sel.query if not isinstance(sel.query, Node) else to_json(sel.query),
            sel.include,
            sel.exclude,
            count,
            float(created_at),
            str(created_by),
        )

    def stored_selection(self, selection_id: str) -> Selection:
        """The :class:`Selection` of a stored one (to hand to a bulk action)."""
        stored = self.selection(selection_id)
        return Selection(stored.query, stored.include, stored.exclude)

    # -- audit -------------------------------------------------------------------------
    def _audit(
        self,
        cur: Any,
        actor: str,
        action: str,
        target: str | None,
        selection: dict[str, Any] | None,
        series_count: int | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        cur.execute(
            self._sql(
                "INSERT INTO audit_log (at, actor, action, target, selection, series_count, "
                "detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                time.time(),
                actor,
                action,
                target,
                None if selection is None else dumps(selection),
                series_count,
                dumps(detail or {}),
            ),
        )

    def audit_log(
        self, limit: int = 100, action: str | None = None, target: str | None = None
    ) -> list[AuditEntry]:
        """The most recent curation actions first (``action`` and ``target`` filter exactly)."""
        if limit < 1:
            raise CurationError(f"limit must be at least 1, not {limit}")
        where, params = [], []
        if action:
            where.append("action = ?")
            params.append(action)
        if target:
            where.append("target = ?")
            params.append(target)
        sql = "SELECT id, at, actor, action, target, selection, series_count, detail FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._read(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [
            AuditEntry(
                int(r[0]),
                float(r[1]),
                r[2],
                r[3],
                r[4],
                self._json(r[5]),
                None if r[6] is None else int(r[6]),
                self._json(r[7]) or {},
            )
            for r in rows
        ]

    # -- set operations ----------------------------------------------------------------
    def _insert_members(self, cur: Any, table: str, key: str, owner: int, uids: list[str]) -> int:
        """Add (owner, uid) rows, keeping those present; returns how many were new."""
        if not uids:
            return 0
        now = time.time()
        if self.dialect == "postgresql":
            cur.execute(
                f"INSERT INTO {table} ({key}, series_uid, added_at) "
                "SELECT %s, u, %s FROM unnest(%s::text[]) AS u "
                f"ON CONFLICT ({key}, series_uid) DO NOTHING",
                (owner, now, uids),
            )
            return int(cur.rowcount)
        cur.executemany(
            f"INSERT INTO {table} ({key}, series_uid, added_at) VALUES (?, ?, ?) "
            f"ON CONFLICT ({key}, series_uid) DO NOTHING",
            [(owner, u, now) for u in uids],
        )
        return int(cur.rowcount)

    def _delete_members(self, cur: Any, table: str, key: str, owner: int, uids: list[str]) -> int:
        if not uids:
            return 0
        if self.dialect == "postgresql":
            cur.execute(
                f"DELETE FROM {table} WHERE {key} = %s AND series_uid = ANY(%s::text[])",
                (owner, uids),
            )
            return int(cur.rowcount)
        cur.executemany(
            f"DELETE FROM {table} WHERE {key} = ? AND series_uid = ?",
            [(owner, u) for u in uids],
        )
        return int(cur.rowcount)

    def _id_of(self, cur: Any, table: str, name: str, what: str, *, lock: bool = False) -> int:
        cur.execute(
            self._sql(f"SELECT id FROM {table} WHERE name_lower = ?")
            + (self.row_lock if lock else ""),
            (name.lower(),),
        )
        row = cur.fetchone()
        if row is None:
            raise CurationNotFoundError(f"no {what} {name!r}", code=f"{what}_not_found")
        return int(row[0])

    # -- tags --------------------------------------------------------------------------
    def tags(self, prefix: str = "", limit: int | None = None) -> list[TagInfo]:
        """Tags whose name starts with ``prefix`` (any case), most used first, then by name."""
        like = "".join("\\" + c if c in "%_\\" else c for c in prefix.lower()) + "%"
        sql = (
            "SELECT t.name, t.color, (SELECT COUNT(*) FROM series_tags g WHERE g.tag_id = t.id) "
            "AS n FROM tags t WHERE t.name_lower LIKE ? ESCAPE '\\' ORDER BY n DESC, t.name_lower"
        )
        params: tuple[Any, ...] = (like,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return [TagInfo(r[0], r[1], int(r[2])) for r in self._read(sql, params)]

    def tag(self, name: str) -> TagInfo:
        """One tag (any case of its name)."""
        rows = self._read(
            "SELECT t.name, t.color, (SELECT COUNT(*) FROM series_tags g WHERE g.tag_id = t.id) "
            "FROM tags t WHERE t.name_lower = ?",
            (name.strip().lower(),),
        )
        if not rows:
            raise CurationNotFoundError(f"no tag {name!r}", code="tag_not_found")
        return TagInfo(rows[0][0], rows[0][1], int(rows[0][2]))

    def _ensure_tag(self, cur: Any, name: str, color: str | None, who: str) -> tuple[int, bool]:
        cur.execute(
            self._sql(
                "INSERT INTO tags (name, name_lower, color, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name_lower) DO NOTHING"
            ),
            (name, name.lower(), color, time.time(), who),
        )
        created = cur.rowcount == 1
        return self._id_of(cur, "tags", name, "tag"), created

    def create_tag(
        self, name: str, color: str | None = None, *, actor: str | None = None
    ) -> TagInfo:
        """A new tag; a name taken (in any case) raises :class:`CurationConflictError`."""
        name = check_name(name, "tag")
        color = check_color(color)
        who = _actor(actor)
        with self._transaction() as cur:
            _, created = self._ensure_tag(cur, name, color, who)
            if not created:
                raise CurationConflictError(f"tag {name!r} already exists", code="tag_exists")
            self._audit(cur, who, "tag.create", name, None, None, {"color": color})
        self._on_curation_change()
        return TagInfo(name, color, 0)

    def update_tag(
        self,
        name: str,
        *,
        new_name: str | None = None,
        color: str | None = None,
        clear_color: bool = False,
        actor: str | None = None,
    ) -> TagInfo:
        """Rename and/or recolour a tag (``clear_color`` removes its colour)."""
        who = _actor(actor)
        color = check_color(color)
        target = check_name(new_name, "tag") if new_name is not None else None
        with self._transaction() as cur:
            tag_id = self._id_of(cur, "tags", name, "tag", lock=True)
            detail: dict[str, Any] = {}
            if target is not None:
                cur.execute(
                    self._sql("SELECT id FROM tags WHERE name_lower = ? AND id <> ?"),
                    (target.lower(), tag_id),
                )
                if cur.fetchone() is not None:
                    raise CurationConflictError(
                        f"cannot rename tag {name!r}: {target!r} already exists", code="tag_exists"
                    )
                cur.execute(
                    self._sql("UPDATE tags SET name = ?, name_lower = ? WHERE id = ?"),
                    (target, target.lower(), tag_id),
                )
                detail["new_name"] = target
            if color is not None or clear_color:
                cur.execute(self._sql("UPDATE tags SET color = ? WHERE id = ?"), (color, tag_id))
                detail["color"] = color
            self._audit(cur, who, "tag.update", name, None, None, detail)
        self._on_curation_change()
        return self.tag(target or name)

    def delete_tag(self, name: str, *, actor: str | None = None) -> int:
        """Delete a tag and untag every series; returns how many series carried it."""
        who = _actor(actor)
        with self._transaction() as cur:
            tag_id = self._id_of(cur, "tags", name, "tag", lock=True)
            cur.execute(self._sql("DELETE FROM series_tags WHERE tag_id = ?"), (tag_id,))
            removed = int(cur.rowcount)
            cur.execute(self._sql("DELETE FROM tags WHERE id = ?"), (tag_id,))
            self._audit(cur, who, "tag.delete", name, None, removed)
        self._on_curation_change()
        return removed

    def tag_series(
        self,
        name: str,
        selection: Selection,
        *,
        create: bool = True,
        actor: str | None = None,
    ) -> BulkResult:
        """Tag every series of a selection (the tag is created when missing and ``create``)."""
        name = check_name(name, "tag")
        uids = self.resolve_selection(selection)
        who = _actor(actor)
        with self._transaction() as cur:
            if create:
                tag_id, _ = self._ensure_tag(cur, name, None, who)
            else:
                tag_id = self._id_of(cur, "tags", name, "tag")
            changed = self._insert_members(cur, "series_tags", "tag_id", tag_id, uids)
            self._audit(
                cur, who, "tag.add", name, selection.as_given(), len(uids), {"changed": changed}
            )
        self._on_curation_change()
        return BulkResult(changed, len(uids))

    def untag_series(
        self, name: str, selection: Selection, *, actor: str | None = None
    ) -> BulkResult:
        """Remove a tag from every series of a selection (an unknown tag is an error)."""
        uids = self.resolve_selection(selection)
        who = _actor(actor)
        with self._transaction() as cur:
            tag_id = self._id_of(cur, "tags", name, "tag")
            changed = self._delete_members(cur, "series_tags", "tag_id", tag_id, uids)
            self._audit(
                cur, who, "tag.remove", name, selection.as_given(), len(uids), {"changed": changed}
            )
        self._on_curation_change()
        return BulkResult(changed, len(uids))

    # -- datasets ----------------------------------------------------------------------
    _DATASET_COLUMNS = (
        "SELECT d.name, d.description, "
        "(SELECT COUNT(*) FROM dataset_versions v WHERE v.dataset_id = d.id), "
        "COUNT(s.series_uid), COUNT(DISTINCT s.study_uid), COUNT(DISTINCT s.patient_id) "
        "FROM datasets d LEFT JOIN dataset_series m ON m.dataset_id = d.id "
        "LEFT JOIN series s ON s.series_uid = m.series_uid "
    )

    def datasets(self) -> list[DatasetInfo]:
        """Every dataset with its series/study/patient counts, by name."""
        rows = self._read(
            self._DATASET_COLUMNS + "GROUP BY d.id, d.name, d.description ORDER BY d.name_lower"
        )
        return [DatasetInfo(r[0], r[1], int(r[3]), int(r[4]), int(r[5]), int(r[2])) for r in rows]

    def dataset(self, name: str) -> DatasetInfo:
        """One dataset (any case of its name)."""
        rows = self._read(
            self._DATASET_COLUMNS + "WHERE d.name_lower = ? GROUP BY d.id, d.name, d.description",
            (name.strip().lower(),),
        )
        if not rows:
            raise CurationNotFoundError(f"no dataset {name!r}", code="dataset_not_found")
        r = rows[0]
        return DatasetInfo(r[0], r[1], int(r[3]), int(r[4]), int(r[5]), int(r[2]))

    def create_dataset(
        self, name: str, description: str = "", *, actor: str | None = None
    ) -> DatasetInfo:
        """A new, empty dataset; a name taken (in any case) raises a conflict."""
        name = check_name(name, "dataset")
        if not isinstance(description, str):
            raise CurationError("description must be text")
        who = _actor(actor)
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO datasets (name, name_lower, description, created_at, created_by) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name_lower) DO NOTHING"
                ),
                (name, name.lower(), description, time.time(), who),
            )
            if cur.rowcount != 1:
                raise CurationConflictError(
                    f"dataset {name!r} already exists", code="dataset_exists"
                )
            self._audit(cur, who, "dataset.create", name, None, None, {"description": description})
        self._on_curation_change()
        return DatasetInfo(name, description, 0, 0, 0, 0)

    def update_dataset(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        actor: str | None = None,
    ) -> DatasetInfo:
        """Rename and/or describe a dataset (its versions keep their content)."""
        who = _actor(actor)
        target = check_name(new_name, "dataset") if new_name is not None else None
        with self._transaction() as cur:
            ds_id = self._id_of(cur, "datasets", name, "dataset", lock=True)
            detail: dict[str, Any] = {}
            if target is not None:
                cur.execute(
                    self._sql("SELECT id FROM datasets WHERE name_lower = ? AND id <> ?"),
                    (target.lower(), ds_id),
                )
                if cur.fetchone() is not None:
                    raise CurationConflictError(
                        f"cannot rename dataset {name!r}: {target!r} already exists",
                        code="dataset_exists",
                    )
                cur.execute(
                    self._sql("UPDATE datasets SET name = ?, name_lower = ? WHERE id = ?"),
                    (target, target.lower(), ds_id),
                )
                detail["new_name"] = target
            if description is not None:
                cur.execute(
                    self._sql("UPDATE datasets SET description = ? WHERE id = ?"),
                    (description, ds_id),
                )
                detail["description"] = description
            self._audit(cur, who, "dataset.update", name, None, None, detail)
        self._on_curation_change()
        return self.dataset(target or name)

    def delete_dataset(self, name: str, *, force: bool = False, actor: str | None = None) -> int:
        """Delete a dataset; one with frozen versions only with ``force`` (they go too).

        Returns how many series it held.
        """
        who = _actor(actor)
        with self._transaction() as cur:
            ds_id = self._id_of(cur, "datasets", name, "dataset", lock=True)
            cur.execute(
                self._sql("SELECT COUNT(*) FROM dataset_versions WHERE dataset_id = ?"), (ds_id,)
            )
            versions = int(cur.fetchone()[0])
            if versions and not force:
                raise CurationConflictError(
                    f"dataset {name!r} has {versions} frozen version(s); delete it with force "
                    "to drop them too",
                    code="dataset_has_versions",
                )
            cur.execute(self._sql("DELETE FROM dataset_series WHERE dataset_id = ?"), (ds_id,))
            removed = int(cur.rowcount)
            cur.execute(
                self._sql("DELETE FROM dataset_version_series WHERE dataset_id = ?"), (ds_id,)
            )
            cur.execute(self._sql("DELETE FROM dataset_versions WHERE dataset_id = ?"), (ds_id,))
            cur.execute(self._sql("DELETE FROM datasets WHERE id = ?"), (ds_id,))
            self._audit(cur, who, "dataset.delete", name, None, removed, {"versions": versions})
        self._on_curation_change()
        return removed

    def add_to_dataset(
        self, name: str, selection: Selection, *, actor: str | None = None
    ) -> BulkResult:
        """Add every series of a selection to an existing dataset."""
        return self._dataset_members(name, selection, actor, add=True)

    def remove_from_dataset(
        self, name: str, selection: Selection, *, actor: str | None = None
    ) -> BulkResult:
        """Remove every series of a selection from a dataset (frozen versions keep them)."""
        return self._dataset_members(name, selection, actor, add=False)

    def _dataset_members(
        self, name: str, selection: Selection, actor: str | None, *, add: bool
    ) -> BulkResult:
        uids = self.resolve_selection(selection)
        who = _actor(actor)
        with self._transaction() as cur:
            ds_id = self._id_of(cur, "datasets", name, "dataset")
            if add:
                changed = self._insert_members(cur, "dataset_series", "dataset_id", ds_id, uids)
            else:
                changed = self._delete_members(cur, "dataset_series", "dataset_id", ds_id, uids)
            action = "dataset.add" if add else "dataset.remove"
            self._audit(
                cur, who, action, name, selection.as_given(), len(uids), {"changed": changed}
            )
        self._on_curation_change()
        return BulkResult(changed, len(uids))

    def freeze_dataset(
        self, name: str, note: str | None = None, *, actor: str | None = None
    ) -> DatasetVersion:
        """Freeze the dataset's membership into a new immutable version.

        The version stores its member series and their SOP Instance UIDs as they
        are now (a later re-ingest or membership change never alters it), and
        :func:`content_hash` over those SOP UIDs. When the latest version has
        the same members and hash, it is returned (``created=False``) and
        nothing is written.
        """
        who = _actor(actor)
        with self._transaction() as cur:
            ds_id = self._id_of(cur, "datasets", name, "dataset", lock=True)
            cur.execute(
                self._sql(
                    "SELECT m.series_uid, i.sop_uid FROM dataset_series m "
                    "LEFT JOIN instances i ON i.series_uid = m.series_uid "
                    "WHERE m.dataset_id = ?"
                ),
                (ds_id,),
            )
            members: dict[str, set[str]] = {}
            for series_uid, sop_uid in cur.fetchall():
                sops = members.setdefault(series_uid, set())
                if sop_uid is not None:
                    sops.add(sop_uid)
            all_sops = [s for sops in members.values() for s in sops]
            digest = content_hash(all_sops)
            cur.execute(
                self._sql(
                    "SELECT version, content_hash FROM dataset_versions WHERE dataset_id = ? "
                    "ORDER BY version DESC LIMIT 1"
                ),
                (ds_id,),
            )
            latest = cur.fetchone()
            if latest is not None and latest[1] == digest:
                cur.execute(
                    self._sql(
                        "SELECT series_uid FROM dataset_version_series "
                        "WHERE dataset_id = ? AND version = ?"
                    ),
                    (ds_id, latest[0]),
                )
                if {r[0] for r in cur.fetchall()} == set(members):
                    same = int(latest[0])
                    self._audit(
                        cur,
                        who,
                        "dataset.freeze",
                        name,
                        None,
                        len(members),
                        {"version": same, "content_hash": digest, "note": note, "created": False},
                    )
                    return self._version_row(cur, ds_id, name, same, created=False)
            version = 1 if latest is None else int(latest[0]) + 1
            now = time.time()
            cur.execute(
                self._sql(
                    "INSERT INTO dataset_versions (dataset_id, version, content_hash, "
                    "series_count, instance_count, created_at, created_by, note) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                (ds_id, version, digest, len(members), len(set(all_sops)), now, who, note),
            )
            rows = [
                (ds_id, version, uid, "\n".join(sorted(sops)))
                for uid, sops in sorted(members.items())
            ]
            if self.dialect == "postgresql" and rows:
                cur.execute(
                    "INSERT INTO dataset_version_series "
                    "(dataset_id, version, series_uid, sop_uids) "
                    "SELECT %s, %s, u, p FROM unnest(%s::text[], %s::text[]) AS x(u, p)",
                    (ds_id, version, [r[2] for r in rows], [r[3] for r in rows]),
                )
            elif rows:
                cur.executemany(
                    "INSERT INTO dataset_version_series "
                    "(dataset_id, version, series_uid, sop_uids) VALUES (?, ?, ?, ?)",
                    rows,
                )
            self._audit(
                cur,
                who,
                "dataset.freeze",
                name,
                None,
                len(members),
                {"version": version, "content_hash": digest, "note": note},
            )
            result = self._version_row(cur, ds_id, name, version, created=True)
        self._on_curation_change()
        return result

    def _version_row(
        self, cur: Any, ds_id: int, name: str, version: int, *, created: bool
    ) -> DatasetVersion:
        cur.execute(
            self._sql(
                "SELECT version, content_hash, series_count, instance_count, created_at, "
                "created_by, note FROM dataset_versions WHERE dataset_id = ? AND version = ?"
            ),
            (ds_id, version),
        )
        r = cur.fetchone()
        return DatasetVersion(
            name, int(r[0]), r[1], int(r[2]), int(r[3]), float(r[4]), r[5], r[6], created=created
        )

    def _dataset_id(self, name: str) -> tuple[int, str]:
        rows = self._read(
            "SELECT id, name FROM datasets WHERE name_lower = ?", (name.strip().lower(),)
        )
        if not rows:
            raise CurationNotFoundError(f"no dataset {name!r}", code="dataset_not_found")
        return int(rows[0][0]), str(rows[0][1])

    def dataset_versions(self, name: str) -> list[DatasetVersion]:
        """The frozen versions of a dataset, oldest first (without member lists)."""
        ds_id, real = self._dataset_id(name)
        rows = self._read(
            "SELECT version, content_hash, series_count, instance_count, created_at, "
            "created_by, note FROM dataset_versions WHERE dataset_id = ? ORDER BY version",
            (ds_id,),
        )
        return [
            DatasetVersion(real, int(r[0]), r[1], int(r[2]), int(r[3]), float(r[4]), r[5], r[6])
            for r in rows
        ]

    def dataset_version(self, name: str, version: int) -> DatasetVersion:
        """One frozen version with its member SeriesInstanceUIDs (sorted)."""
        ds_id, real = self._dataset_id(name)
        rows = self._read(
            "SELECT version, content_hash, series_count, instance_count, created_at, "
            "created_by, note FROM dataset_versions WHERE dataset_id = ? AND version = ?",
            (ds_id, version),
        )
        if not rows:
            raise CurationNotFoundError(
                f"dataset {real!r} has no version {version}", code="version_not_found"
            )
        r = rows[0]
        members = tuple(sorted(u for u, _ in self.version_members(name, version).items()))
        return DatasetVersion(
            real, int(r[0]), r[1], int(r[2]), int(r[3]), float(r[4]), r[5], r[6], members
        )

    def version_members(self, name: str, version: int) -> dict[str, list[str]]:
        """SeriesInstanceUID -> its SOP Instance UIDs, as frozen in a version."""
        ds_id, real = self._dataset_id(name)
        rows = self._read(
            "SELECT series_uid, sop_uids FROM dataset_version_series "
            "WHERE dataset_id = ? AND version = ?",
            (ds_id, version),
        )
        if not rows and not self._read(
            "SELECT 1 FROM dataset_versions WHERE dataset_id = ? AND version = ?",
            (ds_id, version),
        ):
            raise CurationNotFoundError(
                f"dataset {real!r} has no version {version}", code="version_not_found"
            )
        return {r[0]: (r[1].split("\n") if r[1] else []) for r in rows}

    def diff_dataset_versions(self, name: str, a: int, b: int) -> tuple[list[str], list[str]]:
        """(series added, series removed) going from version ``a`` to version ``b``, sorted."""
        old = set(self.version_members(name, a))
        new = set(self.version_members(name, b))
        return sorted(new - old), sorted(old - new)

    # -- series view -------------------------------------------------------------------
    def curation_of(self, series_uids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``{uid: {"tags": [...], "datasets": [...]}}`` for a page of series (names sorted)."""
        out: dict[str, dict[str, list[str]]] = {
            uid: {"tags": [], "datasets": []} for uid in series_uids
        }
        uids = list(out)
        for chunk in _chunks(uids):
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT g.series_uid, 'tags', t.name FROM series_tags g "
                f"JOIN tags t ON t.id = g.tag_id WHERE g.series_uid IN ({marks}) "
                f"UNION ALL SELECT m.series_uid, 'datasets', d.name FROM dataset_series m "
                f"JOIN datasets d ON d.id = m.dataset_id WHERE m.series_uid IN ({marks})",
                (*chunk, *chunk),
            )
            for uid, kind, name in rows:
                out[uid][kind].append(name)
        for entry in out.values():
            entry["tags"].sort(key=str.lower)
            entry["datasets"].sort(key=str.lower)
        return out

    # -- user settings -----------------------------------------------------------------
    def user_settings(self, user: str | None = None) -> dict[str, Any]:
        """The settings of a user (``{}`` when none were saved)."""
        rows = self._read("SELECT settings FROM user_settings WHERE user_name = ?", (_actor(user),))
        return dict(self._json(rows[0][0])) if rows else {}

    def set_user_settings(
        self, settings: Mapping[str, Any], user: str | None = None
    ) -> dict[str, Any]:
        """Replace a user's settings (validated by :func:`check_settings`)."""
        clean = check_settings(settings)
        who = _actor(user)
        with self._transaction() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO user_settings (user_name, settings, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_name) DO UPDATE SET settings = excluded.settings, "
                    "updated_at = excluded.updated_at"
                ),
                (who, dumps(clean), time.time()),
            )
            self._audit(cur, who, "settings.update", who, None, None, {"keys": sorted(clean)})
        return clean
