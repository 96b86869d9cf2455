"""What a workflow runs on: a query with includes/excludes, a dataset (version), or UIDs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection
from radcurate.query import to_json
from radcurate.query.ast import Dataset, Node
from radcurate.query.patterns import escape


class WorkflowRequestError(ValueError):
    """A run request that names its series wrongly (the message says how)."""


@dataclass(frozen=True)
class WorkflowSelection:
    """The series of a run: ``query`` (+``include`` −``exclude``), or a dataset's frozen
    ``version`` (its current members when no version), or the given ``uids``."""

    query: str | dict[str, Any] | Node | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    dataset: str | None = None
    version: int | None = None
    uids: tuple[str, ...] = field(default=())

    def resolve(self, catalog: CatalogBackend) -> list[str]:
        """The sorted SeriesInstanceUIDs (unknown dataset/version: ``CurationNotFoundError``)."""
        if self.dataset is not None:
            if self.version is not None:
                members = catalog.version_members(self.dataset, self.version)
                found = set(members)
            else:
                catalog.dataset(self.dataset)  # raises when there is no such dataset
                found = set(catalog.series_uids(Dataset(escape(self.dataset))))
            return sorted((found | set(self.include)) - set(self.exclude))
        if self.uids:
            return sorted(set(self.uids) - set(self.exclude))
        return catalog.resolve_selection(Selection.of(self.query, self.include, self.exclude))

    def as_given(self) -> dict[str, Any]:
        """The JSON form recorded with the job."""
        out: dict[str, Any] = {}
        if self.query is not None:
            out["query"] = to_json(self.query) if isinstance(self.query, Node) else self.query
        if self.include:
            out["include"] = list(self.include)
        if self.exclude:
            out["exclude"] = list(self.exclude)
        if self.dataset is not None:
            out["dataset"] = self.dataset
            if self.version is not None:
                out["version"] = self.version
        if self.uids:
            out["uids"] = list(self.uids)
        return out
