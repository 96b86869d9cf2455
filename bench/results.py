"""Results benchmark: ten ai/qc/clin keys on every series of a million, written and searched.

One command::

    .venv/bin/python bench/results.py                     # 1,000,000 series, median of 5
    .venv/bin/python bench/results.py --series 200000 --repeat 3
    .venv/bin/python bench/results.py --smoke             # tiny, both engines, seconds

The series are the IDC corpus of ``bench/search.py`` (its loader, imported;
the DICOM-only catalog is cached under ``.bench/results`` and copied for each
run, so every run writes its results into a catalog that has none). Every
series gets ten result keys from seeded, plausible distributions: an AI body
part model (``ai.bodypart`` a list of regions, ``ai.bodypart_mismatch``), a
segmentation (``ai.volume_ml.lung``, ``ai.structures``), QC
(``qc.noise_hu``, ``qc.missing_slices``, ``qc.regular_volume``,
``qc.dciodvfy_errors``) and a clinical table (``clin.trial.arm``,
``clin.trial.age``), written with ``result_store.write_results`` in calls of
``--write-batch`` series (one transaction each): by one producer holding
all ten keys (the default), or with ``--producers 3`` split over the three
producers above (three result sets per series: three times the rows, and
each write checks the other producers' sets for keys it takes over).

Per engine, a fresh *server process* opens the catalog and builds its search
index (DICOM fields only) and reports its memory; then this process writes the
results (timed) and the server refreshes its index (timed: it follows the
write by change numbers, without a restart) and times each operation (one
warm-up, median of ``--repeat``): count and facet of ``ai.bodypart`` beside
the same for ``Modality``, the first page of ``ai.bodypart:chest
qc.noise_hu:>20``, and a six-chart dashboard mixing DICOM and result fields.
The count is also run once in SQL alone (index off) as a check and for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search import _ensure_pg_database, _median_ms, _rss_mib, load

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench" / "results"

RESULT_QUERY = "ai.bodypart:chest"
DICOM_QUERY = "Modality:CT"
PAGE_QUERY = "ai.bodypart:chest qc.noise_hu:>20"
DASHBOARD_QUERY = "Modality:(CT OR MR) qc.regular_volume:true"
#: figure -> (target for the embedded catalog at 1M series, unit); None: reported only.
#: PostgreSQL passes within 3x of SQLite (or under the embedded target itself).
TARGETS: dict[str, tuple[float | None, str]] = {
    "write_seconds": (60.0, "s"),
    "count_result_ms": (30.0, "ms"),
    "facet_result_ms": (30.0, "ms"),
    "first_page_result_ms": (50.0, "ms"),
    "dashboard_mixed_ms": (150.0, "ms"),
    "count_dicom_ms": (None, "ms"),
    "facet_dicom_ms": (None, "ms"),
    "index_refresh_after_write_seconds": (None, "s"),
    "index_refresh_no_change_ms": (None, "ms"),
    "count_result_sql_only_ms": (None, "ms"),
}
#: the write target is a throughput: 60 s per million series (scaled to --series)
WRITE_SECONDS_PER_MILLION = 60.0

REGIONS = ("head", "neck", "chest", "abdomen", "pelvis", "legs", "arms")
REGION_P = (0.22, 0.12, 0.45, 0.35, 0.25, 0.05, 0.03)
STRUCTURES = {
    "head": ("brain", "skull", "orbit_left", "orbit_right"),
    "neck": ("thyroid", "trachea", "esophagus", "carotid_left"),
    "chest": ("lung_left", "lung_right", "heart", "aorta", "trachea", "esophagus"),
    "abdomen": ("liver", "spleen", "kidney_left", "kidney_right", "pancreas", "stomach"),
    "pelvis": ("urinary_bladder", "prostate", "hip_left", "hip_right", "sacrum"),
    "legs": ("femur_left", "femur_right", "tibia"),
    "arms": ("humerus_left", "humerus_right"),
}
ARMS = ("A", "B", "placebo")


# -- results ------------------------------------------------------------------------------------
def result_payloads(
    count: int, seed: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """``count`` seeded ``(body part model, QC, clinical)`` payloads, ten keys in all."""
    import numpy as np

    rng = np.random.default_rng(seed)
    done = 0
    structures_of: dict[tuple[int, int], list[str]] = {}
    while done < count:
        n = min(50_000, count - done)
        regions = rng.random((n, len(REGIONS))) < np.asarray(REGION_P)
        regions[~regions.any(axis=1), 2] = True  # nothing seen: call it chest
        masks = (regions * (1 << np.arange(len(REGIONS)))).sum(axis=1).tolist()
        mismatch = (rng.random(n) < 0.07).tolist()
        lung = np.clip(rng.normal(4800, 1100, n), 1500, 9000).round().tolist()
        partial = np.clip(rng.normal(500, 300, n), 0, None).round().tolist()
        keep = rng.integers(0, 1 << 8, n).tolist()
        noise = (rng.gamma(4.0, 4.0, n) + 4).round(1).tolist()
        missing = (rng.random(n) < 0.03).tolist()
        regular = (rng.random(n) < 0.9).tolist()
        errors = (rng.poisson(0.4, n) + (rng.random(n) < 0.05) * rng.integers(1, 40, n)).tolist()
        arms = rng.choice(len(ARMS), n, p=(0.4, 0.4, 0.2)).tolist()
        ages = np.clip(rng.normal(62, 12, n), 18, 95).astype(int).tolist()
        for i in range(n):
            mask = masks[i]
            names = [r for bit, r in enumerate(REGIONS) if mask >> bit & 1]
            key = (mask, keep[i])
            found = structures_of.get(key)
            if found is None:
                pool = [s for r in names for s in STRUCTURES[r]]
                found = [s for k, s in enumerate(dict.fromkeys(pool)) if keep[i] >> (k % 8) & 1]
                structures_of[key] = found
            model = {
                "ai": {
                    "bodypart": names,
                    "bodypart_mismatch": mismatch[i],
                },
            }
            segmentation = {
                "ai": {
                    "volume_ml": {"lung": lung[i] if mask & 4 else partial[i]},
                    "structures": found,
                },
                "qc": {
                    "noise_hu": noise[i],
                    "missing_slices": missing[i],
                    "regular_volume": regular[i],
                    "dciodvfy_errors": errors[i],
                },
            }
            clinical = {"clin": {"trial": {"arm": ARMS[arms[i]], "age": ages[i]}}}
            yield model, segmentation, clinical
        done += n


def write_results(url: str, seed: int, batch: int, split: bool = False) -> dict[str, Any]:
    """Write the ten keys on every series of the catalog at ``url`` (one producer, or three
    with ``split``)."""
    from radcurate.catalog import open_catalog
    from radcurate.catalog.result_types import ResultRow, merge_payloads
    from radcurate.catalog.sql import SQLCatalog

    producers: tuple[tuple[str, str, dict[str, Any]], ...] = (
        ("bodypart-model", "2.1.0", {"model": "bpr", "threshold": 0.5}),
        ("totalseg-qc", "1.4.2", {"fast": True, "noise_roi": "air"}),
        ("clinical-import", "1", {"table": "trial.csv"}),
    )
    if not split:
        producers = (("curation-pipeline", "1.0.0", {"models": ["bpr", "totalseg"]}),)
    with open_catalog(url) as catalog:
        assert isinstance(catalog, SQLCatalog)
        uids = [str(r[0]) for r in catalog._read("SELECT series_uid FROM series ORDER BY 1")]
        store = catalog.result_store
        payloads = result_payloads(len(uids), seed)
        written = calls = 0
        prepare = write = 0.0
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            begin = time.perf_counter()
            rows: list[list[ResultRow]] = [[] for _ in producers]
            for uid, parts in zip(chunk, payloads, strict=False):
                split_parts: tuple[dict[str, Any], ...] = (
                    parts if split else (merge_payloads(parts),)
                )
                for k, payload in enumerate(split_parts):
                    rows[k].append(ResultRow(uid, payload, input_hash=uid[-12:]))
            prepare += time.perf_counter() - begin
            begin = time.perf_counter()
            for (producer, version, params), mine in zip(producers, rows, strict=True):
                summary = store.write_results(
                    mine, producer=producer, version=version, params=params,
                    job=f"bench-{producer}", actor="bench",
                )  # fmt: skip
                written += summary.written
                calls += 1
            write += time.perf_counter() - begin
            print(f"  {url.split('://')[0]}: results on {start + len(chunk):,} series",
                  file=sys.stderr)  # fmt: skip
        return {
            "write_seconds": write,
            "prepare_seconds": prepare,
            "result_sets_written": written,
            "write_calls": calls,
            "series": len(uids),
            "producers": len(producers),
        }


# -- the server process -------------------------------------------------------------------------
def _index_bytes(index: Any, names: Any) -> int:
    return sum(int(index.columns[n].codes.nbytes) for n in names)


def worker(url: str, repeat: int) -> dict[str, Any]:
    """Build the index, wait for the results to be written, then follow and time queries."""
    from radcurate.catalog import open_catalog
    from radcurate.catalog.aggregations import AggregationRequest as Agg

    out: dict[str, Any] = {"rss_start_mib": _rss_mib()}
    catalog: Any = open_catalog(url)
    start = time.perf_counter()
    index = catalog.search_index()
    out["index_build_seconds"] = time.perf_counter() - start
    out["series"] = len(index)
    out["rss_dicom_index_mib"] = _rss_mib()
    print(json.dumps({"ready": True}), flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")
    start = time.perf_counter()
    catalog.search_index()
    out["index_refresh_after_write_seconds"] = time.perf_counter() - start
    out["rss_result_index_mib"] = _rss_mib()
    out["result_columns"] = sorted(index.result_fields)
    out["result_column_code_bytes"] = _index_bytes(index, index.result_fields)
    out["result_column_distinct_values"] = {
        n: len(index.columns[n].values) for n in sorted(index.result_fields)
    }

    dashboard = [
        Agg("Modality", "terms"),
        Agg("ai.bodypart", "terms"),
        Agg("qc.noise_hu", "histogram"),
        Agg("Manufacturer", "terms"),
        Agg("clin.trial.arm", "terms"),
        Agg("StudyDate", "date_histogram"),
    ]
    timings = {
        "count_result_ms": lambda: catalog.count(RESULT_QUERY),
        "facet_result_ms": lambda: catalog.aggregate("*", [Agg("ai.bodypart", "terms")]),
        "count_dicom_ms": lambda: catalog.count(DICOM_QUERY),
        "facet_dicom_ms": lambda: catalog.aggregate("*", [Agg("Modality", "terms")]),
        "first_page_result_ms": lambda: catalog.search(PAGE_QUERY, limit=50),
        "dashboard_mixed_ms": lambda: catalog.aggregate(DASHBOARD_QUERY, dashboard),
        "index_refresh_no_change_ms": catalog.search_index,
    }
    out["figures"] = {name: _median_ms(run, repeat) for name, run in timings.items()}
    out["load_average_1min"] = os.getloadavg()[0]  # other work on the machine skews medians
    out["figures"]["index_refresh_after_write_seconds"] = out["index_refresh_after_write_seconds"]
    page = catalog.search(PAGE_QUERY, limit=50)
    facet = catalog.aggregate("*", [Agg("ai.bodypart", "terms")]).aggregations[0]
    out["checks"] = {
        "count_result": catalog.count(RESULT_QUERY),
        "count_dicom": catalog.count(DICOM_QUERY),
        "first_page_items": len(page.documents),
        "first_page_total": page.total,
        "facet_result_buckets": {str(b.key): b.count for b in facet.buckets},
        "dashboard_charts": len(catalog.aggregate(DASHBOARD_QUERY, dashboard).aggregations),
    }
    # once in SQL alone (index off): the same count, and what the index saves
    catalog.use_search_index = False
    start = time.perf_counter()
    in_sql = catalog.count(RESULT_QUERY)
    out["figures"]["count_result_sql_only_ms"] = (time.perf_counter() - start) * 1000
    assert in_sql == out["checks"]["count_result"], (in_sql, out["checks"]["count_result"])
    catalog.close()
    return out


def run_engine(url: str, repeat: int, seed: int, batch: int, split: bool) -> dict[str, Any]:
    """Start the server process, write the results while it holds its index, collect figures."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--worker", url, "--repeat", str(repeat)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        line = server.stdout.readline()
        if not line.strip().startswith("{"):
            raise SystemExit(f"the server process failed to build its index: {line!r}")
        wrote = write_results(url, seed, batch, split)
        server.stdin.write("go\n")
        server.stdin.flush()
        lines = server.stdout.read().strip().splitlines()
        if server.wait() != 0 or not lines:
            raise SystemExit("the server process failed (its stderr is above)")
    finally:
        if server.poll() is None:
            server.kill()
    out: dict[str, Any] = json.loads(lines[-1])
    out["figures"]["write_seconds"] = wrote["write_seconds"]
    out["write"] = wrote
    columns = max(1, len(out["result_columns"]))
    delta = out["rss_result_index_mib"] - out["rss_dicom_index_mib"]
    per_million = 1_000_000 / max(1, out["series"])
    out["memory"] = {
        "dicom_index_mib": out["rss_dicom_index_mib"] - out["rss_start_mib"],
        "result_columns": columns,
        "result_columns_mib": delta,
        "result_columns_mib_per_1m_series": delta * per_million,
        "result_columns_mib_per_column_per_1m_series": delta * per_million / columns,
        "result_codes_mib": out["result_column_code_bytes"] / 2**20,
    }
    return out


