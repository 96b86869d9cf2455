"""A real ``radcurate serve`` in a subprocess on a free loopback port, for tests that need
one of their own (a catalog with users or projects: never the shared e2e server's)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

#: runs the real command group, as the console script does
CLI = "import sys; from radcurate.cli import main; main(sys.argv[1:])"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_serve(
    url: str, home: Path, *extra: str, background_thumbnails: bool = False
) -> tuple[subprocess.Popen[str], str]:
    """``radcurate serve`` of catalog ``url``: (process, base URL) once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "RADCURATE_HOME": str(home),
        "RADCURATE_CATALOG": "",
        "RADCURATE_BACKGROUND_THUMBNAILS": "1" if background_thumbnails else "0",
    }
    args = ["serve", "--catalog", url, "--port", str(port), "--log-level", "warning", *extra]
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(process.communicate())
        try:
            httpx.get(f"{base}/api/auth/me", timeout=1)
            return process, base
        except httpx.TransportError:
            if time.monotonic() > deadline:
                stop_serve(process)
                raise AssertionError("radcurate serve did not answer in 30 s") from None
            time.sleep(0.1)


def stop_serve(process: subprocess.Popen[str]) -> None:
    """Stop a :func:`start_serve` server as Ctrl-C would."""
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@contextmanager
def serving(
    url: str, home: Path, *extra: str, background_thumbnails: bool = False
) -> Iterator[str]:
    """:func:`start_serve` as a context: yields the base URL, stops the server after."""
    process, base = start_serve(url, home, *extra, background_thumbnails=background_thumbnails)
    try:
        yield base
    finally:
        stop_serve(process)
