"""The web UI in Chromium against ``radcurate serve`` on the phantom archive.

Each step saves a screenshot under tests/e2e/artifacts/. Steps that need an endpoint
the server does not offer yet skip with the endpoint's name.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, UI

pytestmark = pytest.mark.slow


def api(ui: UI, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, ui.base + path, timeout=30, **kwargs)
    assert response.status_code < 400, response.text
    return response.json()


def has_endpoint(ui: UI, method: str, path: str) -> bool:
    paths = api(ui, "GET", "/openapi.json")["paths"]
    return method.lower() in paths.get(path, {})


def total_shown(ui: UI) -> int:
    text = ui.page.inner_text("[data-testid=totals] strong >> nth=0")
    return int(text.replace(",", ""))


def search(ui: UI, query: str) -> None:
    box = ui.page.locator("[data-testid=search-input]")
    box.fill(query)
    box.press("Escape")  # close suggestions
    ui.page.click("[data-testid=search-button]")
    expected = api(ui, "GET", "/api/count", params={"q": query})["series"]
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=totals] strong')"
        ".textContent.replace(/,/g, '') == n",
        arg=str(expected),
    )
    if expected:
        ui.page.wait_for_selector("[data-testid=card]")


def test_first_paint_shows_every_series_with_totals(ui: UI) -> None:
    ui.open()
    info = api(ui, "GET", "/api/info")
    assert total_shown(ui) == info["series"] == 22
    cards = ui.page.locator("[data-testid=card]")
    assert cards.count() == 22  # all fit in the first page, none duplicated
    assert len(set(cards.evaluate_all("els => els.map(e => e.dataset.uid)"))) == 22
    thumbs = ui.page.locator("[data-testid=card] img")
    thumbs.first.evaluate("img => img.decode()")
    assert thumbs.first.evaluate("img => img.naturalWidth") > 0
    ui.shot("01-gallery")


def test_search_with_autocomplete(ui: UI) -> None:
    ui.open()
    box = ui.page.locator("[data-testid=search-input]")
    box.click()
    box.type("Modal")
    suggestions = ui.page.locator("[data-testid=suggestions] li")
    # on a loaded machine a pause between keys lets the list for "M" show first (Manufacturer
    # on top): wait for the list of the whole word, which must put Modality first
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=suggestions] li')"
        "?.innerText.startsWith('Modality')"
    )
    assert suggestions.first.inner_text().startswith("Modality")
    ui.shot("02-autocomplete-field")
    box.press("Enter")  # accepts the field name
    assert box.input_value() == "Modality:"
    values_known = has_endpoint(ui, "GET", "/api/autocomplete/values") or has_endpoint(
        ui, "POST", "/api/aggregate"
    )
    if values_known:
        ui.page.locator("[data-testid=suggestions] li", has_text="RTSTRUCT").wait_for()
        texts = suggestions.all_inner_texts()
        assert any(re.match(r"CT\s+9$", t.replace("\n", " ")) for t in texts), texts
        ui.shot("03-autocomplete-values")
        # keyboard navigation: down to CT, Enter accepts it and searches
        index = next(i for i, t in enumerate(texts) if t.startswith("CT"))
        for _ in range(index):
            box.press("ArrowDown")
        box.press("Enter")
    else:
        box.type("CT")
        box.press("Enter")
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=totals] strong').textContent === '9'"
    )
    assert ui.page.locator("[data-testid=chips] .chip").first.inner_text().startswith("Modality:CT")
    assert parse_qs(urlparse(ui.page.url).query)["q"] == ["Modality:CT"]
    modalities = ui.page.locator("[data-testid=card] .card-fields").all_inner_texts()
    assert len(modalities) == 9 and all("\nCT" in t or "CT\n" in t for t in modalities)
    ui.shot("04-search-results")
    # removing the chip brings everything back
    ui.page.click("[data-testid=chips] .chip button")
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=totals] strong').textContent === '22'"
    )


def test_a_bad_query_is_shown_at_its_position(ui: UI) -> None:
    ui.open()
    ui.allow_error("status of 400 (Bad Request)")  # the browser logs the API's answer
    box = ui.page.locator("[data-testid=search-input]")
    box.fill("Modality:(CT OR")
    box.press("Escape")
    ui.page.click("[data-testid=search-button]")
    error = ui.page.locator("[data-testid=query-error]")
    error.wait_for()
    body = httpx.get(ui.base + "/api/search", params={"q": "Modality:(CT OR"}).json()["error"]
    assert body["message"] in error.inner_text()
    marked = error.locator("mark")
    assert marked.count() == 1
    before = error.locator("code").evaluate("c => c.firstChild.textContent")
    assert len(before) == body["position"]
    ui.shot("05-query-error")


def test_filter_by_clicking_a_dashboard_bar(ui: UI) -> None:
    ui.open()
    if not has_endpoint(ui, "POST", "/api/aggregate"):
        pytest.skip("the server has no POST /api/aggregate yet")
    bar = ui.page.locator("[data-testid=chart-Modality] [data-testid=bar][data-term='Modality:MR']")
    bar.wait_for()
    assert "3" in bar.get_attribute("aria-label")
    ui.shot("06-dashboard")
    bar.click()
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=totals] strong').textContent === '3'"
    )
    assert "Modality:MR" in ui.page.locator("[data-testid=chips]").inner_text()
    # the other charts follow the query (cross-filtering)
    ui.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=chart-Modality] [data-testid=bar]')]"
        ".every(b => b.dataset.term === 'Modality:MR' || b.dataset.term.startsWith('missing'))"
    )
    ui.shot("07-dashboard-filtered")


def test_select_three_by_shift_click_and_tag_them_with_key_1(ui: UI) -> None:
    ui.open("/?sort=SeriesInstanceUID")
    if not has_endpoint(ui, "POST", "/api/tags/{name}/add"):
        pytest.skip("the server has no tags yet")
    shortcut = ui.page.locator("[data-testid=shortcut-input]")
    shortcut.fill("e2e-review")
    shortcut.press("Enter")
    ui.page.locator("[data-testid=shortcut-1]").wait_for()
    cards = ui.page.locator("[data-testid=card]")
    cards.nth(0).click()
    cards.nth(2).click(modifiers=["Shift"])
    count = ui.page.locator("[data-testid=selection-count]")
    assert count.inner_text() == "3 selected"
    uids = cards.evaluate_all("els => els.slice(0, 3).map(e => e.dataset.uid)")
    ui.shot("08-shift-selected")
    ui.page.keyboard.press("1")
    ui.page.wait_for_selector("[data-testid=toast]:has-text('Tagged 3 series')")
    tagged = api(ui, "GET", "/api/search", params={"q": "tag:e2e-review", "limit": 50})
    assert sorted(i["series_uid"] for i in tagged["items"]) == sorted(uids)
    assert cards.nth(0).locator("[data-testid=card-tag]").inner_text() == "e2e-review"
    ui.shot("09-tagged-with-key-1")
    # the same key again takes the tag off
    ui.page.keyboard.press("1")
    ui.page.wait_for_selector("[data-testid=toast]:has-text('Untagged 3 series')")
    assert api(ui, "GET", "/api/count", params={"q": "tag:e2e-review"})["series"] == 0
    ui.page.keyboard.press("Escape")
    assert count.inner_text() == "0 selected"


def test_select_all_matches_and_add_them_to_a_dataset(ui: UI) -> None:
    ui.open("/?q=Modality:CT")
    if not has_endpoint(ui, "POST", "/api/datasets/{name}/add"):
        pytest.skip("the server has no datasets yet")
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=totals] strong').textContent === '9'"
    )
    ui.page.click("[data-testid=select-all]")
    assert ui.page.inner_text("[data-testid=selection-count]") == "9 selected"
    ui.page.fill("[data-testid=bulk-dataset]", "e2e-ct")
    ui.shot("10-select-all")
    ui.page.click("[data-testid=bulk-dataset-add]")
    ui.page.wait_for_selector("[data-testid=toast]:has-text('dataset “e2e-ct”')")
    datasets = {d["name"]: d for d in api(ui, "GET", "/api/datasets")["items"]}
    assert datasets["e2e-ct"]["series"] == 9
    assert api(ui, "GET", "/api/count", params={"q": "dataset:e2e-ct Modality:CT"})["series"] == 9
    panel = ui.page.locator("[data-testid='dataset-e2e-ct']")
    panel.wait_for()
    assert "9 series" in panel.inner_text()
    ui.shot("11-added-to-dataset")


def test_detail_view_scrolls_slices_and_searches_the_header(ui: UI) -> None:
    ui.open("/?q=Modality:CT&sort=-instance_count")
    first = ui.page.locator("[data-testid=card]").first
    uid = first.get_attribute("data-uid")
    document = api(ui, "GET", f"/api/series/{uid}")["document"]
    # keyboard: focus the first card with an arrow key, Enter opens it
    ui.page.locator("[data-testid=gallery]").focus()
    ui.page.keyboard.press("ArrowRight")
    ui.page.keyboard.press("Enter")
    slice_img = ui.page.locator("[data-testid=slice]")
    slice_img.wait_for()
    ui.page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=slice]'); "
        "return i.complete && i.naturalWidth > 0 }"
    )
    assert parse_qs(urlparse(ui.page.url).query)["series"] == [uid]
    start = int(slice_img.get_attribute("data-index"))
    assert start == (document["slice_count"] - 1) // 2
    ui.shot("12-detail")
    ui.page.locator("[data-testid=viewport]").hover()
    for _ in range(5):
        ui.page.mouse.wheel(0, 120)
    ui.page.wait_for_function(
        f"() => document.querySelector('[data-testid=slice]').dataset.index == {start + 5}"
    )
    ui.page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=slice]'); "
        "return i.complete && i.naturalWidth > 0 && i.src.includes('index=' + i.dataset.index) }"
    )
    label = ui.page.inner_text("[data-testid=slice-label]")
    assert label == f"{start + 6} / {document['slice_count']}"
    ui.shot("13-detail-scrolled")
    # a reformat and a window preset
    ui.page.select_option("[data-testid=plane]", "coronal")
    ui.page.click("button:has-text('Lung')")
    ui.page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=slice]'); return i.complete"
        " && i.naturalWidth > 0 && i.src.includes('plane=coronal')"
        " && i.src.includes('window=1500') }"
    )
    ui.shot("13b-detail-coronal-lung")
    # the header table: filter, a value as the API has it, sequences open on a match
    ui.page.fill("[data-testid=header-filter]", "PatientID")
    row = ui.page.locator("[data-testid=header-table] tr[data-path=PatientID]")
    row.wait_for()
    assert row.locator("td.value").inner_text() == document["PatientID"]
    ui.page.fill("[data-testid=header-filter]", "CodeMeaning")
    code_rows = ui.page.locator("[data-testid=header-table] tbody tr")
    assert any("CodeMeaning" in t for t in code_rows.all_inner_texts())
    ui.shot("14-header-search")
    ui.page.click("[data-testid=detail-close]")
    assert "series" not in parse_qs(urlparse(ui.page.url).query)


def test_download_a_chart_as_csv(ui: UI) -> None:
    ui.open()
    if not has_endpoint(ui, "POST", "/api/aggregate"):
        pytest.skip("the server has no POST /api/aggregate yet")
    ui.page.locator("[data-testid=chart-Modality]").wait_for()
    with ui.page.expect_download() as info:
        ui.page.click("[data-testid=csv-Modality]")
    download = info.value
    assert download.suggested_filename == "Modality.csv"
    with open(download.path(), encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    counts = {r["key"]: int(r["count"]) for r in rows}
    assert counts["CT"] == 9 and counts["MR"] == 3
    assert sum(counts.values()) == 22
    assert all(r["field"] == "Modality" for r in rows)


def test_the_url_holds_query_sort_and_open_series(ui: UI) -> None:
    page = api(ui, "GET", "/api/search", params={"q": "Modality:MR", "sort": "-StudyDate"})
    uid = page["items"][0]["series_uid"]
    ui.page.goto(f"{ui.base}/?q=Modality:MR&sort=-StudyDate&series={uid}")
    ui.page.locator("[data-testid=slice]").wait_for()
    assert ui.page.locator("[data-testid=search-input]").input_value() == "Modality:MR"
    assert ui.page.locator("[data-testid=sort]").input_value() == "StudyDate"
    assert ui.page.locator("[data-testid=sort-dir]").get_attribute("aria-label") == "Descending"
    ui.page.click("[data-testid=detail-close]")
    uids = ui.page.locator("[data-testid=card]").evaluate_all("els => els.map(e => e.dataset.uid)")
    assert uids == [i["series_uid"] for i in page["items"]]
    ui.page.go_back()  # back to the open series
    ui.page.locator("[data-testid=slice]").wait_for()


def test_scrolling_fetches_pages_by_cursor_never_one_request_per_card(ui: UI) -> None:
    requests: list[str] = []
    ui.page.on("request", lambda r: requests.append(r.url) if "/api/search" in r.url else None)
    ui.open("/?page_size=5&sort=SeriesInstanceUID")
    gallery = ui.page.locator("[data-testid=gallery]")
    ui.page.set_viewport_size({"width": 1280, "height": 700})
    seen: set[str] = set()
    for _ in range(10):
        seen.update(
            ui.page.locator("[data-testid=card]").evaluate_all("els => els.map(e => e.dataset.uid)")
        )
        gallery.evaluate("g => { g.scrollTop = g.scrollHeight }")
        ui.page.wait_for_timeout(150)
    seen.update(
        ui.page.locator("[data-testid=card]").evaluate_all("els => els.map(e => e.dataset.uid)")
    )
    everything = api(ui, "GET", "/api/search", params={"limit": 100, "sort": "SeriesInstanceUID"})
    assert seen == {i["series_uid"] for i in everything["items"]}
    assert len(requests) == 5  # 22 series in pages of 5, each fetched once
    # only the rows in view are in the DOM (big cards: 3 a row)
    ui.page.locator("[data-testid=card-size]").fill("360")
    gallery.evaluate("g => { g.scrollTop = 0 }")
    ui.page.wait_for_timeout(100)
    assert 0 < ui.page.locator("[data-testid=card]").count() < 22
    ui.shot("15-scrolled")


def test_a_series_without_pixels_opens_without_errors(ui: UI) -> None:
    ui.open("/?q=Modality:SR")
    ui.page.locator("[data-testid=card]").first.dblclick()
    ui.page.locator("[data-testid=no-image]").wait_for()
    assert (
        ui.page.locator("[data-testid=header-table] tr[data-path=Modality] td.value").inner_text()
        == "SR"
    )
    ui.shot("16-detail-sr")


def test_brushing_a_histogram_filters_a_range(ui: UI) -> None:
    ui.open()
    if not has_endpoint(ui, "POST", "/api/aggregate"):
        pytest.skip("the server has no POST /api/aggregate yet")
    bars = ui.page.locator("[data-testid=chart-StudyDate] [data-testid=bar]")
    bars.first.wait_for()
    years = [t.split(":")[1] for t in bars.evaluate_all("els => els.map(e => e.dataset.term)")]
    bars.nth(0).hover()
    ui.page.mouse.down()
    bars.nth(2).hover()
    ui.shot("17-brushing")
    ui.page.mouse.up()
    term = f"StudyDate:({' OR '.join(years[:3])})"
    expected = api(ui, "GET", "/api/count", params={"q": term})["series"]
    assert 0 < expected < 22
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=totals] strong').textContent == n",
        arg=str(expected),
    )
    assert term in ui.page.locator("[data-testid=chips]").inner_text()


def test_dragging_a_rectangle_selects_the_cards_it_touches(ui: UI) -> None:
    ui.open("/?sort=SeriesInstanceUID")
    ui.settle()
    cards = ui.page.locator("[data-testid=card]")
    tops = cards.evaluate_all("els => els.map(e => e.getBoundingClientRect().top)")
    cols = sum(1 for t in tops if t == tops[0])
    first = cards.nth(0).bounding_box()
    target = cards.nth(cols + 1).bounding_box()  # second row, second column
    assert first is not None and target is not None
    ui.page.mouse.move(first["x"] + 20, first["y"] + 20)
    ui.page.mouse.down()
    ui.page.mouse.move(target["x"] + 20, target["y"] + 20, steps=8)
    ui.page.locator("[data-testid=band]").wait_for()
    ui.shot("18-drag-select")
    ui.page.mouse.up()
    assert ui.page.inner_text("[data-testid=selection-count]") == "4 selected"
    uids = cards.evaluate_all("els => els.map(e => e.dataset.uid)")
    chosen = {uids[0], uids[1], uids[cols], uids[cols + 1]}
    marked = cards.evaluate_all(
        "els => els.filter(e => e.classList.contains('selected')).map(e => e.dataset.uid)"
    )
    assert set(marked) == chosen
    assert ui.page.locator("[data-testid=band]").count() == 0


def _viewport_pixels(ui: UI) -> Any:
    import numpy as np
    from PIL import Image

    shot = ui.page.locator("[data-testid=viewport]").screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)


def _wait_for_overlay(ui: UI, index: int | None = None) -> None:
    check = "" if index is None else f" && o.dataset.index == {index}"
    ui.page.wait_for_function(
        "() => { const o = document.querySelector('[data-testid=overlay]'); "
        f"return o && o.complete && o.naturalWidth > 0{check} }}"
    )
    ui.page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=slice]'); "
        "return i.complete && i.naturalWidth > 0 }"
    )


def _set_opacity(ui: UI, value: int) -> None:
    ui.page.locator("[data-testid=overlay-opacity]").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')) }", value
    )
    ui.page.wait_for_function(
        "v => document.querySelector('[data-testid=overlay]').style.opacity == v / 100", arg=value
    )


def test_seg_overlay_over_its_image_with_opacity(ui: UI) -> None:
    seg = api(ui, "GET", "/api/search", params={"q": "Modality:SEG", "fields": "referenced_series"})
    seg_uid = seg["items"][0]["series_uid"]
    ct_uid = seg["items"][0]["fields"]["referenced_series"][0]
    # the image series shows the SEG that references it
    ui.page.goto(f"{ui.base}/?series={ct_uid}")
    panel = ui.page.locator("[data-testid=overlay-panel]")
    panel.wait_for()
    assert "SEG" in panel.inner_text()
    _wait_for_overlay(ui)
    overlay = ui.page.locator("[data-testid=overlay]")
    assert overlay.get_attribute("data-uid") == seg_uid
    legend = ui.page.locator("[data-testid=overlay-legend] li")
    assert legend.count() >= 2
    _set_opacity(ui, 100)
    opaque = _viewport_pixels(ui)
    ui.shot("19-seg-overlay-opaque")
    _set_opacity(ui, 30)
    faint = _viewport_pixels(ui)
    ui.shot("20-seg-overlay-faint")
    _set_opacity(ui, 0)
    invisible = _viewport_pixels(ui)
    # off: the same picture as opacity 0
    ui.page.locator("[data-testid=overlay-toggle-SEG]").uncheck()
    ui.page.wait_for_selector("[data-testid=overlay]", state="detached")
    bare = _viewport_pixels(ui)
    assert abs(invisible - bare).max() <= 2
    changed = abs(opaque - bare).sum(axis=2) > 30
    assert changed.mean() > 0.01  # the segments cover part of the slice
    # opacity blends: the faint overlay lies between the bare slice and the opaque one
    between = abs(faint - bare).sum(axis=2)[changed]
    assert 0 < between.mean() < abs(opaque - bare).sum(axis=2)[changed].mean()
    # scrolling moves the overlay with the slice; key o brings it back
    ui.page.locator("[data-testid=overlay-toggle-SEG]").check()
    ui.page.locator("[data-testid=viewport]").hover()
    start = int(ui.page.locator("[data-testid=slice]").get_attribute("data-index"))
    ui.page.mouse.wheel(0, 120)
    _wait_for_overlay(ui, start + 1)
    ui.page.locator("[data-testid=detail]").press("o")
    ui.page.wait_for_selector("[data-testid=overlay]", state="detached")
    ui.page.locator("[data-testid=detail]").press("o")
    _wait_for_overlay(ui, start + 1)
    # a reformat: the SEG follows the coronal cut, the same size as the slice
    _set_opacity(ui, 80)
    ui.page.select_option("[data-testid=plane]", "coronal")
    ui.page.wait_for_function(
        "() => { const o = document.querySelector('[data-testid=overlay]'); "
        "const i = document.querySelector('[data-testid=slice]'); "
        "return o && o.dataset.plane === 'coronal' && o.complete && i.complete "
        "&& i.src.includes('plane=coronal') && o.naturalWidth === i.naturalWidth "
        "&& o.naturalHeight === i.naturalHeight }"
    )
    ui.shot("20b-seg-overlay-coronal")


def test_rtstruct_contours_over_the_referenced_image(ui: UI) -> None:
    rt = api(
        ui, "GET", "/api/search", params={"q": "Modality:RTSTRUCT", "fields": "referenced_series"}
    )
    rt_uid = rt["items"][0]["series_uid"]
    ct_uid = rt["items"][0]["fields"]["referenced_series"][0]
    ui.page.goto(f"{ui.base}/?series={rt_uid}")
    _wait_for_overlay(ui)
    # the RTSTRUCT's own header, the referenced CT's slices under its contours
    assert ui.page.locator("[data-testid=slice]").get_attribute("data-uid") == ct_uid
    assert ui.page.locator("[data-testid=overlay]").get_attribute("data-uid") == rt_uid
    ct = api(ui, "GET", f"/api/series/{ct_uid}")["document"]
    assert ct["SeriesDescription"] in ui.page.inner_text("[data-testid=base-note]")
    assert ui.page.inner_text("[data-testid=slice-label]").endswith(f"/ {ct['slice_count']}")
    modality_row = "[data-testid=header-table] tr[data-path=Modality] td.value"
    assert ui.page.locator(modality_row).inner_text() == "RTSTRUCT"
    _set_opacity(ui, 100)
    with_contours = _viewport_pixels(ui)
    ui.shot("21-rtstruct-contours")
    _set_opacity(ui, 0)
    without = _viewport_pixels(ui)
    assert (abs(with_contours - without).sum(axis=2) > 30).mean() > 0.002
    # contours are drawn on reformats too (issue 19): their sections on the sagittal plane
    ui.page.select_option("[data-testid=plane]", "sagittal")
    ui.page.wait_for_selector("[data-testid=overlay][data-plane=sagittal]")
    assert "acquired plane only" not in ui.page.inner_text("[data-testid=overlay-panel]")


def test_links_between_a_seg_and_its_image_series(ui: UI) -> None:
    seg = api(ui, "GET", "/api/search", params={"q": "Modality:SEG", "fields": "referenced_series"})
    seg_uid = seg["items"][0]["series_uid"]
    ct_uid = seg["items"][0]["fields"]["referenced_series"][0]
    ui.open()
    ui.page.goto(f"{ui.base}/?series={seg_uid}")
    link = ui.page.locator("[data-testid=link-references]")
    link.wait_for()
    assert link.get_attribute("data-uid") == ct_uid
    assert "CT" in link.inner_text()
    ui.shot("22-seg-links")
    link.click()
    ui.page.wait_for_function(
        "uid => new URLSearchParams(location.search).get('series') === uid", arg=ct_uid
    )
    modality_row = "[data-testid=header-table] tr[data-path=Modality] td.value"
    ui.page.wait_for_function(
        "sel => document.querySelector(sel)?.textContent === 'CT'", arg=modality_row
    )
    back = ui.page.locator(f"[data-testid=link-referenced-by][data-uid='{seg_uid}']")
    back.wait_for()
    assert "SEG" in back.inner_text()
    ui.shot("23-ct-referenced-by")
    back.focus()
    ui.page.keyboard.press("Enter")  # keyboard reachable
    ui.page.wait_for_function(
        "uid => new URLSearchParams(location.search).get('series') === uid", arg=seg_uid
    )
    ui.page.wait_for_function(
        "sel => document.querySelector(sel)?.textContent === 'SEG'", arg=modality_row
    )
    ui.page.go_back()  # the browser's history walks the links
    ui.page.wait_for_function(
        "uid => new URLSearchParams(location.search).get('series') === uid", arg=ct_uid
    )


def test_download_a_chart_as_png_and_svg(ui: UI) -> None:
    from PIL import Image

    ui.open()
    if not has_endpoint(ui, "POST", "/api/aggregate"):
        pytest.skip("the server has no POST /api/aggregate yet")
    chart = ui.page.locator("[data-testid=chart-Modality]")
    chart.wait_for()
    ui.settle("[data-testid=chart-Modality] svg")  # the PNG is drawn at the size shown
    with ui.page.expect_download() as info:
        ui.page.click("[data-testid=png-Modality]")
    download = info.value
    assert download.suggested_filename == "Modality.png"
    with open(download.path(), "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    box = chart.locator("svg").bounding_box()
    assert box is not None
    assert image.size[0] == round(box["width"]) * 2  # drawn at twice the size
    # not blank: the bars' blue is there, on white
    colours = {c for _, c in image.getcolors(maxcolors=1 << 16) or []}
    assert (255, 255, 255) in colours
    assert any(b > 150 and r < 100 for r, g, b in colours)
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "24-chart-download.png")
    with ui.page.expect_download() as info:
        ui.page.click("[data-testid=svg-Modality]")
    with open(info.value.path(), encoding="utf-8") as handle:
        svg = handle.read()
    assert svg.startswith("<svg") and ">Modality" in svg and "CT: 9" in svg


def test_zoom_a_chart(ui: UI) -> None:
    ui.open()
    if not has_endpoint(ui, "POST", "/api/aggregate"):
        pytest.skip("the server has no POST /api/aggregate yet")
    bars = ui.page.locator("[data-testid=chart-Modality] [data-testid=bar]")
    bars.first.wait_for()
    assert ui.page.inner_text("[data-testid=zoom-Modality]") == "top 8"
    assert bars.count() == 8  # eight modalities, nothing left over
    ui.page.click("[data-testid=zoom-out-Modality]")
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=zoom-Modality]').textContent === 'top 4'"
    )
    ui.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=chart-Modality] [data-testid=bar]')"
        ".length === 5"
    )
    top = api(
        ui,
        "POST",
        "/api/aggregate",
        json={"query": "", "aggregations": [{"field": "Modality", "type": "terms", "size": 4}]},
    )["aggregations"][0]
    assert top["other"] > 0
    assert bars.last.get_attribute("aria-label") == f"(other): {top['other']}"
    # a date histogram zooms from years to months
    years = ui.page.locator("[data-testid=chart-StudyDate] [data-testid=bar]")
    years.first.wait_for()
    assert all(
        len(t) == len("StudyDate:2019")
        for t in years.evaluate_all("els => els.map(e => e.dataset.term)")
    )
    ui.page.locator("[data-testid=zoom-in-StudyDate]").focus()
    ui.page.keyboard.press("Enter")  # keyboard reachable
    ui.page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=chart-StudyDate] [data-testid=bar]')]"
        ".every(b => /^StudyDate:\\d{4}-\\d{2}$/.test(b.dataset.term))"
    )
    ui.shot("25-chart-zoomed")
    # a month bar filters that month
    month = years.first.get_attribute("data-term")
    expected = api(ui, "GET", "/api/count", params={"q": month})["series"]
    assert expected > 0
    years.first.dispatch_event("mousedown")
    years.first.dispatch_event("mouseup")
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=totals] strong').textContent == n",
        arg=str(expected),
    )
    # the zoom is remembered
    ui.page.reload()
    ui.page.locator("[data-testid=zoom-Modality]").wait_for()
    assert ui.page.inner_text("[data-testid=zoom-Modality]") == "top 4"
