"""Issue 19, defects 9 (layout) and 10 (gallery gestures), in Chromium at 1440 and 1920 px.

* the viewer's window/level boxes stay on the line of its other controls, also after the
  Bias panel was opened beside the gallery (it made the viewer 300 px narrower: the level
  box wrapped to a line of its own);
* a date histogram with one bucket prints its label once (it printed "20232023": the first
  and last labels drawn over each other), and no two axis labels of any chart overlap;
* a double click (on a card, or in the gap between cards) leaves no text selected;
* closing the detail view puts the gallery back exactly where it was scrolled, however the
  view was closed and whatever was looked at meanwhile.

Against ``radcurate serve`` on the phantom archive (tests/e2e/conftest.py). Screenshots go
to tests/e2e/artifacts/ (``layout-*.png``; docs/img/ui-gallery-1440.png,
ui-gallery-1920.png and ui-chart-one-bucket.png are copies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import UI, copy_screenshot

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"
WIDTHS = [1440, 1920]

LEVEL_BOX = "input[aria-label='Window level']"
WIDTH_BOX = "input[aria-label='Window width']"


def sized(ui: UI, width: int) -> None:
    ui.page.set_viewport_size({"width": width, "height": 900})


def gallery_top(ui: UI) -> float:
    top: float = ui.page.evaluate("() => document.querySelector('[data-testid=gallery]').scrollTop")
    return top


def selection(ui: UI) -> str:
    text: str = ui.page.evaluate("() => String(window.getSelection())")
    return text


@pytest.mark.parametrize("width", WIDTHS)
def test_level_box_stays_on_the_viewer_bar(ui: UI, width: int) -> None:
    sized(ui, width)
    ui.open("/?q=Modality:CT")
    ui.settle()
    ui.page.locator("[data-testid=bias-open]").click()
    ui.page.locator("[data-testid=card]").first.dblclick()
    ui.page.wait_for_selector(LEVEL_BOX)
    ui.page.wait_for_load_state("networkidle")
    plane = ui.page.locator("[data-testid=plane]").bounding_box()
    for box in (WIDTH_BOX, LEVEL_BOX):
        found = ui.page.locator(box).bounding_box()
        assert found is not None and plane is not None
        assert abs(found["y"] - plane["y"]) < plane["height"], (box, found, plane)
    ui.shot(f"layout-viewer-bias-{width}")
    # back in the gallery the Bias panel is where it was
    ui.page.keyboard.press("Escape")
    ui.page.wait_for_selector("[data-testid=bias-open][aria-expanded=true]")
    assert ui.page.locator(".bias-panel, [data-testid=bias-panel]").count() >= 1


def axis_labels(ui: UI, field: str) -> list[dict[str, Any]]:
    labels: list[dict[str, Any]] = ui.page.locator(
        f"[data-testid='chart-{field}'] text.axis"
    ).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return { text: e.textContent, left: r.left, right: r.right, top: r.top }; })"
    )
    return labels


def overlaps(labels: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            same_line = abs(a["top"] - b["top"]) < 4
            if same_line and a["left"] < b["right"] - 0.5 and b["left"] < a["right"] - 0.5:
                out.append((a["text"], b["text"]))
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_a_one_bucket_date_histogram_labels_its_bar_once(ui: UI, width: int) -> None:
    sized(ui, width)
    ui.open("/?q=StudyDate:2023")
    ui.settle()
    chart = ui.page.locator("[data-testid=chart-StudyDate]")
    chart.wait_for()
    ui.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=chart-StudyDate] [data-testid=bar]')"
        ".length === 1"
    )
    labels = axis_labels(ui, "StudyDate")
    under = [la["text"] for la in labels if la["top"] > labels[0]["top"] - 50 and la["text"] != ""]
    assert "20232023" not in chart.inner_text()
    assert [t for t in under if "2023" in t] == ["2023"], labels
    assert overlaps(labels) == [], labels
    # by month, then every chart of the whole catalog: no two labels overlap
    ui.page.locator("[data-testid=zoom-in-StudyDate]").click()
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=zoom-StudyDate]').textContent.includes('month')"
    )
    assert overlaps(axis_labels(ui, "StudyDate")) == []
    shot = ui.shot(f"layout-date-one-bucket-{width}")
    if width == 1440:
        copy_screenshot(shot, DOCS_IMG / "ui-chart-one-bucket.png")
    ui.open("/")
    ui.settle()
    for field in ("StudyDate", "age_years", "SliceThickness"):
        ui.page.locator(f"[data-testid='chart-{field}']").wait_for()
        assert overlaps(axis_labels(ui, field)) == [], field


@pytest.mark.parametrize("width", WIDTHS)
def test_double_click_leaves_no_selection(ui: UI, width: int) -> None:
    sized(ui, width)
    ui.open("/?sort=SeriesInstanceUID")
    ui.settle()
    first = ui.page.locator("[data-testid=card]").nth(0).bounding_box()
    second = ui.page.locator("[data-testid=card]").nth(1).bounding_box()
    assert first is not None and second is not None
    # the gap between two cards, and under a row
    gap_x = (first["x"] + first["width"] + second["x"]) / 2
    for x, y in ((gap_x, first["y"] + 60), (first["x"] + 40, first["y"] + first["height"] + 4)):
        ui.page.mouse.dblclick(x, y)
        assert selection(ui) == "", (x, y)
    # a card: it opens, nothing is selected, before or after closing
    ui.page.mouse.dblclick(first["x"] + 30, first["y"] + first["height"] - 12)
    ui.page.wait_for_selector(".detail")
    assert selection(ui) == ""
    ui.page.keyboard.press("Escape")
    ui.page.wait_for_selector(".detail", state="detached")
    assert selection(ui) == ""
    path = ui.shot(f"layout-gallery-{width}")
    copy_screenshot(path, DOCS_IMG / f"ui-gallery-{width}.png")


@pytest.mark.parametrize("how", ["button", "escape", "back"])
def test_closing_the_detail_view_restores_the_gallery_scroll(ui: UI, how: str) -> None:
    sized(ui, 1440)
    ui.page.set_viewport_size({"width": 1440, "height": 700})
    ui.open("/?sort=SeriesInstanceUID&page_size=8")
    ui.settle()
    gallery = ui.page.locator("[data-testid=gallery]")
    gallery.hover()
    for _ in range(3):
        ui.page.mouse.wheel(0, 137)
        ui.page.wait_for_timeout(150)
    ui.page.wait_for_timeout(300)
    before = gallery_top(ui)
    assert before > 0
    box = gallery.bounding_box()
    assert box is not None
    ui.page.mouse.dblclick(box["x"] + 100, box["y"] + box["height"] / 2)
    ui.page.wait_for_selector(".detail")
    # look at other series meanwhile: the next pages load, the focus moves far below (each
    # step is a history entry: the browser's back closes from the first series)
    for _ in range(12 if how != "back" else 0):
        ui.page.keyboard.press("ArrowRight")
        ui.page.wait_for_timeout(120)
    ui.page.wait_for_load_state("networkidle")
    if how == "button":
        ui.page.get_by_text("← Gallery").click()
    elif how == "escape":
        ui.page.keyboard.press("Escape")
    else:
        ui.page.go_back()
    ui.page.wait_for_selector(".detail", state="detached")
    ui.page.wait_for_timeout(300)
    assert gallery_top(ui) == before
