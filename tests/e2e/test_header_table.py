"""Issue 19, defect 8: the detail view's header table, in Chromium.

Public tag numbers find their element (``0018,0050``, ``(0018,0050)``, ``00180050``); Tag and
VR columns (private elements named from pydicom's private dictionary by their creator);
binary values read as hex bytes (FileMetaInformationVersion ``00 01``, not its base64
``AAE=``) or as their size (``920 bytes of binary data (UN)``, not ``{"binary_bytes":920}``);
long values wrap between their parts, never inside a word that fits, and show whole on
request. On two of pydicom's own test files (``J2K_pixelrep_mismatch.dcm``, a CT with
920- and 3176-byte private elements and a 457-character value; ``CT_small.dcm``, GE private
elements; and rtstruct.dcm) in a catalog of their own. Screenshots go to tests/e2e/artifacts/
(``header-table-*.png``; docs/img/ui-header-table.png is a copy of the private group).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import UI, WEBUI_INDEX, _require, copy_screenshot, run_cli
from tests.serving import serving

pytestmark = pytest.mark.slow

#: rtstruct.dcm: a series that references another, so the detail view's link query
#: (``referenced_series:UID``) has its field here as in any real catalog
FILES = ("J2K_pixelrep_mismatch.dcm", "CT_small.dcm", "rtstruct.dcm")
DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"


@pytest.fixture(scope="module")
def header_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``radcurate serve`` on a catalog of pydicom's test files ``FILES``."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    from pydicom.data import get_testdata_file

    root = tmp_path_factory.mktemp("header-table")
    archive = root / "archive"
    archive.mkdir()
    for name in FILES:
        path = get_testdata_file(name)
        assert path is not None, name
        shutil.copy(str(path), archive / name)
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    run_cli("ingest", str(archive), "--catalog", url, env=env)
    with serving(url, root / "home") as base:
        yield base


@pytest.fixture
def hui(browser: Any, header_server: str) -> Iterator[UI]:
    """A fresh browser context at 1440x900; console errors fail the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=header_server)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=header_server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    result = UI(page=page, base=header_server)
    page.on("console", lambda m: result.log_console(m.type, m.text))
    page.on("pageerror", lambda e: result.console_errors.append(str(e)))
    yield result
    context.close()
    assert result.console_errors == [], result.console_errors


def series_uid(ui: UI, query: str) -> str:
    answer = httpx.get(f"{ui.base}/api/search", params={"q": query, "limit": 1}, timeout=30)
    answer.raise_for_status()
    items = answer.json()["items"]
    assert items, query
    uid: str = items[0]["series_uid"]
    return uid


def open_series(ui: UI, query: str) -> None:
    ui.page.goto(f"{ui.base}/?series={series_uid(ui, query)}")
    ui.page.wait_for_selector("[data-testid=header-table] tr[data-path=SOPInstanceUID]")
    ui.page.wait_for_load_state("networkidle")


def row(ui: UI, path: str) -> Any:
    return ui.page.locator(f"[data-testid=header-table] tr[data-path='{path}']")


def cell(ui: UI, path: str, testid: str) -> str:
    text: str = row(ui, path).locator(f"[data-testid={testid}]").inner_text()
    return text.strip()


def filter_header(ui: UI, text: str) -> list[str]:
    ui.page.locator("[data-testid=header-filter]").fill(text)
    ui.page.wait_for_timeout(100)
    paths: list[str] = ui.page.locator("[data-testid=header-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.path)"
    )
    return paths


def test_public_tag_numbers_find_their_element(hui: UI) -> None:
    open_series(hui, "SeriesDescription:Lv2")
    for text in ("0018,0050", "(0018,0050)", "00180050", " (0018, 0050) "):
        paths = filter_header(hui, text)
        assert "SliceThickness" in paths, (text, paths)
        assert "Modality" not in paths, (text, paths)
    assert cell(hui, "SliceThickness", "header-tag") == "(0018,0050)"
    assert cell(hui, "SliceThickness", "header-vr") == "DS"
    assert row(hui, "SliceThickness").locator("td").nth(1).get_attribute("title") == (
        "Slice Thickness"
    )
    # the group alone, and the standard's name, find it too
    assert "SliceThickness" in filter_header(hui, "(0018,")
    assert "SliceThickness" in filter_header(hui, "slice thickness")
    hui.shot("header-table-filter")


def test_tag_and_vr_columns(hui: UI) -> None:
    open_series(hui, "SeriesDescription:Lv2")
    heads = hui.page.locator("[data-testid=header-table] thead th").all_inner_texts()
    assert heads[:4] == ["Tag", "Element", "VR", "Value"], heads
    assert cell(hui, "Modality", "header-tag") == "(0008,0060)"
    assert cell(hui, "Modality", "header-vr") == "CS"
    # a private element: its creator's dictionary names it
    assert cell(hui, "00091100", "header-tag") == "(0009,1100)"
    assert cell(hui, "00091100", "header-vr") == "UN"
    title = row(hui, "00091100").locator("td").nth(1).get_attribute("title") or ""
    assert "HMC - CT - ID" in title, title
    assert cell(hui, "00090011", "header-vr") == "LO"  # its private creator
    # a fact radcurate derives has no tag
    assert cell(hui, "instance_count", "header-tag") == ""


