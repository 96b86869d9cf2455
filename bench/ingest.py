"""Ingest benchmark: radcurate (SQLite, PostgreSQL) against a real PACS (Orthanc).

One command::

    .venv/bin/python bench/ingest.py                # >= 20,000 instances, 3 repeats
    .venv/bin/python bench/ingest.py --smoke        # tiny archive, 1 repeat (< 60 s)

The phantom archive is generated once by ``radcurate.demo.generate_archive`` and cached under
``.bench/`` (keyed by patients and seed). Files are read once, untimed, before
the runs so every engine starts from a warm page cache. Each repeat gets a fresh
SQLite file, a fresh PostgreSQL database (on the server of
``$RADCURATE_TEST_PG_URL``) and a fresh Orthanc. Wall time is the whole command
(``radcurate ingest`` start to exit; for Orthanc the upload until its last
answer); peak RSS is the sum over the process tree (parent and workers),
sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orthanc import CLIENT_AET, OrthancHandle, orthanc_available, running_orthanc

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
STORESCU = Path("/usr/bin/storescu")  # not the venv's pynetdicom script of the same name
TARGET_RATE = 2000.0  # instances/s, embedded catalog
TARGET_RSS_MIB = 1024.0
SMOKE_PATIENTS = 2
_GENERATE = (
    "import sys; from pathlib import Path; from radcurate.demo import generate_archive; "
    "generate_archive(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))"
)
#: transfer syntax UID -> the storescu option that proposes it ("" = default proposal)
STORESCU_SYNTAX_FLAGS = {
    "1.2.840.10008.1.2": "",
    "1.2.840.10008.1.2.1": "",
    "1.2.840.10008.1.2.2": "",
    "1.2.840.10008.1.2.1.99": "-xd",
    "1.2.840.10008.1.2.4.50": "-xy",
    "1.2.840.10008.1.2.4.51": "-xx",
    "1.2.840.10008.1.2.4.70": "-xs",
    "1.2.840.10008.1.2.4.80": "-xt",
    "1.2.840.10008.1.2.4.81": "-xu",
    "1.2.840.10008.1.2.4.90": "-xv",
    "1.2.840.10008.1.2.4.91": "-xw",
    "1.2.840.10008.1.2.5": "-xr",
}


# ----------------------------------------------------------------------------- archive


@dataclass(frozen=True)
class Archive:
    """A cached phantom archive and what is in it."""

    path: Path
    patients: int | None
    files: int
    bytes: int
    #: transfer syntax UID -> files (relative paths), for uploads per syntax
    syntaxes: dict[str, list[str]]


def prepare_archive(instances: int, seed: int, smoke: bool, given: Path | None) -> Archive:
    """The archive to ingest: the one given, the smoke one, or >= ``instances`` instances."""
    if given is not None:
        return _describe(given.resolve(), None, CACHE / f"given-{_slug(given)}.json")
    if smoke:
        return _generated(SMOKE_PATIENTS, seed)
    small = _generated(SMOKE_PATIENTS, seed)
    per_patient = max(small.files / SMOKE_PATIENTS, 1.0)
    patients = math.ceil(instances / per_patient * 1.05)
    while True:
        archive = _generated(patients, seed)
        if archive.files >= instances:
            return archive
        patients = math.ceil(patients * instances / max(archive.files, 1) * 1.05) + 1


def _generated(patients: int, seed: int) -> Archive:
    CACHE.mkdir(exist_ok=True)
    target = CACHE / f"archive-p{patients}-s{seed}"
    marker = CACHE / f"archive-p{patients}-s{seed}.json"
    if not target.is_dir():
        scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=CACHE))
        try:
            print(f"generating a phantom archive: {patients} patients, seed {seed} ...", flush=True)
            started = time.monotonic()
            # the generator's API (what `radcurate demo` calls), in a child: its memory is not ours
            _run_checked([sys.executable, "-c", _GENERATE, str(scratch), str(patients), str(seed)])
            print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
            with contextlib.suppress(OSError):  # another run finished first: use theirs
                scratch.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _describe(target, patients, marker)


def _describe(path: Path, patients: int | None, marker: Path) -> Archive:
    """Count files and group them by transfer syntax (cached beside the archive)."""
    if marker.is_file():
        data = json.loads(marker.read_text())
        if data.get("path") == str(path):
            return Archive(path, patients, data["files"], data["bytes"], data["syntaxes"])
    from pydicom.filereader import read_file_meta_info

    syntaxes: dict[str, list[str]] = {}
    total = count = 0
    for file in _files(path):
        count += 1
        total += file.stat().st_size
        try:
            syntax = str(read_file_meta_info(file).TransferSyntaxUID)
        except Exception:  # noqa: BLE001  # not DICOM (DICOMDIR is, README files are not)
            syntax = "unreadable"
        syntaxes.setdefault(syntax, []).append(str(file.relative_to(path)))
    CACHE.mkdir(exist_ok=True)
    marker.write_text(
        json.dumps({"path": str(path), "files": count, "bytes": total, "syntaxes": syntaxes})
    )
    return Archive(path, patients, count, total, syntaxes)


def _files(path: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(path):
        for name in sorted(names):
            yield Path(folder, name)


def _slug(path: Path) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, str(path.resolve())).hex[:12]


def warm_page_cache(archive: Archive) -> float:
    """Read every file once (untimed for the engines) so all of them start warm."""
    started = time.monotonic()
    for file in _files(archive.path):
        with file.open("rb") as handle:
            while handle.read(1 << 20):
                pass
    return time.monotonic() - started


# ----------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One timed run of one engine."""

    seconds: float
    instances: int
    peak_rss_mib: float
    reported_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.instances / self.seconds if self.seconds > 0 else 0.0


