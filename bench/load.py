"""Load benchmark: 16 concurrent clients against a real ``radcurate serve`` while an ingest runs.

One command::

    .venv/bin/python bench/load.py                          # 1,000,000 series, 60 s, SQLite
    .venv/bin/python bench/load.py --series 200000 --seconds 30 --pg "$RADCURATE_TEST_PG_URL"
    .venv/bin/python bench/load.py --smoke                  # tiny, seconds

The catalog is the IDC corpus of ``bench/search.py`` through the cached,
DICOM-only catalog builder of ``bench/results.py`` (a working copy per run).
Per engine a ``radcurate serve`` process opens it; once it answers, a demo
archive (``radcurate demo``, written beforehand) is ingested into the same
catalog by ``radcurate ingest`` while ``--clients`` threads, each with its own
httpx client, send a realistic mix for ``--seconds``: searches with sorts and
their next pages, counts, six-chart dashboards (``POST /api/aggregate``),
value autocomplete; free text, wildcards, private-tag and sequence terms.
Reported per request kind: count, p50 and p99 latency; overall requests/s,
5xx answers, other errors and dropped connections (transport errors), with
the ratio of p50 and p99 to their targets (SQLite: p50 100 ms, p99 1 s); and
the requests sent while the ingest ran apart from those sent after it.

The server keeps answers while its index is unchanged (catalog/index/answers.py),
and this mix repeats its queries: ``--baseline`` runs SQLite a second time with
``RADCURATE_ANSWER_CACHE=0`` (every answer computed) and prints both side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from results import drop_catalog, prepare_catalog

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = "import sys; from radcurate.cli import main; main(sys.argv[1:])"
TARGET_P50_MS, TARGET_P99_MS = 100.0, 1000.0

QUERIES = [
    "Modality:CT", "Modality:(CT OR MR) BodyPartExamined:CHEST", "lung", "liver tumor",
    "SeriesDescription:*axial*", "Manufacturer:SIEM*", "StudyDate:[2010 TO 2015]",
    "age_years:>60 PatientSex:F", "ConvolutionKernel:B30f", "InstitutionName:*",
    "(0009,0010):*", "0008103E:T2*", "ReferencedImageSequence.ReferencedSOPClassUID:*",
    "SliceThickness:<2", "NOT Modality:CT", "*",
]  # fmt: skip
SORTS = [None, "-StudyDate", "SeriesDescription", "-instance_count", "Modality"]
DASHBOARD = [
    {"field": "Modality", "type": "terms"},
    {"field": "BodyPartExamined", "type": "terms"},
    {"field": "Manufacturer", "type": "terms"},
    {"field": "age_years", "type": "histogram"},
    {"field": "StudyDate", "type": "date_histogram", "interval": "year"},
    {"field": "SliceThickness", "type": "histogram"},
]
AUTOCOMPLETE = [("Modality", "C"), ("Manufacturer", "GE"), ("BodyPartExamined", "ch"),
                ("SeriesDescription", "ax"), ("InstitutionName", "")]  # fmt: skip
#: request kind -> weight in the mix
MIX = {"search": 30, "next_page": 15, "count": 20, "dashboard": 10, "autocomplete": 25}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    url: str, home: Path, timeout: float, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """A ``radcurate serve`` process on a free port, polled until ``/api/info`` answers."""
    port = _free_port()
    env = {**os.environ, "RADCURATE_HOME": str(home), "RADCURATE_CATALOG": "", **(extra_env or {})}
    # the IDC corpus has no files: the thumbnail job a server starts with would try (and
    # fail) to render every one of its series for the whole run, writing a result for each
    env["RADCURATE_BACKGROUND_THUMBNAILS"] = "0"
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "serve", "--catalog", url, "--port", str(port),
         "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"radcurate serve exited: {process.communicate()[1][-2000:]}")
        try:
            if httpx.get(f"{base}/api/info", timeout=30).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"radcurate serve did not answer in {timeout:.0f} s")
        time.sleep(0.5)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process (the clients) and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Recorder:
    """Latencies per kind, status classes and dropped connections, shared by the clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        #: (monotonic start, seconds) of every answered request
        self.timeline: list[tuple[float, float]] = []
        #: (seconds, monotonic start, what was asked) of every answered request
        self.asked: list[tuple[float, float, str]] = []
        self.server_errors: list[str] = []
        self.other_errors: list[str] = []
        self.dropped: list[str] = []

    def record(
        self,
        kind: str,
        seconds: float,
        status: int | None,
        detail: str = "",
        start: float = 0.0,
        asked: str = "",
    ) -> None:
        with self.lock:
            if status is None:
                self.dropped.append(f"{kind}: {detail}")
                return
            self.latencies[kind].append(seconds)
            self.timeline.append((start, seconds))
            self.asked.append((seconds, start, f"{kind} {asked}"))
            if status >= 500:
                self.server_errors.append(f"{kind} {status}: {detail[:200]}")
            elif status >= 400:
                self.other_errors.append(f"{kind} {status}: {detail[:200]}")


