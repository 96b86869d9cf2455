"""What the catalog's small stores (users and tokens, projects, shared layouts) need of a SQL
catalog: transactions, reads, the engine's SQL spelling and the audit log. ``SQLCatalog``
provides it; each store's own Protocol adds what only it needs."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["AuditedSession"]


class AuditedSession(Protocol):
    """A SQL catalog as the stores use it."""

    def _transaction(self) -> AbstractContextManager[Any]: ...

    def _read(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]: ...

    def _sql(self, sql: str) -> str: ...

    def _audit(
        self,
        cur: Any,
        actor: str,
        action: str,
        target: str | None,
        selection: dict[str, Any] | None,
        series_count: int | None,
        detail: dict[str, Any] | None = None,
    ) -> None: ...