@dataclass
class EngineResult:
    """All runs of one engine, or why it was skipped."""

    engine: str
    method: str
    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None

    @property
    def median_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def median_rate(self) -> float:
        return statistics.median(r.rate for r in self.runs)

    @property
    def peak_rss_mib(self) -> float:
        return max(r.peak_rss_mib for r in self.runs)

    @property
    def instances(self) -> int:
        return max(r.instances for r in self.runs)


class TreeRssSampler:
    """Peak resident memory of process trees (roots and all descendants), polled."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.roots: list[int] = []
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    def _loop(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            total = sum(_rss_pages(pid) for pid in _tree(self.roots)) * page
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)


def _tree(roots: list[int]) -> set[int]:
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for task in _listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                todo.extend(
                    int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                )
    return seen


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _rss_pages(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``command``; return (wall seconds, peak tree RSS MiB, stdout)."""
    with TreeRssSampler() as sampler:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        sampler.roots.append(process.pid)
        out, err = process.communicate()
        seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{err[-3000:]}")
    return seconds, sampler.peak_mib, out


# ----------------------------------------------------------------------------- engines


def _radcurate() -> str:
    beside = Path(sys.executable).with_name("radcurate")
    return str(beside) if beside.is_file() else shutil.which("radcurate") or "radcurate"


def _ingest_command(archive: Archive, catalog_url: str, workers: int | None) -> list[str]:
    command = [_radcurate(), "ingest", str(archive.path), "--catalog", catalog_url]
    command += ["--json", "--quiet"]
    if workers:
        command += ["--workers", str(workers)]
    return command


def _radcurate_run(archive: Archive, catalog_url: str, workers: int | None) -> Run:
    seconds, rss, out = _timed(_ingest_command(archive, catalog_url, workers))
    report = json.loads(out)["run"]
    return Run(seconds, int(report["new_instances"]), rss, float(report["seconds"]))


def bench_sqlite(archive: Archive, repeats: int, workers: int | None) -> EngineResult:
    result = EngineResult("sqlite", "radcurate ingest (embedded SQLite)")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="radcurate-bench-") as scratch:
            url = f"sqlite:///{Path(scratch, 'catalog.sqlite')}"
            result.runs.append(_radcurate_run(archive, url, workers))
    return result


