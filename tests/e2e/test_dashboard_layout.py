"""The dashboard's layout (issue 19) in Chromium: the dashboard/gallery split and each chart's
height are resizable, and the layout (charts, order, zoom, sizes, width) is saved in the
user's settings on the server, so a fresh browser shows it; a layout shared under a name is
listed to another user, who applies it and sees the same charts.

A ``radcurate serve`` with auth on (two viewers, ``ana`` and ``bob``) on the phantom archive.
Screenshots: ``tests/e2e/artifacts/layout-*.png`` (docs/img/ui-dashboard-layout.png is a copy).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from radcurate.catalog import open_catalog
from tests.e2e.conftest import UI, WEBUI_INDEX, _require, copy_screenshot, run_cli
from tests.serving import serving

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"
ANA = ("ana", "ana's long passphrase")
BOB = ("bob", "bob's long passphrase")
SHARED = "Wide modality"


@pytest.fixture(scope="module")
def layout_server(phantom_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``radcurate serve`` on the phantom archive with two viewers (auth on)."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    root = tmp_path_factory.mktemp("layout-ui")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
    with open_catalog(url) as catalog:
        for name, password in (ANA, BOB):
            catalog.auth.add_user(name, "viewer", password, actor="test")
    with serving(url, root / "home") as base:
        assert httpx.get(f"{base}/api/auth/me", timeout=5).json()["auth"] == "on"
        yield base


def signed_in(browser: Any, base: str, user: tuple[str, str]) -> UI:
    """A fresh browser (no local storage) signed in as ``user`` at 1440 x 900."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=base)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    ui = UI(page=page, base=base)
    page.on("console", lambda m: ui.log_console(m.type, m.text))
    page.on("pageerror", lambda e: ui.console_errors.append(str(e)))
    page.goto(base + "/")
    page.locator("[data-testid=login-username]").fill(user[0])
    page.locator("[data-testid=login-password]").fill(user[1])
    page.locator("[data-testid=login-submit]").click()
    page.wait_for_selector("[data-testid=card]")
    page.wait_for_selector("[data-testid=chart-Modality] svg")
    ui.settle()
    return ui


def close(ui: UI) -> None:
    ui.page.context.close()
    assert ui.console_errors == [], ui.console_errors


def box(ui: UI, selector: str) -> dict[str, float]:
    found = ui.page.locator(selector).bounding_box()
    assert found is not None, selector
    return dict(found)


def drag(ui: UI, selector: str, dx: float, dy: float) -> None:
    """Press on the middle of ``selector``, move by (dx, dy) in steps, release."""
    ui.page.locator(selector).scroll_into_view_if_needed()
    handle = box(ui, selector)
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    ui.page.mouse.move(x, y)
    ui.page.mouse.down()
    ui.page.mouse.move(x + dx, y + dy, steps=8)
    ui.page.mouse.up()


def shown(ui: UI) -> dict[str, Any]:
    """What the dashboard shows: its width, the charts in order, Modality's height and zoom."""
    ui.page.wait_for_load_state("networkidle")
    charts = ui.page.locator("section.chart").evaluate_all(
        "els => els.map(e => e.dataset.testid.replace('chart-', ''))"
    )
    return {
        "width": round(box(ui, "[data-testid=sidebar]")["width"]),
        "charts": charts,
        "modality_height": round(box(ui, "[data-testid=chart-Modality] svg")["height"]),
        "modality_zoom": ui.page.locator("[data-testid=zoom-Modality]").inner_text(),
    }


def settings_of(ui: UI) -> dict[str, Any]:
    found: dict[str, Any] = ui.page.evaluate(
        "() => fetch('/api/settings').then(r => r.json()).then(j => j.settings)"
    )
    return found


