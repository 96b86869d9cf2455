"""A catalog of pydicom's test files per test, served by the app through TestClient."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from radcurate.server import ServerSettings, create_app
from tests.data import shipped_dicom_roots

#: 38 series of every kind (CT, MR, US, SEG, SR, RT, ECG...) and 29 skipped files
TEST_FILES = shipped_dicom_roots()[0] / "test_files"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[CatalogBackend]:
    """A fresh catalog (SQLite and PostgreSQL) holding pydicom's test files."""
    with open_catalog(catalog_url) as opened:
        ingest([TEST_FILES], opened, workers=1)
        yield opened


@pytest.fixture
def settings(catalog: CatalogBackend, tmp_path: Path) -> ServerSettings:
    return ServerSettings(home=tmp_path / "home", catalog_url=catalog.url)


@pytest.fixture
def client(settings: ServerSettings) -> Iterator[TestClient]:
    """The app opening the catalog itself in its lifespan, as ``radcurate serve`` does."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


class CountingCatalog:
    """A catalog proxy that counts calls to its methods."""

    def __init__(self, inner: CatalogBackend) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted
