"""Review mode in Chromium, driven by the keyboard alone: open it on a query, accept, reject,
mark questionable, go back and forth, write a note, reset to pending; the statuses are
checked through the API afterwards, the progress text against ``/api/review/progress``;
leaving and coming back resumes where the reviewer stopped, and without a remembered
position the pass starts at the first pending series. The gallery's bulk bar sets the
status of a selection.

Against ``radcurate serve`` on the phantom archive (tests/e2e/conftest.py). Screenshots
go to tests/e2e/artifacts/ (``review-*.png``).
"""

from __future__ import annotations

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


def reset_reviews(ui: UI) -> None:
    """Every series back to pending (the session's catalog is shared by the tests)."""
    selection = {"query": "*", "include": [], "exclude": []}
    api(ui, "POST", "/api/review", json={"selection": selection, "status": "pending"})


def ordered_uids(ui: UI) -> list[str]:
    page = api(ui, "GET", "/api/search", params={"q": QUERY, "sort": SORT, "limit": 100})
    return [item["series_uid"] for item in page["items"]]


def status(ui: UI, uid: str) -> dict[str, Any]:
    record: dict[str, Any] = api(ui, "GET", f"/api/series/{uid}/review")
    return record


def wait_position(ui: UI, n: int, total: int) -> None:
    """Waits for "series n of total" and for the panel of that series."""
    ui.page.wait_for_function(
        "t => document.querySelector('[data-testid=review-position]')"
        "?.textContent.replace(/\\s+/g, ' ').trim() == t",
        arg=f"series {n} of {total}",
    )


def wait_progress(ui: UI, reviewed: int, total: int) -> None:
    ui.page.wait_for_function(
        "t => document.querySelector('[data-testid=review-progress]')?.textContent == t",
        arg=f"{reviewed} / {total} reviewed",
    )


def wait_status(ui: UI, uid: str, text: str) -> None:
    """The panel shows ``uid``'s status as ``text`` (its slice is the one shown)."""
    ui.page.wait_for_function(
        "([uid, t]) => document.querySelector(`[data-testid=slice][data-uid='${uid}']`)"
        " && document.querySelector('[data-testid=review-status]')?.textContent == t",
        arg=[uid, text],
    )


def open_review(ui: UI) -> None:
    """Shift+R from the gallery (nothing clicked)."""
    ui.page.locator("[data-testid=review-start]").wait_for()
    ui.page.keyboard.press("Shift+R")
    ui.page.locator("[data-testid=review]").wait_for()


