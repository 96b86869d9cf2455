"""The dashboard's QC panel and the detail view's QC flags in Chromium.

A test workflow (``e2e-probe-qc``) declaring three checks is registered in the served
process, and its results are written on some series of the phantom catalog with the result
store before the server starts (one of them also carries ``qc.conformance.*``, which the
built-in ``qc-conformance`` check counts). The panel's count of every registered check must
equal what ``radcurate facets`` and ``/api/count`` give for the check's failing query (and
each check's count in a narrower query); a click on a check filters the gallery to it.
Screenshots go to tests/e2e/artifacts/ (``qc-*.png``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.catalog.result_types import ResultRow
from radcurate.cli import main
from radcurate.workflow import QCCheck, SeriesItem, Workflow
from tests.e2e.conftest import UI, WEBUI_INDEX, _free_port, _require

pytestmark = pytest.mark.slow

PRODUCER = "e2e-probe-qc"
GAP = QCCheck(
    field="qc.e2e.gap_slices",
    title="E2E probe: missing slices",
    meaning="Slices missing from the volume (a test check of the QC panel).",
    fails="qc.e2e.gap_slices:>0",
    tolerance="none: one missing slice fails",
    family="geometry",
    severity="error",
)
NOISY = QCCheck(
    field="qc.e2e.noisy",
    title="E2E probe: noisy",
    meaning="The series is noisier than its protocol group (a test check).",
    fails="qc.e2e.noisy:true",
    family="pixels",
    severity="warning",
)
NEVER = QCCheck(
    field="qc.e2e.never_written",
    title="E2E probe: never written",
    meaning="No series carries this field (a test check that counts 0).",
    fails="qc.e2e.never_written:true",
    family="pixels",
    severity="info",
)
MESSAGES = [
    "Error - Missing attribute Type 1 Required Element=<PatientName> Module=<Patient>",
    "Warning - Unrecognized defined term <PHANTOM> for Element=<BodyPartExamined>",
]

#: the served process: registers the probe workflow, then runs ``radcurate serve``
SERVE = (
    "import sys; from radcurate.workflow.registry import default_registry; "
    "from tests.e2e.test_qc_panel import ProbeQC; "
    "default_registry().register(ProbeQC(), group='qc_checks'); "
    "from radcurate.cli import main; main(sys.argv[1:])"
)


class ProbeQC(Workflow):
    """Declares the three test checks; its values are written by the fixture."""

    name = PRODUCER
    title = "E2E probe QC"
    checks: ClassVar[tuple[QCCheck, ...]] = (GAP, NOISY, NEVER)

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        return {"qc": {"e2e": {"gap_slices": 0, "noisy": False}}}


def probe_values(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """qc values per series: every CT checked (every third misses slices), the MRs flagged
    noisy in turn, the first CT with conformance errors and dciodvfy's messages."""
    out: dict[str, dict[str, Any]] = {}
    cts = [d for d in documents if d.get("Modality") == "CT"]
    mrs = [d for d in documents if d.get("Modality") == "MR"]
    for n, doc in enumerate(cts):
        out[str(doc["SeriesInstanceUID"])] = {"e2e": {"gap_slices": 2 if n % 3 == 0 else 0}}
    for n, doc in enumerate(mrs):
        out[str(doc["SeriesInstanceUID"])] = {"e2e": {"noisy": n % 2 == 0}}
    first = str(cts[0]["SeriesInstanceUID"])
    out[first]["conformance"] = {"errors": 1, "warnings": 1, "messages": MESSAGES}
    return out


@pytest.fixture(scope="module")
def qc_catalog(phantom_catalog: str) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """The phantom catalog with the probe's results (removed again afterwards)."""
    catalog = open_catalog(phantom_catalog)
    try:
        documents = sorted(catalog.iter_series_documents(), key=lambda d: d["SeriesInstanceUID"])
        values = probe_values(documents)
        rows = [ResultRow(uid, {"qc": qc}) for uid, qc in values.items()]
        catalog.result_store.write_results(rows, producer=PRODUCER, version="1")
    finally:
        catalog.close()
    yield phantom_catalog, values
    catalog = open_catalog(phantom_catalog)
    try:
        catalog.result_store.delete_results(None, PRODUCER)
    finally:
        catalog.close()


