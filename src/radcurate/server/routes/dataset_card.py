"""``/api/datasets/{name}/versions/{version}/card``: the dataset card of a frozen version, as
JSON (``radcurate-dataset-card/1``) or one self-contained HTML page (docs/dataset-card.md).

The JSON is the exact bytes ``radcurate dataset card`` writes (sorted keys, no time of
generation), so a card downloaded twice is the same file. An unknown dataset or version
is a 404 (the curation error handler), an unknown or identifying target a 400.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from radcurate.analyze.bias_report import BiasInputError
from radcurate.analyze.dataset_card import DatasetCardError, card_json, dataset_card
from radcurate.analyze.dataset_card_html import card_html
from radcurate.catalog import CatalogBackend
from radcurate.query import QueryError
from radcurate.server.auth import READ, AuthError
from radcurate.server.deps import CatalogDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.scope import Projects, ProjectsDep, visible_uids

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=ERROR_RESPONSES)

_TARGET = Query(
    description="A field (clin.t.c, ai.x, review) or a query (tag:X): the acquisition "
    "attributes' associations with it and the shortcut flags."
)
_DOWNLOAD = Query(description="1: answer as an attachment (Content-Disposition) to save.")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _card(catalog: CatalogBackend, name: str, version: int, target: str | None) -> dict[str, Any]:
    try:
        return dataset_card(catalog, name, version, target=target)
    except (DatasetCardError, BiasInputError, QueryError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def _headers(card: dict[str, Any], suffix: str, download: bool) -> dict[str, str]:
    if not download:
        return {}
    dataset = card["dataset"]
    stem = f"{dataset['name']}-v{dataset['version']}-card{suffix}"
    plain = _UNSAFE.sub("_", stem)
    return {
        "Content-Disposition": f'attachment; filename="{plain}"; '
        f"filename*=UTF-8''{quote(stem, safe='')}"
    }


def _whole_version_visible(
    catalog: CatalogBackend, name: str, version: int, projects: Projects
) -> None:
    """A card describes every series of a version: a user restricted to projects gets it
    only when they may see all of them (403 otherwise)."""
    if projects is None:
        return
    members = list(catalog.version_members(name, version))
    if len(visible_uids(catalog, members, projects)) < len(members):
        raise AuthError(
            403,
            "forbidden",
            "this version holds series outside your projects; an admin can make its card",
        )


@router.get(
    "/{name}/versions/{version}/card",
    operation_id="get_dataset_card",
    name="get_dataset_card",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
    dependencies=[READ],
)
def get_card(
    name: str,
    version: int,
    catalog: CatalogDep,
    projects: ProjectsDep,
    target: Annotated[str | None, _TARGET] = None,
    download: Annotated[bool, _DOWNLOAD] = False,
) -> Response:
    """The dataset card of a frozen version as JSON (format ``radcurate-dataset-card/1``)."""
    _whole_version_visible(catalog, name, version, projects)
    card = _card(catalog, name, version, target)
    return Response(
        card_json(card), media_type="application/json", headers=_headers(card, ".json", download)
    )


@router.get(
    "/{name}/versions/{version}/card.html",
    operation_id="get_dataset_card_html",
    name="get_dataset_card_html",
    response_class=HTMLResponse,
    dependencies=[READ],
)
def get_card_html(
    name: str,
    version: int,
    catalog: CatalogDep,
    projects: ProjectsDep,
    target: Annotated[str | None, _TARGET] = None,
    download: Annotated[bool, _DOWNLOAD] = False,
) -> HTMLResponse:
    """The dataset card of a frozen version as one self-contained HTML page (inline CSS
    and SVG charts, no script)."""
    _whole_version_visible(catalog, name, version, projects)
    card = _card(catalog, name, version, target)
    return HTMLResponse(card_html(card), headers=_headers(card, ".html", download))
