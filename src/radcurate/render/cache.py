"""Thumbnails on disk, keyed by series content, generated on demand or in parallel."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.result_types import ResultRow
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.series import load_series
from radcurate.render.api import render
from radcurate.render.result import RenderOptions
from radcurate.settings import Settings

__all__ = ["RENDERER_VERSION", "GenerateReport", "ThumbnailCache", "content_key", "generate_all"]

#: bump when any renderer's output changes: every cached thumbnail is then regenerated
RENDERER_VERSION = "radcurate-render/3"  # 3: display orientation (issue 19)

Progress = Callable[[int, int], None]


def content_key(instances: Iterable[InstanceRecord], size: int) -> str:
    """sha256 over the sorted ``(sop_uid, size, mtime_ns)`` of a series' instances,
    the renderer version and the thumbnail size: a series that changes gets a new key."""
    digest = hashlib.sha256(f"{RENDERER_VERSION}\0{size}\0".encode())
    for sop, nbytes, mtime in sorted((i.sop_uid, i.size, i.mtime_ns) for i in instances):
        digest.update(f"{sop}\0{nbytes}\0{mtime}\n".encode())
    return digest.hexdigest()


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class GenerateReport:
    """What :func:`generate_all` did.

    Attributes
    ----------
    generated
        Thumbnails rendered now.
    cached
        Series whose thumbnail was already there.
    undecodable
        Series whose thumbnail is an "undecodable" card, rendered now or already cached
        (their UIDs in ``undecodable_series``).
    failed
        Series that raised (their UIDs and messages in ``errors``).
    """

    generated: int = 0
    cached: int = 0
    undecodable: int = 0
    failed: int = 0
    undecodable_series: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Series handled."""
        return self.generated + self.cached + self.failed

    def merge(self, other: GenerateReport) -> None:
        """Add the counts of ``other``."""
        self.generated += other.generated
        self.cached += other.cached
        self.undecodable += other.undecodable
        self.failed += other.failed
        self.undecodable_series.extend(other.undecodable_series)
        self.errors.update(other.errors)


class ThumbnailCache:
    """PNG thumbnails under ``root/<key[:2]>/<key>.png`` with a JSON sidecar of metadata.

    Parameters
    ----------
    root
        Cache folder (default in the CLI: ``$RADCURATE_HOME/thumbnails``).
    size
        Edge of the thumbnails in pixels.
    """

    def __init__(self, root: Path, size: int = 256) -> None:
        self.root = Path(root)
        self.size = size

    def path_for_key(self, key: str) -> Path:
        """Where the thumbnail of content key ``key`` lives."""
        return self.root / key[:2] / f"{key}.png"

    def key(self, catalog: CatalogBackend, series_uid: str) -> str:
        """The content key of a series as the catalog holds it now."""
        return content_key(catalog.instances(series_uid), self.size)

    def lookup(self, catalog: CatalogBackend, series_uid: str) -> Path | None:
        """The cached thumbnail, or None when missing or stale."""
        path = self.path_for_key(self.key(catalog, series_uid))
        return path if path.is_file() else None

    def metadata(self, path: Path) -> dict[str, Any]:
        """The sidecar of a thumbnail (renderer, caption, undecodable, reason, ...); empty
        when it is missing or unreadable (a thumbnail written by an older version)."""
        try:
            loaded: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return {}
        return loaded

    def generate(
        self,
        catalog: CatalogBackend,
        series_uid: str,
        *,
        force: bool = False,
        record: bool = True,
    ) -> tuple[Path, dict[str, Any] | None]:
        """Render a series into the cache unless present; returns the path and, when
        rendered now, its metadata.

        With ``record`` a thumbnail rendered now also records whether the series decodes
        (``qc.undecodable``), whoever asked for it (a job, the gallery's first look), so
        the count of undecodable series and the cards agree.

        Raises
        ------
        KeyError
            When the catalog has no such series.
        """
        instances = catalog.instances(series_uid)  # enough to tell a cached one (no document)
        path = self.path_for_key(content_key(instances, self.size))
        if instances and path.is_file() and not force:
            return path, None
        series = load_series(catalog, series_uid)
        path = self.path_for_key(content_key(series.instances, self.size))
        rendering = render(series, RenderOptions(size=self.size))
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"series_uid": series_uid, **rendering.metadata()}
        _atomic_write(path.with_suffix(".json"), json.dumps(meta, default=str).encode())
        from io import BytesIO

        buffer = BytesIO()
        rendering.image.save(buffer, format="PNG", compress_level=1)
        _atomic_write(path, buffer.getvalue())
        if record:
            _record_decodability(catalog, series_uid, meta, self.size)
        return path, meta

    def thumbnail_path(self, catalog: CatalogBackend, series_uid: str) -> Path:
        """The thumbnail of a series, generated on first request."""
        return self.generate(catalog, series_uid)[0]

    def generate_many(
        self, catalog: CatalogBackend, series_uids: Iterable[str], *, force: bool = False
    ) -> GenerateReport:
        """Generate thumbnails one after the other in this process."""
        report = GenerateReport()
        for uid in series_uids:
            try:
                path, meta = self.generate(catalog, uid, force=force)
            except Exception as exc:  # noqa: BLE001  # one bad series must not stop the batch
                report.failed += 1
                report.errors[uid] = f"{type(exc).__name__}: {exc}"
                continue
            if meta is None:
                # rendered before (by an earlier job or the gallery): still counted, so the
                # report's undecodable series are those showing an undecodable card
                report.cached += 1
                meta = self.metadata(path)
            else:
                report.generated += 1
            if meta.get("undecodable"):
                report.undecodable += 1
                report.undecodable_series.append(uid)
        return report