def bench_postgresql(archive: Archive, repeats: int, workers: int | None) -> EngineResult:
    result = EngineResult("postgresql", "radcurate ingest (PostgreSQL)")
    server = os.environ.get("RADCURATE_TEST_PG_URL")
    if not server:
        result.skipped = "RADCURATE_TEST_PG_URL is not set (scripts/test-env.sh writes it)"
        return result
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        result.skipped = "psycopg is not installed (pip install -e '.[postgres]')"
        return result
    for _ in range(repeats):
        name = f"radcurate_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                parts = urlsplit(server)
                url = urlunsplit(parts._replace(path=f"/{name}"))
                result.runs.append(_radcurate_run(archive, url, workers))
            finally:
                _drop_database(admin, name)
    return result


def _drop_database(admin: Any, name: str) -> None:
    """DROP ... WITH (FORCE), retried while an autovacuum worker holds the new database: the
    bench's role may not terminate it ("must be a member of the role whose process is being
    terminated", CI 2026-12-05); it leaves within seconds."""
    import psycopg
    from psycopg import sql

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    for attempt in range(40):
        try:
            admin.execute(drop)
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == 39:
                raise
            time.sleep(0.25)


def bench_orthanc(archive: Archive, repeats: int, method: str) -> EngineResult:
    label = {
        "storescu": "DCMTK storescu C-STORE, one association per transfer syntax",
        "rest": "REST POST /instances, 4 threads",
    }[method]
    result = EngineResult("orthanc", f"Orthanc 1.10 ({label})")
    reason = orthanc_available() or (
        None if method == "rest" or STORESCU.is_file() else f"{STORESCU} is missing (dcmtk)"
    )
    if reason:
        result.skipped = reason
        return result
    upload = _upload_storescu if method == "storescu" else _upload_rest
    for _ in range(repeats):
        with running_orthanc() as pacs, TreeRssSampler() as sampler:
            sampler.roots.append(pacs.pid)
            started = time.perf_counter()
            upload(pacs, archive, sampler)
            seconds = time.perf_counter() - started
            stored = pacs.instance_count()
        result.runs.append(Run(seconds, stored, sampler.peak_mib))
    return result


def _upload_storescu(pacs: OrthancHandle, archive: Archive, sampler: TreeRssSampler) -> None:
    """One storescu per transfer syntax, proposing that syntax; REST for any other syntax."""
    env = os.environ | {"TCP_NODELAY": "1"}
    leftovers: list[str] = []
    for syntax, files in sorted(archive.syntaxes.items()):
        flag = STORESCU_SYNTAX_FLAGS.get(syntax)
        if flag is None:
            if syntax != "unreadable":
                leftovers.extend(files)
            continue
        # file names go on the command line (no list-file option): a few thousand per call
        for chunk in _chunks(files, 2000):
            command = [str(STORESCU), "-aet", CLIENT_AET, "-aec", pacs.aet, "-nh", "-q"]
            command += [flag] if flag else []
            command += [pacs.host, str(pacs.dicom_port)]
            command += [str(archive.path / f) for f in chunk]
            process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
            sampler.roots.append(process.pid)
            _, err = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"storescu exited with {process.returncode}: {err[-2000:]}")
    if leftovers:
        _post_files(pacs, archive, leftovers)


def _upload_rest(pacs: OrthancHandle, archive: Archive, sampler: TreeRssSampler) -> None:
    files = [
        f for syntax, names in archive.syntaxes.items() if syntax != "unreadable" for f in names
    ]
    _post_files(pacs, archive, files)


def _post_files(pacs: OrthancHandle, archive: Archive, files: list[str]) -> None:
    def post(name: str) -> None:
        try:
            pacs.post("/instances", (archive.path / name).read_bytes())
        except urllib.error.HTTPError as error:
            if not 400 <= error.code < 500:  # Orthanc rejects the file: go on, as storescu -nh
                raise

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(post, files):
            pass


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _run_checked(command: list[str]) -> None:
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{process.stdout}")


# ----------------------------------------------------------------------------- report


