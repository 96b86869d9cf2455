"""The native DIMSE server against pynetdicom as the peer: negotiation, store, echo, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pynetdicom import AE
from pynetdicom.sop_class import (
    ColorPaletteStorage,
    CTImageStorage,
    HangingProtocolStorage,
    PatientRootQueryRetrieveInformationModelFind,
    Verification,
)

from radcurate.network.dimse import DimseServer, StoreRequest


@pytest.fixture
def server() -> Iterator[tuple[DimseServer, list[StoreRequest]]]:
    received: list[StoreRequest] = []

    def handler(request: StoreRequest) -> int:
        received.append(request)
        return 0xA700 if request.sop_instance_uid.endswith(".999") else 0

    scp = DimseServer("127.0.0.1", 0, handler)
    scp.start()
    try:
        yield scp, received
    finally:
        scp.shutdown()


def _associate(port: int, *contexts: object) -> object:
    ae = AE(ae_title="TESTSCU")
    for context in contexts:
        ae.add_requested_context(context)
    return ae.associate("127.0.0.1", port, ae_title="RADCURATE")


def test_store_echo_and_release(server: tuple[DimseServer, list[StoreRequest]]) -> None:
    scp, received = server
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    assoc = _associate(scp.port, CTImageStorage, Verification)
    assert assoc.is_established  # type: ignore[attr-defined]
    assert assoc.send_c_echo().Status == 0  # type: ignore[attr-defined]
    assert assoc.send_c_store(ds).Status == 0  # type: ignore[attr-defined]
    ds.SOPInstanceUID = ds.SOPInstanceUID + ".999"
    assert assoc.send_c_store(ds).Status == 0xA700  # type: ignore[attr-defined]
    assoc.release()  # type: ignore[attr-defined]
    assert not assoc.is_established  # type: ignore[attr-defined]
    first = received[0]
    assert first.calling_aet == "TESTSCU"
    assert first.sop_class_uid == CTImageStorage
    assert first.transfer_syntax in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    # the data set arrived whole, whatever the fragmentation
    original = dcmread(get_testdata_file("CT_small.dcm"))
    assert original.PixelData.hex()[-64:] in first.dataset.hex()


def test_query_models_are_rejected_at_negotiation(
    server: tuple[DimseServer, list[StoreRequest]],
) -> None:
    scp, _ = server
    assoc = _associate(scp.port, PatientRootQueryRetrieveInformationModelFind, Verification)
    assert assoc.is_established  # type: ignore[attr-defined]
    accepted = [c.abstract_syntax for c in assoc.accepted_contexts]  # type: ignore[attr-defined]
    rejected = [c.abstract_syntax for c in assoc.rejected_contexts]  # type: ignore[attr-defined]
    assert accepted == [Verification]
    assert rejected == [PatientRootQueryRetrieveInformationModelFind]
    assoc.release()  # type: ignore[attr-defined]


def test_storage_outside_the_image_prefix_and_private_classes_are_accepted(
    server: tuple[DimseServer, list[StoreRequest]],
) -> None:
    scp, _ = server
    private = "1.3.6.1.4.1.9590.100.1.2.1"
    assoc = _associate(scp.port, HangingProtocolStorage, ColorPaletteStorage, private)
    assert assoc.is_established  # type: ignore[attr-defined]
    accepted = {c.abstract_syntax for c in assoc.accepted_contexts}  # type: ignore[attr-defined]
    assert accepted == {HangingProtocolStorage, ColorPaletteStorage, private}
    assoc.release()  # type: ignore[attr-defined]


def test_garbage_is_dropped_without_hurting_the_server(
    server: tuple[DimseServer, list[StoreRequest]], tmp_path: Path
) -> None:
    import socket

    scp, _ = server
    with socket.create_connection(("127.0.0.1", scp.port), timeout=5) as sock:
        sock.sendall(b"\x04\x00\x00\x00\x00\x02xx")  # P-DATA before any association
        answer = sock.recv(16)
        assert answer[:1] in (b"\x07", b"")  # A-ABORT (or closed)
    assoc = _associate(scp.port, Verification)
    assert assoc.send_c_echo().Status == 0  # type: ignore[attr-defined]
    assoc.release()  # type: ignore[attr-defined]
