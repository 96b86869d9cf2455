"""``radcurate receive`` driven by DCMTK's echoscu and storescu (uncompressed and compressed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydicom import dcmread

from radcurate.catalog import open_catalog
from tests.network.conftest import free_port, have_dcmtk

pytestmark = pytest.mark.skipif(not have_dcmtk(), reason="DCMTK is not installed")
ENV = os.environ | {"TCP_NODELAY": "1"}
ENGINES = ["pynetdicom", "native"]
COMPRESSION_FLAGS = {
    "1.2.840.10008.1.2.4.90": "-xv",
    "1.2.840.10008.1.2.4.80": "-xt",
    "1.2.840.10008.1.2.5": "-xr",
    "1.2.840.10008.1.2.4.70": "-xs",
}


@contextmanager
def receiving(
    catalog_url: str, store: Path, port: int, engine: str = "pynetdicom"
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from radcurate.cli import main; main()",
            "receive",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--catalog",
            catalog_url,
            "--store",
            f"file://{store}",
            "--engine",
            engine,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert "receiving" in line, line + (process.stdout.read() if process.stdout else "")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def storescu(port: int, files: list[Path], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "/usr/bin/storescu",
            "-aec",
            "RADCURATE",
            "-R",
            *flags,
            "127.0.0.1",
            str(port),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def _sops(catalog_url: str) -> set[str]:
    with open_catalog(catalog_url) as catalog:
        found = set()
        for document in catalog.iter_search("*"):
            found.update(r.sop_uid for r in catalog.instances(str(document["SeriesInstanceUID"])))
        return found


def _wait_for(catalog_url: str, wanted: set[str], seconds: float = 30) -> set[str]:
    deadline = time.monotonic() + seconds
    while True:
        found = _sops(catalog_url)
        if wanted <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _by_syntax(files: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in files:
        syntax = str(dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        out.setdefault(syntax, []).append(path)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_echo_and_store_uncompressed_and_compressed(
    catalog_url: str, archive_files: list[Path], tmp_path: Path, engine: str
) -> None:
    port = free_port()
    groups = _by_syntax(archive_files)
    plain = groups.get("1.2.840.10008.1.2.1", [])[:40]
    with receiving(catalog_url, tmp_path / "store", port, engine):
        echo = subprocess.run(
            ["/usr/bin/echoscu", "-aec", "RADCURATE", "127.0.0.1", str(port)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert echo.returncode == 0, echo.stderr
        sent = storescu(port, plain)
        assert sent.returncode == 0, sent.stderr
        compressed = []
        for syntax, flag in COMPRESSION_FLAGS.items():
            for path in groups.get(syntax, [])[:3]:
                result = storescu(port, [path], flag)
                assert result.returncode == 0, (syntax, result.stderr)
                compressed.append(path)
        assert compressed, "the demo archive should hold compressed files"
        wanted = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in plain + compressed}
        assert _wait_for(catalog_url, wanted) >= wanted
    # received bytes are kept as sent: the pixel data of a J2K file is unchanged
    for path in compressed:
        ds = dcmread(path)
        stored = next((tmp_path / "store").rglob(f"{ds.SOPInstanceUID}.dcm"))
        again = dcmread(stored)
        assert again.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
        assert again.PixelData == ds.PixelData


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_acknowledged_is_lost_after_kill_9(
    catalog_url: str, archive_files: list[Path], tmp_path: Path, engine: str
) -> None:
    port = free_port()
    plain = _by_syntax(archive_files)["1.2.840.10008.1.2.1"]
    wanted = {dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in plain}
    with receiving(catalog_url, tmp_path / "store", port, engine) as process:
        sent = storescu(port, plain)
        assert sent.returncode == 0, sent.stderr
        process.kill()  # SIGKILL right after the last success response
        process.wait()
    with receiving(catalog_url, tmp_path / "store", port, engine):
        assert _wait_for(catalog_url, wanted) >= wanted
    with receiving(catalog_url, tmp_path / "store", port, engine):
        pass  # a third start ingests nothing new and loses nothing
    assert _sops(catalog_url) >= wanted


def test_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from radcurate.cli import main; main()",
            "receive",
            "--store",
            "ftp://x/y",
            "--catalog",
            f"sqlite:///{tmp_path / 'c.sqlite'}",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ftp" in result.stderr
