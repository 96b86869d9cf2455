"""A throwaway Orthanc on loopback, for benchmarks and PACS tests.

Every instance gets its own temporary folder (configuration, storage, index and
log), free ports on 127.0.0.1 and is stopped and deleted on exit, even on errors.
The system's Orthanc service and ``/var/lib/orthanc`` are never touched.

Examples
--------
>>> with running_orthanc() as pacs:  # doctest: +SKIP
...     pacs.get_json("/statistics")["CountInstances"]
0
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DICOMWEB_PLUGIN",
    "ORTHANC_BINARY",
    "OrthancError",
    "OrthancHandle",
    "orthanc_available",
    "running_orthanc",
]

ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
#: the AE title our DIMSE clients (DCMTK storescu etc.) must use as calling AET
CLIENT_AET = "RADCURATE"
_LOOPBACK = "127.0.0.1"
# never go through an HTTP proxy from the environment: all traffic stays on loopback
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OrthancError(RuntimeError):
    """Orthanc could not be started or answered with an error."""


@dataclass(frozen=True)
class OrthancHandle:
    """Where a running throwaway Orthanc listens."""

    http_url: str
    dicom_port: int
    aet: str
    pid: int
    workdir: Path
    client_aet: str = CLIENT_AET
    host: str = _LOOPBACK

    def get_json(self, path: str, timeout: float = 30.0) -> Any:
        """``GET`` a REST resource (``/system``, ``/statistics``…) and decode its JSON."""
        with _OPENER.open(self.http_url + path, timeout=timeout) as response:
            return json.load(response)

    def post(self, path: str, body: bytes, content_type: str = "application/dicom") -> Any:
        """``POST`` raw bytes (e.g. a DICOM file to ``/instances``) and decode the JSON answer."""
        request = urllib.request.Request(
            self.http_url + path, data=body, method="POST", headers={"Content-Type": content_type}
        )
        with _OPENER.open(request, timeout=60.0) as response:
            return json.load(response)

    def instance_count(self) -> int:
        """How many instances Orthanc holds."""
        return int(self.get_json("/statistics")["CountInstances"])


def orthanc_available() -> str | None:
    """``None`` when Orthanc can run here, else the reason it cannot."""
    if not ORTHANC_BINARY.is_file():
        return f"{ORTHANC_BINARY} is missing (apt-get install orthanc orthanc-dicomweb)"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        return int(sock.getsockname()[1])


def orthanc_config(workdir: Path, http_port: int, dicom_port: int, aet: str) -> dict[str, Any]:
    """The JSON configuration of a private, loopback-only Orthanc (options of Orthanc 1.10)."""
    config: dict[str, Any] = {
        "Name": f"radcurate-{http_port}",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "index"),
        "StorageCompression": False,
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": aet,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpDescribeErrors": True,
        "OrthancExplorerEnabled": False,
        "WebDavEnabled": False,
        # only our own clients on loopback may store
        "DicomAlwaysAllowStore": False,
        "DicomCheckModalityHost": True,
        "DicomModalities": {
            "radcurate": {"AET": CLIENT_AET, "Host": _LOOPBACK, "Port": 104},
        },
        "DicomCheckCalledAet": False,
        "UnknownSopClassAccepted": True,
        # ingest speed: no fsync per file, no job persistence, never reread files on C-FIND
        "SyncStorageArea": False,
        "SaveJobs": False,
        "StorageAccessOnFind": "Never",
        "OverwriteInstances": True,
        "MetricsEnabled": False,
        "TcpNoDelay": True,
        "KeepAlive": True,
        "ConcurrentJobs": 2,
        "LuaScripts": [],
        "Plugins": [str(DICOMWEB_PLUGIN)] if DICOMWEB_PLUGIN.is_file() else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
    }
    return config


@contextmanager
def running_orthanc(
    aet: str = "ORTHANC", startup_timeout: float = 60.0, extra_config: dict[str, Any] | None = None
) -> Iterator[OrthancHandle]:
    """Start a fresh Orthanc on free loopback ports; stop it and delete its data on exit.

    ``extra_config`` overrides or adds configuration options.
    """
    reason = orthanc_available()
    if reason is not None:
        raise OrthancError(reason)
    workdir = Path(tempfile.mkdtemp(prefix="radcurate-orthanc-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        http_port, dicom_port = free_port(), free_port()
        while dicom_port == http_port:
            dicom_port = free_port()
        config = orthanc_config(workdir, http_port, dicom_port, aet) | (extra_config or {})
        config_path = workdir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2))
        log_path = workdir / "orthanc.log"
        env = os.environ | {"TCP_NODELAY": "1"}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(ORTHANC_BINARY), "--no-jobs", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=env,
                start_new_session=True,  # a Ctrl-C in the terminal reaches us, we stop it
            )
        handle = OrthancHandle(
            http_url=f"http://{_LOOPBACK}:{http_port}",
            dicom_port=dicom_port,
            aet=aet,
            pid=process.pid,
            workdir=workdir,
        )
        _wait_until_up(handle, process, log_path, startup_timeout)
        yield handle
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_up(
    handle: OrthancHandle, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise OrthancError(
                f"Orthanc exited with code {process.returncode} while starting:\n" + _tail(log_path)
            )
        try:
            handle.get_json("/system", timeout=2.0)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise OrthancError(f"Orthanc did not answer within {timeout:.0f} s:\n{_tail(log_path)}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
