"""Decoded volumes kept for the viewer's reformats, so scrolling a plane is not a re-read.

A reformatted slice needs every slice of the series. Reading and decoding them for each
slice of a coronal scroll is what made a reformat cost ~400 ms (issue 19, defect 11). The
first reformat of a series reads the volume once, as modality values in ``float32``; later
slices of any plane are cuts of it.

The cache is bounded in bytes (``RADCURATE_REFORMAT_CACHE_MIB``, default 1024; 0 turns it
off) and least-recently-used. A volume larger than the whole budget is never kept, and the
slice-by-slice path that holds one line per slice still serves it. An entry is keyed by the
instances' locations and modification times, so a re-ingested or replaced file is read
again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.dicom.instance import InstanceRecord

ENV_BUDGET = "RADCURATE_REFORMAT_CACHE_MIB"
DEFAULT_BUDGET_MIB = 1024


@dataclass(frozen=True)
class CachedVolume:
    """A series' slices as modality values, with what the display needs of the middle one."""

    values: npt.NDArray[np.float32]  # (slices, rows, columns)
    middle_dataset: Any
    middle_attributes: Any
    spacing: list[float] | None


def _budget_bytes() -> int:
    raw = os.environ.get(ENV_BUDGET, "").strip()
    try:
        mib = float(raw) if raw else DEFAULT_BUDGET_MIB
    except ValueError:
        mib = DEFAULT_BUDGET_MIB
    return max(0, int(mib * 2**20))


def volume_key(records: Sequence[InstanceRecord]) -> tuple[tuple[str, int], ...]:
    """What identifies a volume's content: each instance's location and mtime, in order."""
    return tuple((r.location, int(r.mtime_ns)) for r in records)


class PlaneCache:
    """The LRU of :class:`CachedVolume`, bounded in bytes (thread-safe)."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        self._budget = _budget_bytes() if budget_bytes is None else budget_bytes
        self._entries: OrderedDict[tuple[tuple[str, int], ...], CachedVolume] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def fits(self, slices: int, rows: int, columns: int) -> bool:
        """Whether a volume of this shape may be kept at all."""
        return slices * rows * columns * 4 <= self._budget

    def get(self, key: tuple[tuple[str, int], ...]) -> CachedVolume | None:
        """The cached volume of ``key`` (marked recently used), or None."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[tuple[str, int], ...], volume: CachedVolume) -> None:
        """Keep ``volume``, evicting the least recently used ones over the budget."""
        size = volume.values.nbytes
        if size > self._budget:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.values.nbytes
            self._entries[key] = volume
            self._bytes += size
            while self._bytes > self._budget and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.values.nbytes

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._bytes


#: the process's cache (the server's worker threads share it)
PLANES = PlaneCache()
