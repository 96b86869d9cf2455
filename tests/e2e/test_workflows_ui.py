"""Results and workflows in Chromium: run a workflow from the bulk bar, watch it in the
Jobs panel, then see what it wrote on a card, in a chart, in the detail view's Results.

Against ``radcurate serve`` on the phantom archive (tests/e2e/conftest.py). Screenshots
go to tests/e2e/artifacts/ (``wf-*.png``). Skips when the server has no workflows.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI

pytestmark = pytest.mark.slow

#: a built-in annotator that reads headers only (fast, needs no model): it writes
#: ai.bodypart_header (a list of regions) and ai.bodypart_header_source
WORKFLOW = "header-bodypart"
FIELD = "ai.bodypart_header"


def api(ui: UI, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, ui.base + path, timeout=30, **kwargs)
    assert response.status_code < 400, response.text
    return response.json()


def workflows(ui: UI) -> list[dict[str, Any]]:
    assert "/api/workflows" in api(ui, "GET", "/openapi.json")["paths"]
    answer = api(ui, "GET", "/api/workflows")
    items: list[dict[str, Any]] = answer if isinstance(answer, list) else answer["items"]
    return items


def the_workflow(ui: UI) -> dict[str, Any]:
    found = {w["name"]: w for w in workflows(ui)}
    assert WORKFLOW in found, sorted(found)
    return found[WORKFLOW]


def wait_total(ui: UI, n: int) -> None:
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=totals] strong')"
        ".textContent.replace(/,/g, '') == n",
        arg=str(n),
    )


def run_on_selected(ui: UI, count: int, *, force: bool = False) -> tuple[str, list[str]]:
    """Selects the first ``count`` cards, runs the workflow from the bulk bar, waits for
    the job to end in the Jobs panel; returns the job id and the selected uids."""
    cards = ui.page.locator("[data-testid=card]")
    cards.nth(0).click()
    cards.nth(count - 1).click(modifiers=["Shift"])
    assert ui.page.inner_text("[data-testid=selection-count]") == f"{count} selected"
    uids = cards.evaluate_all(f"els => els.slice(0, {count}).map(e => e.dataset.uid)")
    ui.page.click("[data-testid=bulk-run-workflow]")
    dialog = ui.page.locator("[data-testid=workflow-dialog]")
    dialog.wait_for()
    ui.page.click(f"[data-testid=workflow-{WORKFLOW}]")
    assert ui.page.locator("[data-testid=target-selection]").is_checked()
    if force:
        ui.page.check("[data-testid=workflow-force] input")
    with ui.page.expect_response(lambda r: f"/api/workflows/{WORKFLOW}/runs" in r.url) as info:
        ui.page.click("[data-testid=workflow-start]")
    response = info.value
    assert response.status == 202, response.text()
    job_id = response.json()["id"]
    assert dialog.count() == 0
    job = ui.page.locator(f"[data-testid=jobs-panel] [data-job-id='{job_id}']")
    job.wait_for()
    job.locator("[data-testid=job-state]:text-is('done')").wait_for(timeout=60_000)
    return job_id, uids


def test_run_a_workflow_on_selected_series_and_see_its_results(ui: UI) -> None:
    ui.open("/?sort=SeriesInstanceUID")
    workflow = the_workflow(ui)
    ui.settle()
    # the dialog: workflows listed, a form from params_schema, the target
    cards = ui.page.locator("[data-testid=card]")
    cards.nth(0).click()
    cards.nth(2).click(modifiers=["Shift"])
    ui.page.click("[data-testid=bulk-run-workflow]")
    ui.page.locator("[data-testid=workflow-dialog]").wait_for()
    ui.page.click(f"[data-testid=workflow-{WORKFLOW}]")
    form = ui.page.locator("[data-testid=workflow-form]")
    assert workflow["description"].split("\n")[0][:40] in form.inner_text()
    for name in workflow["params_schema"].get("properties", {}):
        assert ui.page.locator(f"[data-testid=param-{name}]").count() == 1, name
    assert "3 series" in ui.page.inner_text("[data-testid=workflow-target]")
    ui.shot("wf-01-run-dialog")
    ui.page.keyboard.press("Escape")
    assert ui.page.locator("[data-testid=workflow-dialog]").count() == 0
    ui.page.keyboard.press("Escape")  # clears the selection

    job_id, uids = run_on_selected(ui, 3)
    job = ui.page.locator(f"[data-job-id='{job_id}']")
    assert job.locator("[data-testid=job-counts]").inner_text() == "3 / 3"
    assert job.locator("[data-testid=job-progress]").get_attribute("aria-valuenow") == "100"
    ui.shot("wf-02-jobs-panel")
    record = api(ui, "GET", f"/api/jobs/{job_id}")
    assert record["state"] == "done"
    # the job wrote to exactly those series
    written = api(ui, "GET", "/api/search", params={"q": f"job:{job_id}", "limit": 50})
    assert sorted(i["series_uid"] for i in written["items"]) == sorted(uids)
    results = api(ui, "GET", f"/api/series/{uids[0]}/results")
    mine = [p for p in results["provenance"] if p["job_id"] == job_id]
    assert len(mine) == 1 and FIELD in mine[0]["keys"], results["provenance"]
    assert mine[0]["producer"] == WORKFLOW
    field = FIELD
    space, _, key = field.partition(".")
    value = results["results"][space][key]
    ui.page.click("[data-testid=jobs-close]")

    # a card shows the value
    fields_input = ui.page.locator("input[aria-label^='Fields shown on cards']")
    fields_input.fill(f"SeriesDescription, {field}")
    fields_input.press("Enter")
    card = ui.page.locator(f"[data-testid=card][data-uid='{uids[0]}']")
    # the cards of the last answer stay until the new page (with the field) arrives
    card.locator(f".card-fields div[title='{field}: {display(value)}']").wait_for()
    shown = card.locator(f".card-fields div[title^='{field}: '] dd").inner_text()
    assert shown == display(value)
    ui.shot("wf-03-card")

    # a chart of it: the picker offers it, the bars count the three series
    options = ui.page.locator("[data-testid=add-chart-fields] option").evaluate_all(
        "os => os.map(o => o.value)"
    )
    assert field in options
    ui.page.fill("[data-testid=add-chart-input]", field)
    ui.page.click("[data-testid=add-chart]")
    chart = ui.page.locator(f"[data-testid='chart-{field}']")
    chart.wait_for()
    chart.scroll_into_view_if_needed()
    bars = chart.locator("[data-testid=bar]")
    bars.first.wait_for()
    labels = bars.evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
    counted = sum(int(x.rsplit(": ", 1)[1]) for x in labels if not x.startswith("(missing)"))
    assert counted == 3, labels
    ui.shot("wf-04-chart")

    # the detail view's Results section: the value and its provenance
    card.dblclick()
    row = ui.page.locator(f"[data-testid=result-row][data-field='{field}']")
    row.wait_for()
    assert row.locator("td").inner_text() == display(value)
    group = ui.page.locator("[data-testid=result-group]", has=row)
    provenance = group.locator("[data-testid=provenance]")
    assert WORKFLOW in provenance.inner_text()
    assert f"v{mine[0]['version']}" in provenance.inner_text()
    assert f"by {mine[0]['actor']}" in provenance.inner_text()
    for name, param in mine[0]["params"].items():
        assert f"{name}={display(param)}" in provenance.inner_text()
    assert provenance.locator("[data-testid=provenance-job]").inner_text() == job_id[:8]
    ui.shot("wf-05-results")
    # the job link opens it in the Jobs panel
    provenance.locator("[data-testid=provenance-job]").click()
    ui.page.locator(f"[data-testid=jobs-panel] [data-job-id='{job_id}'].focused").wait_for()
    ui.page.click("[data-testid=jobs-close]")
    # a series the workflow did not touch: none of its values (ingest's own qc.* may show)
    ui.page.click("[data-testid=detail-close]")
    ui.page.locator(f"[data-testid=card][data-uid='{uids[0]}']").wait_for()
    other = ui.page.locator("[data-testid=card]").nth(5)
    other_uid = other.get_attribute("data-uid")
    other.dblclick()
    ui.page.locator(f"[data-testid=detail] >> text={other_uid}").first.wait_for()
    section = ui.page.locator("[data-testid=results]")
    section.locator("[data-testid=results-count], [data-testid=results-empty]").first.wait_for()
    assert section.locator(f"[data-testid=result-row][data-field='{field}']").count() == 0
    assert WORKFLOW not in section.inner_text()
    ui.page.click("[data-testid=detail-close]")

    # "Show processed series": the query job:<id>
    ui.page.click("[data-testid=jobs-button]")
    ui.page.locator(f"[data-job-id='{job_id}'] [data-testid=job-show-series]").click()
    wait_total(ui, 3)
    assert ui.page.input_value("[data-testid=search-input]") == f"job:{job_id}"


def display(value: Any) -> str:
    """A result value as the UI writes it (lists joined, yes/no, numbers rounded)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(display(v) for v in value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, float):
        return str(int(value))
    return str(value)


