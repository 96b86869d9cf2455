"""Clinical-table upload in Chromium (docs/ui.md "Clinical tables").

A CSV written in tmp_path for the phantom catalog's PatientIDs (plus a key no series has
and a column of mixed types) is uploaded through the dialog; the join report's numbers
shown must equal ``GET /api/clinical/tables/{name}``'s; the new ``clin.*`` field is then
suggested by the search bar and searchable, with the count ``/api/count`` gives; removing
the table lists it no more and its fields leave ``/api/fields``. Screenshot:
tests/e2e/artifacts/bias-clinical-report.png.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import UI

pytestmark = pytest.mark.slow

TABLE = "e2e_upload"
NUMBERS = (
    "rows_read",
    "keys",
    "matched_keys",
    "unmatched_keys",
    "duplicate_keys",
    "rows_without_key",
    "matched_series",
    "series_without_row",
    "type_problems",
)


def field_names(base: str) -> set[str]:
    response = httpx.get(f"{base}/api/fields", timeout=30)
    response.raise_for_status()
    return {f["name"] for f in response.json()["items"]}


def test_upload_report_search_and_remove(ui: UI, tmp_path: Path) -> None:
    body = {"query": "*", "fields": ["PatientID"], "limit": 1000}
    items = httpx.post(f"{ui.base}/api/search", json=body, timeout=30).json()["items"]
    patients = sorted({i["fields"]["PatientID"] for i in items})
    assert len(patients) == 3
    csv = tmp_path / "outcomes.csv"
    lines = ["PatientID,outcome,score"]
    lines += [f"{patients[0]},relapse,3.5", f"{patients[1]},remission,oops"]
    lines += ["NO-SUCH-PATIENT,remission,2"]
    csv.write_text("\n".join(lines) + "\n")

    ui.open("/")
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.page.click("[data-testid=bias-open]")
    ui.page.click("[data-testid=clinical-open]")
    dialog = ui.page.locator("[data-testid=clinical-dialog]")
    dialog.locator("[data-testid=clinical-none]").wait_for()
    dialog.locator("[data-testid=clinical-file]").set_input_files(str(csv))
    dialog.locator("[data-testid=clinical-key]").select_option("PatientID")
    dialog.locator("[data-testid=clinical-name]").fill(TABLE)
    dialog.locator("[data-testid=clinical-duplicates]").select_option("refuse")
    dialog.locator("[data-testid=clinical-upload]").click()
    dialog.locator("[data-testid=clinical-report]").wait_for()

    report = httpx.get(f"{ui.base}/api/clinical/tables/{TABLE}", timeout=30).json()["report"]
    for name in NUMBERS:
        shown = dialog.locator(f"[data-testid=report-{name}]").inner_text()
        assert int(shown) == report[name], name
    assert (report["matched_keys"], report["unmatched_keys"], report["type_problems"]) == (2, 1, 1)
    columns = dialog.locator("[data-testid=report-column]")
    assert columns.count() == len(report["columns"])
    score = dialog.locator("[data-testid=report-column][data-field='clin.e2e_upload.score']")
    assert "mixed types" in score.inner_text()
    listed = dialog.locator(f"[data-testid=clinical-table][data-name={TABLE}]")
    assert int(listed.locator("td.num").inner_text()) == report["series_written"]
    ui.shot("bias-clinical-report")
    dialog.locator("[data-testid=clinical-close]").click()

    # the new field: suggested by the search bar, searchable
    box = ui.page.locator("[data-testid=search-input]")
    box.click()
    box.type("clin.e2e_up")
    suggestion = ui.page.locator("[data-testid=suggestions] li", has_text="clin.e2e_upload.outcome")
    suggestion.wait_for()
    box.fill("clin.e2e_upload.outcome:relapse")
    box.press("Escape")  # close the suggestions
    ui.page.click("[data-testid=search-button]")
    expected = httpx.get(
        f"{ui.base}/api/count", params={"q": "clin.e2e_upload.outcome:relapse"}, timeout=30
    ).json()["series"]
    assert expected > 0
    ui.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=card]').length === n", arg=expected
    )

    # remove: the table leaves the list, its fields leave the registry
    box.fill("")
    box.press("Escape")
    ui.page.click("[data-testid=search-button]")
    totals = ui.page.locator("[data-testid=totals] strong").first
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=totals] strong').textContent === '22'"
    )
    assert totals.inner_text() == "22"
    ui.page.on("dialog", lambda d: d.accept())
    ui.page.click("[data-testid=clinical-open]")
    listed.locator("[data-testid=clinical-remove]").click()
    dialog.locator("[data-testid=clinical-none]").wait_for()
    assert httpx.get(f"{ui.base}/api/clinical/tables/{TABLE}", timeout=30).status_code == 404
    assert not any(n.startswith(f"clin.{TABLE}.") for n in field_names(ui.base))
