"""What the DICOMweb route modules share: the prefix, error answers, the store's URL."""

from __future__ import annotations

import os

from fastapi import Request
from fastapi.responses import JSONResponse

from radcurate.server.errors import error_response
from radcurate.server.paths import path_view
from radcurate.server.schemas import ErrorDetail
from radcurate.settings import ENV_STORE, Settings

PREFIX = "/dicomweb"
DICOM_JSON = "application/dicom+json"


def base_url(request: Request) -> str:
    """The DICOMweb root URL as the client reached it (for RetrieveURL attributes)."""
    return str(request.base_url).rstrip("/") + PREFIX


def store_url(request: Request, home: object) -> str:
    """Where STOW-RS writes: the app's configured store, ``$RADCURATE_STORE``, or home's."""
    configured = getattr(request.app.state, "store_url", None)
    if configured:
        return str(configured)
    return os.environ.get(ENV_STORE) or Settings(home=home).store_url  # type: ignore[arg-type]


def error(status: int, code: str, message: str) -> JSONResponse:
    """The API's JSON error answer."""
    return error_response(status, ErrorDetail(code=code, message=message))


def cannot_store(request: Request, store_url: str, exc: OSError) -> JSONResponse:
    """A 507: the store cannot be written (its paths as this user may see them)."""
    message = f"cannot write into {store_url}: {exc}"  # its paths shown as the user may see them
    return error(507, "cannot_store", path_view(request).text(message))
