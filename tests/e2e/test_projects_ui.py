"""Projects and the access log in the web UI (issue 18), in Chromium.

A real ``radcurate serve`` on the phantom archive in a catalog of its own, with users (auth
on) and a project ``mr-study`` holding the 3 MR series, of which the curator ``carla`` is
the only member (the shared ``server`` fixture's catalog has no users: auth off). Screenshots
go to tests/e2e/artifacts/ (``projects-*.png``; docs/img/projects-*.png are copies of them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.curation_types import Selection
from tests.e2e.conftest import UI, WEBUI_INDEX, _require, run_cli
from tests.serving import serving

pytestmark = pytest.mark.slow

ADMIN = ("alice", "alice's long passphrase")
CURATOR = ("carla", "carla's long passphrase")
VIEWER = ("victor", "victor's long passphrase")
PROJECT_A = "mr-study"


@pytest.fixture(scope="module")
def projects_server(
    phantom_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``radcurate serve`` on a catalog with users and the project ``mr-study`` (auth on)."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    root = tmp_path_factory.mktemp("projects-ui")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
    catalog = open_catalog(url)
    try:
        for (name, password), role in ((ADMIN, "admin"), (CURATOR, "curator"), (VIEWER, "viewer")):
            catalog.auth.add_user(name, role, password, actor="test")
        catalog.projects.create(PROJECT_A, actor="test", description="MR of the phantom")
        catalog.projects.assign(PROJECT_A, Selection(query="Modality:MR"), actor="test")
        catalog.projects.set_members(PROJECT_A, add=[CURATOR[0]], actor="test")
    finally:
        catalog.close()
    with serving(url, root / "home", background_thumbnails=True) as base:
        me = httpx.get(f"{base}/api/auth/me", timeout=5).json()
        assert me["auth"] == "on", me
        yield base


@pytest.fixture
def page_ui(browser: Any, projects_server: str) -> Iterator[UI]:
    """A fresh browser context (no session); console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=projects_server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    result = UI(page=page, base=projects_server)
    page.on("console", lambda m: result.log_console(m.type, m.text))
    page.on("pageerror", lambda e: result.console_errors.append(str(e)))
    yield result
    context.close()
    assert result.console_errors == [], result.console_errors


def sign_in(ui: UI, user: tuple[str, str], path: str = "/") -> None:
    ui.page.goto(ui.base + path)
    ui.page.locator("[data-testid=login-username]").fill(user[0])
    ui.page.locator("[data-testid=login-password]").fill(user[1])
    ui.page.locator("[data-testid=login-submit]").click()
    ui.page.wait_for_selector("[data-testid=card]")
    ui.settle()


def open_menu(ui: UI, item: str) -> None:
    ui.page.locator("[data-testid=user-menu-button]").click()
    ui.page.locator(f"[data-testid={item}]").click()


def totals(ui: UI, text: str) -> None:
    ui.page.wait_for_function(
        "t => document.querySelector('[data-testid=totals]').textContent.includes(t)", arg=text
    )


def test_a_member_of_one_project_sees_only_its_series(page_ui: UI) -> None:
    ui = page_ui
    sign_in(ui, CURATOR)
    totals(ui, "3 series")
    modalities = ui.page.locator("[data-testid=card]").all_inner_texts()
    assert len(modalities) == 3 and all("MR" in m for m in modalities), modalities
    options = ui.page.locator("[data-testid=project-select] option").all_inner_texts()
    assert options == ["All my projects", f"{PROJECT_A} (3)"]
    ui.page.locator("[data-testid=project-select]").select_option(PROJECT_A)
    ui.page.wait_for_url(re.compile(rf"project={PROJECT_A}"))
    chip = ui.page.locator("[data-testid=project-chip]")
    chip.wait_for()
    assert PROJECT_A in chip.inner_text()
    totals(ui, "3 series")
    ui.settle()
    ui.shot("projects-curator")
    # no admin controls: neither the menu items nor the bulk bar's project picker
    ui.page.locator("[data-testid=user-menu-button]").click()
    assert ui.page.locator("[data-testid=menu-projects]").count() == 0
    assert ui.page.locator("[data-testid=menu-access-log]").count() == 0
    ui.page.keyboard.press("Escape")
    ui.page.locator("[data-testid=card]").nth(0).click()
    ui.page.locator("[data-testid=bulkbar]").wait_for()
    assert ui.page.locator("[data-testid=bulk-project]").count() == 0
    # whatever the URL asks, the server keeps the series of other projects out
    ui.page.goto(ui.base + "/?q=Modality:CT")
    ui.page.wait_for_selector(".gallery-empty")
    totals(ui, "0 series")


