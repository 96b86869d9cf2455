"""Projects: named groups of series and of the users who may see them (schema version 10).

A series belongs to any number of projects, a user is a member of any number. Projects are
opt-in: while the catalog has none, every signed-in user sees every series; once one
exists, a non-admin sees only the series of the projects they are a member of (the server
ANDs ``project:(A OR B)`` to their queries, ``server/scope.py``). A project may own a DICOM
AE title: what a modality sends to that called AE lands in the project.

Every change is one ``audit_log`` entry (``project.create``, ``project.update``,
``project.delete``, ``project.members``, ``project.assign``, ``project.unassign``), which
is also how the search index learns that project membership changed.

Examples
--------
>>> import tempfile
>>> from radcurate.catalog import open_catalog
>>> folder = tempfile.mkdtemp()
>>> with open_catalog(f"sqlite:///{folder}/catalog.sqlite") as catalog:
...     _ = catalog.projects.create("lung-ct", actor="root", ae_title="LUNGCT")
...     catalog.projects.for_ae_title("lungct")
'lung-ct'
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from radcurate.catalog.curation_types import (
    BulkResult,
    CurationConflictError,
    CurationError,
    CurationNotFoundError,
    Selection,
    check_name,
    check_text,
    chunks,
)
from radcurate.catalog.store_session import AuditedSession

#: a DICOM AE title: 1-16 characters of the default repertoire, no backslash
_AE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")


@dataclass(frozen=True)
class ProjectInfo:
    """A project, its members and how many series it holds."""

    name: str
    description: str
    ae_title: str | None
    created_at: float
    members: tuple[str, ...]
    series_count: int


class ProjectSession(AuditedSession, Protocol):
    """What the store needs of a SQL catalog (``SQLCatalog`` provides it)."""

    def resolve_selection(self, selection: Selection) -> list[str]: ...


def check_ae_title(ae_title: str) -> str:
    """An AE title, stripped and upper-cased (AE titles compare so in practice).

    Raises
    ------
    CurationError
        Saying what an AE title may hold.
    """
    value = ae_title.strip().upper()
    if not _AE.fullmatch(value):
        raise CurationError(
            f"{ae_title!r} is not an AE title (1-16 printable ASCII characters, no backslash)",
            code="invalid_ae_title",
        )
    return value


class SQLProjectStore:
    """Projects over a SQL catalog's connection."""

    def __init__(self, session: ProjectSession) -> None:
        self._db = session

    # -- reading -----------------------------------------------------------------------------
    def exist(self) -> bool:
        """Whether any project exists (scoping is on for non-admins once one does)."""
        return bool(self._db._read("SELECT 1 FROM projects LIMIT 1"))

    def names(self) -> list[str]:
        """Every project's name, sorted ignoring case."""
        return [str(r[0]) for r in self._db._read("SELECT name FROM projects ORDER BY name_lower")]

    def list_all(self) -> list[ProjectInfo]:
        """Every project with members and series count."""
        members: dict[str, list[str]] = {}
        for project, user in self._db._read(
            "SELECT project, user_name FROM project_members ORDER BY user_name"
        ):
            members.setdefault(str(project), []).append(str(user))
        counts = dict(
            self._db._read("SELECT project, COUNT(*) FROM project_series GROUP BY project")
        )
        rows = self._db._read(
            "SELECT name, description, ae_title, created_at FROM projects ORDER BY name_lower"
        )
        return [
            ProjectInfo(
                name,
                description,
                ae,
                float(at),
                tuple(members.get(name, ())),
                int(counts.get(name, 0)),
            )
            for name, description, ae, at in rows
        ]

    def get(self, name: str) -> ProjectInfo:
        """One project (:class:`CurationNotFoundError` when unknown; any case)."""
        wanted = name.lower()
        for info in self.list_all():
            if info.name.lower() == wanted:
                return info
        raise CurationNotFoundError(f"no project {name!r}", code="project_not_found")

    def of_user(self, user: str) -> list[str]:
        """The projects ``user`` is a member of."""
        rows = self._db._read(
            "SELECT project FROM project_members WHERE user_name = ? ORDER BY project", (user,)
        )
        return [str(r[0]) for r in rows]

    def of_series(self, series_uids: Sequence[str]) -> dict[str, list[str]]:
        """The projects of each of ``series_uids`` (series in none are left out)."""
        found: dict[str, list[str]] = {}
        for chunk in chunks(list(series_uids)):
            marks = ",".join("?" * len(chunk))
            for uid, project in self._db._read(
                f"SELECT series_uid, project FROM project_series WHERE series_uid IN ({marks}) "
                "ORDER BY project",
                tuple(chunk),
            ):
                found.setdefault(str(uid), []).append(str(project))
        return found

    def visible(self, series_uids: Sequence[str], projects: Sequence[str]) -> set[str]:
        """Those of ``series_uids`` that belong to one of ``projects``."""
        if not projects or not series_uids:
            return set()
        seen: set[str] = set()
        names = tuple(projects)
        project_marks = ",".join("?" * len(names))
        for chunk in chunks(list(series_uids)):
            marks = ",".join("?" * len(chunk))
            rows = self._db._read(
                f"SELECT DISTINCT series_uid FROM project_series WHERE series_uid IN ({marks}) "
                f"AND project IN ({project_marks})",
                (*chunk, *names),
            )
            seen.update(str(r[0]) for r in rows)
        return seen

    def for_ae_title(self, ae_title: str) -> str | None:
        """The project that owns called AE title ``ae_title`` (None: none does)."""
        rows = self._db._read(
            "SELECT name FROM projects WHERE ae_title = ?", (ae_title.strip().upper(),)
        )
        return str(rows[0][0]) if rows else None

    def ae_titles(self) -> dict[str, str]:
        """``{AE title: project}`` of every project that owns one."""
        rows = self._db._read("SELECT ae_title, name FROM projects WHERE ae_title IS NOT NULL")
        return {str(ae): str(name) for ae, name in rows}

    # -- writing -----------------------------------------------------------------------------
    def create(
        self, name: str, *, actor: str, description: str = "", ae_title: str | None = None
    ) -> ProjectInfo:
        """A new project (409 when the name or AE title is taken)."""
        name = check_name(name, "project")
        description = check_text(description, "description")
        ae = None if not ae_title else check_ae_title(ae_title)
        now = time.time()
        with self._db._transaction() as cur:
            self._free(cur, name, ae, None)
            cur.execute(
                self._db._sql(
                    "INSERT INTO projects (name, name_lower, description, ae_title, created_at) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                (name, name.lower(), description, ae, now),
            )
            self._db._audit(cur, actor, "project.create", name, None, None, {"ae_title": ae})
        return ProjectInfo(name, description, ae, now, (), 0)

    def _free(self, cur: Any, name: str | None, ae: str | None, keep: str | None) -> None:
        if name is not None:
            cur.execute(
                self._db._sql("SELECT 1 FROM projects WHERE name_lower = ?"), (name.lower(),)
            )
            if cur.fetchone():
                raise CurationConflictError(f"a project {name!r} exists", code="project_exists")
        if ae is not None:
            cur.execute(self._db._sql("SELECT name FROM projects WHERE ae_title = ?"), (ae,))
            row = cur.fetchone()
            if row and row[0] != keep:
                raise CurationConflictError(
                    f"AE title {ae} belongs to project {row[0]!r}", code="ae_title_taken"
                )

    def update(
        self,
        name: str,
        *,
        actor: str,
        description: str | None = None,
        ae_title: str | None = None,
        clear_ae_title: bool = False,
    ) -> ProjectInfo:
        """Change a project's description or AE title (None: keep)."""
        project = self.get(name)
        text = (
            project.description if description is None else check_text(description, "description")
        )
        ae = project.ae_title
        if clear_ae_title:
            ae = None
        elif ae_title:
            ae = check_ae_title(ae_title)
        with self._db._transaction() as cur:
            self._free(cur, None, ae, project.name)
            cur.execute(
                self._db._sql("UPDATE projects SET description = ?, ae_title = ? WHERE name = ?"),
                (text, ae, project.name),
            )
            self._db._audit(
                cur, actor, "project.update", project.name, None, None, {"ae_title": ae}
            )
        return self.get(project.name)

    def delete(self, name: str, *, actor: str) -> None:
        """Delete a project: its members and series memberships go; the series stay."""
        project = self.get(name)
        with self._db._transaction() as cur:
            for table in ("project_members", "project_series"):
                cur.execute(
                    self._db._sql(f"DELETE FROM {table} WHERE project = ?"), (project.name,)
                )
            cur.execute(self._db._sql("DELETE FROM projects WHERE name = ?"), (project.name,))
            self._db._audit(
                cur, actor, "project.delete", project.name, None, project.series_count, {}
            )

    def set_members(
        self, name: str, *, add: Sequence[str] = (), remove: Sequence[str] = (), actor: str
    ) -> ProjectInfo:
        """Add and remove members (unknown users: :class:`CurationNotFoundError`)."""
        project = self.get(name)
        with self._db._transaction() as cur:
            for user in add:
                cur.execute(
                    self._db._sql("SELECT name FROM users WHERE name_lower = ?"), (user.lower(),)
                )
                row = cur.fetchone()
                if row is None:
                    raise CurationNotFoundError(f"no user {user!r}", code="user_not_found")
                cur.execute(
                    self._db._sql(
                        "DELETE FROM project_members WHERE project = ? AND user_name = ?"
                    ),
                    (project.name, row[0]),
                )
                cur.execute(
                    self._db._sql("INSERT INTO project_members (project, user_name) VALUES (?, ?)"),
                    (project.name, row[0]),
                )
            for user in remove:
                cur.execute(
                    self._db._sql(
                        "DELETE FROM project_members WHERE project = ? AND lower(user_name) = ?"
                    ),
                    (project.name, user.lower()),
                )
            detail = {"add": list(add), "remove": list(remove)}
            self._db._audit(cur, actor, "project.members", project.name, None, None, detail)
        return self.get(project.name)

    def assign(self, name: str, selection: Selection, *, actor: str) -> BulkResult:
        """Put the selected series into the project (already there: unchanged)."""
        uids = self._db.resolve_selection(selection)
        return self.assign_uids(name, uids, actor=actor, selection=selection.as_given())

    def assign_uids(
        self,
        name: str,
        series_uids: Sequence[str],
        *,
        actor: str,
        selection: dict[str, Any] | None = None,
    ) -> BulkResult:
        """Put these series into the project (ingest, STOW-RS and C-STORE use this)."""
        project = self.get(name)
        uids = sorted(set(series_uids))
        have = set(self._members(project.name, uids))
        new = [u for u in uids if u not in have]
        if new:
            with self._db._transaction() as cur:
                for chunk in chunks(new):
                    for uid in chunk:
                        cur.execute(
                            self._db._sql(
                                "INSERT INTO project_series (project, series_uid) VALUES (?, ?)"
                            ),
                            (project.name, uid),
                        )
                self._db._audit(cur, actor, "project.assign", project.name, selection, len(new), {})
        return BulkResult(changed=len(new), series_count=len(uids))

    def unassign(self, name: str, selection: Selection, *, actor: str) -> BulkResult:
        """Take the selected series out of the project."""
        project = self.get(name)
        uids = self._db.resolve_selection(selection)
        gone = self._members(project.name, uids)
        if gone:
            with self._db._transaction() as cur:
                for chunk in chunks(gone):
                    marks = ",".join("?" * len(chunk))
                    cur.execute(
                        self._db._sql(
                            f"DELETE FROM project_series WHERE project = ? "
                            f"AND series_uid IN ({marks})"
                        ),
                        (project.name, *chunk),
                    )
                self._db._audit(
                    cur,
                    actor,
                    "project.unassign",
                    project.name,
                    selection.as_given(),
                    len(gone),
                    {},
                )
        return BulkResult(changed=len(gone), series_count=len(uids))

    def _members(self, project: str, uids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for chunk in chunks(list(uids)):
            marks = ",".join("?" * len(chunk))
            rows = self._db._read(
                f"SELECT series_uid FROM project_series WHERE project = ? "
                f"AND series_uid IN ({marks})",
                (project, *chunk),
            )
            found.extend(str(r[0]) for r in rows)
        return sorted(found)
