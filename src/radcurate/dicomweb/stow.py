"""STOW-RS (PS3.18 §10.5): store instances = copy them into the store and ingest them.

Each part is written to a temporary file beside the store, moved into place by
the store (atomically, fsync'd) and then ingested in place from there, in one
catalog batch. Storing the same instance twice changes nothing; another instance under a
stored SOP Instance UID is refused with 0x0111 and the original kept, unless the server
allows replacement (storage/originals.py, docs/networking.md).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread

from radcurate.catalog import CatalogBackend
from radcurate.dicom.reading import UnreadableDicomError
from radcurate.dicomweb.multipart import FilePart, Part
from radcurate.ingest import ingest
from radcurate.storage import open_storage
from radcurate.storage.filesystem import FileStore
from radcurate.storage.originals import DUPLICATE_SOP_INSTANCE, keep_original, same_instance

__all__ = ["StoreOutcome", "receive_body", "staging_folder", "store_parts"]

#: failure reasons (PS3.4 Annex GG / PS3.18 Table 10.5.3-2)
PROCESSING_FAILURE = 0x0110
CANNOT_UNDERSTAND = 0xC000
STUDY_MISMATCH = 0xA900
SOP_CLASS_NOT_SUPPORTED = 0x0122


@dataclass
class StoreOutcome:
    """What a STOW-RS request stored and what it refused."""

    stored: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def status(self) -> int:
        """200 when everything was stored, 202 when some parts failed, 409 when all did."""
        if not self.failed:
            return 200
        return 202 if self.stored else 409

    def to_json(self, base_url: str, study_uid: str | None) -> dict[str, Any]:
        """The DICOM JSON answer (ReferencedSOPSequence, FailedSOPSequence, RetrieveURL)."""
        out: dict[str, Any] = {}
        studies = {s["study"] for s in self.stored}
        target = study_uid or (next(iter(studies)) if len(studies) == 1 else None)
        if target:
            out["00081190"] = {"vr": "UR", "Value": [f"{base_url}/studies/{target}"]}
        if self.failed:
            out["00081198"] = {"vr": "SQ", "Value": [_failed(f) for f in self.failed]}
        if self.stored:
            out["00081199"] = {"vr": "SQ", "Value": [_referenced(s, base_url) for s in self.stored]}
        return out


def _failed(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if item.get("sop_class"):
        out["00081150"] = {"vr": "UI", "Value": [item["sop_class"]]}
    if item.get("sop"):
        out["00081155"] = {"vr": "UI", "Value": [item["sop"]]}
    out["00081197"] = {"vr": "US", "Value": [item["reason"]]}
    return out


def _referenced(item: dict[str, str], base_url: str) -> dict[str, Any]:
    url = f"{base_url}/studies/{item['study']}/series/{item['series']}/instances/{item['sop']}"
    return {
        "00081150": {"vr": "UI", "Value": [item["sop_class"]]},
        "00081155": {"vr": "UI", "Value": [item["sop"]]},
        "00081190": {"vr": "UR", "Value": [url]},
    }


def staging_folder(store_url: str) -> Path:
    """Where STOW-RS bodies and their parts are written while they are read (inside the
    file store, so a part is never held in memory).

    Raises
    ------
    ValueError
        When the store is not a file store.
    """
    store = open_storage(store_url)
    if not isinstance(store, FileStore):
        raise ValueError(f"STOW-RS needs a file store to write into, not {store_url}")
    folder = store.root / ".stow"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def receive_body(chunks: AsyncIterator[bytes], folder: Path, limit: int) -> Path | None:
    """A request body streamed into a new file in ``folder`` (never held in memory), or
    None (and no file) as soon as it passes ``limit`` bytes."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=".body-", suffix=".part")
    path = Path(name)
    received = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in chunks:
                received += len(chunk)
                if received > limit:
                    path.unlink(missing_ok=True)
                    return None
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _identify(data: bytes | Path) -> dict[str, str]:
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(source, stop_before_pixels=True, defer_size=1 << 16)
        except Exception as exc:
            raise UnreadableDicomError(f"not a DICOM file: {exc}") from exc
    ids = {
        "study": str(ds.get("StudyInstanceUID", "") or ""),
        "series": str(ds.get("SeriesInstanceUID", "") or ""),
        "sop": str(ds.get("SOPInstanceUID", "") or ""),
        "sop_class": str(ds.get("SOPClassUID", "") or ""),
    }
    if not (ids["study"] and ids["series"] and ids["sop"]):
        raise UnreadableDicomError("missing Study, Series or SOP Instance UID")
    return ids


