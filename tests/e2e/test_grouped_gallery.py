"""The structured gallery (issue 19): the results by patient, then study, with counts and
tri-state boxes that select a group's matching series for the bulk bar, in Chromium.

Against ``radcurate serve`` on the phantom archive (3 patients, 22 series), with a query
that leaves some series of a study out (``NOT Modality:SR``): a ticked study must tag
exactly its series that match, minus the one card unticked inside it; a ticked patient
exactly the patient's. The view is remembered in the user's settings. Screenshots:
``tests/e2e/artifacts/grouped-*.png`` (docs/img/ui-grouped-gallery.png is a copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI, copy_screenshot

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"
QUERY = "NOT Modality:SR"
TAGS = ("e2e-grouped-study", "e2e-grouped-patient")


def api(ui: UI, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, ui.base + path, timeout=30, **kwargs)
    assert response.status_code < 400, response.text
    return response.json()


def series_of(ui: UI, term: str) -> set[str]:
    """The series of a group that match the query, as the server's search gives them."""
    body = {"query": f"({QUERY}) ({term})", "fields": ["SeriesInstanceUID"], "limit": 500}
    return {i["series_uid"] for i in api(ui, "POST", "/api/search", json=body)["items"]}


def tagged(ui: UI, name: str) -> set[str]:
    body = {"query": f"tag:{name}", "fields": ["SeriesInstanceUID"], "limit": 500}
    return {i["series_uid"] for i in api(ui, "POST", "/api/search", json=body)["items"]}


def box_state(ui: UI, selector: str) -> str:
    state: str = ui.page.locator(selector).evaluate(
        "e => e.indeterminate ? 'some' : e.checked ? 'on' : 'off'"
    )
    return state


def tag_selection(ui: UI, name: str, count: int) -> None:
    ui.page.locator("[data-testid=bulk-tag]").fill(name)
    ui.page.locator("[data-testid=bulk-tag-add]").click()
    ui.page.wait_for_selector(f"[data-testid=toast]:has-text('Tagged {count} series')")


@pytest.fixture
def clean_tags(ui: UI) -> Any:
    yield
    for name in TAGS:
        httpx.delete(f"{ui.base}/api/tags/{name}", timeout=30)


def test_group_expand_tick_a_study_and_tag_exactly_its_series(ui: UI, clean_tags: Any) -> None:
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.open(f"/?q={QUERY}")
    ui.settle()
    ui.page.locator("[data-testid=view-grouped]").click()
    ui.page.wait_for_selector("[data-testid=group-patient]")
    groups = api(ui, "POST", "/api/search/groups", json={"query": QUERY})
    patients = groups["items"]
    assert groups["total"] == len(patients) == 3
    rows = ui.page.locator("[data-testid=group-patient]")
    assert rows.count() == 3
    for n, patient in enumerate(patients):
        row = rows.nth(n)
        assert row.get_attribute("data-patient") == patient["patient_id"]
        counts = row.locator("[data-testid=group-patient-counts]").inner_text()
        assert counts == f"{patient['studies']} studies · {patient['series']} series"
    # the patient whose study has the most matching series (the query leaves its SR out)
    studies_of = {
        p["patient_id"]: api(
            ui,
            "POST",
            "/api/search/groups",
            json={"query": QUERY, "level": "studies", "patient_id": p["patient_id"]},
        )["items"]
        for p in patients
    }
    patient_id, study = max(
        ((pid, s) for pid, items in studies_of.items() for s in items), key=lambda x: x[1]["series"]
    )
    assert study["series"] >= 3
    wanted = series_of(ui, study["term"])
    assert len(wanted) == study["series"]
    patient_row = ui.page.locator(f"[data-testid=group-patient][data-patient='{patient_id}']")
    patient_row.locator("[data-testid=group-patient-toggle]").click()
    study_row = patient_row.locator(f"[data-testid=group-study][data-study='{study['study_uid']}']")
    study_row.wait_for()
    assert patient_row.locator("[data-testid=group-study]").count() == len(studies_of[patient_id])
    counts = study_row.locator("[data-testid=group-study-counts]").inner_text()
    assert counts == f"{study['series']} series"

    # tick the study: its matching series are selected, the patient's box is partly ticked
    study_box = (
        f"[data-testid=group-study][data-study='{study['study_uid']}']"
        " >> [data-testid=group-study-check]"
    )
    patient_box = (
        f"[data-testid=group-patient][data-patient='{patient_id}']"
        " >> [data-testid=group-patient-check]"
    )
    ui.page.locator(study_box).click()
    count = ui.page.locator("[data-testid=selection-count]")
    assert count.inner_text() == f"{study['series']} selected"
    assert box_state(ui, study_box) == "on"
    assert box_state(ui, patient_box) == "some"
    # open it: its cards are the matching series, all ticked; untick one
    study_row.locator("[data-testid=group-study-toggle]").click()
    cards = study_row.locator("[data-testid=group-card]")
    cards.first.wait_for()
    shown = set(cards.evaluate_all("els => els.map(e => e.dataset.uid)"))
    assert shown == wanted
    assert all(s == "true" for s in cards.evaluate_all("els => els.map(e => e.ariaSelected)"))
    left_out = cards.first.get_attribute("data-uid")
    cards.first.click()
    assert count.inner_text() == f"{study['series'] - 1} selected"
    assert box_state(ui, study_box) == "some"
    ui.shot("grouped-study-ticked")
    copy_screenshot(ui.shot("grouped-study-ticked"), DOCS_IMG / "ui-grouped-gallery.png")

    # the bulk bar tags exactly the study's matching series but the unticked one
    tag_selection(ui, TAGS[0], study["series"] - 1)
    assert tagged(ui, TAGS[0]) == wanted - {left_out}
    # the open cards show the tag (read again after the action)
    ui.page.wait_for_function(
        "n => document.querySelectorAll("
        "'[data-testid=group-card] [data-testid=card-tag]').length >= n",
        arg=study["series"] - 1,
    )
    ui.shot("grouped-study-tagged")

    # the patient's box, partly ticked, ticks the whole patient: exactly its matching series
    ui.page.locator(patient_box).click()
    assert box_state(ui, patient_box) == "on"
    assert box_state(ui, study_box) == "on"
    patient = next(p for p in patients if p["patient_id"] == patient_id)
    assert count.inner_text() == f"{patient['series']} selected"
    tag_selection(ui, TAGS[1], patient["series"])
    assert tagged(ui, TAGS[1]) == series_of(ui, patient["term"])
    assert len(tagged(ui, TAGS[1])) == patient["series"]

    # a double click opens a card; → steps to the next series of the open study
    order = cards.evaluate_all("els => els.map(e => e.dataset.uid)")
    cards.nth(0).dblclick()
    ui.page.wait_for_selector("[data-testid=detail-next]")
    assert f"series={order[0]}" in ui.page.url
    ui.page.locator("[data-testid=detail-next]").click()
    ui.page.wait_for_function("u => location.search.includes('series=' + u)", arg=order[1])
    ui.page.keyboard.press("Escape")
    ui.page.wait_for_selector("[data-testid=group-patient]")

    # the view is remembered
    ui.page.reload()
    ui.page.wait_for_selector("[data-testid=group-patient]")
    assert ui.page.locator("[data-testid=view-grouped]").get_attribute("aria-pressed") == "true"
    ui.page.locator("[data-testid=view-flat]").click()
    ui.page.wait_for_selector("[data-testid=card]")
