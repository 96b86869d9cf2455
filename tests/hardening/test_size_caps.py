"""Issue 13, finding 3: one request can no longer take gigabytes.

Reproduced before the fixes: ``…/frames/1,1,1,…`` with 30,000 entries answered every entry
(3.9 GB for a big instance); a STOW-RS body was read whole into memory with no size limit;
a DIMSE peer could send data PDVs without end and open any number of associations.
"""

from __future__ import annotations

import email.parser
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.catalog import open_catalog
from radcurate.ingest import ingest
from radcurate.server import ServerSettings, create_app

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
