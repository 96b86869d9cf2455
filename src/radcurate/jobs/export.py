"""An export as a job of the server: a frozen version into a folder under the export root.

The folder is ``<export root>/<job id>`` (a client never names a server path). The job's
progress is the export's own (cases converted or series copied); cancelling it removes
what was written (the export writes into a hidden folder and renames it at the end). Its
result is :meth:`radcurate.export.job.ExportReport.to_dict` with ``out`` the folder's name
(no server path) and ``bytes`` the size of the files written; series that failed are the
job's errors (``GET /api/jobs/{id}/errors``).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from radcurate.analyze.bias_compare import compare as bias_compare
from radcurate.analyze.dataset_card import dataset_card
from radcurate.analyze.dataset_card_html import card_html
from radcurate.catalog import CatalogBackend
from radcurate.export.job import CardBuilder, ExportOptions, SplitCompare, export_dataset
from radcurate.jobs.context import JobCancelled, JobContext, JobFunction

__all__ = [
    "EXPORT_KIND",
    "export_folder",
    "export_job",
    "folder_size",
    "remove_export",
    "server_deid_key",
    "zip_stream",
]

#: the job kind of an export (the CLI's too)
EXPORT_KIND = "export"
#: the file under the export root holding the server's de-identification key
KEY_FILE = ".deid-key"
_CHUNK = 1 << 20


def _analysis(catalog: CatalogBackend) -> tuple[CardBuilder, SplitCompare]:
    """The dataset card and the split comparison of the analysis layer, on ``catalog``."""

    def card(name: str, version: int) -> dict[str, Any]:
        return dataset_card(catalog, name, version)

    def compare(a: frozenset[str], b: frozenset[str], labels: tuple[str, str]) -> dict[str, Any]:
        return bias_compare(catalog, a, b, labels=labels)

    return card, compare


def export_folder(root: Path, job_id: str) -> Path:
    """Where the export of job ``job_id`` lies (``ValueError`` for an id that is no name)."""
    if not job_id or job_id.startswith(".") or "/" in job_id or "\\" in job_id:
        raise ValueError(f"{job_id!r} is not a job id")
    return root / job_id


def folder_size(folder: Path) -> tuple[int, int]:
    """``(files, bytes)`` of the plain files under ``folder``."""
    files = size = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            files += 1
            size += path.stat().st_size
    return files, size


def export_job(options: ExportOptions, root: Path, *, froze: bool = False) -> JobFunction:
    """A job function exporting ``options`` (its ``out`` is ignored) into ``root/<job id>``.

    ``options.dataset`` should name a frozen version (``NAME@VERSION``): the route freezes
    an unfrozen dataset before the job starts, so the response can say so (``froze``: it
    did, and the result says so too).
    """

    def run(context: JobContext) -> dict[str, Any]:
        catalog = context.catalog
        out = export_folder(root, context.id)
        card, compare = _analysis(catalog)
        context.progress(0, None, f"planning the export of {options.dataset}")
        context.flush()
        report = export_dataset(
            catalog,
            dataclasses.replace(options, out=out),
            context,
            card=card,
            card_html=card_html,
            compare=compare,
        )
        context.flush()
        if context.stop_requested():  # asked to stop at the very end: no files stay behind
            remove_export(root, context.id)
            raise JobCancelled(context.id)
        if report.errors:
            catalog.record_job_errors(context.id, report.errors)
        files, size = folder_size(out)
        result = report.to_dict()
        result.update(out=out.name, files=files, bytes=size, froze=froze or report.froze)
        # no server path in what every reader of the job sees
        result["notes"] = [n.replace(str(out), out.name) for n in report.notes]
        return result

    return run


def remove_export(root: Path, job_id: str) -> bool:
    """Delete the export of ``job_id`` (and a partial one it left); True when there was one."""
    folder = export_folder(root, job_id)
    found = folder.is_dir()
    shutil.rmtree(folder, ignore_errors=True)
    for partial in root.glob(f".{job_id}.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)
    return found


def server_deid_key(root: Path, environ: dict[str, str] | None = None) -> str:
    """The key a server de-identifies with when the request gives none:
    ``$RADCURATE_DEID_KEY``, else a random one made once and kept in ``root/.deid-key``
    (mode 0600), so exports of one server replace UIDs and dates consistently."""
    env = os.environ if environ is None else environ
    given = env.get("RADCURATE_DEID_KEY", "").strip()
    if given:
        return given
    path = root / KEY_FILE
    root.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="utf-8").strip()


class _Pipe:
    """A write-only file whose bytes are taken out as they come (``zipfile`` writes to it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.parts.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


#: files already compressed: stored, not deflated again
_STORED = (".gz", ".parquet", ".zip", ".png", ".jpg")


def zip_stream(folder: Path, prefix: str) -> Iterator[bytes]:
    """The files under ``folder`` as a zip, in chunks (never the whole zip in memory), under
    ``prefix/``, in path order with a fixed time stamp: the same folder gives the same zip."""
    import zipfile

    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", allowZip64=True) as archive:  # type: ignore[call-overload]
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            name = f"{prefix}/{path.relative_to(folder).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            stored = path.name.endswith(_STORED)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as sink:
                while chunk := source.read(_CHUNK):
                    sink.write(chunk)
                    if pipe.parts:
                        yield pipe.take()
            yield pipe.take()
    yield pipe.take()
