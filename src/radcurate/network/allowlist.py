"""Who may open an association with the receiver (docs/networking.md, "Who may send").

Two checks, made on the A-ASSOCIATE-RQ before anything else is negotiated:

- the **called** AE title must be one of the receiver's own (:attr:`AssociationPolicy.
  called_ae_titles`; today its ``--ae-title``, later one per project);
- when an **allow-list** is given, the calling AE title and the peer's address must match
  one of its entries, written ``CALLING_AE@HOST``: ``HOST`` an IP address, a network
  (``10.1.0.0/16``), a host name (resolved once, when the list is made) or ``*``; the AE
  ``*`` matches any calling AE from that host.

Either failure is an A-ASSOCIATE-RJ (rejected-permanent, by the service user) with the
standard's reason: "called AE title not recognised" (7) or "calling AE title not
recognised" (3).

>>> allow = AllowList.parse(["CT1@10.0.0.5", "*@192.168.1.0/24"])
>>> allow.allows("CT1", "10.0.0.5"), allow.allows("CT2", "10.0.0.5")
(True, False)
>>> allow.allows("ANY", "192.168.1.77")
True
>>> policy = AssociationPolicy(frozenset({"RADCURATE"}), allow)
>>> policy.check("CT1", "WRONG", "10.0.0.5").reason
'called AE title not recognised'
>>> policy.check("EVIL", "RADCURATE", "10.0.0.5").reason
'calling AE title not recognised'
>>> policy.check("CT1", "RADCURATE", "10.0.0.5") is None
True
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AllowEntry",
    "AllowList",
    "AllowListError",
    "AssociationPolicy",
    "Rejection",
    "is_loopback",
    "read_allow_file",
    "require_allow_list",
    "valid_ae_title",
]

#: A-ASSOCIATE-RJ fields (PS3.8 9.3.4)
REJECTED_PERMANENT = 0x01
SERVICE_USER = 0x01
CALLING_AE_NOT_RECOGNISED = 0x03
CALLED_AE_NOT_RECOGNISED = 0x07
#: the longest AE title (PS3.5 6.2, VR AE)
AE_TITLE_LENGTH = 16

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]


class AllowListError(ValueError):
    """An allow-list entry that cannot be used (the message says what to write instead)."""


def valid_ae_title(title: str, what: str = "AE title") -> str:
    """``title`` without its padding spaces, or :class:`AllowListError` saying what is wrong.

    >>> valid_ae_title(" RADCURATE ")
    'RADCURATE'
    """
    stripped = title.strip(" ")
    if not stripped:
        raise AllowListError(f"{what} is empty: give 1 to {AE_TITLE_LENGTH} characters")
    if len(stripped) > AE_TITLE_LENGTH:
        raise AllowListError(
            f"{what} {stripped!r} is {len(stripped)} characters long: "
            f"at most {AE_TITLE_LENGTH} are allowed"
        )
    if "\\" in stripped or any(ord(c) < 0x20 or ord(c) > 0x7E for c in stripped):
        raise AllowListError(
            f"{what} {stripped!r} holds a backslash, a control or a non-ASCII character"
        )
    return stripped


def _resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A peer's address; an IPv4-mapped IPv6 address (``::ffff:10.0.0.5``) as IPv4."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class AllowEntry:
    """One ``CALLING_AE@HOST`` entry: ``ae`` ``"*"`` for any AE, ``networks`` empty for any host."""

    ae: str
    host: str
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str, resolve: Resolver = _resolve) -> AllowEntry:
        """Read ``CALLING_AE@HOST`` (a host name is resolved now)."""
        ae, at, host = text.strip().rpartition("@")
        example = "e.g. CT1@10.0.0.5, *@10.0.0.5, CT1@* or CT1@pacs.example.org"
        if not at or not ae.strip() or not host.strip():
            raise AllowListError(f"allow-list entry {text!r} is not CALLING_AE@HOST ({example})")
        ae, host = ae.strip(), host.strip()
        if ae != "*":
            ae = valid_ae_title(ae, f"the calling AE title of allow-list entry {text!r}")
        if host == "*":
            return cls(ae, host)
        try:
            return cls(ae, host, (ipaddress.ip_network(host, strict=False),))
        except ValueError:
            pass
        try:
            addresses = resolve(host)
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise AllowListError(
                f"allow-list entry {text!r}: cannot resolve host {host!r} ({reason}); "
                "give its IP address instead"
            ) from exc
        networks = []
        for found in addresses:
            address = _address(found)
            if address is not None:
                networks.append(ipaddress.ip_network(address))
        if not networks:
            raise AllowListError(f"allow-list entry {text!r}: host {host!r} has no IP address")
        return cls(ae, host, tuple(networks))

    def matches(self, calling_ae: str, peer: str) -> bool:
        """Whether an association from ``calling_ae`` at address ``peer`` is allowed."""
        if self.ae != "*" and self.ae != calling_ae.strip(" "):
            return False
        if self.host == "*":
            return True
        address = _address(peer)
        return address is not None and any(address in network for network in self.networks)

    def __str__(self) -> str:
        return f"{self.ae}@{self.host}"


@dataclass(frozen=True)
class AllowList:
    """The calling AE titles and hosts an association may come from."""

    entries: tuple[AllowEntry, ...]

    @classmethod
    def parse(cls, texts: Iterable[str], resolve: Resolver = _resolve) -> AllowList:
        """An allow-list from ``CALLING_AE@HOST`` texts (host names resolved now)."""
        return cls(tuple(AllowEntry.parse(text, resolve) for text in texts))

    def allows(self, calling_ae: str, peer: str) -> bool:
        """Whether any entry matches."""
        return any(entry.matches(calling_ae, peer) for entry in self.entries)

    @property
    def allows_anyone(self) -> bool:
        """Whether an entry is ``*@*``."""
        return any(entry.ae == "*" and entry.host == "*" for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def read_allow_file(path: str | Path) -> list[str]:
    """The entries of an allow-list file: one a line; ``#`` starts a comment.

    Raises :class:`AllowListError` naming the file and line of a malformed entry.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise AllowListError(f"cannot read the allow-list file {path}: {exc}") from exc
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if "@" not in entry or len(entry.split()) > 1:
            raise AllowListError(
                f"{path} line {number}: {entry!r} is not one CALLING_AE@HOST entry "
                "(one entry a line, # starts a comment)"
            )
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Rejection:
    """Why an association is rejected: the A-ASSOCIATE-RJ fields and the reason in words."""

    reason: str
    diagnostic: int
    result: int = REJECTED_PERMANENT
    source: int = SERVICE_USER