def client_loop(base: str, until: float, seed: int, recorder: Recorder) -> None:
    """One client: weighted random requests until ``until`` (monotonic)."""
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    cursor: str | None = None
    last_query, last_sort = "*", None
    with httpx.Client(base_url=base, timeout=60) as http:
        while time.monotonic() < until:
            kind = rng.choices(kinds, weights)[0]
            if kind == "next_page" and not cursor:
                kind = "search"
            sort = rng.choice(SORTS)
            request: tuple[str, str, dict[str, Any]]
            if kind == "search":
                last_query, last_sort, cursor = rng.choice(QUERIES), sort, None
                params = {"q": last_query, "limit": 50, **({"sort": sort} if sort else {})}
                request = ("GET", "/api/search", {"params": params})
            elif kind == "next_page":
                params = {"q": last_query, "limit": 50, "cursor": cursor,
                          **({"sort": last_sort} if last_sort else {})}  # fmt: skip
                request = ("GET", "/api/search", {"params": params})
            elif kind == "count":
                request = ("GET", "/api/count", {"params": {"q": rng.choice(QUERIES)}})
            elif kind == "dashboard":
                body = {"query": rng.choice(QUERIES), "aggregations": DASHBOARD}
                request = ("POST", "/api/aggregate", {"json": body})
            else:
                field, prefix = rng.choice(AUTOCOMPLETE)
                params = {"field": field, "prefix": prefix, "q": rng.choice(QUERIES), "limit": 10}
                request = ("GET", "/api/autocomplete/values", {"params": params})
            method, path, kwargs = request
            began = time.monotonic()
            start = time.perf_counter()
            try:
                response = http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                recorder.record(kind, time.perf_counter() - start, None, type(exc).__name__)
                continue
            detail = response.text if response.status_code >= 400 else ""
            asked = json.dumps(kwargs.get("params") or kwargs.get("json", {}).get("query"))
            seconds = time.perf_counter() - start
            recorder.record(kind, seconds, response.status_code, detail, began, asked)
            if kind in ("search", "next_page") and response.status_code == 200:
                cursor = response.json().get("next_cursor")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _phase(timeline: list[tuple[float, float]]) -> dict[str, float]:
    latencies = [seconds for _, seconds in timeline]
    return {
        "requests": len(latencies),
        "p50_ms": _percentile(latencies, 0.50) if latencies else 0.0,
        "p99_ms": _percentile(latencies, 0.99) if latencies else 0.0,
    }