# -- catalogs -----------------------------------------------------------------------------------
def _pg_admin(url: str) -> Any:
    import psycopg

    return psycopg.connect("postgresql://" + url.split("://", 1)[1], autocommit=True)


def prepare_catalog(backend: str, series: int, seed: int, pg_url: str | None, fresh: bool) -> str:
    """A working copy of the cached DICOM-only catalog (loaded first when not cached)."""
    name = f"base_{series}_{seed}"
    if backend == "sqlite":
        base = CACHE / f"{name}.sqlite"
        work = CACHE / f"work_{series}_{seed}.sqlite"
        for path in (base, work) if fresh else (work,):
            for extra in ("", "-wal", "-shm"):
                Path(f"{path}{extra}").unlink(missing_ok=True)
        load(f"sqlite:///{base}", series, seed)
        from radcurate.catalog import open_catalog

        with open_catalog(f"sqlite:///{base}") as catalog:  # fold the WAL into the file
            catalog._read("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
        shutil.copyfile(base, work)
        return f"sqlite:///{work}"
    if backend != "postgresql":
        raise SystemExit(f"unknown backend {backend!r}: use sqlite, postgresql")
    assert pg_url is not None
    base_url = _ensure_pg_database(pg_url, f"radcurate_bench_results_{name}", fresh)
    load(base_url, series, seed)
    copy = f"radcurate_bench_results_work_{series}_{seed}"
    with _pg_admin(pg_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        for attempt in range(30):  # autovacuum may still be in the fresh template
            try:
                conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "radcurate_bench_results_{name}"')
                break
            except Exception:
                if attempt == 29:
                    raise
                time.sleep(2)
    return base_url.rsplit("/", 1)[0] + "/" + copy


def drop_catalog(url: str, pg_url: str | None) -> None:
    """Remove a working copy."""
    if url.startswith("sqlite:///"):
        for extra in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + extra).unlink(missing_ok=True)
        return
    assert pg_url is not None
    name = url.rsplit("/", 1)[1]
    with _pg_admin(pg_url) as conn:
        for attempt in range(30):
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except Exception:
                if attempt == 29:
                    raise
                time.sleep(1)


# -- report -------------------------------------------------------------------------------------
def verdicts(results: dict[str, dict[str, Any]], series: int) -> dict[str, dict[str, bool]]:
    """Per engine and figure with a target: met or not."""
    out: dict[str, dict[str, bool]] = {}
    sqlite = results.get("sqlite", {}).get("figures")
    for engine, result in results.items():
        out[engine] = {}
        for name, (target, _) in TARGETS.items():
            if target is None:
                continue
            if name == "write_seconds":
                target = WRITE_SECONDS_PER_MILLION * series / 1_000_000
            value = result["figures"][name]
            if engine == "sqlite" or sqlite is None:
                out[engine][name] = value <= target
            else:
                out[engine][name] = value <= max(target, 3 * sqlite[name])
    return out


def report(results: dict[str, dict[str, Any]], series: int) -> str:
    engines = [e for e in ("sqlite", "postgresql") if e in results]
    judged = verdicts(results, series)
    lines = [
        f"results benchmark: {series:,} series (IDC metadata) x 10 result keys "
        f"({next(iter(results.values()))['write']['producers'] if results else 1} producer(s)), "
        "medians",
        f"{'figure':<36}" + "".join(f"{e:>13}" for e in engines) + f"{'target':>12}  pass/fail",
    ]
    for name, (target, unit) in TARGETS.items():
        row = f"{name:<36}"
        for engine in engines:
            value = results[engine]["figures"][name]
            row += f"{value:>13.2f}" if value < 100 else f"{value:>13.0f}"
        if name == "write_seconds":
            scaled = WRITE_SECONDS_PER_MILLION * series / 1_000_000
            row += f"{'<= ' + format(scaled, '.1f') + ' s':>12}"
        else:
            row += f"{('<= ' + format(target, 'g') + ' ' + unit) if target else '-':>12}"
        marks = [
            ("pass" if judged[e][name] else "FAIL") if name in judged[e] else "-" for e in engines
        ]
        lines.append(row + "  " + "/".join(marks))
    lines.append("")
    for engine in engines:
        r = results[engine]
        f, m, w = r["figures"], r["memory"], r["write"]
        lines.append(
            f"{engine}: ratio result/DICOM field: count {f['count_result_ms'] / max(f['count_dicom_ms'], 1e-6):.1f}x, "  # noqa: E501
            f"facet {f['facet_result_ms'] / max(f['facet_dicom_ms'], 1e-6):.1f}x; "
            f"write {w['result_sets_written']:,} result sets in {w['write_calls']} calls "
            f"({series * 10 / max(w['write_seconds'], 1e-9):,.0f} values/s); "
            f"index build {r['index_build_seconds']:.1f} s, "
            f"load average {r.get('load_average_1min', float('nan')):.1f} while timing"
        )
        lines.append(
            f"{engine}: RSS DICOM index {m['dicom_index_mib']:.0f} MiB; result columns "
            f"+{m['result_columns_mib']:.0f} MiB for {m['result_columns']} columns = "
            f"{m['result_columns_mib_per_1m_series']:.0f} MiB per 1M series, "
            f"{m['result_columns_mib_per_column_per_1m_series']:.1f} MiB per column per 1M "
            f"(codes alone {m['result_codes_mib']:.0f} MiB); "
            f"'{RESULT_QUERY}' -> {r['checks']['count_result']:,}, "
            f"'{PAGE_QUERY}' -> {r['checks']['first_page_total']:,}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write-batch", type=int, default=100_000,
                        help="series per write_results call (one transaction each)")  # fmt: skip
    parser.add_argument("--producers", type=int, choices=(1, 3), default=1,
                        help="one producer writes all ten keys, or three split them")  # fmt: skip
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("RADCURATE_TEST_PG_URL"))
    parser.add_argument("--fresh", action="store_true", help="reload the DICOM-only catalogs")
    parser.add_argument("--smoke", action="store_true", help="2,000 series, one repeat")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return 0
    if args.smoke:
        args.series, args.repeat, args.write_batch = 2_000, 1, 700
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgresql" and not args.pg_url:
            print("postgresql: skipped (no --pg-url or RADCURATE_TEST_PG_URL)")
            continue
        url = prepare_catalog(backend, args.series, args.seed, args.pg_url, args.fresh)
        try:
            results[backend] = run_engine(
                url, args.repeat, args.seed, args.write_batch, args.producers == 3
            )
        finally:
            drop_catalog(url, args.pg_url)
    print(report(results, args.series))
    if args.json:
        figures = {"series": args.series, "repeat": args.repeat, "engines": results,
                   "verdicts": verdicts(results, args.series)}  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
