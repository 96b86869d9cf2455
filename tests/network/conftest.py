"""Fixtures of the networking tests: a demo archive, radcurate serving over HTTP, Orthanc."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bench.orthanc import OrthancHandle, orthanc_available, running_orthanc

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.demo import DemoManifest, generate_archive
from radcurate.ingest import ingest


def dicom_files(root: Path) -> list[Path]:
    """Every readable DICOM file of a demo archive (defects left out)."""
    from pydicom import dcmread

    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            ds = dcmread(path, stop_before_pixels=True)
            _ = ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID
        except Exception:  # noqa: BLE001
            continue
        found.append(path)
    return found


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """A small synthetic archive (CT, MR, CR, US, SEG, RTSTRUCT, SR, defects)."""
    return generate_archive(tmp_path_factory.mktemp("archive"), patients=2, seed=7)


@pytest.fixture(scope="session")
def archive_files(archive: DemoManifest) -> list[Path]:
    """The archive's well-formed DICOM files."""
    return dicom_files(Path(archive.root))


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """radcurate's app served by uvicorn in a thread."""

    url: str
    catalog: CatalogBackend
    store: Path
    app: Any = None

    @property
    def dicomweb(self) -> str:
        return self.url + "/dicomweb"


@contextmanager
def serving(catalog: CatalogBackend, home: Path) -> Iterator[LiveServer]:
    """Serve ``catalog`` (STOW into ``home/store``) on a free loopback port."""
    import uvicorn

    from radcurate.server import ServerSettings, create_app

    app = create_app(ServerSettings(home=home), catalog)
    app.state.store_url = f"file://{home / 'store'}"
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", catalog, home / "store", app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(catalog_url: str, archive_files: list[Path], tmp_path: Path) -> Iterator[LiveServer]:
    """radcurate serving a catalog of the demo archive, on each catalog backend."""
    catalog = open_catalog(catalog_url)
    ingest([str(p) for p in archive_files], catalog, workers=1)
    try:
        with serving(catalog, tmp_path / "home") as live:
            yield live
    finally:
        catalog.close()


@pytest.fixture(scope="module")
def orthanc() -> Iterator[OrthancHandle]:
    """A throwaway Orthanc with the DICOMweb plugin."""
    reason = orthanc_available()
    if reason is not None:
        pytest.skip(reason)
    with running_orthanc() as handle:
        yield handle


def upload(pacs: OrthancHandle, files: list[Path]) -> None:
    """Store files in Orthanc through its REST API."""
    for path in files:
        pacs.post("/instances", path.read_bytes())


def have_dcmtk() -> bool:
    """Whether DCMTK's command-line tools are installed."""
    return Path("/usr/bin/storescu").is_file() and shutil.which("/usr/bin/echoscu") is not None
