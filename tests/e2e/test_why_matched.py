"""Issue 19, "why it matched": a free-text word of the query is marked where each card
matched it, in Chromium against ``radcurate serve`` on the phantom archive.

A word found in a value the card shows (its description) is marked there; one found in a
value the card does not show (the institution name) gets a line of its own on the card,
marked; the line's tooltip lists every match. Field terms (``Modality:CT``) and negated
words explain nothing and add no line. Screenshots go to tests/e2e/artifacts/
(``why-matched-*.png``; docs/img/ui-why-matched.png is a copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI, copy_screenshot

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"


def search(ui: UI, query: str) -> list[dict[str, Any]]:
    body = {"query": query, "fields": ["SeriesDescription", "InstitutionName"], "limit": 100}
    response = httpx.post(f"{ui.base}/api/search", json={**body, "explain": True}, timeout=30)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def card(ui: UI, uid: str) -> Any:
    return ui.page.locator(f"[data-testid=card][data-uid='{uid}']")


def marks(ui: UI, uid: str) -> list[str]:
    found: list[str] = card(ui, uid).locator("[data-testid=card-mark]").all_inner_texts()
    return found


@pytest.mark.parametrize("width", [1440, 1920])
def test_free_text_words_are_marked_where_they_matched(ui: UI, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 900})
    items = search(ui, "Modality:CT SeriesDescription:*thorax*")
    institution = next(str(i["fields"]["InstitutionName"]) for i in items)
    word = institution.split()[0].lower()
    query = f"thorax {word}"
    expected = search(ui, query)
    assert expected and all(i.get("matched") for i in expected), expected
    ui.open(f"/?q={query}&sort=SeriesInstanceUID")
    ui.settle()
    assert ui.page.locator("[data-testid=card]").count() == len(expected)
    for item in expected:
        uid = item["series_uid"]
        description = str(item["fields"].get("SeriesDescription") or "")
        if "thorax" in description.lower():  # marked in the description the card shows
            dd = card(ui, uid).locator(".card-fields > div").first.locator("mark")
            assert dd.first.inner_text().lower() == "thorax", description
        # every word is marked somewhere on the card: in its fields, or on the match line
        # with the field it was found in (the institution is not on the card)
        shown = [m.lower() for m in marks(ui, uid)]
        line = card(ui, uid).locator("[data-testid=card-match]")
        terms = {m["term"] for m in item["matched"]}
        for term in terms:
            assert term in shown, (term, shown)
        title = line.get_attribute("title") or ""
        assert title.startswith("Matched ") and all(f"“{t}”" in title for t in terms), title
    # the institution, on no card, is named on the match line where it was found
    named = ui.page.locator("[data-testid=card-match] dt", has_text="InstitutionName")
    assert named.count() > 0
    path = ui.shot(f"why-matched-{width}")
    if width == 1440:
        copy_screenshot(path, DOCS_IMG / "ui-why-matched.png")


def test_field_terms_and_negated_words_explain_nothing(ui: UI) -> None:
    ui.open("/?q=Modality:CT -thorax&sort=SeriesInstanceUID")
    ui.settle()
    assert ui.page.locator("[data-testid=card]").count() > 0
    assert ui.page.locator("[data-testid=card-match]").count() == 0
    assert ui.page.locator("[data-testid=card-mark]").count() == 0
    # a word typed afterwards adds the line, removing it takes it away
    box = ui.page.locator("[data-testid=search-input]")
    box.fill("Modality:CT thorax")
    box.press("Enter")
    ui.page.wait_for_selector("[data-testid=card-match]")
    assert ui.page.locator("[data-testid=card-mark]").count() > 0
    box.fill("Modality:CT")
    box.press("Enter")
    ui.page.wait_for_selector("[data-testid=card-match]", state="detached")
