"""A small, fast DICOM upper-layer server for C-STORE and C-ECHO only (PS3.7, PS3.8).

pynetdicom is complete and conformant but spends ~3.5 ms of Python per
C-STORE here (its reactors poll queues between threads), which caps a
receiver near 280 instances/s on this machine. A Storage SCP needs a sliver of
the protocol: association negotiation, P-DATA fragments, two commands and
their responses, release and abort. This module implements that sliver with
one blocking thread per association and no copies beyond the socket reads.

Anything else a peer asks (C-FIND, N-ACTION, ...) is answered with an
A-ABORT; abstract syntaxes other than Verification and storage are rejected
during negotiation, so a conformant SCU never sends them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, cast

from radcurate.network.allowlist import Rejection

__all__ = ["DimseServer", "StoreRequest", "file_meta"]

logger = logging.getLogger(__name__)

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
VERIFICATION = "1.2.840.10008.1.1"
STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."
#: storage SOP classes outside :data:`STORAGE_PREFIX` (PS3.4 Annex B)
OTHER_STORAGE = frozenset(
    {
        "1.2.840.10008.5.1.4.34.7",  # RT Beams Delivery Instruction
        "1.2.840.10008.5.1.4.34.10",  # RT Brachy Application Setup Delivery Instruction
        "1.2.840.10008.5.1.4.38.1",  # Hanging Protocol
        "1.2.840.10008.5.1.4.39.1",  # Color Palette
        "1.2.840.10008.5.1.4.43.1",  # Generic Implant Template
        "1.2.840.10008.5.1.4.44.1",  # Implant Assembly Template
        "1.2.840.10008.5.1.4.45.1",  # Implant Template Group
    }
)
IMPLEMENTATION_CLASS_UID = "2.25.270338893187413541786216470208624406851"
IMPLEMENTATION_VERSION = "RADCURATE_1"
#: transfer syntaxes accepted, in order of preference when several are proposed
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.92",
    "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.104",
    "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.107",
    "1.2.840.10008.1.2.4.108",
)
_ACCEPTED = frozenset(TRANSFER_SYNTAXES)

C_STORE_RQ, C_STORE_RSP = 0x0001, 0x8001
C_ECHO_RQ, C_ECHO_RSP = 0x0030, 0x8030
NO_DATASET = 0x0101
PROCESSING_FAILURE = 0x0110


#: defaults of the receiver's limits (docs/networking.md, "Receiver limits")
MAX_PDU = 1 << 20
MAX_DATASET = 2 << 30
MAX_ASSOCIATIONS = 16
#: the most bytes of a PDU other than P-DATA (an A-ASSOCIATE-RQ with many contexts is ~10 KB)
MAX_CONTROL_PDU = 1 << 20


class ProtocolError(Exception):
    """The peer broke the protocol; the association is aborted."""


class LimitError(ProtocolError):
    """The peer went beyond one of the receiver's limits; the association is aborted."""


@dataclass(frozen=True)
class StoreRequest:
    """One received C-STORE: who sent it, what it is, the data set as encoded on the wire."""

    calling_aet: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    dataset: bytes
    called_aet: str = ""


StoreHandler = Callable[[StoreRequest], int]
#: decides on an association from (calling AE, called AE, peer address): None admits it
Admission = Callable[[str, str, str], Rejection | None]


def _uid(raw: bytes) -> str:
    return raw.rstrip(b"\x00 ").decode("ascii", "replace")


def _even(value: bytes, pad: bytes = b"\x00") -> bytes:
    return value + pad if len(value) % 2 else value


