"""Web UI benchmark in Chromium: time to first gallery paint, page fetches while scrolling.

    python bench/ui.py --catalog sqlite:///big.sqlite            # a catalog you have
    python bench/ui.py --catalog postgresql://.../radcurate --runs 5 --pages 40
    python bench/ui.py --smoke                                   # phantom archive, < 1 min
    python bench/ui.py --catalog URL --json figures.json
    python bench/ui.py --url http://127.0.0.1:8000               # a server already running

It starts ``radcurate serve`` on the catalog and drives Debian's Chromium
(``/usr/bin/chromium``, headless) through the ``playwright`` package. Measured with the
browser's Performance API:

* **first paint**: from navigation start to the app's ``radcurate:gallery-paint`` mark
  (the frame after the first page of cards is in the DOM), each run in a fresh
  browser context (empty HTTP cache), best and median over ``--runs``;
* **page fetch**: ``PerformanceResourceTiming`` duration of every ``/api/search``
  request the gallery makes while the benchmark scrolls to the bottom again and
  again (cursor pagination, ``--page-size`` series per page), p50 and p95.

Targets (issue 6, at 1M series): first paint <= 1 s, page fetch p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

TARGET_FIRST_PAINT_MS = 1000.0
TARGET_PAGE_P95_MS = 50.0
CHROMIUM = Path(os.environ.get("RADCURATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: a large catalog takes a while to open (its search index is built at start)
STARTUP_S = 600
CLI = "import sys; from radcurate.cli import main; main(sys.argv[1:])"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", CLI, *args], env=env, capture_output=True)
    if done.returncode:
        raise SystemExit(f"radcurate {args[0]} failed:\n{done.stderr.decode()[-2000:]}")


def phantom_catalog(folder: Path, patients: int) -> str:
    """A SQLite catalog of a fresh phantom archive."""
    env = {**os.environ, "RADCURATE_HOME": str(folder / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{folder / 'catalog.sqlite'}"
    _cli("demo", "--out", str(folder / "archive"), "--patients", str(patients), env=env)
    _cli("ingest", str(folder / "archive"), "--catalog", url, env=env)
    return url


class Server:
    """``radcurate serve`` in a subprocess."""

    def __init__(self, catalog: str, home: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "RADCURATE_HOME": str(home), "RADCURATE_CATALOG": ""}
        args = ["serve", "--catalog", catalog, "--port", str(self.port), "--log-level", "warning"]
        self.log = open(home.parent / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", CLI, *args], env=env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + STARTUP_S
        while True:
            if self.process.poll() is not None:
                raise SystemExit("radcurate serve exited")
            try:
                httpx.get(f"{self.base}/api/info", timeout=60)  # ~2.5 s at 1M series
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"radcurate serve did not answer in {STARTUP_S} s") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


FIRST_PAINT_JS = """() => {
  const mark = performance.getEntriesByName('radcurate:gallery-paint')[0];
  return mark ? mark.startTime : null;
}"""

PAGE_TIMINGS_JS = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/api/search'))
  .map(e => e.duration)"""

SCROLL_JS = """() => {
  const g = document.querySelector('[data-testid=gallery]');
  g.scrollTop = g.scrollHeight;
  return document.querySelectorAll('[data-testid=card]').length;
}"""


