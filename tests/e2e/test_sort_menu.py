"""Issue 19, defect 10 (sorting), in Chromium against ``radcurate serve`` on the phantom archive.

The gallery opens sorted by study date, newest first (not by SeriesInstanceUID); the order
the user picks is remembered (in the browser and in the user settings on the server, so a
fresh browser has it too) and a URL's ``sort=`` still wins; the sort menu offers every field
the server can order by (the registry's fields but sequences and binary values), found by
typing. Screenshots go to tests/e2e/artifacts/ (``sort-*.png``; docs/img/ui-sort-menu.png is
a copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI, copy_screenshot

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"


def api(ui: UI, path: str, **params: Any) -> Any:
    response = httpx.get(ui.base + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def card_uids(ui: UI) -> list[str]:
    uids: list[str] = ui.page.locator("[data-testid=card]").evaluate_all(
        "els => els.sort((a, b) => a.dataset.index - b.dataset.index).map(e => e.dataset.uid)"
    )
    return uids


def expected(ui: UI, sort: str, count: int) -> list[str]:
    items = api(ui, "/api/search", q="*", sort=sort, limit=count)["items"]
    return [i["series_uid"] for i in items]


def test_default_sort_is_study_date_newest_first(ui: UI) -> None:
    ui.open("/")
    ui.settle()
    shown = card_uids(ui)
    assert shown == expected(ui, "-StudyDate", len(shown))
    assert shown != expected(ui, "SeriesInstanceUID", len(shown))
    dates = api(ui, "/api/search", q="*", sort="-StudyDate", limit=len(shown), fields="StudyDate")
    first = [i["fields"]["StudyDate"] for i in dates["items"]]
    assert first == sorted(first, reverse=True)
    assert ui.page.locator("[data-testid=sort]").input_value() == "StudyDate"
    assert ui.page.locator("[data-testid=sort-dir]").get_attribute("aria-label") == "Descending"
    assert "sort=" not in ui.page.url  # the default needs no URL


def test_the_menu_finds_any_sortable_field_and_remembers_it(ui: UI, browser: Any) -> None:
    ui.open("/")
    ui.settle()
    fields = api(ui, "/api/fields")["items"]
    sortable = {f["name"] for f in fields if f["type"] not in ("sequence", "binary")}
    assert len(sortable) > 8
    menu = ui.page.locator("[data-testid=sort]")
    menu.click()
    options = ui.page.locator("[data-testid=sort-menu] li[data-field]")
    offered = set(options.evaluate_all("els => els.map(e => e.dataset.field)"))
    assert offered == sortable, offered ^ sortable
    assert "ProcedureCodeSequence" not in offered and "FileMetaInformationVersion" not in offered
    # typing narrows the menu (names starting with it first); Enter takes the first
    menu.fill("kvp")
    names = options.evaluate_all("els => els.map(e => e.dataset.field)")
    assert names[0] == "KVP" and all("kvp" in n.lower() for n in names), names
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    menu.fill("date")
    path = ui.shot("sort-menu")
    menu.fill("thick")
    names = options.evaluate_all("els => els.map(e => e.dataset.field)")
    assert "SliceThickness" in names and all("thick" in n.lower() for n in names), names
    menu.fill("SliceThick")
    menu.press("Enter")
    ui.page.wait_for_url("**sort=SliceThickness**")
    ui.settle()
    shown = card_uids(ui)
    assert shown == expected(ui, "SliceThickness", len(shown))
    ui.page.locator("[data-testid=sort-dir]").click()
    ui.page.wait_for_url("**sort=-SliceThickness**")
    ui.settle()
    assert card_uids(ui)[: len(shown)] == expected(ui, "-SliceThickness", len(shown))
    # remembered: a URL without sort= in this browser, and in a fresh one (server settings)
    ui.page.wait_for_function(
        "() => (JSON.parse(localStorage.getItem('radcurate.settings') || '{}').sort || '')"
        " === '-SliceThickness'"
    )
    settings = api(ui, "/api/settings")["settings"]
    assert settings.get("sort") == "-SliceThickness", settings
    ui.open("/")
    ui.settle()
    assert ui.page.locator("[data-testid=sort]").input_value() == "SliceThickness"
    assert card_uids(ui)[: len(shown)] == expected(ui, "-SliceThickness", len(shown))
    fresh = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=ui.base)
    try:
        page = fresh.new_page()
        page.goto(ui.base + "/")
        page.wait_for_selector("[data-testid=card]")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=sort]').value === 'SliceThickness'"
        )
        page.wait_for_load_state("networkidle")
        assert page.locator("[data-testid=sort-dir]").get_attribute("aria-label") == "Descending"
    finally:
        fresh.close()
    # a URL's own sort wins over the remembered one, and is not remembered
    ui.open("/?sort=Modality")
    ui.settle()
    assert ui.page.locator("[data-testid=sort]").input_value() == "Modality"
    assert api(ui, "/api/settings")["settings"].get("sort") == "-SliceThickness"
    copy_screenshot(path, DOCS_IMG / "ui-sort-menu.png")


def test_the_menu_by_keyboard_and_escape(ui: UI) -> None:
    ui.open("/")
    ui.settle()
    menu = ui.page.locator("[data-testid=sort]")
    menu.focus()
    menu.fill("Modal")
    menu.press("ArrowDown")
    menu.press("ArrowUp")
    menu.press("Enter")
    ui.page.wait_for_url("**sort=Modality**")
    assert menu.input_value() == "Modality"
    menu.focus()
    menu.fill("zzznothing")
    assert "No sortable field" in ui.page.locator("[data-testid=sort-menu]").inner_text()
    menu.press("Escape")
    assert ui.page.locator("[data-testid=sort-menu]").count() == 0
    assert menu.input_value() == "Modality"
    assert "sort=Modality" in ui.page.url
