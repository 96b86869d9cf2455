"""Issue 13, finding 3: one request can no longer take gigabytes.

Reproduced before the fixes: ``…/frames/1,1,1,…`` with 30,000 entries answered every entry
(3.9 GB for a big instance); a STOW-RS body was read whole into memory with no size limit;
a DIMSE peer could send data PDVs without end and open any number of associations.
"""

from __future__ import annotations

import email.parser
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from radcurate.server import ServerSettings, create_app
from tests.network.conftest import free_port

FRAME_BYTES = 64 * 64 * 2  # emri_small.dcm: 10 frames of 64 x 64, 16 bits, stored uncompressed
OCTETS = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _parts(answer: httpx.Response) -> list[bytes]:
    head = f"Content-Type: {answer.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser().parsebytes(head + answer.content)
    return [p.get_payload(decode=True) for p in message.get_payload()]  # type: ignore[union-attr,misc]


@pytest.fixture
def multiframe(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    source = Path(str(get_testdata_file("emri_small.dcm")))
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / source.name).write_bytes(source.read_bytes())
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    with open_catalog(url) as catalog:
        ingest([folder], catalog, workers=1)
    ds = dcmread(source, stop_before_pixels=True)
    frames = (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/"
    )
    settings = ServerSettings(
        home=tmp_path / "home", catalog_url=url, max_frame_list=20, max_frames_bytes=3 * FRAME_BYTES
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, frames


def test_a_frame_list_over_the_cap_is_refused(multiframe: tuple[TestClient, str]) -> None:
    client, frames = multiframe
    answer = client.get(frames + ",".join(["1"] * 30_000), headers={"Accept": OCTETS})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "too_many_frames"
    assert "30000 entries" in error["message"] and "at most 20" in error["message"]


def test_a_repeated_frame_is_answered_once(multiframe: tuple[TestClient, str]) -> None:
    client, frames = multiframe
    answer = client.get(frames + "2,1,2,2,1", headers={"Accept": OCTETS})
    assert answer.status_code == 200, answer.text
    parts = _parts(answer)
    assert len(parts) == 2 and all(len(p) == FRAME_BYTES for p in parts)
    single = [_parts(client.get(frames + n, headers={"Accept": OCTETS}))[0] for n in "21"]
    assert parts == single


def test_an_answer_over_the_byte_cap_is_413(multiframe: tuple[TestClient, str]) -> None:
    client, frames = multiframe
    assert client.get(frames + "1,2,3", headers={"Accept": OCTETS}).status_code == 200
    over = client.get(frames + "1,2,3,4", headers={"Accept": OCTETS})
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "answer_too_large"
    assert str(3 * FRAME_BYTES) in over.json()["error"]["message"]


def test_size_caps_come_from_the_environment() -> None:
    env = {
        "RADCURATE_HOME": "/tmp/x",
        "RADCURATE_MAX_FRAME_LIST": "7",
        "RADCURATE_MAX_FRAMES_BYTES": "1000",
        "RADCURATE_MAX_STOW_BYTES": "2000",
    }
    settings = ServerSettings.from_env(env)
    assert (settings.max_frame_list, settings.max_frames_bytes, settings.max_stow_bytes) == (
        7,
        1000,
        2000,
    )
    defaults = ServerSettings.from_env({"RADCURATE_HOME": "/tmp/x"})
    assert defaults.max_frames_bytes == 512 << 20 and defaults.max_stow_bytes == 2048 << 20
    with pytest.raises(ValueError, match="RADCURATE_MAX_STOW_BYTES"):
        ServerSettings.from_env({"RADCURATE_HOME": "/tmp/x", "RADCURATE_MAX_STOW_BYTES": "2G"})


# -- STOW-RS: the body is streamed to disk and capped -------------------------------------------

BOUNDARY = "capsboundary"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def _instance_with_private_blob(size: int) -> tuple[bytes, bytes]:
    """CT_small.dcm followed by a private OB element of ``size`` zero bytes: (head, tail
    element header); the zeros are sent separately so the test never holds them."""
    head = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    element = b"\xe1\x7f\x00\x10" + b"OB\x00\x00" + size.to_bytes(4, "little")
    return head, element


def _body(size: int) -> Iterator[bytes]:
    head, element = _instance_with_private_blob(size)
    yield f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + head + element
    zeros = bytes(1 << 20)
    left = size
    while left:
        yield zeros[: min(left, len(zeros))]
        left -= min(left, len(zeros))
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def small_cap(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    settings = ServerSettings(home=tmp_path / "home", catalog_url=url, max_stow_bytes=100_000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.app.state.store_url = f"file://{tmp_path / 'store'}"  # type: ignore[attr-defined]
        yield client


def test_a_stow_body_over_the_cap_is_413(small_cap: TestClient, tmp_path: Path) -> None:
    declared = small_cap.post(
        "/dicomweb/studies", content=b"".join(_body(200_000)), headers={"Content-Type": STOW_TYPE}
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "request_too_large"
    assert "100000 bytes" in declared.json()["error"]["message"]
    streamed = small_cap.post(  # no Content-Length: counted while read
        "/dicomweb/studies", content=_body(200_000), headers={"Content-Type": STOW_TYPE}
    )
    assert streamed.status_code == 413
    under = small_cap.post(
        "/dicomweb/studies", content=_body(50_000), headers={"Content-Type": STOW_TYPE}
    )
    assert under.status_code == 200, under.text
    stored = list((tmp_path / "store").rglob("*.dcm"))
    assert len(stored) == 1 and stored[0].stat().st_size > 50_000
    assert not [p for p in (tmp_path / "store" / ".stow").iterdir()]  # nothing left behind


def test_a_stow_body_without_its_closing_boundary_is_400(small_cap: TestClient) -> None:
    cut = b"".join(_body(1000))[:-20]
    answer = small_cap.post("/dicomweb/studies", content=cut, headers={"Content-Type": STOW_TYPE})
    assert answer.status_code == 400 and "closing boundary" in answer.text


SERVER = """
import sys, uvicorn
from radcurate.server import ServerSettings, create_app
from tests.network.conftest import free_port
uvicorn.run(create_app(ServerSettings.from_env()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


def _vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{key} not in /proc/{pid}/status")


@pytest.mark.slow
def test_a_300_mb_stow_keeps_the_server_memory_flat(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "RADCURATE_HOME": str(tmp_path / "home"),
        "RADCURATE_MAX_STOW_BYTES": str(400 << 20),
        "RADCURATE_BACKGROUND_THUMBNAILS": "0",
    }
    env.pop("RADCURATE_CATALOG", None)
    env.pop("RADCURATE_STORE", None)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
    try:
        base = f"http://127.0.0.1:{port}/dicomweb"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/studies", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        before = _vm(server.pid, "VmHWM")
        size = 300 << 20
        answer = httpx.post(
            base + "/studies", content=_body(size), headers={"Content-Type": STOW_TYPE}, timeout=300
        )
        assert answer.status_code == 200, answer.text
        growth = _vm(server.pid, "VmHWM") - before
        print(f"STOW of {size >> 20} MiB: server peak RSS grew by {growth >> 20} MiB")
        assert growth < 100 << 20, f"peak RSS grew by {growth >> 20} MiB"
        stored = list((tmp_path / "home" / "store").rglob("*.dcm"))
        assert len(stored) == 1 and stored[0].stat().st_size > size
        request = (
            f"POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nContent-Type: {STOW_TYPE}\r\n"
            f"Content-Length: {3 << 30}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(request.encode())  # 3 GiB declared, none sent: refused at once
            status = sock.recv(4096).split(b"\r\n", 1)[0]
        assert b" 413 " in status, status
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- DIMSE: PDU and data set sizes, associations ------------------------------------------------

MAX_DATASET = 8 << 20


@contextmanager
def _receiver(tmp_path: Path, engine: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from radcurate.cli import main; main()",
        "receive",
        *("--port", str(port), "--host", "127.0.0.1", "--engine", engine),
        *("--catalog", f"sqlite:///{tmp_path / 'catalog.sqlite'}"),
        *("--store", f"file://{tmp_path / 'store'}", "--status-seconds", "0"),
        *("--max-dataset", str(MAX_DATASET), "--max-associations", "2"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert "receiving" in line, line
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _associate(port: int) -> Any:
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    ae = AE(ae_title="CAPS")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    return ae.associate("127.0.0.1", port, ae_title="RADCURATE")


def _store(port: int, ds: Any) -> int | None:
    """The status of a C-STORE of ``ds``; None when the association was aborted."""
    assoc = _associate(port)
    assert assoc.is_established
    try:
        status = assoc.send_c_store(ds)
        return int(status.Status) if "Status" in status else None
    finally:
        if assoc.is_established:
            assoc.release()


@pytest.mark.parametrize("engine", ["native", "pynetdicom"])
def test_a_data_set_over_the_cap_is_refused_and_memory_stays_bounded(
    tmp_path: Path, engine: str
) -> None:
    small = dcmread(get_testdata_file("CT_small.dcm"))
    big = dcmread(get_testdata_file("CT_small.dcm"))
    big.SOPInstanceUID = small.SOPInstanceUID + ".9"
    big.private_block(0x0009, "RADCURATE CAPS", create=True).add_new(0x00, "OB", bytes(48 << 20))
    with _receiver(tmp_path, engine) as (port, process):
        assert _store(port, small) == 0  # a normal store works
        before = _vm(process.pid, "VmHWM")
        status = _store(port, big)
        assert status is None or status >= 0xA000  # aborted, or a failure status
        growth = _vm(process.pid, "VmHWM") - before
        print(f"{engine}: 48 MiB data set over an 8 MiB cap, peak RSS grew {growth >> 20} MiB")
        assert growth < 32 << 20, f"the receiver grew by {growth >> 20} MiB"
        other = dcmread(get_testdata_file("CT_small.dcm"))
        other.SOPInstanceUID = small.SOPInstanceUID + ".7"
        assert _store(port, other) == 0  # and the next one works
    stored = {p.stem for p in (tmp_path / "store").rglob("*.dcm")}
    assert stored == {small.SOPInstanceUID, other.SOPInstanceUID}


@pytest.mark.parametrize("engine", ["native", "pynetdicom"])
def test_associations_beyond_the_maximum_are_rejected(tmp_path: Path, engine: str) -> None:
    with _receiver(tmp_path, engine) as (port, _):
        held = [_associate(port) for _ in range(2)]
        try:
            assert all(a.is_established for a in held)
            extra = _associate(port)
            assert extra.is_rejected and not extra.is_established
        finally:
            for assoc in held:
                assoc.release()
        deadline = time.monotonic() + 10
        while True:  # a slot is free again once the others are released
            again = _associate(port)
            if again.is_established or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert again.is_established
        again.release()


def test_a_pdu_longer_than_the_cap_is_aborted_before_it_is_read(tmp_path: Path) -> None:
    with _receiver(tmp_path, "native") as (port, _):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"\x01\x00" + (3 << 30).to_bytes(4, "big") + bytes(64))
            answer = sock.recv(64)
        assert answer[:1] == b"\x07"  # A-ABORT, with 3 GiB announced and 64 bytes sent
        assert _store(port, dcmread(get_testdata_file("CT_small.dcm"))) == 0
