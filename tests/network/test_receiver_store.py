"""The receiver in process, driven by pynetdicom: refusals, re-sends, a dry spare pool."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from radcurate.catalog import open_catalog
from radcurate.network.receiver import CANNOT_UNDERSTAND, Receiver, _uids


@pytest.fixture
def receiver(
    catalog_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Receiver]:
    spares = getattr(request, "param", 1000)
    rec = Receiver(
        catalog_url,
        f"file://{tmp_path / 'store'}",
        port=0,
        host="127.0.0.1",
        batch_seconds=0.2,
        spares=spares,
    )
    rec.start()
    try:
        yield rec
    finally:
        rec.stop()


def _ct(**changes: str) -> Dataset:
    ds = dcmread(str(get_testdata_file("CT_small.dcm")))
    ds.SOPInstanceUID = generate_uid()
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    return ds


def _send(port: int, datasets: list[Dataset]) -> list[int]:
    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="RADCURATE")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def _files(store: Path) -> list[Path]:
    return [p for p in store.rglob("*.dcm") if ".incoming" not in p.parts]


def test_an_instance_without_uids_is_refused_and_nothing_is_kept(
    receiver: Receiver, tmp_path: Path
) -> None:
    broken = _ct()
    del broken.StudyInstanceUID
    assert _send(receiver.bound_port, [broken]) == [CANNOT_UNDERSTAND]
    assert receiver.stats.failed == 1
    assert "no Study/Series/SOP UIDs" in receiver.stats.errors[0]
    assert _files(tmp_path / "store") == []


def test_sending_the_same_instance_twice_changes_nothing(
    receiver: Receiver, tmp_path: Path, catalog_url: str
) -> None:
    ds = _ct()
    assert _send(receiver.bound_port, [ds, ds]) == [0, 0]
    assert receiver.wait_ingested(timeout=60)
    files = _files(tmp_path / "store")
    assert [f.name for f in files] == [f"{ds.SOPInstanceUID}.dcm"]
    assert files[0].parent.name == ds.SeriesInstanceUID
    assert files[0].parent.parent.name == ds.StudyInstanceUID
    with open_catalog(catalog_url) as catalog:
        assert catalog.info().instances == 1
    assert dcmread(files[0]).SOPInstanceUID == ds.SOPInstanceUID


@pytest.mark.parametrize("receiver", [1], indirect=True)
def test_a_dry_spare_pool_only_costs_time(
    receiver: Receiver, tmp_path: Path, catalog_url: str
) -> None:
    series = generate_uid()
    datasets = [_ct(SeriesInstanceUID=series) for _ in range(25)]
    assert _send(receiver.bound_port, datasets) == [0] * 25
    assert receiver.wait_ingested(timeout=60)
    assert len(_files(tmp_path / "store")) == 25
    assert receiver.stats.ingested == 25
    leftovers = list((tmp_path / "store" / ".incoming" / "direct").iterdir())
    assert leftovers == []  # files made on the spot were renamed into place


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "image_dfl.dcm", "CT_small.dcm"])
def test_uids_are_read_from_memory_in_every_syntax(name: str) -> None:
    path = str(get_testdata_file(name))
    ds = dcmread(path)
    data = Path(path).read_bytes()
    assert _uids(data) == (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)


def test_truncated_or_foreign_bytes_have_no_uids() -> None:
    data = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()
    assert _uids(data[:300]) is None
    pixels = data.rindex(b"\xe0\x7f\x10\x00")
    assert _uids(data[: pixels - 3]) is None  # cut after the UIDs, inside a later element
    assert _uids(b"not dicom at all") is None
    buffer = BytesIO()
    _ct().save_as(buffer, enforce_file_format=True)
    assert _uids(buffer.getvalue()) is not None
