"""Every error is a JSON body ``{"error": {code, message, position, expected, suggestions}}``.

A bad query is a 400 that says where and what was expected, an unknown series a
404, invalid parameters a 422, a missing optional dependency a 501: never a bare
500 for bad input.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from radcurate.optional import MissingDependencyError
from radcurate.plugins import PluginLoadError, PluginNotFound
from radcurate.query import QueryError, QuerySyntaxError, UnknownFieldError
from radcurate.query.limits import QueryTimeoutError
from radcurate.server.schemas import ErrorDetail, ErrorResponse
from radcurate.workflow import WorkflowParamsError, WorkflowRequestError

logger = logging.getLogger(__name__)


class SeriesNotFoundError(LookupError):
    """The catalog has no series with this SeriesInstanceUID."""

    def __init__(self, series_uid: str) -> None:
        super().__init__(f"no series {series_uid} in the catalog")
        self.series_uid = series_uid


def error_response(
    status: int, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON response of an error."""
    body = ErrorResponse(error=detail).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers)


def query_error_detail(exc: QueryError) -> ErrorDetail:
    """The error body of a bad query: position and expected for syntax, suggestions for fields."""
    if isinstance(exc, QuerySyntaxError):
        return ErrorDetail(
            code="query_syntax",
            message=str(exc),
            position=exc.position,
            expected=exc.expected,
        )
    if isinstance(exc, UnknownFieldError):
        return ErrorDetail(
            code="unknown_field",
            message=str(exc),
            position=exc.position,
            suggestions=exc.suggestions,
        )
    return ErrorDetail(code="invalid_query", message=str(exc))


def _on_query_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QueryError)
    return error_response(400, query_error_detail(exc))


def _on_series_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, ErrorDetail(code="series_not_found", message=str(exc)))


def _on_missing_dependency(request: Request, exc: Exception) -> JSONResponse:
    return error_response(501, ErrorDetail(code="not_installed", message=str(exc)))


def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = jsonable_encoder(exc.errors())
    parts = []
    for problem in problems:
        where = ".".join(str(p) for p in problem.get("loc", ()))
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return error_response(
        422,
        ErrorDetail(
            code="invalid_request",
            message="; ".join(parts) or "invalid request",
            details=problems,
        ),
    )


def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(
        exc.status_code,
        ErrorDetail(code=code, message=str(exc.detail)),
        headers=dict(exc.headers) if exc.headers else None,
    )


def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        500, ErrorDetail(code="internal_error", message=f"internal error: {type(exc).__name__}")
    )


def _on_bad_data(request: Request, exc: Exception) -> JSONResponse:
    # PostgreSQL's data exceptions (class 22) come from the request's values: a NUL character
    # in text (which SQLite stores), a number out of range. The value itself is not echoed.
    return error_response(
        400,
        ErrorDetail(
            code="invalid_value",
            message="a value of the request cannot be stored or compared by the catalog "
            "(a NUL character in text, or a number out of range)",
        ),
    )


def _on_unknown_plugin(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, ErrorDetail(code="workflow_not_found", message=str(exc)))


def _on_broken_plugin(request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, ErrorDetail(code="plugin_unavailable", message=str(exc)))


def _on_workflow_params(request: Request, exc: Exception) -> JSONResponse:
    return error_response(422, ErrorDetail(code="invalid_params", message=str(exc)))


def _on_workflow_request(request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, ErrorDetail(code="invalid_selection", message=str(exc)))


def _on_query_timeout(request: Request, exc: Exception) -> JSONResponse:
    """503: the search ran past its time budget (``radcurate serve --query-budget``)."""
    return error_response(
        503, ErrorDetail(code="query_timeout", message=str(exc)), headers={"Retry-After": "1"}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""
    app.add_exception_handler(QueryError, _on_query_error)
    app.add_exception_handler(QueryTimeoutError, _on_query_timeout)
    app.add_exception_handler(SeriesNotFoundError, _on_series_not_found)
    app.add_exception_handler(MissingDependencyError, _on_missing_dependency)
    app.add_exception_handler(PluginNotFound, _on_unknown_plugin)
    app.add_exception_handler(PluginLoadError, _on_broken_plugin)
    app.add_exception_handler(WorkflowParamsError, _on_workflow_params)
    app.add_exception_handler(WorkflowRequestError, _on_workflow_request)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    try:
        import psycopg
    except ImportError:  # the postgres extra is not installed: no PostgreSQL catalogs
        pass
    else:
        app.add_exception_handler(psycopg.DataError, _on_bad_data)
    app.add_exception_handler(Exception, _on_unexpected)


#: OpenAPI ``responses=`` for routes: every error has the same body
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Bad query (position, expected, suggestions)"},
    404: {"model": ErrorResponse, "description": "No such series"},
    422: {"model": ErrorResponse, "description": "Invalid parameters"},
}
