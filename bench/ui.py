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

* **viewer scrolling** (issue 19): the detail view of a 512 x 512 CT of ``--viewer-slices``
  slices (bench/viewer_ct.py, its own catalog and server), scrolled with ↓/↑ key presses at
  60 Hz for ``--viewer-seconds`` (back and forth), each run in a fresh browser context on a
  warm server; counted: the slices actually painted (the slice image's load, each
  ``data-shown-index`` change seen by ``requestAnimationFrame``) per second, median over
  ``--runs``; and the same on the first pass down only (slices the browser never loaded
  before; the way back up finds them cached). ``--no-viewer`` leaves it out.

Targets (issue 6, at 1M series): first paint <= 1 s, page fetch p95 <= 50 ms; (issue 19)
viewer scrolling >= 20 slices/s.
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
TARGET_SLICES_PER_S = 20.0
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


SCROLL_VIEWER_JS = """async ([seconds, hz]) => {
  const detail = document.querySelector('[data-testid=detail]');
  const img = document.querySelector('[data-testid=slice]');
  const slider = document.querySelector('[data-testid=slice-slider]');
  const max = Number(slider.max);
  let dir = 1, presses = 0, changes = 0, last = img.dataset.shownIndex;
  let firstPass = null;  // [changes, ms] until the first turn: slices never loaded before
  const seen = new Set();
  const press = () => {
    const at = Number(slider.value);
    if (at >= max && dir > 0 && firstPass === null) firstPass = [changes, performance.now() - t0];
    if (at >= max) dir = -1;
    if (at <= 0) dir = 1;
    const key = dir > 0 ? 'ArrowDown' : 'ArrowUp';
    detail.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    presses++;
  };
  const t0 = performance.now();
  const timer = setInterval(press, 1000 / hz);
  await new Promise((resolve) => {
    const frame = () => {
      const now = img.dataset.shownIndex;
      if (now !== last) { changes++; seen.add(now); last = now; }
      if (performance.now() - t0 < seconds * 1000) requestAnimationFrame(frame);
      else resolve(null);
    };
    requestAnimationFrame(frame);
  });
  clearInterval(timer);
  const elapsed_ms = performance.now() - t0;
  return { changes, distinct: seen.size, presses, elapsed_ms, first_pass: firstPass };
}"""


def measure_viewer(base: str, uid: str, runs: int, seconds: float) -> dict[str, Any]:
    """Slices painted per second while scrolling the detail view of ``uid`` (see above)."""
    from playwright.sync_api import sync_playwright

    def open_detail(context: Any) -> Any:
        page = context.new_page()
        page.goto(f"{base}/?series={uid}")
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=slice]');"
            " return i && i.complete && i.naturalWidth > 0 && i.dataset.shownIndex; }",
            timeout=60_000,
        )
        return page

    results: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            warm = browser.new_context(viewport={"width": 1280, "height": 860})
            open_detail(warm).evaluate(SCROLL_VIEWER_JS, [min(seconds, 2.0), 60])
            warm.close()
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                page = open_detail(context)
                results.append(page.evaluate(SCROLL_VIEWER_JS, [seconds, 60]))
                context.close()
        finally:
            browser.close()
    rates = [r["changes"] / (r["elapsed_ms"] / 1000) for r in results]
    # the way down, before the first turn: every slice is new to the browser
    cold = [r["first_pass"][0] / (r["first_pass"][1] / 1000) for r in results if r["first_pass"]]
    return {
        "series": uid,
        "runs": runs,
        "seconds": seconds,
        "slices_per_s": {"median": statistics.median(rates), "all": rates},
        "first_pass_slices_per_s": {
            "median": statistics.median(cold) if cold else None,
            "all": cold,
        },
        "key_presses_per_s": statistics.median(
            r["presses"] / (r["elapsed_ms"] / 1000) for r in results
        ),
        "distinct_slices": [r["distinct"] for r in results],
        "target_slices_per_s": TARGET_SLICES_PER_S,
        "ratio_to_target": statistics.median(rates) / TARGET_SLICES_PER_S,
    }


def viewer_figures(slices: int, runs: int, seconds: float) -> dict[str, Any]:
    """The viewer scrolling figure on a catalog of one 512 x 512 CT of ``slices`` slices."""
    sys.path.insert(0, str(Path(__file__).parent))
    from viewer_ct import write_ct

    with tempfile.TemporaryDirectory(prefix="radcurate-bench-viewer-") as tmp:
        folder = Path(tmp)
        uid = write_ct(folder / "archive", slices)
        env = {**os.environ, "RADCURATE_HOME": str(folder / "home"), "RADCURATE_CATALOG": ""}
        url = f"sqlite:///{folder / 'catalog.sqlite'}"
        _cli("ingest", str(folder / "archive"), "--catalog", url, "--no-thumbnails", env=env)
        server = Server(url, folder / "home")
        try:
            cpu = time.process_time()
            figures = measure_viewer(server.base, uid, runs, seconds)
            figures["bench_cpu_s"] = time.process_time() - cpu
        finally:
            server.stop()
    figures["slices"] = slices
    return figures


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
    parser.add_argument("--no-viewer", action="store_true", help="leave out viewer scrolling")
    parser.add_argument("--viewer-only", action="store_true", help="only viewer scrolling")
    parser.add_argument("--viewer-slices", type=int, default=120, help="slices of the CT")
    parser.add_argument("--viewer-seconds", type=float, default=4.0, help="scrolling per run")
    args = parser.parse_args(argv)
    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if args.smoke:
        args.runs, args.pages = min(args.runs, 3), min(args.pages, 10)
        args.page_size = min(args.page_size, 4)  # several pages out of 22 series
        args.viewer_seconds = min(args.viewer_seconds, 2.0)
        args.viewer_slices = min(args.viewer_slices, 40)
    viewer = None
    if not args.no_viewer:
        viewer = viewer_figures(args.viewer_slices, args.runs, args.viewer_seconds)
        rate = viewer["slices_per_s"]["median"]
        print(
            f"viewer scrolling: {rate:.1f} slices/s painted (median of {viewer['runs']}, "
            f"{viewer['key_presses_per_s']:.0f} key presses/s, 512x512x{viewer['slices']} CT; "
            f"first pass down, never-loaded slices only: "
            f"{viewer['first_pass_slices_per_s']['median'] or float('nan'):.1f}/s); "
            f"target >= {TARGET_SLICES_PER_S:.0f}: ratio {viewer['ratio_to_target']:.2f}"
        )
        if args.viewer_only:
            if args.json:
                args.json.write_text(json.dumps({"viewer": viewer}, indent=2))
            return 0

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
    if viewer is not None:
        figures["viewer"] = viewer
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
