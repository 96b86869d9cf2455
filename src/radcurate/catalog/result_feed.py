"""What the search index reads of the result store: the series whose results changed since a
change number, with their merged results (``catalog/index/series_index.py`` applies them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from radcurate.catalog.result_types import merge_payloads
from radcurate.catalog.rows import loads

if TYPE_CHECKING:
    from radcurate.catalog.result_store import SQLSession

#: series per IN (...) list
_CHUNK = 500


def _decoded(db: SQLSession, value: Any) -> Any:
    return value if db.json_decoded else loads(value)


def changed_results(
    db: SQLSession, since: int, page_size: int = 20_000
) -> Iterator[list[tuple[str, dict[str, dict[str, Any]]]]]:
    """Pages of ``(series_uid, merged results)`` for series whose results changed at or
    after change number ``since`` (a series without results any more: empty dict)."""
    changed = sorted(
        {
            str(r[0])
            for r in db._read(
                "SELECT series_uid FROM result_sets WHERE seq >= ? "
                "UNION SELECT series_uid FROM result_deletions WHERE seq >= ?",
                (since, since),
            )
        }
    )
    if not changed:
        return
    if len(changed) > 50_000:  # most of the table: one ordered scan beats IN lists
        yield from _scan_pages(db, set(changed), page_size)
        return
    for start in range(0, len(changed), page_size):
        page_uids = changed[start : start + page_size]
        payloads: dict[str, list[Any]] = {u: [] for u in page_uids}
        for part in range(0, len(page_uids), _CHUNK):
            chunk = tuple(page_uids[part : part + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for uid, payload in db._read(
                "SELECT series_uid, payload FROM result_sets "
                f"WHERE series_uid IN ({marks}) ORDER BY series_uid, written_at, producer",
                chunk,
            ):
                payloads[str(uid)].append(_decoded(db, payload))
        yield [(u, merge_payloads(p)) for u, p in payloads.items()]


def _scan_pages(
    db: SQLSession, wanted: set[str], page_size: int
) -> Iterator[list[tuple[str, dict[str, dict[str, Any]]]]]:
    seen: set[str] = set()
    last_uid, last_producer = "", ""
    group_uid: str | None = None
    group: list[Any] = []
    page: list[tuple[str, dict[str, dict[str, Any]]]] = []
    while True:
        rows = db._read(
            "SELECT series_uid, producer, payload FROM result_sets "
            "WHERE (series_uid, producer) > (?, ?) ORDER BY series_uid, producer LIMIT ?",
            (last_uid, last_producer, page_size),
        )
        for uid, producer, payload in rows:
            if uid != group_uid:
                if group_uid is not None and group_uid in wanted:
                    page.append((group_uid, merge_payloads(group)))
                    seen.add(group_uid)
                group_uid, group = uid, []
            group.append(_decoded(db, payload))
            last_uid, last_producer = uid, producer
        if len(page) >= page_size:
            yield page
            page = []
        if len(rows) < page_size:
            break
    if group_uid is not None and group_uid in wanted:
        page.append((group_uid, merge_payloads(group)))
        seen.add(group_uid)
    page += [(u, {}) for u in sorted(wanted - seen)]
    if page:
        yield page
