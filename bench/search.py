"""Search benchmark: a million series from IDC's real metadata, embedded and PostgreSQL catalogs.

One command::

    .venv/bin/python bench/search.py                      # 1,000,000 series, median of 5
    .venv/bin/python bench/search.py --series 2000 --repeat 1   # smoke size

Series documents come from the ``idc-index-data`` parquet (1,044,191 real
series of the Imaging Data Commons: Modality, Manufacturer, model, body
part, sex, age, dates, descriptions, instance counts), in a seeded random
order; the attributes IDC does not list are added plausibly and reproducibly
(ConvolutionKernel per manufacturer, SliceThickness per modality,
InstitutionName per collection and patient). Larger ``--series`` than IDC
has repeat rows with new UIDs.

Each catalog is loaded once through ``catalog.import_series`` (cached under
``.bench/search``), then a fresh *server process* per catalog opens it,
builds the search index, and times every operation (one warm-up, then the
median of ``--repeat`` runs) and reports its resident memory. The same
process also runs the first-page query and the count once in SQL alone
(index off), the path every query took before the index existed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench" / "search"

#: free text with a wildcard and two field filters: the first page and the exact count
QUERY = "lung* Modality:CT PatientSex:M"
DASHBOARD_QUERY = "Modality:(CT OR MR) StudyDate:>=2000"
#: targets for the embedded catalog at 1M series (ms); PostgreSQL: within 3x of each
TARGETS_MS = {
    "first_page": 50.0,
    "exact_count": 100.0,
    "dashboard_6_fields": 150.0,
    "autocomplete_values": 20.0,
    "deep_page_900k": 50.0,
    "deep_page_900k_sorted": 50.0,
    "point_lookup": 50.0,
}
KERNELS = {
    "SIEMENS": ["B30f", "B31f", "B45f", "B70f", "I30f", "Br40d"],
    "GE MEDICAL SYSTEMS": ["STANDARD", "LUNG", "BONE", "SOFT", "DETAIL"],
    "Philips": ["B", "C", "L", "YA", "YB"],
    "TOSHIBA": ["FC01", "FC03", "FC13", "FC51", "FC86"],
}
THICKNESS = {
    "CT": [0.625, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0],
    "MR": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    "PT": [2.0, 3.27, 4.0, 5.0],
    "NM": [2.0, 4.42, 5.0],
}
SITES = ["University Hospital", "City Medical Center", "Regional Cancer Institute",
         "Community Imaging", "Children's Hospital", "Veterans Medical Center"]  # fmt: skip


# -- documents --------------------------------------------------------------------------------
def _age_years(age: str | None) -> float | None:
    if not age or len(age) != 4 or not age[:3].isdigit():
        return None
    factor = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}.get(age[3])
    return None if factor is None else round(int(age[:3]) * factor, 3)


def _choice(options: list[Any], *keys: Any) -> Any:
    digest = hashlib.blake2b("|".join(map(str, keys)).encode(), digest_size=4).digest()
    return options[int.from_bytes(digest, "big") % len(options)]


def idc_documents(series: int, seed: int) -> Iterator[dict[str, Any]]:
    """``series`` documents from IDC rows (seeded order; repeats get new UIDs)."""
    import idc_index_data
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    columns = [
        "collection_id", "PatientID", "SeriesInstanceUID", "StudyInstanceUID", "PatientAge",
        "PatientSex", "StudyDate", "StudyDescription", "BodyPartExamined", "Modality",
        "SOPClassUID", "TransferSyntaxUID", "PhotometricInterpretation", "Manufacturer",
        "ManufacturerModelName", "SeriesDate", "SeriesDescription", "SeriesNumber",
        "instanceCount",
    ]  # fmt: skip
    table = pq.read_table(idc_index_data.IDC_INDEX_PARQUET_FILEPATH, columns=columns)
    data = {name: table.column(name).to_pylist() for name in columns}
    rows = len(data["SeriesInstanceUID"])
    order = list(range(rows))
    random.Random(seed).shuffle(order)
    for n in range(series):
        i = order[n % rows]
        repeat = n // rows
        suffix = f".{repeat}" if repeat else ""
        modality = data["Modality"][i]
        manufacturer = data["Manufacturer"][i]
        doc: dict[str, Any] = {
            "SeriesInstanceUID": data["SeriesInstanceUID"][i] + suffix,
            "StudyInstanceUID": data["StudyInstanceUID"][i] + suffix,
            "PatientID": data["PatientID"][i] + suffix,
            "instance_count": int(data["instanceCount"][i] or 0),
        }
        for name in ("Modality", "PatientSex", "StudyDate", "StudyDescription",
                     "BodyPartExamined", "SOPClassUID", "TransferSyntaxUID",
                     "PhotometricInterpretation", "Manufacturer", "ManufacturerModelName",
                     "SeriesDate", "SeriesDescription", "PatientAge"):  # fmt: skip
            value = data[name][i]
            if value not in (None, ""):
                doc[name] = value
        number = data["SeriesNumber"][i]
        if number and str(number).lstrip("-").isdigit():
            doc["SeriesNumber"] = int(number)
        age = _age_years(data["PatientAge"][i])
        if age is not None:
            doc["age_years"] = age
        if modality in THICKNESS:
            doc["SliceThickness"] = _choice(THICKNESS[modality], doc["SeriesInstanceUID"])
        if modality == "CT":
            kernels = next(
                (
                    v
                    for k, v in KERNELS.items()
                    if manufacturer and k.lower() in manufacturer.lower()
                ),
                ["STANDARD", "B30f", "FC13"],
            )
            doc["ConvolutionKernel"] = _choice(kernels, doc["SeriesInstanceUID"])
        doc["InstitutionName"] = _choice(SITES, data["collection_id"][i], data["PatientID"][i])
        yield doc


# -- loading ----------------------------------------------------------------------------------
def _pg_url(base: str, name: str) -> str:
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


def _ensure_pg_database(base: str, name: str, fresh: bool) -> str:
    import psycopg

    with psycopg.connect("postgresql://" + base.split("://", 1)[1], autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return _pg_url(base, name)


def load(url: str, series: int, seed: int) -> dict[str, float]:
    """Import ``series`` documents into the catalog at ``url`` unless it holds them already."""
    from radcurate.catalog import open_catalog

    with open_catalog(url) as catalog:
        have = catalog.info().series
        if have == series:
            return {"load_seconds": 0.0, "cached": 1.0}
        if have:
            raise SystemExit(f"{url} holds {have} series, not {series}: remove it first")
        start = time.perf_counter()
        done = 0
        batch: list[dict[str, Any]] = []
        for doc in idc_documents(series, seed):
            batch.append(doc)
            if len(batch) == 20_000:
                done += catalog.import_series(batch, source="idc")  # type: ignore[attr-defined]
                batch = []
                print(f"  {url.split('://')[0]}: {done:,} series loaded", file=sys.stderr)
        done += catalog.import_series(batch, source="idc")  # type: ignore[attr-defined]
        return {"load_seconds": time.perf_counter() - start, "cached": 0.0}


# -- the server process -----------------------------------------------------------------------
def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _median_ms(run: Callable[[], Any], repeat: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def worker(url: str, repeat: int) -> dict[str, Any]:
    """Open the catalog, build the index, time every operation; what one server would do."""
    from radcurate.catalog import open_catalog
    from radcurate.catalog.aggregations import AggregationRequest as Agg
    from radcurate.catalog.index.paging import row_cursor, sorted_rows
    from radcurate.catalog.search import SortSpec

    out: dict[str, Any] = {"rss_before_mib": _rss_mib()}
    catalog: Any = open_catalog(url)
    start = time.perf_counter()
    index = catalog.search_index()
    out["index_build_seconds"] = time.perf_counter() - start
    out["series"] = len(index)
    out["index_refresh_ms"] = _median_ms(catalog.search_index, repeat)

    dashboard = [
        Agg("Manufacturer", "terms"),
        Agg("ManufacturerModelName", "terms"),
        Agg("BodyPartExamined", "terms"),
        Agg("PatientSex", "terms"),
        Agg("age_years", "histogram"),
        Agg("StudyDate", "date_histogram"),
    ]
    deep = min(900_000, max(0, len(index) - 60))
    cursors: dict[str, str | None] = {}
    for sort in (None, "-StudyDate"):
        spec = SortSpec.parse(sort)
        perm = sorted_rows(index, spec.field, spec.descending).perm
        cursors[str(sort)] = row_cursor(index, spec, int(perm[deep - 1])).encode() if deep else None
    some_uid = index.uids[len(index) // 2]
    timings = {
        "first_page": lambda: catalog.search(QUERY, limit=50),
        "exact_count": lambda: catalog.counts(QUERY),
        "dashboard_6_fields": lambda: catalog.aggregate(DASHBOARD_QUERY, dashboard),
        "autocomplete_values": lambda: catalog.suggest_values("Manufacturer", "SIE", "Modality:CT"),
        "deep_page_900k": lambda: catalog.search("*", limit=50, after=cursors["None"]),
        "deep_page_900k_sorted": lambda: catalog.search(
            "*", limit=50, after=cursors["-StudyDate"], sort="-StudyDate"
        ),
        "point_lookup": lambda: catalog.search(f"SeriesInstanceUID:{some_uid}", limit=1),
    }
    out["ms"] = {name: _median_ms(run, repeat) for name, run in timings.items()}
    out["checks"] = {
        "first_page_total": catalog.search(QUERY, limit=50).total,
        "deep_page_items": len(catalog.search("*", limit=50, after=cursors["None"]).documents),
        "point_lookup_found": catalog.search(f"SeriesInstanceUID:{some_uid}", limit=1).total,
    }
    out["rss_mib"] = _rss_mib()
    # the SQL path alone (index off), once each: what the index saves
    catalog.use_search_index = False
    sql_ms = {}
    for name in ("first_page", "exact_count"):
        start = time.perf_counter()
        result = catalog.search(QUERY, limit=50) if name == "first_page" else catalog.count(QUERY)
        sql_ms[name] = (time.perf_counter() - start) * 1000
        total = result.total if name == "first_page" else result
        assert total == out["checks"]["first_page_total"], (name, total)
    out["sql_only_ms"] = sql_ms
    catalog.close()
    return out


# -- report ------------------------------------------------------------------------------------
def report(results: dict[str, dict[str, Any]], series: int) -> str:
    lines = [f"search benchmark: {series:,} series (IDC metadata), medians in ms"]
    engines = list(results)
    header = f"{'operation':<24}{'target':>8}" + "".join(f"{e:>12}" for e in engines)
    if "sqlite" in results and "postgresql" in results:
        header += f"{'pg/sqlite':>11}"
    lines.append(header)
    for name, target in TARGETS_MS.items():
        row = f"{name:<24}{target:>8.0f}"
        for engine in engines:
            row += f"{results[engine]['ms'][name]:>12.1f}"
        if "sqlite" in results and "postgresql" in results:
            ratio = results["postgresql"]["ms"][name] / max(results["sqlite"]["ms"][name], 1e-6)
            row += f"{ratio:>10.1f}x"
        lines.append(row)
    for name in ("first_page", "exact_count"):
        row = f"{name + ' (SQL only)':<24}{'':>8}"
        for engine in engines:
            row += f"{results[engine]['sql_only_ms'][name]:>12.0f}"
        lines.append(row)
    lines.append("")
    for engine in engines:
        r = results[engine]
        lines.append(
            f"{engine}: load {r['load_seconds']:.0f} s{' (cached)' if r['cached'] else ''}, "
            f"index build {r['index_build_seconds']:.1f} s, refresh (no change) "
            f"{r['index_refresh_ms']:.2f} ms, server RSS {r['rss_mib']:.0f} MiB, "
            f"'{QUERY}' -> {r['checks']['first_page_total']:,} series"
        )
    sqlite = results.get("sqlite")
    if sqlite:
        missed = [n for n, t in TARGETS_MS.items() if sqlite["ms"][n] > t]
        lines.append(
            "targets (embedded): " + ("all met" if not missed else "missed " + ", ".join(missed))
        )
    pg = results.get("postgresql")
    if sqlite and pg:
        over = [n for n in TARGETS_MS if pg["ms"][n] > 3 * max(TARGETS_MS[n], sqlite["ms"][n])]
        lines.append(
            "PostgreSQL within 3x: " + ("yes" if not over else "no for " + ", ".join(over))
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("RADCURATE_TEST_PG_URL"))
    parser.add_argument("--fresh", action="store_true", help="reload the catalogs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        name = f"search_{args.series}_{args.seed}"
        if backend == "sqlite":
            path = CACHE / f"{name}.sqlite"
            if args.fresh:
                for extra in ("", "-wal", "-shm"):
                    Path(f"{path}{extra}").unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        elif backend == "postgresql":
            if not args.pg_url:
                print("postgresql: skipped (no --pg-url or RADCURATE_TEST_PG_URL)")
                continue
            url = _ensure_pg_database(args.pg_url, f"radcurate_bench_{name}", args.fresh)
        else:
            raise SystemExit(f"unknown backend {backend!r}: use sqlite, postgresql")
        loaded = load(url, args.series, args.seed)
        run = subprocess.run(
            [sys.executable, __file__, "--worker", url, "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            print(run.stdout[-2000:], run.stderr[-4000:], file=sys.stderr)
            return 1
        results[backend] = {**json.loads(run.stdout.strip().splitlines()[-1]), **loaded}
    print(report(results, args.series))
    if args.json:
        args.json.write_text(json.dumps({"series": args.series, "engines": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