def test_binary_values_read_as_bytes_or_their_size(hui: UI) -> None:
    open_series(hui, "SeriesDescription:Lv2")
    assert cell(hui, "FileMetaInformationVersion", "header-value") == "00 01"
    assert cell(hui, "FileMetaInformationVersion", "header-vr") == "OB"
    assert cell(hui, "00091100", "header-value") == "920 bytes of binary data (UN)"
    assert cell(hui, "00091101", "header-value") == "3,176 bytes of binary data (UN)"
    # a small private binary value (kept as base64) reads as its bytes: "MDA=" is "0" "0"
    assert cell(hui, "00191000", "header-value") == "30 30"
    # the private group 0009: creators, the two summarised values
    assert "00091100" in filter_header(hui, "(0009,")
    assert "Image ID Information" in cell(hui, "00091100", "header-name")
    copy_screenshot(hui.shot("header-table-private"), DOCS_IMG / "ui-header-table.png")
    # the copy button copies what shows
    filter_header(hui, "")
    row(hui, "FileMetaInformationVersion").hover()
    row(hui, "FileMetaInformationVersion").locator("button.copy").click()
    assert hui.page.evaluate("navigator.clipboard.readText()") == "00 01"
    open_series(hui, "has:00431028")  # CT_small: a GE private OB of 80 bytes
    assert cell(hui, "00431028", "header-value") == "80 bytes of binary data (OB)"
    assert cell(hui, "00431028", "header-vr") == "OB"


#: every line break inside a value cell: the character before it, and whether the part
#: (between separators) it falls in is wider than the cell (then it may break inside)
LINE_BREAKS = """cell => {
  const seps = '.\\\\,^/-_:; ';
  const chars = [];
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('button')) continue;
    for (let i = 0; i < n.length; i++) {
      const r = document.createRange();
      r.setStart(n, i); r.setEnd(n, i + 1);
      const box = r.getBoundingClientRect();
      chars.push({ c: n.data[i], top: Math.round(box.top), w: box.width });
    }
  }
  const style = getComputedStyle(cell);
  const width = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const out = [];
  for (let i = 1; i < chars.length; i++) {
    if (chars[i].top <= chars[i - 1].top) continue;
    let a = i - 1, b = i;
    while (a > 0 && !seps.includes(chars[a - 1].c)) a--;
    while (b < chars.length - 1 && !seps.includes(chars[b].c)) b++;
    const part = chars.slice(a, b + 1).reduce((s, x) => s + x.w, 0);
    out.push({ before: chars[i - 1].c, at: i, tooWide: part > width });
  }
  return out;
}"""


@pytest.mark.parametrize("width", [1440, 1920])
def test_long_values_wrap_at_separators_and_show_whole(hui: UI, width: int) -> None:
    hui.page.set_viewport_size({"width": width, "height": 900})
    open_series(hui, "SeriesDescription:Lv2")
    value = row(hui, "empty_attributes").locator("[data-testid=header-value]")
    breaks: list[dict[str, Any]] = value.evaluate(LINE_BREAKS)
    assert breaks, "the 457-character value should wrap"
    inside = [b for b in breaks if b["before"] not in ".\\,^/-_:; " and not b["tooWide"]]
    assert inside == [], inside
    # every value of the table, UIDs included
    for path in ("SOPInstanceUID", "MediaStorageSOPInstanceUID", "ImageType", "SliceThickness"):
        cell_breaks = row(hui, path).locator("[data-testid=header-value]").evaluate(LINE_BREAKS)
        wrong = [b for b in cell_breaks if b["before"] not in ".\\,^/-_:; " and not b["tooWide"]]
        assert wrong == [], (path, wrong)
    # a long value shows its start, and all of it on request (and in its tooltip)
    full: str = httpx.get(
        f"{hui.base}/api/series/{series_uid(hui, 'SeriesDescription:Lv2')}", timeout=30
    ).json()["document"]["empty_attributes"]
    whole = "\\".join(full) if isinstance(full, list) else full
    assert len(whole) > 160
    more = value.locator("[data-testid=header-more]")
    assert more.inner_text() == f"show all {len(whole)} characters"
    assert value.get_attribute("title") == whole
    shown = value.inner_text().replace(more.inner_text(), "").strip()
    assert shown.endswith("…") and len(shown) < len(whole)
    more.click()
    assert value.inner_text().replace("show less", "").strip() == whole
    # the table scrolls inside the side column: the page is never taller than the window
    # (the whole header made it 3,218 px at 1920 x 900, and a click scrolled the page away)
    page_box = "() => [document.documentElement.scrollHeight, innerHeight, scrollY]"
    height, window, scrolled = hui.page.evaluate(page_box)
    assert height <= window and scrolled == 0, (height, window, scrolled)
    hui.page.evaluate(
        "() => { const t = document.querySelector('.table-scroll');"
        " t.scrollTop = t.querySelector('tr[data-path=empty_attributes]').offsetTop - 60; }"
    )
    hui.shot(f"header-table-long-{width}")
