"""Files that left the disk: a re-ingest of a folder forgets the files it no longer finds.

Only instances kept *in place* (their location is the file that was ingested) are
forgotten; a file copied into a store stays, whatever became of its original. The series
of a forgotten instance is marked dirty, so finalizing recomputes its facts, or deletes it
when no instance is left (the search index follows both through change numbers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

#: rows per IN (...) list
_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _like_prefix(folder: str) -> str:
    """A LIKE pattern for every path below ``folder`` (``\\`` escapes ``%`` and ``_``)."""
    escaped = folder.rstrip(os.sep).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + os.sep + "%"


class FileRemovalMixin:
    """:meth:`known_folders` and :meth:`forget_files` for the SQL catalog."""

    if TYPE_CHECKING:

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

        def _transaction(self) -> AbstractContextManager[Any]: ...

        def _sql(self, sql: str) -> str: ...

    def known_folders(self, root: str) -> list[str]:
        """Folders at or below ``root`` that hold files the catalog knows (instances kept in
        place, and files recorded as errors), sorted."""
        pattern = _like_prefix(root)
        rows = self._read(
            "SELECT DISTINCT source_dir FROM instances WHERE location = source "
            "AND (source_dir = ? OR source_dir LIKE ? ESCAPE '\\') "
            "UNION SELECT DISTINCT source_dir FROM ingest_errors "
            "WHERE source_dir = ? OR source_dir LIKE ? ESCAPE '\\'",
            (root, pattern, root, pattern),
        )
        return sorted(str(r[0]) for r in rows)

    def forget_files(self, sources: Sequence[str]) -> int:
        """Forget files that are gone: their in-place instances (marking their series dirty)
        and their recorded errors, in one transaction; returns how many files were forgotten."""
        forgotten = 0
        with self._transaction() as cur:
            dirty: set[str] = set()
            for chunk in _chunks(sorted(set(sources))):
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(
                        f"SELECT DISTINCT series_uid FROM instances WHERE source IN ({marks}) "
                        "AND location = source"
                    ),
                    tuple(chunk),
                )
                dirty.update(str(r[0]) for r in cur.fetchall())
                cur.execute(
                    self._sql(
                        f"DELETE FROM instances WHERE source IN ({marks}) AND location = source"
                    ),
                    tuple(chunk),
                )
                forgotten += max(cur.rowcount, 0)
                cur.execute(
                    self._sql(f"DELETE FROM ingest_errors WHERE source IN ({marks})"), tuple(chunk)
                )
                forgotten += max(cur.rowcount, 0)
            for chunk in _chunks(sorted(dirty)):
                marks = ",".join("?" * len(chunk))
                cur.execute(
                    self._sql(f"UPDATE series SET dirty = 1 WHERE series_uid IN ({marks})"),
                    tuple(chunk),
                )
        return forgotten