def _record_decodability(
    catalog: CatalogBackend, uid: str, meta: dict[str, Any], size: int
) -> None:
    """Set ``qc.undecodable`` (and its reason) on the series, so it can be filtered on; as
    the ``thumbnails`` workflow's result set, so both paths share one producer."""
    if meta.get("undecodable"):
        reason = str(meta.get("reason") or "pixel data could not be decoded")
        values: dict[str, Any] = {"undecodable": True, "undecodable_reason": reason}
    else:
        values = {"undecodable": False}
    catalog.result_store.write_results(
        [ResultRow(uid, {"qc": values}, content_key(catalog.instances(uid), 0))],
        producer="thumbnails",
        version=THUMBNAILS_VERSION,
        params={"size": size, "rerender": False},
    )


#: the ``thumbnails`` workflow's version (render/thumbnail_workflow.py): its results' provenance
THUMBNAILS_VERSION = "1"

_WORKER_CATALOGS: dict[str, CatalogBackend] = {}


def _worker(url: str, root: str, size: int, uids: list[str], force: bool) -> GenerateReport:
    catalog = _WORKER_CATALOGS.get(url)
    if catalog is None:
        catalog = _WORKER_CATALOGS[url] = open_catalog(url)
    return ThumbnailCache(Path(root), size).generate_many(catalog, uids, force=force)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def generate_all(
    catalog: CatalogBackend,
    series_uids: Iterable[str] | None = None,
    *,
    cache: ThumbnailCache | None = None,
    workers: int = 1,
    force: bool = False,
    progress: Progress | None = None,
    chunk_size: int = 8,
    should_stop: Callable[[], bool] | None = None,
    pool: Executor | None = None,
) -> GenerateReport:
    """Make the thumbnails of ``series_uids`` (default: every series) in a process pool.

    Parameters
    ----------
    cache
        Where to write (default ``$RADCURATE_HOME/thumbnails``).
    workers
        Processes; 1 (or no more series than one chunk) renders in this process.
    force
        Re-render thumbnails that are already cached.
    progress
        Called as ``progress(done, total)`` after each chunk.
    should_stop
        Polled after each chunk; when it returns True no more chunks start (those
        already running finish) and the report so far is returned.
    pool
        Render on this ``concurrent.futures.Executor`` instead (e.g. a Dask client's
        ``get_executor()``; its workers open the catalog by URL and write to
        ``cache.root``, so both must be reachable from them); ``workers`` then sets
        how many chunks are in flight (twice as many).
    """
    cache = cache or ThumbnailCache(Settings.from_env().home / "thumbnails")
    if series_uids is None:
        series_uids = (str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents())
    uids = list(dict.fromkeys(series_uids))
    report = GenerateReport()
    if pool is not None:
        return _on_pool(
            pool, catalog, cache, uids, workers, force, progress, chunk_size, should_stop
        )
    if workers <= 1 or len(uids) <= chunk_size:  # a pool would cost more than it saves
        done = 0
        for chunk in _chunks(uids, chunk_size):
            if should_stop is not None and should_stop():
                break
            report.merge(cache.generate_many(catalog, chunk, force=force))
            done += len(chunk)
            if progress is not None:
                progress(done, len(uids))
        return report
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as processes:
        return _on_pool(
            processes, catalog, cache, uids, workers, force, progress, chunk_size, should_stop
        )


def _on_pool(
    pool: Executor,
    catalog: CatalogBackend,
    cache: ThumbnailCache,
    uids: list[str],
    workers: int,
    force: bool,
    progress: Progress | None,
    chunk_size: int,
    should_stop: Callable[[], bool] | None,
) -> GenerateReport:
    """Chunks of series on ``pool``, at most ``2 * workers`` in flight."""
    report = GenerateReport()
    done = 0
    pending: dict[Future[GenerateReport], int] = {}
    chunks = _chunks(uids, chunk_size)
    while True:
        while len(pending) < 2 * max(1, workers):
            if should_stop is not None and should_stop():
                break
            chunk = next(chunks, [])
            if not chunk:
                break
            future = pool.submit(_worker, catalog.url, str(cache.root), cache.size, chunk, force)
            pending[future] = len(chunk)
        if not pending:
            break
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            done += pending.pop(future)
            report.merge(future.result())
            if progress is not None:
                progress(done, len(uids))
    return report
