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

import time
from collections.abc import Mapping, Sequence
from typing import Any

from radcurate.catalog.curation_datasets import DatasetsMixin
from radcurate.catalog.curation_types import (
    MAX_NAME,
    MAX_TAG_SHORTCUTS,
    SETTINGS_KEYS,
    AuditEntry,
    BulkResult,
    CurationConflictError,
    CurationError,
    CurationNotFoundError,
    DatasetInfo,
    DatasetVersion,
    Selection,
    StoredSelection,
    TagInfo,
    actor_name,
    check_color,
    check_name,
    check_settings,
    chunks,
    content_hash,
)
from radcurate.catalog.rows import dumps

__all__ = [
    "MAX_NAME",
    "MAX_TAG_SHORTCUTS",
    "SETTINGS_KEYS",
    "AuditEntry",
    "BulkResult",
    "CurationConflictError",
    "CurationError",
    "CurationMixin",
    "CurationNotFoundError",
    "DatasetInfo",
    "DatasetVersion",
    "Selection",
    "StoredSelection",
    "TagInfo",
    "check_color",
    "check_name",
    "check_settings",
    "content_hash",
]


#: series carrying tag ``t`` that are in the catalog (a series whose files all went away
#: keeps its tags for when it comes back, but is not counted meanwhile)
_TAG_COUNT = (
    "(SELECT COUNT(*) FROM series_tags g JOIN series s ON s.series_uid = g.series_uid "
    "WHERE g.tag_id = t.id)"
)


class CurationMixin(DatasetsMixin):
    """Curation storage for :class:`~radcurate.catalog.sql.SQLCatalog` (same SQL on both engines).

    Tags, series views and user settings here; datasets in
    :mod:`~radcurate.catalog.curation_datasets`; selections, the audit log and set
    operations in :mod:`~radcurate.catalog.curation_store`.
    """

    # -- tags --------------------------------------------------------------------------
    def tags(self, prefix: str = "", limit: int | None = None) -> list[TagInfo]:
        """Tags whose name starts with ``prefix`` (any case), most used first, then by name."""
        like = "".join("\\" + c if c in "%_\\" else c for c in prefix.lower()) + "%"
        sql = (
            f"SELECT t.name, t.color, {_TAG_COUNT} "
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
            f"SELECT t.name, t.color, {_TAG_COUNT} FROM tags t WHERE t.name_lower = ?",
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
        return self._id_of(cur, "tags", name, "tag", share=True), created

    def create_tag(
        self, name: str, color: str | None = None, *, actor: str | None = None
    ) -> TagInfo:
        """A new tag; a name taken (in any case) raises :class:`CurationConflictError`."""
        name = check_name(name, "tag")
        color = check_color(color)
        who = actor_name(actor)
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
        who = actor_name(actor)
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
        who = actor_name(actor)
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
        who = actor_name(actor)
        with self._transaction() as cur:
            if create:
                tag_id, _ = self._ensure_tag(cur, name, None, who)
            else:
                tag_id = self._id_of(cur, "tags", name, "tag", share=True)
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
        who = actor_name(actor)
        with self._transaction() as cur:
            tag_id = self._id_of(cur, "tags", name, "tag", share=True)
            changed = self._delete_members(cur, "series_tags", "tag_id", tag_id, uids)
            self._audit(
                cur, who, "tag.remove", name, selection.as_given(), len(uids), {"changed": changed}
            )
        self._on_curation_change()
        return BulkResult(changed, len(uids))

    # -- series view -------------------------------------------------------------------
    def curation_of(self, series_uids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``{uid: {"tags": [...], "datasets": [...]}}`` for a page of series (names sorted)."""
        out: dict[str, dict[str, list[str]]] = {
            uid: {"tags": [], "datasets": []} for uid in series_uids
        }
        uids = list(out)
        for chunk in chunks(uids):
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
        rows = self._read(
            "SELECT settings FROM user_settings WHERE user_name = ?", (actor_name(user),)
        )
        return dict(self._json(rows[0][0])) if rows else {}

    def set_user_settings(
        self, settings: Mapping[str, Any], user: str | None = None
    ) -> dict[str, Any]:
        """Replace a user's settings (validated by :func:`check_settings`)."""
        clean = check_settings(settings)
        who = actor_name(user)
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
