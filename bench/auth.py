"""Auth benchmark: what sign-in, API tokens and project scoping cost per request.

One command::

    .venv/bin/python bench/auth.py                  # 200,000 series, median of 7
    .venv/bin/python bench/auth.py --smoke          # 2,000 series, seconds

A SQLite catalog of synthetic series (four modalities, one project holding a quarter of
them) is served in-process by the real app (``TestClient``, no network) and timed, one
warm-up then the median of ``--repeat``:

- ``password_check_ms``: one scrypt check (``N=2**15, r=8``): what a sign-in, or a Basic
  request the server has not seen in the last minute, costs;
- ``count_open_ms``: ``GET /api/count?q=Modality:CT`` on a catalog with no users (auth
  off): the baseline;
- ``count_token_ms``: the same with an admin's API token (auth on, unrestricted);
- ``count_scoped_ms``: the same with a token of a curator restricted to the project
  (the server ANDs ``project:bench`` to the query);
- ``search_open_ms`` / ``search_scoped_ms``: ``GET /api/search?q=Modality:CT&limit=100``
  unrestricted and restricted.

Ratios against the open baseline are printed. Target: a token or a project scope adds at
most 5 ms a request (they are an indexed lookup and one more term on the in-memory index).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

MODALITIES = ("CT", "MR", "PT", "CR")


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def _documents(count: int) -> list[dict[str, Any]]:
    return [
        {
            "SeriesInstanceUID": f"1.2.826.0.1.3680043.10.9.{i}",
            "StudyInstanceUID": f"1.2.826.0.1.3680043.10.8.{i // 3}",
            "PatientID": f"P{i // 6}",
            "Modality": MODALITIES[i % len(MODALITIES)],
            "SeriesDescription": f"series {i}",
            "instance_count": 1 + i % 5,
        }
        for i in range(count)
    ]


def run(series: int, repeat: int, folder: Path) -> dict[str, Any]:
    """Build the catalogs, time each figure; the figures and their ratios."""
    from fastapi.testclient import TestClient

    from radcurate.auth import hash_password, verify_password
    from radcurate.catalog import open_catalog
    from radcurate.catalog.curation_types import Selection
    from radcurate.server import ServerSettings, create_app

    open_url = f"sqlite:///{folder / 'open.sqlite'}"
    auth_url = f"sqlite:///{folder / 'auth.sqlite'}"
    with open_catalog(open_url) as catalog:
        catalog.import_series(_documents(series))  # type: ignore[attr-defined]
    shutil.copyfile(folder / "open.sqlite", folder / "auth.sqlite")
    with open_catalog(auth_url) as catalog:
        catalog.auth.add_user("root", "admin", "bench password 1", actor="bench")
        catalog.auth.add_user("cura", "curator", "bench password 2", actor="bench")
        admin, _ = catalog.auth.create_token("root", "bench", "admin", None, actor="bench")
        curator, _ = catalog.auth.create_token("cura", "bench", "write", None, actor="bench")
        catalog.projects.create("bench", actor="bench")
        catalog.projects.set_members("bench", add=["cura"], actor="bench")
        catalog.projects.assign("bench", Selection.of("*"), actor="bench")
        members = catalog.count("*")
        catalog.projects.unassign(
            "bench", Selection.of("NOT Modality:CT"), actor="bench"
        )  # a quarter stays
    stored = hash_password("bench password 3")
    figures: dict[str, float] = {
        "password_check_ms": _median_ms(lambda: verify_password("bench password 3", stored), 5)
    }
    count = {"q": "Modality:CT"}
    search = {"q": "Modality:CT", "limit": 100}
    with TestClient(create_app(ServerSettings(home=folder / "h1", catalog_url=open_url))) as c:
        figures["count_open_ms"] = _median_ms(lambda: c.get("/api/count", params=count), repeat)
        figures["search_open_ms"] = _median_ms(lambda: c.get("/api/search", params=search), repeat)
    with TestClient(create_app(ServerSettings(home=folder / "h2", catalog_url=auth_url))) as c:
        a = {"Authorization": f"Bearer {admin}"}
        s = {"Authorization": f"Bearer {curator}"}
        assert c.get("/api/count", params=count, headers=s).json()["series"] > 0
        figures["count_token_ms"] = _median_ms(
            lambda: c.get("/api/count", params=count, headers=a), repeat
        )
        figures["count_scoped_ms"] = _median_ms(
            lambda: c.get("/api/count", params=count, headers=s), repeat
        )
        figures["search_scoped_ms"] = _median_ms(
            lambda: c.get("/api/search", params=search, headers=s), repeat
        )
    ratios = {
        "token_vs_open": round(figures["count_token_ms"] / figures["count_open_ms"], 2),
        "scoped_vs_open_count": round(figures["count_scoped_ms"] / figures["count_open_ms"], 2),
        "scoped_vs_open_search": round(figures["search_scoped_ms"] / figures["search_open_ms"], 2),
    }
    return {"series": series, "in_project_before": members, "figures": figures, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="2,000 series, 3 repeats")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    series, repeat = (2000, 3) if args.smoke else (args.series, args.repeat)
    with tempfile.TemporaryDirectory(prefix="radcurate-bench-auth-") as tmp:
        result = run(series, repeat, Path(tmp))
    for name, value in result["figures"].items():
        print(f"{name:>22}: {value:9.2f}")
    for name, value in result["ratios"].items():
        print(f"{name:>22}: {value:9.2f}x")
    extra = max(
        result["figures"]["count_token_ms"] - result["figures"]["count_open_ms"],
        result["figures"]["count_scoped_ms"] - result["figures"]["count_open_ms"],
    )
    print(
        f"target: a token or a scope adds <= 5 ms a request: {'met' if extra <= 5 else 'missed'}"
        f" ({extra:+.2f} ms)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