def test_admin_creates_a_project_adds_members_and_series_and_narrows_the_view(
    page_ui: UI,
) -> None:
    ui = page_ui
    ui.allow_error("409")
    sign_in(ui, ADMIN, "/?q=Modality:CT")
    totals(ui, "9 series")
    # the admin sees every project; "All series" is everything, in projects or not
    options = ui.page.locator("[data-testid=project-select] option").all_inner_texts()
    assert options[0] == "All series" and f"{PROJECT_A} (3)" in options
    open_menu(ui, "menu-projects")
    ui.page.locator("[data-testid=projects-panel]").wait_for()
    ui.page.locator(f"[data-testid=project-row][data-name={PROJECT_A}]").wait_for()
    ui.page.locator("[data-testid=project-new-name]").fill("chest-ct")
    ui.page.locator("[data-testid=project-new-description]").fill("CT of the chest, 2019 study")
    ui.page.locator("[data-testid=project-new-ae]").fill("CHESTCT")
    ui.page.locator("[data-testid=project-create]").click()
    row = ui.page.locator("[data-testid=project-row][data-name=chest-ct]")
    row.wait_for()
    assert row.locator("[data-testid=project-ae]").inner_text() == "CHESTCT"
    assert row.locator("[data-testid=project-count]").inner_text() == "0"
    # a taken name: the server's refusal shows
    ui.page.locator("[data-testid=project-new-name]").fill(PROJECT_A)
    ui.page.locator("[data-testid=project-create]").click()
    error = ui.page.locator("[data-testid=projects-error]")
    error.wait_for()
    assert f"a project '{PROJECT_A}' exists" in error.inner_text()
    ui.page.locator("[data-testid=project-new-name]").fill("")
    # members: the viewer victor
    row.locator("[data-testid=project-members-edit]").click()
    editor = ui.page.locator("[data-testid=project-members-editor]")
    editor.locator(f"[data-testid=project-member-option][data-user={VIEWER[0]}] input").check()
    ui.shot("projects-members")
    editor.locator("[data-testid=project-members-save]").click()
    ui.page.locator("[data-testid=projects-done]", has_text="Members of chest-ct").wait_for()
    assert row.locator("[data-testid=project-members]").inner_text().strip() == VIEWER[0]
    # edit: a description and no AE title
    row.locator("[data-testid=project-edit]").click()
    ui.page.locator("[data-testid=project-edit-ae]").fill("")
    ui.page.locator("[data-testid=project-edit-save]").click()
    ui.page.locator("[data-testid=projects-done]", has_text="Saved project chest-ct").wait_for()
    row.locator("[data-testid=project-ae]").wait_for(state="detached")
    ui.page.locator("[data-testid=projects-close]").click()

    # the current search's series into the project, from the bulk bar
    ui.page.locator("[data-testid=select-all]").click()
    ui.page.locator("[data-testid=bulk-project]").select_option("chest-ct")
    ui.page.locator("[data-testid=bulk-project-add]").click()
    toast = ui.page.locator("[data-testid=toast]", has_text="Added 9 series to project")
    toast.wait_for()
    # the admin's bulk bar wraps to two rows at this width: the toast stays above it
    bar = ui.page.locator("[data-testid=bulkbar]").bounding_box()
    said = toast.bounding_box()
    assert bar is not None and said is not None
    assert said["y"] + said["height"] <= bar["y"], (said, bar)
    ui.shot("projects-bulk")
    counted = httpx.get(ui.base + "/api/count", params={"q": "*"}, auth=VIEWER).json()
    assert counted["series"] == 9, counted  # the member sees the project's series

    # the switcher narrows the gallery: everything, then only chest-ct
    ui.page.locator("[data-testid=bulk-clear]").click()
    ui.page.locator("[data-testid=search-input]").fill("")
    ui.page.locator("[data-testid=search-input]").press("Enter")
    totals(ui, "22 series")
    select = ui.page.locator("[data-testid=project-select]")
    assert "chest-ct (9)" in select.locator("option").all_inner_texts()
    select.select_option("chest-ct")
    totals(ui, "9 series")
    ui.page.wait_for_url(re.compile(r"project=chest-ct"))
    ui.settle()
    ui.shot("projects-switcher")
    # the search narrows further within the project; a link opens the same view
    box = ui.page.locator("[data-testid=search-input]")
    box.fill("SeriesDescription:*")
    box.press("Enter")
    totals(ui, "9 series")
    ui.page.goto(ui.page.url)
    ui.page.wait_for_selector("[data-testid=project-chip]")
    totals(ui, "9 series")
    assert ui.page.locator("[data-testid=project-select]").input_value() == "chest-ct"
    # the chip clears the project
    ui.page.locator("[data-testid=project-chip-clear]").click()
    totals(ui, "22 series")
    assert "project=" not in ui.page.url
    assert ui.page.locator("[data-testid=project-chip]").count() == 0
    # delete, asked first: the series stay
    open_menu(ui, "menu-projects")
    row = ui.page.locator("[data-testid=project-row][data-name=chest-ct]")
    ui.shot("projects-panel")
    row.locator("[data-testid=project-delete]").click()
    row.locator("[data-testid=project-delete-confirm]").click()
    row.wait_for(state="detached")
    ui.page.locator("[data-testid=projects-close]").click()
    totals(ui, "22 series")