def _element_explicit(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
        return struct.pack("<HH2sHI", group, element, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, element, vr, len(value)) + value


def file_meta(sop_class: str, sop_instance: str, syntax: str, source_aet: str) -> bytes:
    """Preamble, ``DICM`` and the File Meta Information group of a received instance."""
    body = b"".join(
        (
            _element_explicit(2, 0x0001, b"OB", b"\x00\x01"),
            _element_explicit(2, 0x0002, b"UI", _even(sop_class.encode())),
            _element_explicit(2, 0x0003, b"UI", _even(sop_instance.encode())),
            _element_explicit(2, 0x0010, b"UI", _even(syntax.encode())),
            _element_explicit(2, 0x0012, b"UI", _even(IMPLEMENTATION_CLASS_UID.encode())),
            _element_explicit(2, 0x0013, b"SH", _even(IMPLEMENTATION_VERSION.encode(), b" ")),
            _element_explicit(2, 0x0016, b"AE", _even(source_aet.encode(), b" ")),
        )
    )
    length = _element_explicit(2, 0x0000, b"UL", struct.pack("<I", len(body)))
    return b"\x00" * 128 + b"DICM" + length + body


def _command(elements: list[tuple[int, bytes]]) -> bytes:
    """An implicit-VR little-endian command set with its group length."""
    body = b"".join(struct.pack("<HHI", 0, e, len(v)) + v for e, v in sorted(elements))
    return struct.pack("<HHII", 0, 0, 4, len(body)) + body


def _parse_command(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    position = 0
    while position + 8 <= len(data):
        group, element, length = struct.unpack_from("<HHI", data, position)
        position += 8
        if group != 0:
            raise ProtocolError(f"command element ({group:04X},{element:04X}) outside group 0000")
        out[element] = data[position : position + length]
        position += length
    return out


def _ae_title(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip(" \x00")


def _us(raw: bytes | None) -> int | None:
    return struct.unpack("<H", raw[:2])[0] if raw and len(raw) >= 2 else None


class _Association(socketserver.BaseRequestHandler):
    server: _ThreadingServer

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(owner.timeout)
        reader = cast(BinaryIO, sock.makefile("rb", buffering=1 << 20))
        admitted = owner.slots.acquire(blocking=False)
        try:
            kind, body = self._read_pdu(reader)
            if kind != 0x01:
                raise ProtocolError(f"expected an A-ASSOCIATE-RQ, got PDU type {kind:#04x}")
            if len(body) < 68:
                raise ProtocolError("an A-ASSOCIATE-RQ shorter than its fixed fields")
            called, calling = _ae_title(body[4:20]), _ae_title(body[20:36])
            if owner.admit is not None:
                rejection = owner.admit(calling, called, str(self.client_address[0]))
                if rejection is not None:
                    fields = bytes([0, rejection.result, rejection.source, rejection.diagnostic])
                    self._send(sock, b"\x03\x00" + struct.pack(">I", 4) + fields)
                    return
            if not admitted:
                self._reject_busy(sock)
                return
            self._serve(sock, reader, body, called)
        except (ProtocolError, ValueError, struct.error) as exc:
            logger.warning("aborting association: %s", exc)
            if isinstance(exc, LimitError) and owner.on_limit is not None:
                owner.on_limit(str(exc))
            self._send(sock, b"\x07\x00" + struct.pack(">I", 4) + b"\x00\x00\x02\x00")
        except (OSError, EOFError):
            pass  # the peer went away
        finally:
            if admitted:
                owner.slots.release()
            reader.close()

    def _reject_busy(self, sock: socket.socket) -> None:
        """A-ASSOCIATE-RJ: rejected-transient, by the service provider (presentation),
        local limit exceeded: as many associations as allowed are open."""
        logger.warning(
            "rejecting an association: %d are open already (the most allowed)",
            self.server.owner.max_associations,
        )
        if self.server.owner.on_limit is not None:
            self.server.owner.on_limit("association rejected: too many open associations")
        self._send(sock, b"\x03\x00" + struct.pack(">I", 4) + b"\x00\x02\x03\x02")

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)

    def _read_pdu(self, reader: BinaryIO) -> tuple[int, bytes]:
        head = reader.read(6)
        if len(head) < 6:
            raise EOFError
        kind, length = head[0], struct.unpack(">I", head[2:6])[0]
        # the peer was told our maximum in the A-ASSOCIATE-AC; a P-DATA-TF PDU's length is
        # its PDV items plus their 6-byte headers, which some peers do not count
        limit = self.server.owner.max_pdu + 6 if kind == 0x04 else MAX_CONTROL_PDU
        if length > limit:
            raise LimitError(f"a PDU of {length} bytes is over the limit of {limit} bytes")
        body = reader.read(length)
        if len(body) < length:
            raise EOFError
        return kind, body

    def _serve(self, sock: socket.socket, reader: BinaryIO, body: bytes, called: str) -> None:
        """Negotiate on the A-ASSOCIATE-RQ ``body``, then serve commands until release."""
        contexts, calling = self._negotiate(sock, body)
        aets = (calling, called)
        command: bytearray = bytearray()
        dataset: list[bytes] = []
        received = 0  # bytes of the data set being received
        max_dataset = self.server.owner.max_dataset
        fields: dict[int, bytes] | None = None
        while True:
            kind, body = self._read_pdu(reader)
            if kind == 0x05:  # A-RELEASE-RQ
                self._send(sock, b"\x06\x00" + struct.pack(">I", 4) + b"\x00" * 4)
                return
            if kind == 0x07:  # A-ABORT
                return
            if kind != 0x04:
                raise ProtocolError(f"unexpected PDU type {kind:#04x}")
            position = 0
            while position < len(body):
                (length,) = struct.unpack_from(">I", body, position)
                context_id, control = body[position + 4], body[position + 5]
                value = body[position + 6 : position + 4 + length]
                position += 4 + length
                if control & 0x01:
                    if len(command) + len(value) > MAX_CONTROL_PDU:
                        raise LimitError("a command set over 1 MiB")
                    command += value
                    if control & 0x02:
                        fields = _parse_command(bytes(command))
                        command = bytearray()
                        if _us(fields.get(0x0800)) == NO_DATASET:
                            self._dispatch(sock, context_id, contexts, aets, fields, b"")
                            fields = None
                else:
                    received += len(value)
                    if received > max_dataset:
                        raise LimitError(
                            f"a data set of more than {max_dataset} bytes (the receiver's limit)"
                        )
                    dataset.append(value)
                    if control & 0x02:
                        if fields is None:
                            raise ProtocolError("a data set arrived without its command")
                        data = b"".join(dataset)
                        dataset = []
                        received = 0
                        self._dispatch(sock, context_id, contexts, aets, fields, data)
                        fields = None

    def _negotiate(self, sock: socket.socket, body: bytes) -> tuple[dict[int, str], str]:
        called, calling = body[4:20], body[20:36]
        position = 68
        accepted: dict[int, str] = {}
        answers = []
        max_length = 0
        while position + 4 <= len(body):
            item, length = body[position], struct.unpack_from(">H", body, position + 2)[0]
            value = body[position + 4 : position + 4 + length]
            position += 4 + length
            if item == 0x20:
                context_id = value[0]
                abstract, proposed = "", []
                sub = 4
                while sub + 4 <= len(value):
                    kind, size = value[sub], struct.unpack_from(">H", value, sub + 2)[0]
                    uid = _uid(value[sub + 4 : sub + 4 + size])
                    sub += 4 + size
                    if kind == 0x30:
                        abstract = uid
                    elif kind == 0x40:
                        proposed.append(uid)
                result, chosen = self._choose(abstract, proposed)
                if result == 0:
                    accepted[context_id] = chosen
                ts = _even(chosen.encode())
                sub_item = b"\x40\x00" + struct.pack(">H", len(ts)) + ts
                item_body = bytes([context_id, 0, result, 0]) + sub_item
                answers.append(b"\x21\x00" + struct.pack(">H", len(item_body)) + item_body)
        del max_length
        app = APPLICATION_CONTEXT.encode()
        user = (
            b"\x51\x00\x00\x04"
            + struct.pack(">I", self.server.owner.max_pdu)
            + b"\x52\x00"
            + struct.pack(">H", len(IMPLEMENTATION_CLASS_UID))
            + IMPLEMENTATION_CLASS_UID.encode()
            + b"\x55\x00"
            + struct.pack(">H", len(IMPLEMENTATION_VERSION))
            + IMPLEMENTATION_VERSION.encode()
        )
        variable = (
            b"\x10\x00"
            + struct.pack(">H", len(app))
            + app
            + b"".join(answers)
            + b"\x50\x00"
            + struct.pack(">H", len(user))
            + user
        )
        fixed = b"\x00\x01\x00\x00" + called + calling + b"\x00" * 32
        pdu = fixed + variable
        self._send(sock, b"\x02\x00" + struct.pack(">I", len(pdu)) + pdu)
        return accepted, calling.decode("ascii", "replace").strip()

    @staticmethod
    def _choose(abstract: str, proposed: list[str]) -> tuple[int, str]:
        storage = (
            abstract.startswith(STORAGE_PREFIX)
            or abstract in OTHER_STORAGE
            or not abstract.startswith("1.2.840.10008.")  # a private SOP class
        )
        if abstract != VERIFICATION and not storage:
            return 3, proposed[0] if proposed else "1.2.840.10008.1.2"
        for syntax in proposed:
            if syntax in _ACCEPTED:
                return 0, syntax
        return 4, proposed[0] if proposed else "1.2.840.10008.1.2"

    def _dispatch(
        self,
        sock: socket.socket,
        context_id: int,
        contexts: dict[int, str],
        aets: tuple[str, str],
        fields: dict[int, bytes],
        data: bytes,
    ) -> None:
        syntax = contexts.get(context_id)
        if syntax is None:
            raise ProtocolError(f"presentation context {context_id} was not accepted")
        field_value = _us(fields.get(0x0100))
        message_id = fields.get(0x0110, b"\x00\x00")[:2]
        sop_class = fields.get(0x0002, b"")
        if field_value == C_ECHO_RQ:
            response = _command(
                [
                    (0x0002, _even(sop_class.rstrip(b"\x00"))),
                    (0x0100, struct.pack("<H", C_ECHO_RSP)),
                    (0x0120, message_id),
                    (0x0800, struct.pack("<H", NO_DATASET)),
                    (0x0900, struct.pack("<H", 0)),
                ]
            )
        elif field_value == C_STORE_RQ:
            sop_instance = fields.get(0x1000, b"")
            request = StoreRequest(
                aets[0], _uid(sop_class), _uid(sop_instance), syntax, data, called_aet=aets[1]
            )
            try:
                status = self.server.owner.handler(request)
            except Exception:  # a failure is a status, never a dropped link
                logger.exception("store handler failed")
                status = PROCESSING_FAILURE
            response = _command(
                [
                    (0x0002, _even(sop_class.rstrip(b"\x00"))),
                    (0x0100, struct.pack("<H", C_STORE_RSP)),
                    (0x0120, message_id),
                    (0x0800, struct.pack("<H", NO_DATASET)),
                    (0x0900, struct.pack("<H", status)),
                    (0x1000, _even(sop_instance.rstrip(b"\x00"))),
                ]
            )
        else:
            raise ProtocolError(
                f"command {field_value!r} is not supported (C-STORE and C-ECHO only)"
            )
        pdv = struct.pack(">I", len(response) + 2) + bytes([context_id, 0x03]) + response
        self._send(sock, b"\x04\x00" + struct.pack(">I", len(pdv)) + pdv)


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: DimseServer


class DimseServer:
    """A Storage and Verification SCP: ``handler`` gets each C-STORE and returns its status.

    Parameters
    ----------
    max_pdu
        The largest P-DATA-TF PDU received (told to the peer in the A-ASSOCIATE-AC); a
        longer one aborts the association before it is read.
    max_dataset
        The most bytes of one C-STORE data set; beyond, the association is aborted (the
        bytes received so far are dropped).
    max_associations
        Associations open at once; one more is answered A-ASSOCIATE-RJ (transient, local
        limit exceeded).
    on_limit
        Called with a reason (no patient data) whenever a limit stops a peer.
    admit
        Called with the calling AE title, the called AE title and the peer's address of
        each A-ASSOCIATE-RQ; a :class:`~radcurate.network.allowlist.Rejection` it returns is
        sent as the A-ASSOCIATE-RJ. None admits every association.
    """

    def __init__(
        self,
        host: str,
        port: int,
        handler: StoreHandler,
        *,
        timeout: float = 60.0,
        max_pdu: int = MAX_PDU,
        max_dataset: int = MAX_DATASET,
        max_associations: int = MAX_ASSOCIATIONS,
        on_limit: Callable[[str], object] | None = None,
        admit: Admission | None = None,
    ) -> None:
        if max_pdu < 4096 or max_dataset < 1 or max_associations < 1:
            raise ValueError("max_pdu must be at least 4096, the other limits at least 1")
        self.handler = handler
        self.timeout = timeout
        self.max_pdu = max_pdu
        self.max_dataset = max_dataset
        self.max_associations = max_associations
        self.on_limit = on_limit
        self.admit = admit
        self.slots = threading.BoundedSemaphore(max_associations)
        self._server = _ThreadingServer((host, port), _Association)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting associations and close the socket."""
        self._server.shutdown()
        self._server.server_close()
