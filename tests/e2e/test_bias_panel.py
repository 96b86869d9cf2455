"""The Bias panel and its comparison view in Chromium (docs/ui.md "Bias panel").

A clinical table is planted in the phantom catalog through the API: a diagnosis that goes
with one site (every series of that site's patient is ``pneumonia``, the others
``normal``), so the site's InstitutionName and Manufacturer are a shortcut. The heatmap's V
must equal ``POST /api/bias``'s for every attribute and flag the planted pair; a click on a
cell narrows the gallery to the count ``/api/count`` gives for the two added terms; a pair
the API cannot compute reads "not computable" with the reason on hover; the comparison
view shows the API's Jensen–Shannon distances and the patients in both. Screenshots at
1440 px go to tests/e2e/artifacts/ (``bias-*.png``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI

pytestmark = pytest.mark.slow

TABLE = "e2e_trial"
TARGET = f"clin.{TABLE}.dx"


def series_fields(base: str, query: str, fields: list[str]) -> list[dict[str, Any]]:
    """The ``fields`` of every series of ``query`` (the phantom catalog is small)."""
    body = {"query": query, "fields": fields, "limit": 1000}
    response = httpx.post(f"{base}/api/search", json=body, timeout=30)
    response.raise_for_status()
    return [item["fields"] for item in response.json()["items"]]


def count(base: str, query: str) -> int:
    response = httpx.get(f"{base}/api/count", params={"q": query}, timeout=30)
    response.raise_for_status()
    series: int = response.json()["series"]
    return series


@pytest.fixture(scope="module")
def planted(server: str) -> Iterator[str]:
    """The planted table imported over the API (removed afterwards); yields the site."""
    rows = series_fields(server, "*", ["PatientID", "InstitutionName"])
    sites = sorted({(r["InstitutionName"], r["PatientID"]) for r in rows})
    site, patient = sites[0]
    patients = sorted({r["PatientID"] for r in rows})
    labels = {p: "pneumonia" if p == patient else "normal" for p in patients}
    lines = ["PatientID,dx"] + [f"{p},{label}" for p, label in labels.items()]
    files = {"file": ("trial.csv", "\n".join(lines).encode(), "text/csv")}
    data = {"key": "PatientID", "name": TABLE}
    response = httpx.post(f"{server}/api/clinical/tables", files=files, data=data, timeout=60)
    assert response.status_code == 201, response.text
    yield site
    httpx.delete(f"{server}/api/clinical/tables/{TABLE}", timeout=60).raise_for_status()


def bias_report(base: str, query: str, target: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/api/bias", json={"query": query, "target": target}, timeout=60)
    response.raise_for_status()
    out: dict[str, Any] = response.json()
    return out


def open_panel(ui: UI, target: str) -> None:
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.page.click("[data-testid=bias-open]")
    ui.page.fill("[data-testid=bias-target]", target)
    with ui.page.expect_response(lambda r: r.url.endswith("/api/bias") and r.ok):
        ui.page.click("[data-testid=bias-run]")
    ui.page.locator("[data-testid=bias-heatmap]").wait_for()


def test_heatmap_equals_api_and_cell_filters_gallery(ui: UI, planted: str) -> None:
    ui.open("/")
    open_panel(ui, TARGET)
    api = bias_report(ui.base, "*", TARGET)
    assert "InstitutionName" in api["flags"]
    rows = ui.page.locator("[data-testid=bias-row]")
    assert rows.count() == len(api["associations"])
    for assoc in api["associations"]:
        row = ui.page.locator(f"[data-testid=bias-row][data-attribute='{assoc['attribute']}']")
        cell = row.locator("[data-testid=bias-v]")
        if assoc["computable"]:
            assert float(cell.get_attribute("data-v") or "nan") == assoc["cramers_v"]
            assert cell.inner_text().split()[0] == f"{assoc['cramers_v']:.2f}"
        assert (row.get_attribute("data-flag") == "true") == assoc["flag"]
    planted_row = ui.page.locator("[data-testid=bias-row][data-attribute=InstitutionName]")
    v = float(planted_row.locator("[data-testid=bias-v]").get_attribute("data-v") or "0")
    assert v >= 0.5
    assert "⚠" in planted_row.inner_text()
    title = planted_row.locator("[data-testid=bias-v]").get_attribute("title") or ""
    assert "Holm-adjusted p" in title and "Cramér's V" in title
    ui.shot("bias-heatmap")

    # the planted site's pneumonia cell: over-represented; a click adds both terms
    planted_row.click()
    detail = ui.page.locator("[data-testid=bias-detail][data-attribute=InstitutionName]")
    detail.wait_for()
    cells = detail.locator("[data-testid=bias-cell]")
    residuals = [float(r) for r in cells.evaluate_all("es => es.map(e => e.dataset.residual)")]
    best = cells.nth(max(range(len(residuals)), key=residuals.__getitem__))
    terms = f"{best.get_attribute('data-filter')} {best.get_attribute('data-target-filter')}"
    assert TARGET in terms and "InstitutionName" in terms
    expected = count(ui.base, terms)
    assert 0 < expected < 22
    best.click()
    ui.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=card]').length === n", arg=expected
    )
    totals = ui.page.locator("[data-testid=totals] strong").first
    assert int(totals.inner_text().replace(",", "")) == expected
    assert ui.page.locator("[data-testid=search-input]").input_value() == terms
    ui.page.locator("[data-testid=bias-rerun]").wait_for()  # the analysis kept its selection


def test_not_computable_pair_and_representation(ui: UI, planted: str) -> None:
    ui.open("/?q=Modality:CT")
    open_panel(ui, TARGET)
    api = bias_report(ui.base, "Modality:CT", TARGET)
    constant = next(a for a in api["associations"] if not a["computable"])
    row = ui.page.locator(f"[data-testid=bias-row][data-attribute='{constant['attribute']}']")
    cell = row.locator("[data-testid=bias-v]")
    assert cell.inner_text() == "not computable"
    assert constant["reason"] in (cell.get_attribute("title") or "")
    # representation bars: one per attribute, the missing share as the API gives it
    for rep in api["representation"]:
        bar = ui.page.locator(f"[data-testid=bias-rep][data-field='{rep['field']}']")
        missing = bar.locator("[data-testid=bias-rep-missing]").inner_text()
        assert (
            missing == f"missing {round(rep['missing_rate'] * 100):.0f} %"
            or rep["missing_rate"] * 100 < 1
        )


def test_comparison_shows_api_distances_and_leakage(ui: UI, planted: str) -> None:
    ui.open("/")
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.page.click("[data-testid=bias-open]")
    ui.page.click("[data-testid=bias-tab-compare]")
    a, b = "Modality:CT", f'InstitutionName:"{planted}"'
    ui.page.fill("[data-testid=compare-a]", a)
    ui.page.fill("[data-testid=compare-b]", b)
    ui.page.click("[data-testid=compare-run]")
    ui.page.locator("[data-testid=compare-table]").wait_for()
    response = httpx.post(f"{ui.base}/api/bias/compare", json={"a": a, "b": b}, timeout=60)
    api = response.json()
    shown = ui.page.locator("[data-testid=shift-row]")
    assert shown.count() == len(api["attributes"])
    for shift in api["attributes"]:
        row = ui.page.locator(f"[data-testid=shift-row][data-field='{shift['field']}']")
        js = row.locator("[data-testid=shift-js]")
        if shift["computable"]:
            assert float(js.get_attribute("data-js") or "nan") == shift["js_distance"]
            assert js.inner_text() == f"{shift['js_distance']:.3f}"
        else:
            assert js.inner_text() == "not computable"
    overlap = ui.page.locator("[data-testid=compare-overlap]")
    assert int(overlap.get_attribute("data-patients") or "-1") == api["overlap"]["patients"]
    assert api["overlap"]["leakage"] and "Leakage" in overlap.inner_text()
    shown.first.click()  # the strongest shift's shares, side by side
    ui.shot("bias-compare")
