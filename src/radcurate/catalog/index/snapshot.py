"""The search index saved to disk, so a server (or a CLI search) starts in seconds.

Building the index reads every series' ``search_doc`` (about 30 s per million
series here); a snapshot holds the built columns and the watermark they are
valid up to. Opening loads it and then reads only what changed since, exactly
as a running index does. A snapshot from another catalog (a different
database, or one re-created at the same URL), another index format or another
set of indexed fields is ignored and rebuilt; a damaged one too.

Snapshots are pickles written atomically (temporary file + rename) under the
user's own ``$RADCURATE_HOME/index/``; they are caches and can be deleted at
any time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from radcurate.catalog.index.series_index import SeriesIndex
from radcurate.catalog.projection import INDEXED_FIELDS

logger = logging.getLogger(__name__)

#: bump when the pickled layout changes
FORMAT = 4
#: an index smaller than this is rebuilt faster than a snapshot is written
MIN_ROWS = 10_000


def _fingerprint(identity: str) -> str:
    fields = "\n".join(INDEXED_FIELDS)
    return hashlib.sha256(f"{FORMAT}\n{identity}\n{fields}".encode()).hexdigest()


def snapshot_path(directory: Path, identity: str) -> Path:
    """Where the snapshot of the catalog with this identity lives."""
    return directory / f"series-{_fingerprint(identity)[:24]}.pickle"


def save(index: SeriesIndex, directory: Path, identity: str) -> Path:
    """Write the index (under its lock) atomically; returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(directory, identity)
    with index.lock:
        state: dict[str, Any] = {"fingerprint": _fingerprint(identity), "index": index}
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".series-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def load(directory: Path, identity: str) -> SeriesIndex | None:
    """The saved index of this catalog, or None (missing, stale or unreadable)."""
    path = snapshot_path(directory, identity)
    if not path.is_file():
        return None
    try:
        with path.open("rb") as source:
            state = pickle.load(source)
    except Exception as exc:  # noqa: BLE001  (a damaged cache is rebuilt, never fatal)
        logger.warning("ignoring unreadable search index snapshot %s: %s", path, exc)
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != _fingerprint(identity):
        return None
    index = state.get("index")
    return index if isinstance(index, SeriesIndex) else None