def store_parts(
    parts: list[Part] | list[FilePart],
    catalog: CatalogBackend,
    store_url: str,
    study_uid: str | None = None,
    allow_replace: bool = False,
    *,
    project: str | None = None,
    actor: str = "dicomweb",
) -> StoreOutcome:
    """Store ``application/dicom`` parts and ingest them in one batch.

    Parameters
    ----------
    parts
        In memory (:class:`Part`) or on disk (:class:`FilePart`, from
        :func:`~radcurate.dicomweb.multipart.split_file`: read from their files a chunk at
        a time; the caller deletes them).
    study_uid
        ``POST /studies/{study}``: instances of other studies are refused.
    allow_replace
        A part whose SOP Instance UID is stored with other content replaces the original
        (kept under ``.replaced/``, audited); otherwise it is refused with 0x0111 and the
        original kept. The same content again is always a success that changes nothing.
    project
        Put the series of every stored instance (also those stored before) into this
        project, as ``actor`` (one audit entry per request).
    """
    store = open_storage(store_url)
    if not isinstance(store, FileStore):
        raise ValueError(f"STOW-RS needs a file store to write into, not {store_url}")
    store.root.mkdir(parents=True, exist_ok=True)
    outcome = StoreOutcome()
    locations: list[str] = []
    written: list[dict[str, str]] = []  # the parts written now, in the order of ``locations``
    for part in parts:
        source = part.path if isinstance(part, FilePart) else part.data
        try:
            ids = _identify(source)
        except UnreadableDicomError:
            outcome.failed.append({"reason": CANNOT_UNDERSTAND})
            continue
        if study_uid is not None and ids["study"] != study_uid:
            outcome.failed.append({**ids, "reason": STUDY_MISMATCH})
            continue
        placed = store.path_for(ids["study"], ids["series"], ids["sop"])
        if placed.exists():  # never overwrite an original (storage/originals.py)
            data = source.read_bytes() if isinstance(source, Path) else source
            if same_instance(placed, data):
                outcome.stored.append(ids)
                continue
            if not allow_replace:
                outcome.failed.append({**ids, "reason": DUPLICATE_SOP_INSTANCE})
                continue
        fd, tmp = tempfile.mkstemp(dir=store.root, prefix=".stow-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                if isinstance(source, Path):
                    with source.open("rb") as part_file:
                        shutil.copyfileobj(part_file, handle, 1 << 20)
                else:
                    handle.write(source)
            if placed.exists():
                kept = keep_original(store.root, placed)
                os.replace(tmp, placed)
                catalog.record_event(
                    "instance.replace",
                    ids["sop"],
                    detail={
                        "location": str(placed),
                        "original_kept_at": str(kept),
                        "via": "STOW-RS",
                    },
                )
                locations.append(str(placed))
            else:
                locations.append(store.put(tmp, ids["study"], ids["series"], ids["sop"]))
        except OSError:
            outcome.failed.append({**ids, "reason": PROCESSING_FAILURE})
            continue
        finally:
            Path(tmp).unlink(missing_ok=True)
        written.append(ids)
    if locations:
        summary = ingest(locations, catalog, workers=1)
        bad = {e.source for e in summary.error_samples} if summary.errors else set()
        for ids, location in zip(written, locations, strict=True):
            if location in bad:
                outcome.failed.append({**ids, "reason": CANNOT_UNDERSTAND})
            else:
                outcome.stored.append(ids)
    if project is not None and outcome.stored:
        series = sorted({ids["series"] for ids in outcome.stored})
        catalog.projects.assign_uids(project, series, actor=actor)
    return outcome
