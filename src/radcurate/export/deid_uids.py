"""Keyed, repeatable replacement of UIDs and patient identifiers for de-identification.

Every replacement is an HMAC-SHA256 of the original value under the export key, so the same key
gives the same replacement in every run and process, and a different key gives unrelated ones.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from pydicom._uid_dict import UID_dictionary

#: Root of UUID-derived UIDs (PS3.5 B.2): ``2.25.<decimal of a 128-bit integer>``.
UID_ROOT = "2.25."


def _digest(key: bytes, purpose: bytes, value: str) -> bytes:
    """HMAC-SHA256 of ``value`` under ``key``, separated by ``purpose``."""
    return hmac.new(key, purpose + b"\0" + value.encode("utf-8"), hashlib.sha256).digest()


@lru_cache(maxsize=1 << 16)
def replace_uid(key: bytes, uid: str) -> str:
    """The replacement of ``uid`` under ``key``: ``2.25.`` + the first 128 bits of its HMAC.

    Parameters
    ----------
    key : bytes
        The export key.
    uid : str
        The original UID (trailing NUL or space padding ignored).

    Returns
    -------
    str
        A valid UID of at most 44 characters; the empty string stays empty.
    """
    uid = uid.strip("\0 ")
    if not uid:
        return ""
    return UID_ROOT + str(int.from_bytes(_digest(key, b"uid", uid)[:16], "big"))


def is_well_known(uid: str) -> bool:
    """Whether ``uid`` is a UID the standard defines (SOP class, transfer syntax, ...).

    Such UIDs identify no patient, device or study and are never replaced.
    """
    return uid.strip("\0 ") in UID_dictionary


@lru_cache(maxsize=1 << 14)
def pseudonym(key: bytes, patient_id: str) -> str:
    """The Patient ID pseudonym: ``RC`` + 20 hex digits of the keyed hash (16 bytes of LO)."""
    return "RC" + _digest(key, b"patient-id", patient_id.strip()).hex()[:20].upper()


def date_shift_days(key: bytes, patient_id: str) -> int:
    """The patient's date shift in days: between 1 and 3650 days earlier (negative).

    One shift per (key, Patient ID), so every series and every run of that patient moves by the
    same amount and intervals between dates are kept.
    """
    number = int.from_bytes(_digest(key, b"date-shift", patient_id.strip())[:8], "big")
    return -(1 + number % 3650)
