"""Exporting a dataset from the web UI (issue 17), in Chromium.

A real ``radcurate serve`` on the phantom archive in a catalog of its own (dataset
``chest-ct``: its CT series; no users, so the local user is an admin), its exports under the
server's home. The Export dialog starts the job, a bad option shows the server's message, the
jobs panel follows the job to done and its "Download (zip)" saves the zip, which holds the
manifest and NIfTI volumes nibabel loads. Screenshots: tests/e2e/artifacts/export-*.png
(docs/img/export-*.png are copies of them).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel
import pytest

from radcurate.catalog import open_catalog
from radcurate.catalog.curation_types import Selection
from tests.e2e.conftest import UI, WEBUI_INDEX, _require, copy_screenshot, run_cli
from tests.serving import serving

pytestmark = pytest.mark.slow

DOCS_IMG = Path(__file__).parents[2] / "docs" / "img"


@pytest.fixture(scope="module")
def export_server(
    phantom_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """(base URL, export root) of a server whose catalog has the dataset ``chest-ct``."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    root = tmp_path_factory.mktemp("export-ui")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
    with open_catalog(url) as catalog:
        catalog.create_dataset("chest-ct", "CT series of the phantom")
        catalog.add_to_dataset("chest-ct", Selection(query="Modality:CT"), actor="test")
        cts = len(catalog.series_uids("Modality:CT"))
    assert cts >= 2
    with serving(url, root / "home") as base:
        yield base, root / "home" / "exports"


@pytest.fixture
def page_ui(browser: Any, export_server: tuple[str, Path]) -> Iterator[UI]:
    base = export_server[0]
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, accept_downloads=True, base_url=base
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    result = UI(page=page, base=base)
    page.on("console", lambda m: result.log_console(m.type, m.text))
    page.on("pageerror", lambda e: result.console_errors.append(str(e)))
    yield result
    context.close()
    assert result.console_errors == [], result.console_errors


def shot(ui: UI, name: str) -> None:
    copy_screenshot(ui.shot(name), DOCS_IMG / f"{name}.png")


def test_export_a_dataset_from_the_ui_and_download_the_zip(
    page_ui: UI, export_server: tuple[str, Path], tmp_path: Path
) -> None:
    ui = page_ui
    root = export_server[1]
    ui.open()
    ui.settle()
    row = ui.page.locator("[data-testid=dataset-chest-ct]")
    row.locator("[data-testid=dataset-export]").click()
    dialog = ui.page.locator("[data-testid=export-dialog]")
    dialog.wait_for()
    assert "chest-ct" in dialog.locator("h2").inner_text()
    # a bad split: the server's message, no job
    ui.allow_error("400")
    dialog.locator("[data-testid=export-format-nifti]").check()
    dialog.locator("[data-testid=export-split]").fill("train=2")
    dialog.locator("[data-testid=export-start]").click()
    error = dialog.locator("[data-testid=export-error]")
    error.wait_for()
    assert "the fraction must lie between 0 and 1" in error.inner_text()
    assert not list(root.glob("*")) or not any(p.is_dir() for p in root.iterdir())
    shot(ui, "export-error")
    # the DICOM options: de-identification on by default, its PS3.15 options listed
    dialog.locator("[data-testid=export-format-dicom]").check()
    assert dialog.locator("[data-testid=export-deidentify]").is_checked()
    assert dialog.locator("[data-testid=export-deid-retain-uids]").count() == 1
    assert dialog.locator("[data-testid=export-add-channel]").count() == 0  # NIfTI only
    shot(ui, "export-dicom")
    # a NIfTI export with a split, one channel row filled
    dialog.locator("[data-testid=export-format-nifti]").check()
    dialog.locator("[data-testid=export-split]").fill("train=0.5,test=0.5")
    dialog.locator("[data-testid=export-seed]").fill("3")
    dialog.locator("[data-testid=export-add-channel]").click()
    dialog.locator("[data-testid=export-channel-name]").fill("CT")
    dialog.locator("[data-testid=export-channel-query]").fill("Modality:CT")
    shot(ui, "export-dialog")
    dialog.locator("[data-testid=export-channel] button").click()  # one series a case here
    assert dialog.locator("[data-testid=export-channel]").count() == 0
    dialog.locator("[data-testid=export-start]").click()
    dialog.wait_for(state="detached")
    panel = ui.page.locator("[data-testid=jobs-panel]")
    panel.wait_for()
    job = panel.locator("[data-testid=job]").first
    assert "Export chest-ct v1" in job.inner_text()
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=job]')?.dataset.state === 'done'",
        timeout=180_000,
    )
    download_button = job.locator("[data-testid=job-download]")
    download_button.wait_for()
    text = job.inner_text()
    assert "nifti" in text and "froze v1" in text and "exported" in text, text
    assert "MiB" in text and "bytes" not in text, text
    ui.page.wait_for_timeout(600)  # the progress bar's transition
    shot(ui, "export-job-done")
    with ui.page.expect_download() as info:
        download_button.click()
    download = info.value
    assert download.suggested_filename == "chest-ct-v1-nifti.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        assert "chest-ct-v1-nifti/manifest.csv" in names
        assert "chest-ct-v1-nifti/dataset-card.html" in names
        volumes = [n for n in names if n.endswith(".nii.gz")]
        assert volumes, names
        archive.extractall(tmp_path / "unzipped")
    for name in volumes:
        image = nibabel.load(tmp_path / "unzipped" / name)
        assert len(image.shape) == 3 and min(image.shape) > 1
    # the Datasets section lists the finished export with its zip and a Delete
    ui.page.locator("[data-testid=jobs-close]").click()
    exports = ui.page.locator("[data-testid=exports]")
    exports.wait_for()
    assert "chest-ct v1 · nifti" in exports.inner_text()
    ui.page.wait_for_function(
        "() => document.querySelector('[data-testid=dataset-chest-ct]').textContent.includes('v1')"
    )
    assert exports.locator("[data-testid=export-download]").count() == 1
    shot(ui, "export-datasets")