def report(archive: Archive, results: list[EngineResult], smoke: bool) -> dict[str, Any]:
    """Print the table and targets; return the figures as a JSON-able dict."""
    done = [r for r in results if r.runs]
    orthanc = next((r for r in done if r.engine == "orthanc"), None)
    size_mib = archive.bytes / 2**20
    print()
    print(f"archive: {archive.path} — {archive.files} files, {size_mib:.0f} MiB")
    header = f"{'engine':<11} {'instances':>9} {'median s':>9} {'inst/s':>8} "
    header += f"{'peak RSS MiB':>12} {'vs Orthanc':>10}  method"
    print(header)
    print("-" * len(header))
    figures: dict[str, Any] = {}
    for r in results:
        if r.skipped:
            print(f"{r.engine:<11} skipped: {r.skipped}")
            figures[r.engine] = {"skipped": r.skipped}
            continue
        ratio = r.median_rate / orthanc.median_rate if orthanc and orthanc.median_rate else None
        shown = f"{ratio:.1f}x" if ratio is not None else "n/a"
        print(
            f"{r.engine:<11} {r.instances:>9} {r.median_seconds:>9.2f} {r.median_rate:>8.0f} "
            f"{r.peak_rss_mib:>12.0f} {shown:>10}  {r.method}"
        )
        figures[r.engine] = {
            "method": r.method,
            "instances": r.instances,
            "median_seconds": round(r.median_seconds, 3),
            "median_instances_per_second": round(r.median_rate, 1),
            "peak_rss_mib": round(r.peak_rss_mib, 1),
            "ratio_vs_orthanc": round(ratio, 2) if ratio is not None else None,
            "runs": [asdict(run) for run in r.runs],
        }
    print()
    verdicts: dict[str, str] = {}
    note = " (smoke run: too small to judge)" if smoke else ""
    sqlite = next((r for r in done if r.engine == "sqlite"), None)
    if sqlite:
        ok = sqlite.median_rate >= TARGET_RATE
        verdicts["embedded_rate"] = "PASS" if ok else "MISS"
        print(
            f"target: embedded ingest >= {TARGET_RATE:,.0f} instances/s: "
            f"{sqlite.median_rate:,.0f} -> {verdicts['embedded_rate']}{note}"
        )
    for r in done:
        if r.engine == "orthanc":
            continue
        ok = r.peak_rss_mib <= TARGET_RSS_MIB
        verdicts[f"{r.engine}_rss"] = "PASS" if ok else "MISS"
        print(
            f"target: peak RSS <= {TARGET_RSS_MIB:,.0f} MiB ({r.engine}): "
            f"{r.peak_rss_mib:,.0f} -> {verdicts[f'{r.engine}_rss']}{note}"
        )
    return {
        "archive": {
            "path": str(archive.path),
            "patients": archive.patients,
            "files": archive.files,
            "bytes": archive.bytes,
            "transfer_syntaxes": {k: len(v) for k, v in archive.syntaxes.items()},
        },
        "cpu_count": os.cpu_count(),
        "smoke": smoke,
        "engines": figures,
        "targets": {"embedded_instances_per_second": TARGET_RATE, "peak_rss_mib": TARGET_RSS_MIB},
        "verdicts": verdicts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=20_000, help="at least this many")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny archive, 1 repeat")
    parser.add_argument("--archive", type=Path, help="ingest this folder instead of a phantom")
    parser.add_argument("--workers", type=int, help="radcurate ingest --workers (default: all)")
    parser.add_argument(
        "--engines", default="sqlite,postgresql,orthanc", help="comma-separated subset"
    )
    parser.add_argument("--orthanc-upload", choices=["storescu", "rest"], default="storescu")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats

    archive = prepare_archive(args.instances, args.seed, args.smoke, args.archive)
    print(f"warming the page cache: {archive.files} files ...", flush=True)
    print(f"  read in {warm_page_cache(archive):.1f} s", flush=True)

    benches: dict[str, Callable[[], EngineResult]] = {
        "sqlite": lambda: bench_sqlite(archive, repeats, args.workers),
        "postgresql": lambda: bench_postgresql(archive, repeats, args.workers),
        "orthanc": lambda: bench_orthanc(archive, repeats, args.orthanc_upload),
    }
    results = []
    for engine in args.engines.split(","):
        print(f"benchmarking {engine} ({repeats} repeat{'s' * (repeats != 1)}) ...", flush=True)
        results.append(benches[engine.strip()]())
    figures = report(archive, results, args.smoke)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
