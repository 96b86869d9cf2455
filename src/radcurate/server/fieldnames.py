"""The field registry's names, kept between requests so a results page costs one round trip."""

from __future__ import annotations

import threading
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.query import Node, UnknownFieldError, from_json, parse


class KnownFields:
    """Parses queries against the catalog's field registry, read once and refreshed on a miss.

    A cached registry can only be too small (an ingest added fields), never
    wrong about a field it lists, so it is trusted to accept a query and
    re-read before a query is rejected for an unknown field.
    """

    def __init__(self) -> None:
        self._names: frozenset[str] | None = None
        self._lock = threading.Lock()

    def refresh(self, catalog: CatalogBackend) -> frozenset[str]:
        """Re-read the registry."""
        names = frozenset(f.name for f in catalog.fields())
        with self._lock:
            self._names = names
        return names

    def parse(self, catalog: CatalogBackend, query: str | dict[str, Any]) -> Node:
        """Query text or JSON tree -> tree; raises ``QueryError`` for a bad one."""
        with self._lock:
            names = self._names
        fresh = names is None
        if names is None:
            names = self.refresh(catalog)
        try:
            return _parse(query, names)
        except UnknownFieldError:
            if fresh:
                raise
            return _parse(query, self.refresh(catalog))


def _parse(query: str | dict[str, Any], names: frozenset[str]) -> Node:
    if isinstance(query, str):
        return parse(query, fields=names)
    return from_json(query, fields=names)


class ScopedFields:
    """A request's parser: :class:`KnownFields` with the request's projects ANDed to every
    query (``server/scope.py``; ``projects`` None: unrestricted)."""

    def __init__(self, known: KnownFields, projects: tuple[str, ...] | None) -> None:
        self.known = known
        self.projects = projects

    def parse(self, catalog: CatalogBackend, query: str | dict[str, Any]) -> Node:
        """Query text or JSON tree -> the tree the request may run."""
        from radcurate.server.scope import scoped

        return scoped(self.known.parse(catalog, query), self.projects)

    def refresh(self, catalog: CatalogBackend) -> frozenset[str]:
        """Re-read the registry."""
        return self.known.refresh(catalog)
