"""``/api/audit``: the log of curation actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from radcurate.server.auth import ADMIN
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.schemas_curation import AuditItem, AuditList

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", operation_id="list_audit", name="list_audit", dependencies=[ADMIN])
def list_audit(
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    action: Annotated[str | None, Query(description="e.g. tag.add, dataset.freeze")] = None,
    target: Annotated[str | None, Query(description="A tag or dataset name.")] = None,
) -> AuditList:
    """Curation actions, newest first: who, when, what, the selection as given, how many series."""
    entries = catalog.audit_log(limit, action=action, target=target)
    return AuditList(
        items=[
            AuditItem(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                selection=e.selection,
                series_count=e.series_count,
                detail=e.detail,
            )
            for e in entries
        ]
    )
