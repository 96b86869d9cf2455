"""uvicorn's logging without query-string values: no search or QIDO term reaches a log at INFO.

A search (``/api/search?q=PatientName:Evans*``) or a QIDO-RS query
(``/dicomweb/studies?PatientBirthDate=19600311``) carries patient data in its
query string, and uvicorn's access log writes the whole request line.
:func:`uvicorn_log_config` is uvicorn's own logging configuration with every
query value replaced by ``<redacted>`` (parameter names kept, paths kept: a
UID is not patient data). Values are logged only at DEBUG and only when the
operator opts in with ``RADCURATE_LOG_QUERIES=1``.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from uvicorn.logging import AccessFormatter

#: environment variable that lets query values into a DEBUG log (``1``: yes)
ENV_LOG_QUERIES = "RADCURATE_LOG_QUERIES"
#: what a query value becomes
REDACTED = "<redacted>"
#: levels ``radcurate serve --log-level`` takes (``trace`` is uvicorn's, below DEBUG)
LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}

#: a parameter name that is kept: field names, DICOM keywords and tags, nothing free-form
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: a path with a query string inside free text (a message, a traceback)
_URL_QUERY = re.compile(r"(/[^\s?#\"'<>]*)\?([^\s#\"'<>]*)")
#: index of the path in the arguments of uvicorn's access records
_ACCESS_PATH_ARG = 2


def redact_query(query: str) -> str:
    """A query string with every value replaced by ``<redacted>``.

    A parameter name is kept when it looks like a name (letters, digits,
    ``_.-``); anything else (a bare value, an encoded ``=``) is redacted whole.

    Examples
    --------
    >>> redact_query("PatientName=Evans*&PatientBirthDate=19600311&limit=")
    'PatientName=<redacted>&PatientBirthDate=<redacted>&limit=<redacted>'
    >>> redact_query("Evans&q%3DEvans=1")
    '<redacted>&<redacted>=<redacted>'
    """
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        kept = name if _NAME.fullmatch(name) else REDACTED
        parts.append(f"{kept}={REDACTED}" if equals else REDACTED)
    return "&".join(parts)


def redact_path(full_path: str) -> str:
    """A request target (path and query) with its query values redacted.

    Examples
    --------
    >>> redact_path("/api/search?q=PatientName:Evans*")
    '/api/search?q=<redacted>'
    >>> redact_path("/dicomweb/studies/1.2.3/series")
    '/dicomweb/studies/1.2.3/series'
    """
    path, question, query = full_path.partition("?")
    return f"{path}{question}{redact_query(query)}"


def redact_urls(text: str) -> str:
    """Free text with the query values of every path in it redacted.

    Examples
    --------
    >>> redact_urls('127.0.0.1:5 - "WebSocket /ws?token=abc" [accepted]. Why?')
    '127.0.0.1:5 - "WebSocket /ws?token=<redacted>" [accepted]. Why?'
    """
    return _URL_QUERY.sub(lambda m: f"{m.group(1)}?{redact_query(m.group(2))}", text)


def _redact_arg(value: object) -> object:
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, (bytes, bytearray)):
        return redact_urls(bytes(value).decode("latin-1")).encode("latin-1")
    return value


class QueryRedactionFilter(logging.Filter):
    """Redacts query values in any record that carries a URL (message, arguments, traceback).

    Attached to uvicorn's handlers by :func:`uvicorn_log_config`; it changes the
    record in place, so handlers further up (the root logger's) get it redacted too.

    Parameters
    ----------
    reveal
        Let records through unchanged (DEBUG with ``RADCURATE_LOG_QUERIES=1``).
    """

    def __init__(self, name: str = "", *, reveal: bool = False) -> None:
        super().__init__(name)
        self.reveal = reveal

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        if self.reveal:
            return True
        if isinstance(record.msg, str):
            record.msg = redact_urls(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
        if record.exc_info and not record.exc_text:
            # formatted here, redacted, and cached where every formatter looks first
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_urls(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_urls(record.stack_info)
        return True


class RedactedAccessFormatter(AccessFormatter):
    """uvicorn's access formatter writing the request target with its query values redacted.

    Parameters
    ----------
    reveal
        Write the request target as received.
    **kwargs
        Passed to :class:`uvicorn.logging.AccessFormatter` (``fmt``, ``use_colors``...).
    """

    def __init__(self, *args: Any, reveal: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reveal = reveal

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The access line; the path argument redacted unless revealing."""
        args = record.args
        if not self.reveal and isinstance(args, tuple) and len(args) == 5:
            record = copy.copy(record)
            path = args[_ACCESS_PATH_ARG]
            redacted = redact_path(path) if isinstance(path, str) else path
            record.args = (*args[:_ACCESS_PATH_ARG], redacted, *args[_ACCESS_PATH_ARG + 1 :])
        return super().formatMessage(record)


def reveals_queries(level: str, log_queries: bool | None = None) -> bool:
    """Whether query values may be logged: only at DEBUG (or TRACE), and only when asked.

    Parameters
    ----------
    level
        The log level, as ``radcurate serve --log-level`` takes it.
    log_queries
        The operator's opt-in; default: ``RADCURATE_LOG_QUERIES=1`` in the environment.

    Examples
    --------
    >>> reveals_queries("info", log_queries=True), reveals_queries("debug", log_queries=True)
    (False, True)
    """
    if log_queries is None:
        log_queries = os.environ.get(ENV_LOG_QUERIES, "").strip() == "1"
    return log_queries and _level_number(level) <= logging.DEBUG


def _level_number(level: str) -> int:
    try:
        return LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}") from None


def uvicorn_log_config(level: str = "info", *, log_queries: bool | None = None) -> dict[str, Any]:
    """uvicorn's logging configuration (a :func:`logging.config.dictConfig`) without PHI.

    Based on :data:`uvicorn.config.LOGGING_CONFIG`: the same handlers and
    formats, with query values redacted in the access lines
    (``GET /api/search?q=<redacted> HTTP/1.1" 200``) and in any other uvicorn or
    radcurate record that carries a URL.

    Parameters
    ----------
    level
        ``critical``, ``error``, ``warning``, ``info``, ``debug`` or ``trace``.
    log_queries
        Log query values as received, honoured only at ``debug`` or ``trace``;
        default: ``RADCURATE_LOG_QUERIES=1`` in the environment.

    Returns
    -------
    dict
        For ``uvicorn.run(app, log_config=uvicorn_log_config(level))``.

    Raises
    ------
    ValueError
        An unknown level.

    Examples
    --------
    >>> config = uvicorn_log_config("info", log_queries=True)
    >>> config["filters"]["redact_queries"]["reveal"]
    False
    """
    from uvicorn.config import LOGGING_CONFIG

    number = _level_number(level)
    reveal = reveals_queries(level, log_queries)
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "redact_queries": {"()": f"{__name__}.QueryRedactionFilter", "reveal": reveal}
    }
    config["formatters"]["access"]["()"] = f"{__name__}.RedactedAccessFormatter"
    config["formatters"]["access"]["reveal"] = reveal
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_queries"]
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"][name]["level"] = number
    # the app's own warnings and tracebacks (an unexpected error) go through the same filter
    config["loggers"]["radcurate"] = {
        "handlers": ["default"],
        "level": number if number <= logging.DEBUG else max(number, logging.WARNING),
    }
    return config