def test_run_on_every_match_of_the_query_then_search_the_result_fields(ui: UI) -> None:
    ui.open("/?q=Modality:CT")
    the_workflow(ui)
    wait_total(ui, 9)
    # from the top bar, nothing selected: every match of the query
    ui.page.click("[data-testid=run-workflow-query]")
    ui.page.locator("[data-testid=workflow-dialog]").wait_for()
    assert ui.page.locator("[data-testid=target-selection]").is_disabled()
    assert ui.page.locator("[data-testid=target-query]").is_checked()
    assert "9 series" in ui.page.inner_text("[data-testid=workflow-target]")
    ui.page.click(f"[data-testid=workflow-{WORKFLOW}]")
    ui.page.check("[data-testid=workflow-force] input")
    with ui.page.expect_response(lambda r: f"/api/workflows/{WORKFLOW}/runs" in r.url) as info:
        ui.page.click("[data-testid=workflow-start]")
    body = info.value.request.post_data_json
    assert body["selection"] == {"query": "Modality:CT", "include": [], "exclude": []}
    assert body["force"] is True
    job_id = info.value.json()["id"]
    job = ui.page.locator(f"[data-testid=jobs-panel] [data-job-id='{job_id}']")
    job.locator("[data-testid=job-state]:text-is('done')").wait_for(timeout=60_000)
    assert job.locator("[data-testid=job-counts]").inner_text() == "9 / 9"
    # the per-series errors: none
    job.locator("[data-testid=job-errors-toggle]").click()
    job.locator("[data-testid=job-errors]:has-text('No series failed')").wait_for()
    ui.page.click("[data-testid=jobs-close]")

    # the search bar suggests the result fields, then their values
    box = ui.page.locator("[data-testid=search-input]")
    box.fill("")
    box.click()
    box.type("ai.bodyp")
    suggestions = ui.page.locator("[data-testid=suggestions] li")
    ui.page.locator("[data-testid=suggestions] li", has_text=FIELD).first.wait_for()
    ui.shot("wf-06-autocomplete-field")
    index = next(i for i, t in enumerate(suggestions.all_inner_texts()) if t.startswith(FIELD))
    for _ in range(index):
        box.press("ArrowDown")
    box.press("Enter")
    assert box.input_value() == f"{FIELD}:"
    values = api(ui, "GET", "/api/autocomplete/values", params={"field": FIELD})["items"]
    top = values[0]
    ui.page.locator("[data-testid=suggestions] li", has_text=str(top["value"])).first.wait_for()
    texts = [t.replace("\n", " ") for t in suggestions.all_inner_texts()]
    assert any(t.split()[0] == top["value"] and t.split()[-1] == str(top["count"]) for t in texts)
    ui.shot("wf-07-autocomplete-values")
    box.press("Escape")
    search_for(ui, f"{FIELD}:{top['value']}")