def test_resize_reload_share_and_a_second_user_applies_it(browser: Any, layout_server: str) -> None:
    ana = signed_in(browser, layout_server, ANA)
    before = shown(ana)
    assert before["width"] == 300
    assert before["charts"][:2] == ["Modality", "BodyPartExamined"]
    # wider dashboard (the split), a taller Modality chart, zoomed in, moved below the next
    drag(ana, "[data-testid=split-handle]", 220, 0)
    drag(ana, "[data-testid=resize-Modality]", 0, 150)
    ana.page.locator("[data-testid=zoom-in-Modality]").click()
    ana.page.locator("[data-testid=move-BodyPartExamined]").click()
    after = shown(ana)
    assert 500 <= after["width"] <= 540
    assert after["modality_height"] >= before["modality_height"] + 120
    assert after["modality_zoom"] != before["modality_zoom"]
    assert after["charts"][:2] == ["BodyPartExamined", "Modality"]
    chart_width = box(ana, "[data-testid=chart-Modality] svg")["width"]
    assert chart_width >= 460  # the charts follow the split
    # saved on the server, in ana's settings
    saved = settings_of(ana)["dashboard"]
    assert saved["width"] == after["width"]
    modality = next(c for c in saved["charts"] if c["field"] == "Modality")
    assert modality["height"] == after["modality_height"]
    ana.shot("layout-resized")

    # reload, then a fresh browser: the same layout (the server's copy)
    ana.page.reload()
    ana.page.wait_for_selector("[data-testid=chart-Modality] svg")
    assert shown(ana) == after
    close(ana)
    ana = signed_in(browser, layout_server, ANA)
    assert shown(ana) == after

    # share it under a name
    ana.page.locator("[data-testid=layouts-open]").click()
    ana.page.locator("[data-testid=layout-name]").fill(SHARED)
    ana.page.locator("[data-testid=layout-share]").click()
    ana.page.wait_for_selector(f"[data-testid=layout-item][data-layout='{SHARED}']")
    copy_screenshot(ana.shot("layout-shared"), DOCS_IMG / "ui-dashboard-layout.png")
    close(ana)

    # bob starts from the default layout, finds ana's, applies it: the same charts
    bob = signed_in(browser, layout_server, BOB)
    assert shown(bob) == before
    bob.page.locator("[data-testid=layouts-open]").click()
    item = bob.page.locator(f"[data-testid=layout-item][data-layout='{SHARED}']")
    assert "ana" in item.inner_text()
    assert item.locator("[data-testid=layout-delete]").count() == 0  # not his to delete
    item.locator("[data-testid=layout-apply]").click()
    bob.page.wait_for_selector(f"[data-testid=toast]:has-text('{SHARED}')")
    bob.page.wait_for_function(
        "h => document.querySelector('[data-testid=chart-Modality] svg')"
        ".getBoundingClientRect().height >= h",
        arg=after["modality_height"],
    )
    # the charts take the layout's order with the next aggregation answer (its request is
    # sent 60 ms after the layout changes; wait_for_load_state does not wait for it)
    bob.page.wait_for_function(
        "order => [...document.querySelectorAll('section.chart')]"
        ".map(e => e.dataset.testid.replace('chart-', '')).join() === order",
        arg=",".join(after["charts"]),
    )
    assert shown(bob) == after
    bob.shot("layout-applied-by-bob")
    # it is his now: a fresh browser of his shows it
    close(bob)
    bob = signed_in(browser, layout_server, BOB)
    assert shown(bob) == after
    close(bob)


def test_a_link_applies_a_shared_layout(browser: Any, layout_server: str) -> None:
    ana = signed_in(browser, layout_server, ANA)
    layout = {"charts": [{"field": "Manufacturer"}, {"field": "Modality", "height": 90}]}
    answer = ana.page.evaluate(
        "l => fetch('/api/dashboard-layouts/Two charts', {method: 'PUT', headers: "
        "{'Content-Type': 'application/json'}, body: JSON.stringify({layout: l})})"
        ".then(r => r.status)",
        layout,
    )
    assert answer == 200
    close(ana)
    bob = signed_in(browser, layout_server, BOB)
    bob.page.goto(layout_server + "/?layout=Two%20charts")
    bob.page.wait_for_selector("[data-testid=toast]:has-text('Two charts')")
    bob.page.wait_for_selector("[data-testid=chart-Manufacturer] svg")
    assert shown(bob)["charts"] == ["Manufacturer", "Modality"]
    assert "layout=" not in bob.page.url
    close(bob)
