"""Thumbnails: PNG on first request, ETag = content key, 304 when current, 501 without Pillow."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radcurate.catalog import CatalogBackend
from radcurate.render.cache import ThumbnailCache
from radcurate.server import ServerSettings


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    """Rendering does not depend on the catalog engine: SQLite only."""
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def _ct_uid(catalog: CatalogBackend) -> str:
    return str(catalog.search("Modality:CT", limit=1).documents[0]["SeriesInstanceUID"])


def test_thumbnail_etag_and_304(
    client: TestClient, catalog: CatalogBackend, settings: ServerSettings
) -> None:
    uid = _ct_uid(catalog)
    url = client.get("/api/search", params={"q": f"SeriesInstanceUID:{uid}"}).json()["items"][0][
        "thumbnail_url"
    ]
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    cache = ThumbnailCache(settings.thumbnail_root, settings.thumbnail_size)
    key = cache.key(catalog, uid)
    assert response.headers["etag"] == f'"{key}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert cache.path_for_key(key).read_bytes() == response.content

    for tag in (f'"{key}"', f'W/"{key}"', f'"other", "{key}"', "*"):
        again = client.get(url, headers={"If-None-Match": tag})
        assert again.status_code == 304, tag
        assert again.content == b""
        assert again.headers["etag"] == f'"{key}"'
    stale = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == response.content


def test_without_pillow_a_501_names_the_extra(
    client: TestClient, catalog: CatalogBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails
    response = client.get(f"/api/series/{_ct_uid(catalog)}/thumbnail")
    assert response.status_code == 501
    assert response.json()["error"]["code"] == "not_installed"
    assert "pip install 'radcurate[render]'" in response.json()["error"]["message"]