def run_engine(
    url: str, args: argparse.Namespace, demo: Path, work: Path, extra_env: dict[str, str]
) -> dict[str, Any]:
    """Serve ``url``, ingest the demo beside the clients, and return the figures."""
    started = time.perf_counter()
    server, base = start_server(url, work / "home", args.start_timeout, extra_env)
    startup = time.perf_counter() - started
    recorder = Recorder()
    try:
        httpx.get(f"{base}/api/search", params={"q": "*", "limit": 1}, timeout=120)  # warm
        server_cpu_before = _cpu_seconds(server.pid)
        clients_cpu_before, children_cpu_before = _own_cpu_seconds()
        ingest = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "ingest", "--catalog", url, "--quiet",
             "--no-thumbnails", "--workers", "1", "--json", str(demo)],
            env={**os.environ, "RADCURATE_HOME": str(work / "home")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        begin = time.monotonic()
        until = begin + args.seconds
        ingest_done: list[tuple[str, str, float]] = []
        waiter = threading.Thread(
            target=lambda: ingest_done.append((*ingest.communicate(), time.monotonic() - begin))
        )
        waiter.start()
        threads = [
            threading.Thread(target=client_loop, args=(base, until, args.seed + n, recorder))
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - begin
        server_cpu = _cpu_seconds(server.pid) - server_cpu_before
        clients_cpu = _own_cpu_seconds()[0] - clients_cpu_before
        waiter.join(timeout=max(600.0, args.seconds * 10))
        ingest_out, ingest_err, ingest_seconds = ingest_done[0]
        ingest_cpu = _own_cpu_seconds()[1] - children_cpu_before
    finally:
        stop(server)
    if ingest.returncode != 0:
        raise SystemExit(f"radcurate ingest failed: {ingest_err[-2000:]}")
    kinds = {
        kind: {
            "requests": len(values),
            "p50_ms": _percentile(values, 0.50),
            "p99_ms": _percentile(values, 0.99),
        }
        for kind, values in sorted(recorder.latencies.items())
    }
    every = [value for values in recorder.latencies.values() for value in values]
    ingest_end = begin + ingest_seconds
    phases = {
        "while_ingesting": _phase([t for t in recorder.timeline if t[0] < ingest_end]),
        "after_ingest": _phase([t for t in recorder.timeline if t[0] >= ingest_end]),
    }
    total = len(every) + len(recorder.dropped)
    return {
        "server_start_seconds": startup,
        "seconds": elapsed,
        "requests": total,
        "requests_per_second": total / elapsed if elapsed else 0.0,
        "p50_ms": _percentile(every, 0.50) if every else 0.0,
        "p99_ms": _percentile(every, 0.99) if every else 0.0,
        "server_errors": len(recorder.server_errors),
        "client_errors": len(recorder.other_errors),
        "dropped": len(recorder.dropped),
        "kinds": kinds,
        "phases": phases,
        "slowest": [
            {"ms": 1000 * seconds, "at_s": at - begin, "request": asked}
            for seconds, at, asked in sorted(recorder.asked, reverse=True)[:30]
        ],
        "error_samples": sorted(set(recorder.server_errors + recorder.other_errors))[:10],
        "dropped_samples": sorted(set(recorder.dropped))[:10],
        "ingest": {
            "seconds": ingest_seconds,
            "summary": _json_or_text(ingest_out),
            "cpu_seconds": ingest_cpu,
        },
        # where the two cores went during the run (the clients are this process's threads)
        "cpu_seconds": {"server": server_cpu, "clients": clients_cpu, "ingest": ingest_cpu},
        "server_cpu_ms_per_request": 1000 * server_cpu / total if total else 0.0,
    }


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text[-500:]


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [f"load: {args.series:,} series, {args.clients} clients, {args.seconds:.0f} s, "
             f"ingest of a {args.patients}-patient demo beside them"]  # fmt: skip
    for engine, r in results.items():
        lines.append(
            f"{engine}: {r['requests']} requests, {r['requests_per_second']:.1f}/s, "
            f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; 5xx {r['server_errors']}, "
            f"4xx {r['client_errors']}, dropped {r['dropped']}; "
            f"ingest {r['ingest']['seconds']:.0f} s"
        )
        cpu = r["cpu_seconds"]
        lines.append(
            f"  CPU seconds in the {r['seconds']:.0f} s: server {cpu['server']:.1f} "
            f"({r['server_cpu_ms_per_request']:.1f} ms a request), clients "
            f"{cpu['clients']:.1f}, ingest {cpu['ingest']:.1f} (of "
            f"{(os.cpu_count() or 1) * r['seconds']:.0f} on {os.cpu_count()} CPUs)"
        )
        for kind, k in r["kinds"].items():
            lines.append(f"  {kind:<13} {k['requests']:>6}  p50 {k['p50_ms']:>7.0f} ms"
                         f"  p99 {k['p99_ms']:>7.0f} ms")  # fmt: skip
        for phase, k in r["phases"].items():
            lines.append(f"  {phase.replace('_', ' '):<16} {k['requests']:>6}  p50 "
                         f"{k['p50_ms']:>7.0f} ms  p99 {k['p99_ms']:>7.0f} ms")  # fmt: skip
        if engine.startswith("sqlite"):
            lines.append(f"  ratio to target: p50 {r['p50_ms'] / TARGET_P50_MS:.2f}x "
                         f"(<= 1 passes), p99 {r['p99_ms'] / TARGET_P99_MS:.2f}x")  # fmt: skip
        for sample in r["error_samples"] + r["dropped_samples"]:
            lines.append(f"  ! {sample}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--patients", type=int, default=100, help="demo patients ingested")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg", help="also run on PostgreSQL (a server URL; databases made there)")
    parser.add_argument("--fresh", action="store_true", help="reload the DICOM-only catalogs")
    parser.add_argument("--start-timeout", type=float, default=1800.0)
    parser.add_argument("--smoke", action="store_true", help="2,000 series, 4 clients, 5 s")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--baseline", action="store_true",
        help="also run SQLite with RADCURATE_ANSWER_CACHE=0 (every answer computed)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.smoke:
        args.series, args.seconds, args.clients, args.patients = 2_000, 5.0, 4, 1
    with tempfile.TemporaryDirectory(prefix="radcurate-load-") as tmp:
        work = Path(tmp)
        demo = work / "demo"
        subprocess.run([sys.executable, "-c", LAUNCH, "demo", "--out", str(demo),
                        "--patients", str(args.patients), "--seed", str(args.seed)],
                       check=True, capture_output=True)  # fmt: skip
        results: dict[str, dict[str, Any]] = {}
        runs: list[tuple[str, str, dict[str, str]]] = [("sqlite", "sqlite", {})]
        if args.baseline:
            runs.append(("sqlite", "sqlite, no answer cache", {"RADCURATE_ANSWER_CACHE": "0"}))
        if args.pg:
            runs.append(("postgresql", "postgresql", {}))
        for n, (backend, name, extra_env) in enumerate(runs):
            url = prepare_catalog(backend, args.series, args.seed, args.pg, args.fresh)
            try:
                results[name] = run_engine(url, args, demo, work / f"run{n}", extra_env)
            finally:
                drop_catalog(url, args.pg)
    print(report(results, args))
    if args.baseline:
        cached, baseline = results["sqlite"], results["sqlite, no answer cache"]
        rate = cached["requests_per_second"] / max(baseline["requests_per_second"], 1e-9)
        print(
            f"answer cache against none: requests/s {rate:.2f}x, "
            f"p50 {baseline['p50_ms'] / max(cached['p50_ms'], 1e-9):.2f}x lower, "
            f"p99 {baseline['p99_ms'] / max(cached['p99_ms'], 1e-9):.2f}x lower"
        )
    if args.json:
        figures = {"series": args.series, "clients": args.clients, "seconds": args.seconds,
                   "engines": results}  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
