"""Defects of issue 19 that made users doubt the data, each reproduced in Chromium.

1. a tag shortcut acts on the series on screen (the detail view), not on the card
   selected before it was opened; keys 1-9 work there, and from a URL;
2. a server that cannot be reached says so, keeps the last results marked stale, retries
   and recovers by itself (no "0 series", no "No series match.", no raw toasts);
3. while a slice loads a loading state shows, and no overlay is drawn over an image of
   another slice or plane;
5. while a search is in flight (and after a bad query) the totals and charts of the last
   answer stay;
6. a drag that starts in the gap under a row does not select that row;
7. a number compared with a string field, a bad number and a misspelled card or chart
   field are named, with the near field;
8. a setting changed before the server's copy of the settings arrived (the gallery view
   switched at once after a reload) is not undone by that late answer (CI, stop 25).

Against ``radcurate serve`` on the phantom archive (tests/e2e/conftest.py). Screenshots
go to tests/e2e/artifacts/ (``defect-*.png``).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI

pytestmark = pytest.mark.slow

QUERY = "Modality:CT"
SORT = "SeriesInstanceUID"


def api(ui: UI, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, ui.base + path, timeout=30, **kwargs)
    assert response.status_code < 400, response.text
    return response.json()


def tags_of(ui: UI, uid: str) -> list[str]:
    tags: list[str] = api(ui, "GET", f"/api/series/{uid}").get("tags", [])
    return tags


def search(ui: UI, query: str) -> None:
    box = ui.page.locator("[data-testid=search-input]")
    box.fill(query)
    box.press("Enter")


def totals(ui: UI) -> str:
    text: str = ui.page.locator("[data-testid=totals]").inner_text()
    return " ".join(text.split())


TOAST_HAS = (
    "n => [...document.querySelectorAll('[data-testid=toast]')]"
    ".some(t => t.textContent.includes(n))"
)
OVERLAY_LOADED = (
    "() => { const o = document.querySelector('[data-testid=overlay]'); return o && o.complete; }"
)
OVERLAY_CORONAL = (
    "() => { const o = document.querySelector('[data-testid=overlay]');"
    " return o && o.dataset.plane == 'coronal'; }"
)


def wide(ui: UI) -> None:
    ui.page.set_viewport_size({"width": 1440, "height": 900})


def test_shortcut_tags_the_series_on_screen(ui: UI) -> None:
    name = f"look-{uuid.uuid4().hex[:6]}"
    api(ui, "PUT", "/api/settings", json={"settings": {"tag_shortcuts": ["keep-x", name]}})
    ui.open(f"/?q={QUERY}&sort={SORT}")
    ui.settle()
    cards = ui.page.locator("[data-testid=card]")
    uid_a = cards.nth(0).get_attribute("data-uid")
    uid_b = cards.nth(1).get_attribute("data-uid")
    assert uid_a and uid_b
    cards.nth(0).dblclick()
    ui.page.locator(f"[data-testid=slice][data-uid='{uid_a}']").wait_for()
    ui.page.keyboard.press("ArrowRight")
    ui.page.locator(f"[data-testid=slice][data-uid='{uid_b}']").wait_for()
    ui.page.keyboard.press("2")
    ui.page.wait_for_function(
        TOAST_HAS,
        arg=name,
    )
    assert name in tags_of(ui, uid_b)
    assert name not in tags_of(ui, uid_a)
    # the detail view shows the tag it now has
    ui.page.locator("[data-testid=detail-tag]", has_text=name).wait_for()
    # opened from a URL: the shortcut button acts on the series shown
    uid_c = cards.nth(2).get_attribute("data-uid") if cards.count() > 2 else uid_a
    ui.page.goto(f"{ui.base}/?q={QUERY}&sort={SORT}&series={uid_c}")
    ui.page.locator(f"[data-testid=slice][data-uid='{uid_c}']").wait_for()
    ui.page.locator("[data-testid=shortcut-2]").click()
    ui.page.wait_for_function(
        TOAST_HAS,
        arg=name,
    )
    assert name in tags_of(ui, str(uid_c))
    texts = ui.page.locator("[data-testid=toast]").all_inner_texts()
    assert not any("Select or focus" in t for t in texts), texts


def test_server_down_is_said_and_recovers(ui: UI) -> None:
    wide(ui)
    ui.allow_error("net::ERR")
    ui.allow_error("Failed to load resource")
    ui.open(f"/?q={QUERY}")
    ui.settle()
    before = ui.page.locator("[data-testid=card]").count()
    ui.page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    search(ui, "Modality:MR")
    offline = ui.page.locator("[data-testid=offline]")
    offline.wait_for()
    assert "cannot be reached" in offline.inner_text().lower()
    # the last results stay, marked stale
    assert ui.page.locator("[data-testid=card]").count() == before
    ui.page.locator("[data-testid=gallery].stale").wait_for()
    assert ui.page.locator(".gallery-empty").count() == 0
    assert not totals(ui).startswith("0 series")
    ui.page.wait_for_timeout(1500)
    texts = ui.page.locator("[data-testid=toast]").all_inner_texts()
    assert not any("Failed to fetch" in t for t in texts), texts
    ui.shot("defect-2-server-down")
    # the server is back: the app recovers by itself
    ui.page.unroute("**/api/**")
    offline.wait_for(state="detached", timeout=20_000)
    expected = api(ui, "GET", "/api/search", params={"q": "Modality:MR", "limit": 1})["total"]
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=totals] strong')?.textContent == String(n)",
        arg=expected,
    )
    assert ui.page.locator("[data-testid=gallery].stale").count() == 0


def test_slice_loading_state_and_no_overlay_over_another_plane(ui: UI) -> None:
    wide(ui)
    seg = api(ui, "GET", "/api/search", params={"q": "Modality:SEG", "fields": "referenced_series"})
    ct_uid = seg["items"][0]["fields"]["referenced_series"][0]
    ui.page.goto(f"{ui.base}/?series={ct_uid}")
    ui.page.wait_for_function(OVERLAY_LOADED)
    held: list[Any] = []
    ui.page.route("**/slice?*", lambda route: held.append(route))
    ui.page.select_option("[data-testid=plane]", "coronal")
    ui.page.locator("[data-testid=image-loading]").wait_for()
    # the coronal overlay may arrive: it is not drawn over the axial image still shown
    ui.page.wait_for_timeout(1500)
    overlays = ui.page.locator("[data-testid=overlay]")
    planes = overlays.evaluate_all("os => os.map(o => o.dataset.plane)")
    assert "coronal" not in planes, planes
    shown = ui.page.locator("[data-testid=slice]").get_attribute("data-shown-plane")
    assert all(p == shown for p in planes), (planes, shown)
    ui.shot("defect-3-slice-loading")
    ui.page.unroute("**/slice?*")
    for route in held:
        with contextlib.suppress(Exception):  # unroute may have let it through already
            route.continue_()
    ui.page.locator("[data-testid=image-loading]").wait_for(state="detached")
    ui.page.wait_for_function(OVERLAY_CORONAL)


def test_search_in_flight_and_bad_query_keep_the_last_state(ui: UI) -> None:
    wide(ui)
    ui.open(f"/?q={QUERY}")
    ui.settle()
    ui.page.locator("[data-testid^=chart-]").first.wait_for()
    before = totals(ui)
    charts = ui.page.locator("[data-testid^=chart-]").count()
    held: list[Any] = []
    ui.page.route("**/api/search", lambda route: held.append(route))
    search(ui, "Modality:MR")
    ui.page.wait_for_timeout(800)
    assert totals(ui) == before
    assert "Select all 0" not in ui.page.locator("[data-testid=select-all]").inner_text()
    assert ui.page.locator("[data-testid^=chart-]").count() == charts
    ui.page.unroute("**/api/search")
    for route in held:
        with contextlib.suppress(Exception):  # unroute may have let it through already
            route.continue_()
    ui.page.wait_for_function(
        "b => document.querySelector('[data-testid=totals]').innerText != b", arg=before
    )
    ui.settle()
    after = totals(ui)
    charts = ui.page.locator("[data-testid^=chart-]").count()
    assert charts > 0
    # a bad query: the error beside the last state
    ui.allow_error("400")
    search(ui, "Modality:(CT OR")
    ui.page.locator("[data-testid=query-error]").wait_for()
    ui.page.wait_for_timeout(800)
    assert totals(ui) == after
    assert ui.page.locator("[data-testid^=chart-]").count() == charts
    ui.shot("defect-5-bad-query")


def test_drag_from_the_gap_under_a_row_skips_that_row(ui: UI) -> None:
    ui.open(f"/?sort={SORT}")
    ui.settle()
    cards = ui.page.locator("[data-testid=card]")
    first = cards.nth(0).bounding_box()
    tops = sorted({round(cards.nth(i).bounding_box()["y"]) for i in range(min(cards.count(), 12))})
    assert len(tops) >= 2
    below_top = tops[1]
    x = first["x"] + first["width"] / 2
    ui.page.mouse.move(x, below_top - 3)
    ui.page.mouse.down()
    ui.page.mouse.move(x + 5, below_top + 40, steps=5)
    ui.page.mouse.move(x + 10, below_top + 60, steps=5)
    ui.page.mouse.up()
    selected = ui.page.locator("[data-testid=card][aria-selected=true]")
    uids = selected.evaluate_all("cs => cs.map(c => c.dataset.index)")
    assert uids and "0" not in uids, uids


def test_bad_input_is_named_with_the_near_field(ui: UI) -> None:
    wide(ui)
    ui.allow_error("400")
    ui.open(f"/?q={QUERY}")
    ui.settle()
    warning = ui.page.locator("[data-testid=query-warning]")
    search(ui, "PatientAge:>50")
    warning.wait_for()
    assert "PatientAge" in warning.inner_text() and "age_years" in warning.inner_text()
    search(ui, "age_years:abc")
    ui.page.wait_for_function(
        "() => /abc/.test(document.querySelector('[data-testid=query-warning]')?.textContent ?? '')"
    )
    assert "number" in warning.inner_text()
    ui.shot("defect-7-query-warning")
    search(ui, QUERY)
    warning.wait_for(state="detached")
    # a misspelled card field
    fields = ui.page.locator("input.fields-input")
    fields.fill("SeriesDescription, Modalty")
    fields.press("Enter")
    problem = ui.page.locator("[data-testid=fields-problem]")
    problem.wait_for()
    assert re.search(r"Modalty.*Modality", problem.inner_text()), problem.inner_text()
    # a misspelled chart field: refused, with the near one
    ui.page.fill("[data-testid=add-chart-input]", "Manufactrer")
    ui.page.click("[data-testid=add-chart]")
    add = ui.page.locator("[data-testid=add-chart-problem]")
    add.wait_for()
    assert "Manufacturer" in add.inner_text()
    ui.shot("defect-7-field-problems")


def test_a_setting_changed_before_the_servers_copy_arrives_stays(ui: UI) -> None:
    # the grouped view, remembered on the server and in this browser
    api(ui, "PUT", "/api/settings", json={"settings": {"gallery_view": "grouped"}})
    ui.page.goto(ui.base + "/")
    ui.page.wait_for_selector("[data-testid=group-patient]")
    ui.settle("[data-testid=group-patient]")
    # after a reload the server's answer (still "grouped") is held back until the user has
    # switched view: it was read before the switch, it arrives after it
    held: list[tuple[Any, Any]] = []

    def hold_first(route: Any) -> None:
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    ui.page.route("**/api/settings", hold_first)
    ui.page.reload(wait_until="domcontentloaded")
    ui.page.wait_for_selector("[data-testid=group-patient]")
    for _ in range(200):  # the page asks for them after /api/features
        if held:
            break
        ui.page.wait_for_timeout(50)
    assert held, "the page did not ask for the server's settings"
    ui.page.locator("[data-testid=view-flat]").click()
    ui.page.wait_for_selector("[data-testid=card]")
    # the late answer (still saying "grouped") arrives: the user's choice stays
    route, answer = held[0]
    assert answer.json()["settings"]["gallery_view"] == "grouped"
    route.fulfill(response=answer)
    ui.page.wait_for_load_state("networkidle")
    ui.page.wait_for_timeout(300)
    assert ui.page.locator("[data-testid=view-flat]").get_attribute("aria-pressed") == "true"
    assert ui.page.locator("[data-testid=card]").count() > 0
    assert ui.page.locator("[data-testid=group-patient]").count() == 0
    # and it is what the server remembers now
    ui.page.unroute("**/api/settings")
    assert api(ui, "GET", "/api/settings")["settings"]["gallery_view"] == "flat"
