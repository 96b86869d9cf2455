"""A filesystem store: ``<root>/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.dcm``.

UIDs are unique by definition, so the layout cannot collide; when two
different files claim the same SOP Instance UID, the second is kept beside
the first with its content hash in the name. Every copy is written to a
temporary file and renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from radcurate.storage.base import StorageError

_SAFE_UID = re.compile(r"^[0-9][0-9.]{0,63}$")


def _component(uid: str) -> str:
    """A path component for a UID; anything not a plain UID is replaced by its hash.

    Examples
    --------
    >>> _component("1.2.840.1")
    '1.2.840.1'
    >>> _component("../etc")[:4]
    'uid-'
    """
    if _SAFE_UID.match(uid):
        return uid
    return "uid-" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FileStore:
    """Instances copied under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    @classmethod
    def from_url(cls, url: str) -> FileStore:
        """``file:///abs/path`` or a plain path."""
        path = url[len("file://") :] if url.startswith("file://") else url
        if not path:
            raise StorageError(f"storage URL {url!r} names no folder")
        return cls(Path(path).expanduser().resolve())

    def path_for(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where an instance lives in the store: ``<root>/<Study>/<Series>/<SOP>.dcm``."""
        return (
            self.root
            / _component(study_uid)
            / _component(series_uid)
            / f"{_component(sop_uid)}.dcm"
        )

    def put(self, source: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
        """Copy ``source`` into the store (atomically); returns the stored path."""
        target = self.path_for(study_uid, series_uid, sop_uid)
        folder = target.parent
        folder.mkdir(parents=True, exist_ok=True)
        if target.exists():
            if filecmp.cmp(source, target, shallow=False):
                return str(target)
            target = folder / f"{_component(sop_uid)}.{_sha256(source)[:16]}.dcm"
            if target.exists():
                return str(target)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target)

    def open(self, location: str) -> BinaryIO:
        """Open a stored file."""
        return open(location, "rb")