def measure(
    base: str, runs: int, pages: int, page_size: int, query: str, stub_thumbnails: bool = False
) -> dict[str, Any]:
    """First-paint and page-fetch figures from Chromium."""
    from playwright.sync_api import sync_playwright

    params = f"?page_size={page_size}" + (f"&q={query}" if query else "")
    first_paints: list[float] = []
    page_fetches: list[float] = []
    first_fetches: list[float] = []
    loaded_pages = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for run in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                page = context.new_page()
                if stub_thumbnails:
                    # blocked in the browser's network stack: no interception round trips
                    cdp = context.new_cdp_session(page)
                    cdp.send("Network.enable")
                    cdp.send("Network.setBlockedURLs", {"urls": ["*/thumbnail*"]})
                # the default buffer (250 entries) fills up with thumbnails
                page.add_init_script("performance.setResourceTimingBufferSize(1000000)")
                page.goto(base + "/" + params)
                page.wait_for_function(f"() => ({FIRST_PAINT_JS})() !== null", timeout=60_000)
                first_paints.append(float(page.evaluate(FIRST_PAINT_JS)))
                timings: list[float] = page.evaluate(PAGE_TIMINGS_JS)
                first_fetches.append(timings[0])
                if run == runs - 1:
                    # scroll: each jump to the bottom makes the gallery fetch the next page
                    for _ in range(pages):
                        before = len(page.evaluate(PAGE_TIMINGS_JS))
                        page.evaluate(SCROLL_JS)
                        try:
                            page.wait_for_function(
                                f"() => ({PAGE_TIMINGS_JS})().length > {before}", timeout=30_000
                            )
                        except Exception:  # noqa: BLE001 - the last page: nothing more to fetch
                            break
                    timings = page.evaluate(PAGE_TIMINGS_JS)
                    page_fetches = timings[1:]
                    loaded_pages = len(timings)
                context.close()
        finally:
            browser.close()
    return {
        "runs": runs,
        "page_size": page_size,
        "first_paint_ms": {
            "best": min(first_paints),
            "median": statistics.median(first_paints),
            "all": first_paints,
        },
        "first_page_fetch_ms": {"median": statistics.median(first_fetches)},
        "scroll_page_fetch_ms": {
            "count": len(page_fetches),
            "p50": _percentile(page_fetches, 0.5),
            "p95": _percentile(page_fetches, 0.95),
            "max": max(page_fetches) if page_fetches else float("nan"),
        },
        "pages_loaded": loaded_pages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", help="catalog URL to serve (default with --smoke: phantom)")
    parser.add_argument("--url", help="measure a server already running here instead")
    parser.add_argument("--smoke", action="store_true", help="phantom archive, few runs")
    parser.add_argument("--patients", type=int, default=3, help="phantom patients (--smoke)")
    parser.add_argument("--runs", type=int, default=5, help="page loads for first paint")
    parser.add_argument("--pages", type=int, default=30, help="pages fetched while scrolling")
    parser.add_argument("--page-size", type=int, default=200, help="series per page fetch")
    parser.add_argument("--query", default="", help="query the gallery shows")
    parser.add_argument(
        "--stub-thumbnails",
        action="store_true",
        help="block thumbnails in the browser (page fetches without thumbnail rendering load)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if args.smoke:
        args.runs, args.pages = min(args.runs, 3), min(args.pages, 10)
        args.page_size = min(args.page_size, 4)  # several pages out of 22 series

    def run(base: str) -> tuple[dict[str, Any], dict[str, Any]]:
        total = httpx.get(f"{base}/api/count", params={"q": args.query}, timeout=600).json()
        figures = measure(
            base,
            args.runs,
            args.pages,
            args.page_size,
            args.query,
            stub_thumbnails=args.stub_thumbnails,
        )
        return total, figures

    if args.url:
        total, figures = run(args.url.rstrip("/"))
    else:
        if args.catalog is None and not args.smoke:
            parser.error("--catalog or --url is required (or --smoke for the phantom archive)")
        with tempfile.TemporaryDirectory(prefix="radcurate-bench-ui-") as tmp:
            folder = Path(tmp)
            catalog = args.catalog or phantom_catalog(folder, args.patients)
            server = Server(catalog, folder / "home")
            try:
                total, figures = run(server.base)
            finally:
                server.stop()
    figures["series"] = total["series"]
    figures["thumbnails"] = "blocked" if args.stub_thumbnails else "served"
    figures["targets"] = {
        "first_paint_ms": TARGET_FIRST_PAINT_MS,
        "page_p95_ms": TARGET_PAGE_P95_MS,
    }
    paint = figures["first_paint_ms"]["median"]
    p95 = figures["scroll_page_fetch_ms"]["p95"]
    print(
        f"catalog: {total['series']:,} series; page size {figures['page_size']}; "
        f"thumbnails {figures['thumbnails']}"
    )
    print(
        f"first gallery paint: median {paint:.0f} ms, best {figures['first_paint_ms']['best']:.0f}"
        f" ms over {figures['runs']} cold loads (target <= {TARGET_FIRST_PAINT_MS:.0f} ms); "
        f"first page fetch {figures['first_page_fetch_ms']['median']:.0f} ms"
    )
    scroll = figures["scroll_page_fetch_ms"]
    print(
        f"page fetches while scrolling: {scroll['count']} pages, p50 {scroll['p50']:.1f} ms, "
        f"p95 {p95:.1f} ms, max {scroll['max']:.1f} ms (target p95 <= {TARGET_PAGE_P95_MS:.0f} ms)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
