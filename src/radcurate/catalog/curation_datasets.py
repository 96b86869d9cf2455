"""Datasets: membership of selections, frozen versions (members, SOP UIDs, hash), diffs."""

from __future__ import annotations

import time
from typing import Any

from radcurate.catalog.curation_store import CurationStore
from radcurate.catalog.curation_types import (
    BulkResult,
    CurationConflictError,
    CurationNotFoundError,
    DatasetInfo,
    DatasetVersion,
    Selection,
    actor_name,
    check_name,
    check_text,
    content_hash,
)


class DatasetsMixin(CurationStore):
    """Datasets and their frozen versions."""

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
        description = check_text(description, "description")
        who = actor_name(actor)
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
        who = actor_name(actor)
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
                description = check_text(description, "description")
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
        who = actor_name(actor)
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
        who = actor_name(actor)
        with self._transaction() as cur:
            ds_id = self._id_of(cur, "datasets", name, "dataset", share=True)
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
        who = actor_name(actor)
        if note is not None:
            note = check_text(note, "note")
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
        _check_version_number(real, version)
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
        _check_version_number(real, version)
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


#: version numbers are stored as 64-bit integers: anything beyond cannot name a version
_MAX_VERSION = 2**63 - 1


def _check_version_number(dataset: str, version: int) -> None:
    """A version number no engine can hold names no version (not an overflow error)."""
    if not 1 <= version <= _MAX_VERSION:
        raise CurationNotFoundError(
            f"dataset {dataset!r} has no version {version}", code="version_not_found"
        )
