"""The web UI: the built single-page app under ``/``, ``index.html`` for any other page.

The assets are built from ``web/`` by ``scripts/build-web.sh`` and ship inside the
package (``radcurate/server/webui``), so ``pip install`` needs no Node. Paths the
API owns (``/api``, ``/dicomweb``, ``/docs``, ``/openapi.json``...) are never answered
with the app: an unknown one stays a JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from radcurate.server.auth import PUBLIC
from radcurate.server.errors import error_response
from radcurate.server.schemas import ErrorDetail

router = APIRouter(include_in_schema=False)

#: where scripts/build-web.sh writes the built app
WEBUI_ROOT = Path(__file__).resolve().parent.parent / "webui"

#: first path segments that belong to the API, never to the app
RESERVED = frozenset({"api", "dicomweb", "docs", "redoc", "openapi.json"})

#: hashed file names under assets/ never change: cache them for a year
IMMUTABLE = "public, max-age=31536000, immutable"

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>radcurate</title>
<p>The web UI is not built. From a source checkout run <code>scripts/build-web.sh</code>;
the API is at <a href="/docs">/docs</a>.</p>"""


def _static_file(root: Path, path: str) -> Path | None:
    """The file under ``root`` a URL path names, or None (missing, a folder, or outside root)."""
    if not path or "\\" in path or "\x00" in path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        return None
    return candidate


def _index(root: Path) -> Response:
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT)
    # never cached: it names the current hashed assets
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/", name="webui_index", dependencies=[PUBLIC])
def webui_index() -> Response:
    """The app."""
    return _index(WEBUI_ROOT)


@router.get("/{path:path}", name="webui_file", dependencies=[PUBLIC])
def webui_file(path: str) -> Response:
    """A built file, or the app itself for any page of it (its router reads the URL)."""
    first = path.split("/", 1)[0]
    if first in RESERVED:
        detail = ErrorDetail(code="not_found", message=f"no such resource: /{path}")
        return error_response(404, detail)
    found = _static_file(WEBUI_ROOT, path)
    if found is not None:
        cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
        return FileResponse(found, headers={"Cache-Control": cache})
    if first == "assets" or Path(path).suffix in {".js", ".css", ".map", ".png", ".svg", ".ico"}:
        # a missing asset is a 404, not the app (a stale tab would otherwise parse HTML as JS)
        return error_response(404, ErrorDetail(code="not_found", message=f"no such file: /{path}"))
    return _index(WEBUI_ROOT)
