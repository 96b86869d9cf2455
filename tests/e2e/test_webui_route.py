"""The app is served at / with an index.html fallback; the API's paths are never shadowed.

No browser needed: these run wherever the server extra is installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from radcurate.server import ServerSettings, create_app
from radcurate.server.routes import webui

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(home=tmp_path, catalog_url=f"sqlite:///{tmp_path / 'c.sqlite'}")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def built_asset() -> str:
    assets = sorted((webui.WEBUI_ROOT / "assets").glob("*.js"))
    assert assets, "the web UI is not built (scripts/build-web.sh)"
    return assets[0].name


def test_root_and_app_pages_answer_index_html(client: TestClient) -> None:
    index = (webui.WEBUI_ROOT / "index.html").read_text()
    for path in ("/", "/series/1.2.3", "/anything/deeper?q=Modality:CT"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.text == index
        assert response.headers["cache-control"] == "no-cache"
    assert f"/assets/{built_asset()}" in index


def test_every_file_index_html_names_is_served(client: TestClient) -> None:
    index = (webui.WEBUI_ROOT / "index.html").read_text()
    names = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)
    assert len(names) >= 2  # the script and the stylesheet
    for name in names:
        assert client.get(name).status_code == 200, name


def test_hashed_assets_are_cached_for_a_year(client: TestClient) -> None:
    name = built_asset()
    response = client.get(f"/assets/{name}")
    assert response.status_code == 200
    assert response.content == (webui.WEBUI_ROOT / "assets" / name).read_bytes()
    assert "immutable" in response.headers["cache-control"]
    assert "javascript" in response.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    ["/assets/nosuch.js", "/api/nosuch", "/api/series/x/nosuch", "/dicomweb/nosuch/x", "/x.js"],
)
def test_missing_files_and_api_paths_stay_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] in {"not_found", "series_not_found"}


def test_the_api_and_its_docs_are_not_shadowed(client: TestClient) -> None:
    assert client.get("/api/info").json()["series"] == 0
    assert client.get("/openapi.json").json()["info"]["title"] == "radcurate"
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/api/search", params={"q": "(a"}).status_code == 400


def test_no_file_outside_the_app_folder_is_served(client: TestClient) -> None:
    for path in ("/..%2f..%2fpyproject.toml", "/assets/..%2f..%2f__init__.py", "/%2e%2e/app.py"):
        response = client.get(path)
        assert "[project]" not in response.text and "def create_app" not in response.text
    assert webui._static_file(webui.WEBUI_ROOT, "../routes/webui.py") is None
    assert webui._static_file(webui.WEBUI_ROOT, "assets") is None  # a folder


def test_an_unbuilt_app_says_how_to_build_it(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webui, "WEBUI_ROOT", tmp_path / "empty")
    response = client.get("/")
    assert response.status_code == 200
    assert "scripts/build-web.sh" in response.text


def test_the_built_app_is_built_from_the_current_sources() -> None:
    stamp = webui.WEBUI_ROOT / "source.sha256"
    assert stamp.is_file(), "no source.sha256: run scripts/build-web.sh"
    done = subprocess.run(
        [sys.executable, str(ROOT / "web" / "source-hash.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert stamp.read_text().strip() == done.stdout.strip(), (
        "web/ changed since the app was built: run scripts/build-web.sh and commit "
        "src/radcurate/server/webui"
    )
