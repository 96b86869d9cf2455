"""A server stopped while its start-up index build still reads the catalog waits for the
build before it closes the catalog (closing a SQLite connection under a running read
crashed the test process with a segmentation fault, CI 2026-12-04)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import open_catalog
from radcurate.catalog.sql import SQLCatalog
from radcurate.server import app as server_app
from radcurate.server.app import create_app
from radcurate.server.settings import ServerSettings


def test_shutdown_waits_for_the_index_build_before_closing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        catalog.import_series([{"SeriesInstanceUID": "1.2.3", "StudyInstanceUID": "1.2",
                                "PatientID": "P", "Modality": "CT"}])  # fmt: skip
    events: list[str] = []
    building = threading.Event()
    real_open = server_app.open_catalog  # type: ignore[attr-defined]

    def slow_open(*args: Any, **kwargs: Any) -> Any:
        opened: Any = real_open(*args, **kwargs)
        build, close = opened.search_index, opened.close

        def slow_build() -> Any:
            building.set()
            time.sleep(0.5)  # a large catalog's build, in small
            events.append("build read" if "closed" not in events else "read after close")
            return build()

        def closing() -> None:
            events.append("closed")
            close()

        opened.search_index, opened.close = slow_build, closing
        return opened

    monkeypatch.setattr(server_app, "open_catalog", slow_open)
    with TestClient(create_app(ServerSettings(home=tmp_path, catalog_url=url))):
        assert building.wait(10)  # stopped while the build is under way
    assert events == ["build read", "closed"]