CORA = ("cora", "cora's long passphrase")


@pytest.fixture(scope="module")
def signed_server(phantom_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with sign-in on: ``cora`` is a curator; dataset ``chest-ct`` as above."""
    _require(WEBUI_INDEX.is_file(), "the web UI is not built (scripts/build-web.sh)")
    root = tmp_path_factory.mktemp("export-ui-auth")
    env = {**os.environ, "RADCURATE_HOME": str(root / "home"), "RADCURATE_CATALOG": ""}
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    run_cli("ingest", str(phantom_archive), "--catalog", url, env=env)
    with open_catalog(url) as catalog:
        catalog.create_dataset("chest-ct")
        catalog.add_to_dataset("chest-ct", Selection(query="Modality:CT"), actor="test")
        catalog.auth.add_user("ada", "admin", "ada's long passphrase", actor="test")
        catalog.auth.add_user(*CORA[:1], "curator", CORA[1], actor="test")
    with serving(url, root / "home") as base:
        yield base


def test_a_curator_is_told_an_identified_copy_needs_an_admin(
    browser: Any, signed_server: str
) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, accept_downloads=True, base_url=signed_server
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    ui = UI(page=page, base=signed_server)
    page.on("console", lambda m: ui.log_console(m.type, m.text))
    try:
        page.goto(signed_server + "/")
        page.locator("[data-testid=login-username]").fill(CORA[0])
        page.locator("[data-testid=login-password]").fill(CORA[1])
        page.locator("[data-testid=login-submit]").click()
        page.wait_for_selector("[data-testid=card]")
        ui.settle()
        page.locator("[data-testid=dataset-chest-ct] [data-testid=dataset-export]").click()
        dialog = page.locator("[data-testid=export-dialog]")
        dialog.locator("[data-testid=export-format-dicom]").check()
        dialog.locator("[data-testid=export-deidentify]").uncheck()
        note = dialog.locator("[data-testid=export-identified]")
        assert "needs an admin" in note.inner_text()
        ui.allow_error("403")
        dialog.locator("[data-testid=export-start]").click()
        error = dialog.locator("[data-testid=export-error]")
        error.wait_for()
        assert "an identified export needs an admin" in error.inner_text()
        shot(ui, "export-curator-refused")
        # de-identified, the curator's export runs and downloads
        dialog.locator("[data-testid=export-deidentify]").check()
        dialog.locator("[data-testid=export-start]").click()
        dialog.wait_for(state="detached")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=job]')?.dataset.state === 'done'",
            timeout=180_000,
        )
        job = page.locator("[data-testid=job]").first
        assert "de-identified DICOM" in job.inner_text()
        with page.expect_download() as info:
            job.locator("[data-testid=job-download]").click()
        assert info.value.suggested_filename == "chest-ct-v1-dicom.zip"
        assert ui.console_errors == [], ui.console_errors
    finally:
        context.close()