def test_the_access_log_lists_a_view_by_another_user(page_ui: UI) -> None:
    ui = page_ui
    mr = httpx.post(
        ui.base + "/api/search",
        json={"query": "Modality:MR", "fields": ["PatientID"], "limit": 1},
        auth=ADMIN,
    ).json()["items"][0]
    uid = mr["series_uid"]
    viewed = httpx.get(ui.base + f"/api/series/{uid}/thumbnail", auth=CURATOR)
    assert viewed.status_code == 200, viewed.text
    sign_in(ui, ADMIN)
    open_menu(ui, "menu-access-log")
    panel = ui.page.locator("[data-testid=access-panel]")
    panel.wait_for()
    assert "shows patient IDs" in ui.page.locator("[data-testid=access-phi-note]").inner_text()
    ui.page.locator("[data-testid=access-user]").fill(CURATOR[0])
    ui.page.locator("[data-testid=access-series]").fill(uid)
    ui.page.locator("[data-testid=access-apply]").click()
    rows = ui.page.locator("[data-testid=access-row]")
    ui.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=access-row]').length > 0"
        " && [...document.querySelectorAll('[data-testid=access-row]')]"
        ".every(r => r.dataset.user === 'carla')"
    )
    first = rows.nth(0)
    assert uid in first.inner_text()
    patient = first.locator("[data-testid=access-patient-id]").inner_text()
    assert patient == mr["fields"]["PatientID"]
    # newest first
    times = [t.split("\t")[0] for t in rows.all_inner_texts()]
    assert times == sorted(times, reverse=True)
    # a time range after now: nothing
    ui.page.locator("[data-testid=access-since]").fill("2099-01-01T00:00")
    ui.page.locator("[data-testid=access-apply]").click()
    ui.page.locator("[data-testid=access-empty]").wait_for()
    ui.page.locator("[data-testid=access-since]").fill("")
    ui.page.locator("[data-testid=access-series]").fill("")
    ui.page.locator("[data-testid=access-apply]").click()
    rows.nth(0).wait_for()
    ui.shot("projects-access-log")
