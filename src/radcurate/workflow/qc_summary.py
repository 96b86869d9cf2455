"""How many series of a query fail each registered QC check (the QC panel, ``radcurate qc``).

A check's count is the number of series matching ``(query) AND (check.fails)``; ``checked``
counts those of the query that carry the check's field at all (the check ran on them). A
check whose field no series has yet counts 0 of 0: the field is unknown to the catalog
until a QC workflow writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.query import QueryError
from radcurate.query.ast import And, Node
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.registry import WorkflowRegistry, default_registry


@dataclass(frozen=True)
class CheckCount:
    """One check with its counts in a query."""

    workflow: str
    check: QCCheck
    #: series of the query failing the check
    failing: int
    #: series of the query the check ran on (carrying its field)
    checked: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the check's own fields, its workflow and the two counts."""
        return {
            **self.check.to_dict(),
            "workflow": self.workflow,
            "count": self.failing,
            "checked": self.checked,
        }


def check_counts(
    catalog: CatalogBackend,
    query: Node,
    parse: Callable[[str], Node],
    registry: WorkflowRegistry | None = None,
) -> list[CheckCount]:
    """Every registered check with its failing and checked counts within ``query``.

    ``parse`` turns query text into a tree with the caller's known fields (the server's
    cached field names, the CLI's catalog fields); a check whose field is unknown counts 0.
    """
    registry = registry or default_registry()
    out = []
    for workflow, check in registry.qc_checks():
        try:
            fails = parse(check.fails)
            present = parse(f"has:{check.field}")
        except QueryError:
            out.append(CheckCount(workflow, check, 0, 0))
            continue
        failing = catalog.count(And((query, fails)))
        checked = catalog.count(And((query, present)))
        out.append(CheckCount(workflow, check, failing, checked))
    return out