def test_review_by_keyboard_alone_then_resume(ui: UI) -> None:
    reset_reviews(ui)
    uids = ordered_uids(ui)
    total = len(uids)
    assert total >= 6
    ui.open(f"/?q={QUERY}&sort={SORT}")
    ui.settle()
    open_review(ui)
    wait_position(ui, 1, total)
    wait_progress(ui, 0, total)
    wait_status(ui, uids[0], "Pending")
    first = status(ui, uids[0])
    shown = ui.page.inner_text("[data-testid=review-by]")
    assert shown == "not reviewed yet" if first["reviewer"] is None else first["reviewer"] in shown
    # the panel: key header values and the QC flags beside the viewer
    headers = ui.page.locator("[data-testid=review-headers]")
    assert headers.locator("[data-field=Modality] dd").inner_text() == "CT"
    assert headers.locator("[data-field=instance_count]").count() == 1
    panel = ui.page.locator("[data-testid=review-panel]")
    panel.locator("[data-testid=qc-flags-summary]").wait_for()
    shown_flags = panel.locator("[data-testid=qc-flag][data-state=fail]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    )
    checks = api(ui, "GET", "/api/qc/checks", params={"q": f'SeriesInstanceUID:"{uids[0]}"'})
    failing = [c["field"] for c in checks["checks"] if c["count"] and c["severity"] != "info"]
    assert sorted(shown_flags) == sorted(failing)
    ui.page.set_viewport_size({"width": 1440, "height": 900})
    ui.shot("review-01-start")

    # A, R, Q: saved and on to the next series each time
    for n, key in enumerate(["a", "r", "q"]):
        ui.page.keyboard.press(key)
        wait_position(ui, n + 2, total)
    wait_progress(ui, 3, total)
    # back with P and ←: the statuses just set, with reviewer and time
    ui.page.keyboard.press("p")
    wait_position(ui, 3, total)
    wait_status(ui, uids[2], "Questionable")
    ui.page.keyboard.press("ArrowLeft")
    wait_position(ui, 2, total)
    wait_status(ui, uids[1], "Rejected")
    reviewer = status(ui, uids[1])["reviewer"]
    assert reviewer
    ui.page.locator("[data-testid=review-by]", has_text=reviewer).wait_for()
    ui.shot("review-02-rejected")
    # forward with N and →
    ui.page.keyboard.press("n")
    wait_position(ui, 3, total)
    ui.page.keyboard.press("ArrowRight")
    wait_position(ui, 4, total)
    wait_status(ui, uids[3], "Pending")

    # E: the note field; Enter saves the note (the status stays), Q then keeps it
    ui.page.keyboard.press("e")
    assert ui.page.evaluate("document.activeElement.dataset.testid") == "review-note"
    ui.page.keyboard.type("motion artefact, slices 30-34")
    with ui.page.expect_response(lambda r: f"/api/series/{uids[3]}/review" in r.url):
        ui.page.keyboard.press("Enter")
    ui.page.locator("[data-testid=review-note-saved]").wait_for()
    assert status(ui, uids[3])["note"] == "motion artefact, slices 30-34"
    assert status(ui, uids[3])["status"] == "pending"
    assert ui.page.evaluate("document.activeElement.dataset.testid") != "review-note"
    ui.page.keyboard.press("q")
    wait_position(ui, 5, total)
    wait_progress(ui, 4, total)

    # U on the previous one: back to pending, and the pass stays there
    ui.page.keyboard.press("p")
    wait_status(ui, uids[3], "Questionable")
    ui.page.keyboard.press("u")
    wait_status(ui, uids[3], "Pending")
    wait_position(ui, 4, total)
    wait_progress(ui, 3, total)
    ui.shot("review-03-note")

    # through the API
    assert [status(ui, u)["status"] for u in uids[:5]] == [
        "accepted",
        "rejected",
        "questionable",
        "pending",
        "pending",
    ]
    assert status(ui, uids[3])["note"] == "motion artefact, slices 30-34"
    assert all(status(ui, u)["reviewer"] == reviewer for u in uids[:3])
    assert all(status(ui, u)["reviewed_at"] for u in uids[:3])
    progress = api(ui, "GET", "/api/review/progress", params={"q": QUERY})
    assert progress == {
        "total": total,
        "reviewed": 3,
        "accepted": 1,
        "rejected": 1,
        "questionable": 1,
        "pending": total - 3,
    }

    # Esc leaves; a new visit resumes at series 4, where the reviewer stopped
    with ui.page.expect_response(
        lambda r: r.url.endswith("/api/settings") and r.request.method == "PUT"
    ):
        ui.page.keyboard.press("Escape")
    assert ui.page.locator("[data-testid=review]").count() == 0
    ui.page.goto(f"{ui.base}/?q={QUERY}&sort={SORT}")
    ui.page.wait_for_selector("[data-testid=card]")
    open_review(ui)
    wait_position(ui, 4, total)
    wait_status(ui, uids[3], "Pending")
    ui.page.locator("[data-testid=review-resumed]").wait_for()
    wait_progress(ui, 3, total)
    # the URL holds the mode: a reload reopens it there
    assert "review=1" in ui.page.url
    ui.page.reload()
    ui.page.locator("[data-testid=review]").wait_for()
    wait_position(ui, 4, total)
    wait_status(ui, uids[3], "Pending")
    ui.page.keyboard.press("Escape")

    # without a remembered position: the first pending series in the query's order
    api(ui, "POST", "/api/review", json={"selection": sel(uids[3]), "status": "accepted"})
    api(ui, "PUT", "/api/settings", json={"settings": {}})
    ui.page.goto(f"{ui.base}/?q={QUERY}&sort={SORT}")
    ui.page.wait_for_selector("[data-testid=card]")
    open_review(ui)
    wait_position(ui, 5, total)
    wait_status(ui, uids[4], "Pending")
    assert ui.page.locator("[data-testid=review-resumed]").count() == 0
    wait_progress(ui, 4, total)


def test_end_of_query_and_bulk_status(ui: UI) -> None:
    reset_reviews(ui)
    uids = ordered_uids(ui)
    total = len(uids)
    # every series but the last accepted: the pass opens on the last one
    api(ui, "POST", "/api/review", json={"selection": sel(*uids[:-1]), "status": "accepted"})
    ui.open(f"/?q={QUERY}&sort={SORT}")
    open_review(ui)
    wait_position(ui, total, total)
    ui.page.keyboard.press("a")
    ui.page.locator("[data-testid=review-end]").wait_for()
    wait_progress(ui, total, total)
    assert status(ui, uids[-1])["status"] == "accepted"
    ui.page.keyboard.press("ArrowLeft")
    wait_position(ui, total, total)
    ui.page.keyboard.press("Escape")

    # the gallery's bulk bar: two series rejected in one request
    cards = ui.page.locator("[data-testid=card]")
    cards.nth(0).click()
    cards.nth(1).click(modifiers=["Shift"])
    chosen = cards.evaluate_all("els => els.slice(0, 2).map(e => e.dataset.uid)")
    ui.page.select_option("[data-testid=bulk-review-status]", "rejected")
    with ui.page.expect_response(lambda r: r.url.endswith("/api/review")) as info:
        ui.page.click("[data-testid=bulk-review-set]")
    assert info.value.json() == {"changed": 2, "total": 2}
    assert [status(ui, u)["status"] for u in chosen] == ["rejected", "rejected"]
    ui.page.locator("[data-testid=toast]", has_text="rejected on 2 series").wait_for()


def sel(*uids: str) -> dict[str, Any]:
    return {"query": None, "include": list(uids), "exclude": []}