def test_the_form_checks_bounds_before_sending(ui: UI) -> None:
    ui.open()
    found = {w["name"]: w for w in workflows(ui)}
    assert "thumbnails" in found  # a built-in
    size = found["thumbnails"]["params_schema"]["properties"]["size"]
    ui.page.click("[data-testid=run-workflow-query]")
    ui.page.click("[data-testid=workflow-thumbnails]")
    field = ui.page.locator("[data-testid=param-size]")
    assert field.locator("input").input_value() == str(size["default"])
    assert f"{size['minimum']} – {size['maximum']}" in field.inner_text()
    assert size["description"] in field.inner_text()
    field.locator("input").fill(str(size["maximum"] + 1))
    sent: list[str] = []
    ui.page.on("request", lambda r: sent.append(r.url) if "/runs" in r.url else None)
    ui.page.click("[data-testid=workflow-start]")
    problem = field.locator("[data-testid=param-problem]")
    problem.wait_for()
    assert f"≤ {size['maximum']}" in problem.inner_text()
    assert sent == []
    ui.shot("wf-08-form-bounds")
    ui.page.keyboard.press("Escape")
    assert ui.page.locator("[data-testid=workflow-dialog]").count() == 0


def search_for(ui: UI, query: str) -> None:
    box = ui.page.locator("[data-testid=search-input]")
    box.fill(query)
    box.press("Escape")
    ui.page.click("[data-testid=search-button]")
    wait_total(ui, api(ui, "GET", "/api/count", params={"q": query})["series"])
