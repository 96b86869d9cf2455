"""``/api/series/{uid}/thumbnail``: a PNG keyed by the series' content, cached forever."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import FileResponse, Response

from radcurate.optional import MissingDependencyError, is_available
from radcurate.render.cache import ThumbnailCache, content_key
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, SettingsDep
from radcurate.server.errors import ERROR_RESPONSES, SeriesNotFoundError
from radcurate.server.schemas import ErrorResponse
from radcurate.server.scope import VIEW_SERIES_IMAGES

router = APIRouter(prefix="/series", tags=["thumbnails"], responses=ERROR_RESPONSES)

#: the URL holds no version, but the ETag is the content key: a changed series gets a new one
CACHE_CONTROL = "public, max-age=31536000, immutable"


def etag_matches(if_none_match: str | None, key: str) -> bool:
    """Whether an ``If-None-Match`` header names the entity tag of ``key`` (or ``*``)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == "*" or tag.strip('"') == key:
            return True
    return False


@router.get(
    "/{series_uid}/thumbnail",
    operation_id="get_thumbnail",
    name="get_thumbnail",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}}, "description": "The thumbnail (PNG)"},
        304: {"description": "The client's copy (If-None-Match) is current"},
        501: {"model": ErrorResponse, "description": "Rendering is not installed"},
    },
    dependencies=[READ, VIEW_SERIES_IMAGES],
)
def get_thumbnail(
    series_uid: str,
    catalog: CatalogDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The thumbnail of a series, rendered on first request; ``ETag`` is its content key."""
    instances = catalog.instances(series_uid)
    if not instances and catalog.series_document(series_uid) is None:
        raise SeriesNotFoundError(series_uid)
    cache = ThumbnailCache(settings.thumbnail_root, settings.thumbnail_size)
    key = content_key(instances, cache.size)
    if etag_matches(if_none_match, key):
        return Response(status_code=304, headers=_headers(key))
    path = cache.path_for_key(key)
    if not path.is_file():
        if not is_available("PIL"):
            raise MissingDependencyError(
                "rendering thumbnails needs Pillow, which is not installed: "
                "run pip install 'radcurate[render]'"
            )
        try:
            path = cache.thumbnail_path(catalog, series_uid)
        except KeyError:  # removed since the instances were read
            raise SeriesNotFoundError(series_uid) from None
    # the key of the file served (the series may have changed since it was computed above);
    # bytes, not a FileResponse: a concurrent render may replace the file between the
    # stat that sets Content-Length and the read
    return Response(path.read_bytes(), media_type="image/png", headers=_headers(path.stem))


def _headers(key: str) -> dict[str, str]:
    return {"ETag": f'"{key}"', "Cache-Control": CACHE_CONTROL}
