"""``ai.*`` and ``qc.*`` results of series: kept in their own table, apart from the DICOM document,
so a re-ingest (which rewrites the document) never loses them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from radcurate.catalog.base import RESULT_NAMESPACES
from radcurate.catalog.rows import dumps


class ResultsMixin:
    """Results storage for :class:`~radcurate.catalog.sql.SQLCatalog` (same SQL on both engines)."""

    if TYPE_CHECKING:
        json_decoded: bool

        def _sql(self, sql: str) -> str: ...

        def _transaction(self) -> AbstractContextManager[Any]: ...

        def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def set_results(self, series_uid: str, namespace: str, values: dict[str, Any]) -> None:
        """Store results of a series; they survive re-ingest (they are not in the document)."""
        _check_results(namespace, values)
        now = time.time()
        rows = [(series_uid, namespace, k, dumps(v), now) for k, v in sorted(values.items())]
        if not rows:
            return
        with self._transaction() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO series_results (series_uid, namespace, key, value, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (series_uid, namespace, key) "
                    "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
                ),
                rows,
            )

    def clear_results(
        self, series_uid: str, namespace: str, keys: Sequence[str] | None = None
    ) -> int:
        """Remove all results of a namespace, or the given keys."""
        _check_results(namespace, keys or ())
        with self._transaction() as cur:
            if keys is None:
                cur.execute(
                    self._sql("DELETE FROM series_results WHERE series_uid = ? AND namespace = ?"),
                    (series_uid, namespace),
                )
                return int(cur.rowcount)
            removed = 0
            for key in keys:
                cur.execute(
                    self._sql(
                        "DELETE FROM series_results "
                        "WHERE series_uid = ? AND namespace = ? AND key = ?"
                    ),
                    (series_uid, namespace, key),
                )
                removed += int(cur.rowcount)
            return removed

    def results(self, series_uid: str) -> dict[str, dict[str, Any]]:
        """The ``ai`` and ``qc`` results of a series."""
        out: dict[str, dict[str, Any]] = {ns: {} for ns in RESULT_NAMESPACES}
        for namespace, key, value in self._read(
            "SELECT namespace, key, value FROM series_results WHERE series_uid = ? "
            "ORDER BY namespace, key",
            (series_uid,),
        ):
            out.setdefault(namespace, {})[key] = value if self.json_decoded else json.loads(value)
        return out


_RESULT_KEY = re.compile(r"^[a-z0-9_]+$")


def _check_results(namespace: str, keys: Iterable[str]) -> None:
    if namespace not in RESULT_NAMESPACES:
        raise ValueError(
            f"result namespace must be one of {', '.join(RESULT_NAMESPACES)}, not {namespace!r}"
        )
    for key in keys:
        if not _RESULT_KEY.match(key):
            raise ValueError(
                f"result key {key!r} must be lower_snake, e.g. 'bodypart' "
                "(nest values in a dict to reach them as ai.a.b)"
            )
