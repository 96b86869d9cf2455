"""Curation benchmark: bulk tagging, dataset membership, freezing, ``tag:X dataset:Y`` counts.

One command::

    .venv/bin/python bench/curation.py                    # 1,000,000 series, 3 repeats
    .venv/bin/python bench/curation.py --series 2000 --repeats 1   # smoke

A synthetic catalog of N series (one instance each) is written straight into
the tables with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL), much faster
than ingest. ``SeriesNumber`` is ``i % 10``, so the selection
``SeriesNumber:3`` holds N/10 series (100,000 of 1,000,000). Each repeat:

* **tag**: ``tag_series`` of that selection (selection resolution included; the
  resolution alone is reported as ``resolve``), after untagging (``untag``);
* **add**: ``add_to_dataset`` of the same selection minus one series that
  differs per repeat (so every freeze is a new version), after emptying it;
* **freeze**: ``freeze_dataset`` (membership + SOP UIDs + sha256);
* **count**: ``count("tag:bench dataset:bench")``.

Medians over the repeats, per engine (SQLite in a temporary file; PostgreSQL in
a fresh database on ``$RADCURATE_TEST_PG_URL``'s server, skipped without it).
The issue's target: tagging/adding 100,000 series in at most 2 s on SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.catalog.curation import Selection
from radcurate.catalog.rows import dumps
from radcurate.catalog.sql import SQLCatalog

TARGET_SECONDS = 2.0
STUDY = "1.2.826.0.1.3680043.99"
MODALITIES = ("CT", "MR", "PT", "CR", "US")
QUERY = "SeriesNumber:3"
FIELDS = (
    ("SeriesInstanceUID", "keyword"),
    ("StudyInstanceUID", "keyword"),
    ("Modality", "keyword"),
    ("SeriesNumber", "number"),
    ("instance_count", "number"),
)


def series_uid(i: int) -> str:
    """The SeriesInstanceUID of synthetic series ``i``."""
    return f"{STUDY}.{i}"


def _rows(n: int, now: float) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    for i in range(n):
        uid = series_uid(i)
        study = f"{STUDY}.s{i // 4}"
        modality = MODALITIES[i % len(MODALITIES)]
        header = {
            "SeriesInstanceUID": uid,
            "StudyInstanceUID": study,
            "Modality": modality,
            "SeriesNumber": i % 10,
        }
        source = f"/synthetic/{i // 1000}/{i}.dcm"
        series = (
            uid,
            study,
            f"P{i // 40}",
            modality,
            dumps(header),
            source,
            dumps({"instance_count": 1}),
            1,
            0,
            now,
            now,
        )
        instance = (
            source,
            os.path.dirname(source),
            source,
            1000,
            1,
            study,
            uid,
            f"{uid}.1",
            "1.2.840.10008.5.1.4.1.1.2",
            1,
        )
        yield series, instance


_SERIES_COLS = (
    "series_uid, study_uid, patient_id, modality, header, header_source, facts, "
    "instance_count, dirty, created_at, updated_at"
)
_INSTANCE_COLS = (
    "source, source_dir, location, size, mtime_ns, study_uid, series_uid, sop_uid, "
    "sop_class_uid, instance_number"
)


def load_synthetic(catalog: CatalogBackend, n: int, batch: int = 50_000) -> float:
    """Write ``n`` series (one instance each) and the field registry; returns seconds."""
    assert isinstance(catalog, SQLCatalog)
    start = time.perf_counter()
    now = time.time()
    rows = _rows(n, now)
    if catalog.dialect == "postgresql":
        with catalog._transaction() as cur:
            buf_s, buf_i = io.StringIO(), io.StringIO()
            for s, i in rows:
                buf_s.write("\t".join(str(v).replace("\\", "\\\\") for v in s) + "\n")
                buf_i.write("\t".join(str(v) for v in i) + "\n")
            with cur.copy(f"COPY series ({_SERIES_COLS}) FROM STDIN") as copy:
                copy.write(buf_s.getvalue())
            with cur.copy(f"COPY instances ({_INSTANCE_COLS}) FROM STDIN") as copy:
                copy.write(buf_i.getvalue())
    else:
        done = False
        while not done:
            chunk_s, chunk_i = [], []
            for s, i in rows:
                chunk_s.append(s)
                chunk_i.append(i)
                if len(chunk_s) >= batch:
                    break
            else:
                done = True
            if not chunk_s:
                break
            with catalog._transaction() as cur:
                cur.executemany(
                    f"INSERT INTO series ({_SERIES_COLS}) VALUES ({','.join('?' * 11)})", chunk_s
                )
                cur.executemany(
                    f"INSERT INTO instances ({_INSTANCE_COLS}) VALUES ({','.join('?' * 10)})",
                    chunk_i,
                )
    with catalog._transaction() as cur:
        cur.executemany(
            catalog._sql("INSERT INTO fields (name, type, series_count) VALUES (?, ?, ?)"),
            [(name, kind, n) for name, kind in FIELDS],
        )
    if catalog.dialect == "postgresql":
        with catalog._transaction() as cur:
            cur.execute("ANALYZE")
    return time.perf_counter() - start


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def run_engine(url: str, n: int, repeats: int) -> dict[str, Any]:
    """Load ``n`` series into the catalog at ``url`` and time the curation steps."""
    with open_catalog(url) as catalog:
        load_s = load_synthetic(catalog, n)
        warm_s, _ = timed(lambda: catalog.count("*"))  # builds in-memory search state, if any
        expected = n // 10
        catalog.create_dataset("bench")
        steps: dict[str, list[float]] = {
            k: [] for k in ("resolve", "tag", "untag", "add", "remove", "freeze", "count")
        }
        everything = Selection.of(QUERY)
        for r in range(repeats):
            t, uids = timed(lambda: catalog.series_uids(QUERY))
            assert len(uids) == expected, (len(uids), expected)
            steps["resolve"].append(t)
            t, res = timed(lambda: catalog.tag_series("bench", everything))
            assert res.changed == expected, res
            steps["tag"].append(t)
            # the dataset: this repeat's selection minus one series of its own
            sel = Selection.of(QUERY, exclude=[series_uid(3 + 10 * r)])
            t, res = timed(catalog.add_to_dataset, "bench", sel)
            assert res.changed == expected - 1, res
            steps["add"].append(t)
            t, version = timed(catalog.freeze_dataset, "bench", note=f"repeat {r}")
            assert version.created and version.series_count == expected - 1
            steps["freeze"].append(t)
            t, count = timed(lambda: catalog.count("tag:bench dataset:bench"))
            assert count == expected - 1, count
            steps["count"].append(t)
            if r < repeats - 1 or repeats == 1:
                t, res = timed(lambda: catalog.untag_series("bench", everything))
                assert res.changed == expected
                steps["untag"].append(t)
                t, res = timed(lambda: catalog.remove_from_dataset("bench", everything))
                assert res.changed == expected - 1
                steps["remove"].append(t)
        return {
            "series": n,
            "selected": expected,
            "load_seconds": round(load_s, 2),
            "first_query_seconds": round(warm_s, 3),
            "median_seconds": {k: round(statistics.median(v), 3) for k, v in steps.items() if v},
            "all_seconds": {k: [round(x, 3) for x in v] for k, v in steps.items()},
        }


@contextlib.contextmanager
def pg_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database on the test server, dropped afterwards (None without one)."""
    admin = os.environ.get("RADCURATE_TEST_PG_URL")
    if not admin:
        yield None
        return
    import psycopg

    name = f"radcurate_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        # autovacuum may still be analysing the fresh rows: FORCE cannot end its worker
        # without privileges, so wait for it a little
        for attempt in range(30):
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                break
            except psycopg.Error:
                if attempt == 29:
                    raise
                time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path, default=None, help="Write the figures here.")
    args = parser.parse_args(argv)
    if args.series < 10:
        parser.error("--series must be at least 10")
    figures: dict[str, Any] = {"series": args.series, "repeats": args.repeats, "engines": {}}
    for engine in args.engines.split(","):
        print(f"{engine}: loading {args.series:,} series ...", flush=True)
        if engine == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                result = run_engine(f"sqlite:///{tmp}/bench.sqlite", args.series, args.repeats)
        elif engine == "postgresql":
            with pg_database() as url:
                if url is None:
                    figures["engines"][engine] = {"skipped": "RADCURATE_TEST_PG_URL not set"}
                    continue
                result = run_engine(url, args.series, args.repeats)
        else:
            parser.error(f"unknown engine {engine!r}")
        figures["engines"][engine] = result
        med = result["median_seconds"]
        print(
            f"{engine}: load {result['load_seconds']} s, first query "
            f"{result['first_query_seconds']} s; medians for {result['selected']:,} of "
            f"{args.series:,}: " + ", ".join(f"{k} {v} s" for k, v in med.items()),
            flush=True,
        )
    sqlite = figures["engines"].get("sqlite", {}).get("median_seconds")
    if sqlite:
        worst = max(sqlite["tag"], sqlite["add"])
        verdict = "met" if worst <= TARGET_SECONDS else "MISSED"
        print(
            f"target: embedded bulk tag/add of {args.series // 10:,} series <= "
            f"{TARGET_SECONDS} s: {verdict} ({worst} s)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
