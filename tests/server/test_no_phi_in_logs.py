"""Issue 18: no query value (patient names, birth dates) in uvicorn's log at INFO.

A real uvicorn in a subprocess, configured by :func:`uvicorn_log_config`, is asked
a search and a QIDO-RS query that carry patient data; its stdout and stderr must
hold the request lines but not the values. Values show only at DEBUG with
``RADCURATE_LOG_QUERIES=1``, which also proves the captured log is the real one.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from radcurate.catalog import CatalogBackend
from radcurate.server.access_log import (
    ENV_LOG_QUERIES,
    QueryRedactionFilter,
    uvicorn_log_config,
)

#: uvicorn over create_app with the redacting configuration (not through ``radcurate serve``,
#: so the test does not depend on how the CLI wires it); argv: catalog URL, port, home, level
LAUNCH = """
import sys
from pathlib import Path
import uvicorn
from radcurate.catalog import open_catalog
from radcurate.server import ServerSettings, create_app
from radcurate.server.access_log import uvicorn_log_config
url, port, home, level = sys.argv[1:5]
with open_catalog(url) as catalog:
    app = create_app(ServerSettings(home=Path(home), catalog_url=url), catalog)
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level=level,
                log_config=uvicorn_log_config(level))
"""

SEARCH = ("/api/search", {"q": "PatientName:Evans*"})
QIDO = ("/dicomweb/studies", {"PatientName": "Evans*", "PatientBirthDate": "19600311"})
PHI = ("Evans", "19600311")


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _served_log(catalog: CatalogBackend, home: Path, level: str, opt_in: str | None) -> str:
    """Everything uvicorn wrote (stdout and stderr) while answering SEARCH and QIDO."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != ENV_LOG_QUERIES}
    if opt_in is not None:
        env[ENV_LOG_QUERIES] = opt_in
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, catalog.url, str(port), str(home), level],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{base}/api/info", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not answer in 20 s"
                time.sleep(0.1)
        for path, params in (SEARCH, QIDO):
            answer = httpx.get(f"{base}{path}", params=params, timeout=10)
            assert answer.status_code == 200, answer.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
    return out + err


@pytest.mark.parametrize(("level", "opt_in"), [("info", "1"), ("debug", None)])
def test_query_values_never_reach_the_log(
    catalog: CatalogBackend, tmp_path: Path, level: str, opt_in: str | None
) -> None:
    """At INFO even with the opt-in, and at DEBUG without it: names kept, values gone."""
    log = _served_log(catalog, tmp_path / "home", level, opt_in)
    assert '"GET /api/search?q=<redacted> HTTP/1.1" 200' in log, log
    assert (
        '"GET /dicomweb/studies?PatientName=<redacted>&PatientBirthDate=<redacted> HTTP/1.1" 200'
        in log
    ), log
    for value in PHI:
        assert value not in log, log


def test_query_values_only_at_debug_with_the_opt_in(
    catalog: CatalogBackend, tmp_path: Path
) -> None:
    """The operator's switch works, and shows the capture above is the server's real log."""
    log = _served_log(catalog, tmp_path / "home", "debug", "1")
    assert "PatientName=Evans" in log and "PatientBirthDate=19600311" in log, log


def test_other_uvicorn_records_with_a_url_are_redacted() -> None:
    """uvicorn.error lines (a WebSocket refused, a traceback naming a URL) go through the filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(QueryRedactionFilter())
    logger = logging.getLogger("uvicorn.error.test_no_phi")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning('%s - "WebSocket %s" 403', "127.0.0.1:5000", "/ws?PatientID=EVANS01&x")
        try:
            raise ValueError("bad target /api/search?q=PatientName:Evans*")
        except ValueError:
            logger.exception("Exception in ASGI application")
    finally:
        logger.removeHandler(handler)
    log = stream.getvalue()
    assert '"WebSocket /ws?PatientID=<redacted>&<redacted>" 403' in log, log
    assert "bad target /api/search?q=<redacted>" in log, log
    assert "EVANS" not in log.upper(), log


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud': use one of critical"):
        uvicorn_log_config("loud")
