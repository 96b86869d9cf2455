"""Bias benchmark: a 10-attribute report and a two-dataset comparison over a million IDC series.

One command::

    .venv/bin/python bench/bias.py                       # 1,000,000 series, median of 5
    .venv/bin/python bench/bias.py --series 200000 --repeat 3
    .venv/bin/python bench/bias.py --smoke               # 2,000 series, seconds

The series are the IDC corpus of ``bench/search.py`` (its loader, imported;
the catalog is cached under ``.bench/bias`` and a working copy made per run,
since the run writes a tag and two datasets into it). The catalog gets a
planted label, tag ``bench-label`` on the series of one site's CT scanners
plus a few others, and two frozen datasets split by study date (IDC patients
span both: leakage to find). A fresh process opens the catalog, builds the
search index (timed once), then times, one warm-up and the median of
``--repeat``:

- ``report_tag_ms``: ``bias_report`` over every series, 10 attributes × target
  ``tag:bench-label`` (representation, V, chi-square, NMI, residuals, flags);
- ``report_field_ms``: the same with the field ``BodyPartExamined`` as target;
- ``report_numeric_ms``: the same with the numeric target ``age_years``
  (Kruskal–Wallis over the exact values);
- ``compare_versions_ms``: ``compare`` of ``dataset:bench-train@1`` and
  ``dataset:bench-test@1`` on the 10 attributes (JS/chi-square/KS, patient
  overlap), the versions' index rows kept from an earlier comparison;
- ``compare_versions_cold_ms``: the same, the member UIDs of both versions read
  from the catalog every time (the first comparison of two versions);
- ``compare_live_ms``: the same between the queries ``dataset:bench-train`` and
  ``dataset:bench-test`` (the datasets' current members, from the index).

Targets at 1M series (embedded catalog): each report and each comparison
within 2 s (the cold comparison is reported, not judged).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from search import _median_ms, _rss_mib, load

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench" / "bias"

ATTRIBUTES = (
    "Manufacturer",
    "ManufacturerModelName",
    "ConvolutionKernel",
    "InstitutionName",
    "SliceThickness",
    "Modality",
    "PatientSex",
    "age_years",
    "PhotometricInterpretation",
    "StudyDate",
)
PLANTED = 'Modality:CT InstitutionName:"University Hospital" OR SeriesNumber:1'
TRAIN, TEST = "StudyDate:<2010", "StudyDate:>=2010"
#: figure -> target in ms at 1M series (None: reported only)
TARGETS: dict[str, float | None] = {
    "report_tag_ms": 2000.0,
    "report_field_ms": 2000.0,
    "report_numeric_ms": 2000.0,
    "compare_versions_ms": 2000.0,
    "compare_versions_cold_ms": None,
    "compare_live_ms": 2000.0,
}


def prepare(series: int, seed: int, fresh: bool) -> str:
    """A working copy of the cached catalog with the planted tag and the two versions."""
    from radcurate.catalog import open_catalog
    from radcurate.catalog.curation_types import Selection

    CACHE.mkdir(parents=True, exist_ok=True)
    base = CACHE / f"base_{series}_{seed}.sqlite"
    work = CACHE / f"work_{series}_{seed}.sqlite"
    for path in (base, work) if fresh else (work,):
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
    load(f"sqlite:///{base}", series, seed)
    with open_catalog(f"sqlite:///{base}") as catalog:  # fold the WAL into the file
        catalog._read("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    shutil.copyfile(base, work)
    url = f"sqlite:///{work}"
    with open_catalog(url) as catalog:
        catalog.use_search_index = False  # type: ignore[attr-defined]  # SQL selections only
        catalog.tag_series("bench-label", Selection.of(PLANTED))
        for name, query in (("bench-train", TRAIN), ("bench-test", TEST)):
            catalog.create_dataset(name)
            catalog.add_to_dataset(name, Selection.of(query))
            catalog.freeze_dataset(name)
    return url


def worker(url: str, repeat: int) -> dict[str, Any]:
    """Open the catalog, build the index, time every figure (runs in a fresh process)."""
    from radcurate.analyze.bias_compare import compare, resolve_selection
    from radcurate.analyze.bias_report import bias_report
    from radcurate.catalog import open_catalog
    from radcurate.query import parse

    out: dict[str, Any] = {"figures": {}, "checks": {}}
    with open_catalog(url) as catalog:
        start = time.perf_counter()
        series = catalog.count("*")
        out["index_build_seconds"] = time.perf_counter() - start
        out["series"] = series
        every = parse("*")
        reports: dict[str, dict[str, Any]] = {}

        def report(name: str, target: Any) -> None:
            reports[name] = bias_report(catalog, every, target, ATTRIBUTES)

        def versions() -> None:
            _, a = resolve_selection(catalog, "dataset:bench-train@1", parse)
            _, b = resolve_selection(catalog, "dataset:bench-test@1", parse)
            reports["versions"] = compare(catalog, a, b, ATTRIBUTES)

        def live() -> None:
            a, b = parse("dataset:bench-train"), parse("dataset:bench-test")
            reports["live"] = compare(catalog, a, b, ATTRIBUTES)

        figures = out["figures"]
        figures["report_tag_ms"] = _median_ms(
            lambda: report("tag", parse("tag:bench-label")), repeat
        )
        figures["report_field_ms"] = _median_ms(lambda: report("field", "BodyPartExamined"), repeat)
        figures["report_numeric_ms"] = _median_ms(lambda: report("numeric", "age_years"), repeat)
        figures["compare_versions_ms"] = _median_ms(versions, repeat)

        def cold() -> None:
            catalog.__dict__.pop("_version_rows_kept", None)  # forget the versions' rows
            versions()

        figures["compare_versions_cold_ms"] = _median_ms(cold, repeat)
        figures["compare_live_ms"] = _median_ms(live, repeat)
        out["rss_mib"] = _rss_mib()
        out["load_average_1min"] = os.getloadavg()[0]
        tag = reports["tag"]
        out["checks"] = {
            "tag_flags": tag["flags"],
            "tag_pairs": len(tag["associations"]),
            "tag_cramers_v": {
                e["attribute"]: round(e["cramers_v"], 3)
                for e in tag["associations"]
                if e["computable"]
            },
            "field_pairs_computable": sum(
                e["computable"] for e in reports["field"]["associations"]
            ),
            "numeric_test": reports["numeric"]["target"]["kind"],
            "versions_series": [
                reports["versions"]["a"]["series"],
                reports["versions"]["b"]["series"],
            ],
            "versions_patient_overlap": reports["versions"]["overlap"]["patients"],
            "live_equals_versions": reports["live"]["attributes"]
            == reports["versions"]["attributes"],
            "js_distance": {
                e["field"]: round(e["js_distance"], 3)
                for e in reports["versions"]["attributes"]
                if e["computable"]
            },
        }
    return out


def report_text(result: dict[str, Any], series: int) -> str:
    """The figures as a table with pass/fail against the targets (set for 1M series)."""
    lines = [
        f"bias benchmark: {series:,} series (IDC metadata), 10 attributes, medians",
        f"{'figure':<26}{'ms':>10}{'target':>12}  pass/fail",
    ]
    for name, target in TARGETS.items():
        value = result["figures"][name]
        verdict = "-" if target is None else ("pass" if value <= target else "FAIL")
        shown = "-" if target is None else f"<= {target:,.0f}"
        lines.append(f"{name:<26}{value:>10.1f}{shown:>12}  {verdict}")
    checks = result["checks"]
    lines.append(
        f"index build {result['index_build_seconds']:.1f} s, RSS {result['rss_mib']:.0f} MiB, "
        f"load average {result['load_average_1min']:.1f}; flagged for tag:bench-label: "
        f"{', '.join(checks['tag_flags']) or 'none'}; patients in both versions: "
        f"{checks['versions_patient_overlap']:,}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="2,000 series, one repeat")
    parser.add_argument("--fresh", action="store_true", help="reload the cached catalog")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeat)))
        return 0
    if args.smoke:
        args.series, args.repeat = 2000, 1
    url = prepare(args.series, args.seed, args.fresh)
    run = subprocess.run(
        [sys.executable, __file__, "--worker", url, "--repeat", str(args.repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
        return 1
    result = json.loads(run.stdout.strip().splitlines()[-1])
    text = report_text(result, args.series)
    print(text)
    if args.json:
        payload = {"series": args.series, "repeat": args.repeat, "result": result, "text": text}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