@pytest.fixture(scope="module")
def qc_server(
    qc_catalog: tuple[str, dict[str, dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``radcurate serve`` on that catalog, with the probe workflow registered."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    home = tmp_path_factory.mktemp("qc-home")
    port = _free_port()
    root = str(Path(__file__).parents[2])
    env = {
        **os.environ,
        "RADCURATE_HOME": str(home),
        "RADCURATE_CATALOG": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    args = ["serve", "--catalog", qc_catalog[0], "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, *args],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{base}/api/info", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "radcurate serve did not answer in 30 s"
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture
def qc_ui(ui: UI, qc_server: str) -> UI:
    """The ``ui`` page, pointed at the QC server."""
    ui.base = qc_server
    return ui


def facets_count(catalog_url: str, query: str, home: Path) -> int:
    """``radcurate facets QUERY --json``'s series count (the command, run in-process)."""
    env = {"RADCURATE_HOME": str(home), "RADCURATE_CATALOG": catalog_url}
    result = CliRunner().invoke(main, ["facets", "--json", "--", query], env=env)
    assert result.exit_code == 0, result.output
    count: int = json.loads(result.output)["counts"]["series"]
    return count


def panel_counts(ui: UI) -> dict[str, int]:
    """``{field: count}`` as the panel shows them (text, not the data attribute)."""
    rows = ui.page.locator("[data-testid=qc-panel] [data-testid=qc-check]")
    out: dict[str, int] = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        text = row.locator("[data-testid=qc-check-count]").inner_text()
        out[str(row.get_attribute("data-field"))] = int(text.replace(",", ""))
    return out


def test_panel_counts_equal_facets_and_click_filters(
    qc_ui: UI, qc_catalog: tuple[str, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    ui = qc_ui
    catalog_url, values = qc_catalog
    with ui.page.expect_response(lambda r: "/api/qc/checks" in r.url) as first:
        ui.open("/?sort=SeriesInstanceUID")
    body = first.value.json()
    panel = ui.page.locator("[data-testid=qc-panel]")
    panel.wait_for()
    ui.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=qc-panel] [data-testid=qc-check]')"
        ".length == n",
        arg=len(body["checks"]),
    )
    ui.settle()
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.shot("qc-01-panel")
    checks = {c["field"]: c for c in body["checks"]}
    for check in (GAP, NOISY, NEVER):
        assert check.field in checks, sorted(checks)
        assert checks[check.field]["workflow"] == PRODUCER
    # what the probe wrote, counted by hand
    gaps = sum(1 for qc in values.values() if qc.get("e2e", {}).get("gap_slices", 0) > 0)
    noisy = sum(1 for qc in values.values() if qc.get("e2e", {}).get("noisy") is True)
    assert gaps > 0 and noisy > 0
    shown = panel_counts(ui)
    assert shown[GAP.field] == gaps and shown[NOISY.field] == noisy and shown[NEVER.field] == 0
    # every registered check (the probe's and the built-in ones): the panel's count is what
    # radcurate facets and /api/count give for its failing query
    for field, check in checks.items():
        expected = facets_count(catalog_url, check["fails"], tmp_path / "home")
        assert shown[field] == expected, (field, check["fails"])
        api = httpx.get(f"{ui.base}/api/count", params={"q": check["fails"]}).json()
        assert api["series"] == expected, field
    assert shown["qc.conformance.errors"] == 1
    # grouped by family, coloured by severity, meaning and tolerance on hover
    families = panel.locator("[data-testid=qc-family]").evaluate_all(
        "els => els.map(e => e.dataset.family)"
    )
    assert families.index("geometry") < families.index("pixels")
    gap_row = panel.locator(f"[data-testid=qc-check][data-field='{GAP.field}']")
    family = gap_row.evaluate("e => e.closest('[data-testid=qc-family]').dataset.family")
    assert family == "geometry"
    assert "sev-error" in (gap_row.get_attribute("class") or "")
    dot = gap_row.locator(".sev-dot").evaluate("e => getComputedStyle(e).backgroundColor")
    assert dot == "rgb(198, 40, 40)"
    title = gap_row.get_attribute("title") or ""
    assert GAP.meaning in title and GAP.tolerance in title and GAP.fails in title

    # in a narrower query the panel counts that query's series; a click filters the gallery
    # to the failing ones and the panel follows the new query
    with ui.page.expect_response(lambda r: "/api/qc/checks" in r.url) as narrowed:
        ui.open("/?q=Modality:CT&sort=SeriesInstanceUID")
    ct_counts = {c["field"]: c["count"] for c in narrowed.value.json()["checks"]}
    assert ct_counts[NOISY.field] == 0 and ct_counts[GAP.field] == gaps
    ui.page.wait_for_function(
        "([f, n]) => document.querySelector(`[data-testid=qc-check][data-field='${f}']`)"
        "?.dataset.count == n",
        arg=[NOISY.field, 0],
    )
    assert panel_counts(ui) == ct_counts
    query = f"Modality:CT {GAP.fails}"
    with ui.page.expect_response(lambda r: "/api/search" in r.url and r.request.method == "POST"):
        gap_row.click()
    ui.page.wait_for_function("q => new URLSearchParams(location.search).get('q') == q", arg=query)
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=totals] strong').textContent == n",
        arg=str(gaps),
    )
    cards = ui.page.locator("[data-testid=card]")
    cards.first.wait_for()
    uids = sorted(cards.evaluate_all("els => els.map(e => e.dataset.uid)"))
    expected_uids = sorted(u for u, qc in values.items() if qc.get("e2e", {}).get("gap_slices"))
    assert uids == expected_uids
    assert "on" in (gap_row.get_attribute("class") or "")
    ui.shot("qc-02-filtered")


def test_detail_view_lists_qc_flags_and_conformance_messages(
    qc_ui: UI, qc_catalog: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    ui = qc_ui
    _, values = qc_catalog
    uid = next(u for u, qc in values.items() if "conformance" in qc)
    ui.open(f"/?series={uid}")
    flags = ui.page.locator("[data-testid=detail] [data-testid=qc-flags]")
    flags.locator("[data-testid=qc-flag]").first.wait_for()
    failing = flags.locator("[data-testid=qc-flag][data-state=fail]")
    fields = failing.evaluate_all("els => els.map(e => e.dataset.field)")
    # exactly the checks the series fails (the built-in header checks ran at ingest too)
    assert sorted(fields) == failing_fields(ui, uid)
    assert {GAP.field, "qc.conformance.errors"} <= set(fields)
    # failing checks come first, errors before warnings
    states = flags.locator("[data-testid=qc-flag]").evaluate_all(
        "els => els.map(e => e.dataset.state)"
    )
    order = {"fail": 0, "note": 1, "pass": 2}
    assert states == sorted(states, key=order.__getitem__)
    notes = flags.locator("[data-testid=qc-flag][data-state=note]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    )
    assert sorted(notes) == failing_fields(ui, uid, info=True)
    severities = failing.evaluate_all("els => els.map(e => e.className.match(/sev-(\\w+)/)[1])")
    rank = {"error": 0, "warning": 1}
    assert severities == sorted(severities, key=rank.__getitem__)
    gap = failing.filter(has_text=GAP.title)
    assert gap.locator("[data-testid=qc-flag-value]").inner_text() == "2"
    assert f"{len(fields)} failing" in flags.locator("[data-testid=qc-flags-summary]").inner_text()
    # the check it did not run on is not a flag
    assert flags.locator(f"[data-testid=qc-flag][data-field='{NOISY.field}']").count() == 0
    # the messages are collapsed until opened
    section = flags.locator("[data-testid=qc-conformance]")
    assert "2 messages" in section.locator("summary").inner_text()
    assert not section.locator("[data-testid=qc-conformance-message]").first.is_visible()
    section.locator("summary").click()
    texts = section.locator("[data-testid=qc-conformance-message]").all_inner_texts()
    assert texts == MESSAGES
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.shot("qc-03-detail")

    # a series that passes the probe's check: not among the failing flags, but passed
    clean = next(u for u, qc in values.items() if qc.get("e2e") == {"gap_slices": 0})
    ui.page.goto(f"{ui.base}/?series={clean}")
    flags.locator("[data-testid=qc-flags-summary]").wait_for()
    passed = flags.locator(f"[data-testid=qc-flag][data-field='{GAP.field}']")
    passed.wait_for(state="attached")
    assert passed.get_attribute("data-state") == "pass"
    fields = flags.locator("[data-testid=qc-flag][data-state=fail]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    )
    assert GAP.field not in fields and sorted(fields) == failing_fields(ui, clean)
    assert flags.locator("[data-testid=qc-conformance]").count() == 0


def failing_fields(ui: UI, uid: str, *, info: bool = False) -> list[str]:
    """The fields of the error and warning checks ``uid`` fails (``info``: of the info checks,
    the UI's notes), per the API, sorted."""
    checks = qc_checks(ui, f'SeriesInstanceUID:"{uid}"')["checks"]
    hits = [c for c in checks if c["count"] > 0 and (c["severity"] == "info") == info]
    return sorted(c["field"] for c in hits)


def qc_checks(ui: UI, query: str) -> dict[str, Any]:
    response = httpx.get(f"{ui.base}/api/qc/checks", params={"q": query}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
