"""Never overwrite an original: what happens when an instance arrives whose SOP Instance UID
the store already holds (C-STORE, STOW-RS).

The policy is a PACS's: the same content again is a no-op success; other content under the
same UID is refused and the original kept (status 0x0111, "Duplicate SOP Instance", PS3.7
Annex C), unless replacement was allowed when the service was started; then the original is
moved to ``<store>/.replaced/`` (never deleted) and the change is audited.

"The same content" is the same data set bytes: the file meta information (which names the
sending AE and the implementation that wrote the file) is not compared.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from pathlib import Path

#: the status of a refused duplicate (PS3.7 C.4.2: Duplicate SOP Instance)
DUPLICATE_SOP_INSTANCE = 0x0111

#: where replaced originals are kept, under the store's root
REPLACED_FOLDER = ".replaced"


def dataset_bytes(data: bytes) -> bytes:
    """The data set of a Part 10 file (after its file meta group); the whole input when it
    has no parsable meta group.

    Examples
    --------
    >>> meta = b"\\x02\\x00\\x00\\x00UL\\x04\\x00" + struct.pack("<I", 2) + b"xx"
    >>> dataset_bytes(b"\\0" * 128 + b"DICM" + meta + b"DATA")
    b'DATA'
    """
    if len(data) < 144 or data[128:132] != b"DICM" or data[132:138] != b"\x02\x00\x00\x00UL":
        return data
    (length,) = struct.unpack("<I", data[140:144])
    return data[144 + length :]


def same_instance(stored: Path, data: bytes) -> bool:
    """Whether the stored file holds the same data set as ``data``."""
    try:
        with stored.open("rb") as handle:
            existing = handle.read()
    except OSError:
        return False
    return dataset_bytes(existing) == dataset_bytes(data)


def keep_original(root: Path, stored: Path) -> Path:
    """Keep a stored original under ``<root>/.replaced/`` (its relative path plus the time)
    before it is replaced; returns where. A hard link (a copy across file systems), so the
    original stays in place until the replacement is renamed over it atomically."""
    relative = stored.relative_to(root)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
    name = f"{relative.stem}.{stamp}{relative.suffix}"
    target = root / REPLACED_FOLDER / relative.parent / name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(stored, target)
    except OSError:
        shutil.copy2(stored, target)
    return target