CALLED_AE_REJECTION = Rejection("called AE title not recognised", CALLED_AE_NOT_RECOGNISED)
CALLING_AE_REJECTION = Rejection("calling AE title not recognised", CALLING_AE_NOT_RECOGNISED)


@dataclass(frozen=True)
class AssociationPolicy:
    """The called AE titles a receiver answers to and, optionally, who may call it.

    ``called_ae_titles`` is a set so that several can be served at once (one per project,
    later); ``allow`` None accepts any calling AE from any host.
    """

    called_ae_titles: frozenset[str]
    allow: AllowList | None = None

    def check(self, calling_ae: str, called_ae: str, peer: str) -> Rejection | None:
        """None when the association may go on, else why it is rejected."""
        if called_ae.strip(" ") not in self.called_ae_titles:
            return CALLED_AE_REJECTION
        if self.allow is not None and not self.allow.allows(calling_ae, peer):
            return CALLING_AE_REJECTION
        return None


def is_loopback(host: str, resolve: Resolver = _resolve) -> bool:
    """Whether listening on ``host`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("")
    (True, True, False, False)
    """
    if not host:
        return False  # every interface
    address = _address(host)
    if address is not None:
        return address.is_loopback
    try:
        found = [_address(a) for a in resolve(host)]
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"cannot resolve the address to listen on, {host!r}: {exc}") from exc
    return bool(found) and all(a is not None and a.is_loopback for a in found)


def require_allow_list(host: str, allow: AllowList | None) -> None:
    """Refuse (ValueError) to listen beyond loopback with no allow-list."""
    if allow is None and not is_loopback(host):
        raise ValueError(
            f"refusing to listen on {host or 'every interface'} (reachable from other "
            "machines) with no allow-list: say who may send with --allow CALLING_AE@HOST "
            "(repeatable; e.g. --allow CT1@10.0.0.5, --allow '*@10.0.0.5') or --allow-file "
            "FILE, or accept any sender explicitly with --allow '*@*'"
        )
