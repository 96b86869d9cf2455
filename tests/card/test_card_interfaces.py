"""The card as HTML (tables, inline SVG, escaped, no patient data), through the CLI and the API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from radcurate.analyze.dataset_card import card_json, dataset_card
from radcurate.analyze.dataset_card_html import card_html
from radcurate.catalog import CatalogBackend
from radcurate.cli import main
from radcurate.server import ServerSettings, create_app
from tests.card.conftest import PATIENTS

#: what the files hold about patients and must appear nowhere in a card
PATIENT_DATA = [
    *PATIENTS,
    *PATIENTS.values(),
    *(n.split("^")[0] for n in PATIENTS.values()),
    "CARDPID",
    "19650412",
    "20190304",
    "2019-03-04",
    "054Y",
]


def assert_no_patient_data(text: str) -> None:
    for value in PATIENT_DATA:
        assert value.lower() not in text.lower(), value


def test_html_has_the_tables_and_charts_and_no_patient_data(sqlite_card: CatalogBackend) -> None:
    card = dataset_card(sqlite_card, "lungs", 1, target="tag:covid")
    page = card_html(card)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    for heading in (
        "Motivation",
        "Composition",
        "Collection process",
        "Preprocessing",
        "Bias metrics",
        "Quality control",
        "Review status",
        "Provenance",
    ):
        assert f"<h2>{heading}" in page
    for value in (
        "Modality",
        "Site A",
        "SIEMENS",
        "qc.geometry.missing_slices",
        "card-bodypart",
        card["provenance"]["content_hash"],
        "[50, 60)",
    ):
        assert value in page, value
    assert page.count("<svg") >= 8 and page.count("<table>") >= 10
    # self-contained: no script, no external resource
    assert not re.search(r"<script|<link|<img|src=|url\(|@import", page, re.IGNORECASE)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * page.count(
        "<svg"
    )
    assert_no_patient_data(page)
    assert_no_patient_data(card_json(card))
    assert page == card_html(dataset_card(sqlite_card, "lungs", 1, target="tag:covid"))


def test_html_escapes_every_value(sqlite_card: CatalogBackend) -> None:
    sqlite_card.update_dataset("lungs", description='<script>alert("x")</script> & co', actor="a")
    page = card_html(dataset_card(sqlite_card, "lungs", 1))
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page


def test_empty_version_renders(sqlite_card: CatalogBackend) -> None:
    page = card_html(dataset_card(sqlite_card, "empty", 1))
    assert "<h2>Composition" in page and "no series match the selection" in page


# -- CLI ----------------------------------------------------------------------------------
def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["dataset", "card", *args])
    return result.exit_code, result.output


def test_cli_writes_json_and_html(sqlite_card: CatalogBackend, tmp_path: Path) -> None:
    url = sqlite_card.url
    code, out = cli("lungs@1", "--catalog", url)
    assert code == 0, out
    assert out == card_json(dataset_card(sqlite_card, "lungs", 1))
    code, latest = cli("lungs", "--catalog", url)  # the latest frozen version
    assert code == 0 and latest == out
    target = tmp_path / "card.html"
    code, out = cli(
        "lungs@1", "--format", "html", "--out", str(target), "-t", "tag:covid", "--catalog", url
    )
    assert code == 0, out
    page = target.read_text(encoding="utf-8")
    assert page == card_html(dataset_card(sqlite_card, "lungs", 1, target="tag:covid"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope@1",), "no dataset 'nope'"),
        (("lungs@7",), "no version 7"),
        (("draft",), "freeze it first"),
        (("lungs@1", "--target", "PatientName"), "identifies patients"),
        (("lungs@1", "--target", "NoSuchField"), "unknown field"),
    ],
)
def test_cli_errors(sqlite_card: CatalogBackend, args: tuple[str, ...], message: str) -> None:
    sqlite_card.create_dataset("draft", actor="ana")
    code, out = cli(*args, "--catalog", sqlite_card.url)
    assert code == 2
    assert message in out


# -- API ----------------------------------------------------------------------------------
@pytest.fixture
def client(sqlite_card: CatalogBackend, tmp_path: Path) -> Iterator[TestClient]:
    settings = ServerSettings(home=tmp_path / "home", catalog_url=sqlite_card.url)
    with TestClient(create_app(settings, catalog=sqlite_card)) as test_client:
        yield test_client


def test_api_json_and_html(client: TestClient, sqlite_card: CatalogBackend) -> None:
    answer = client.get("/api/datasets/lungs/versions/1/card")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert "content-disposition" not in answer.headers
    assert answer.content == card_json(dataset_card(sqlite_card, "lungs", 1)).encode()
    assert client.get("/api/datasets/lungs/versions/1/card").content == answer.content
    flagged = client.get("/api/datasets/lungs/versions/1/card", params={"target": "tag:covid"})
    assert json.loads(flagged.content)["bias"]["target"] == "tag:covid"
    page = client.get("/api/datasets/lungs/versions/1/card.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in page.headers
    assert page.text == card_html(dataset_card(sqlite_card, "lungs", 1))
    saved = client.get("/api/datasets/lungs/versions/1/card.html", params={"download": 1})
    assert saved.headers["content-disposition"].startswith(
        'attachment; filename="lungs-v1-card.html"'
    )
    saved = client.get("/api/datasets/lungs/versions/1/card", params={"download": 1})
    assert 'filename="lungs-v1-card.json"' in saved.headers["content-disposition"]
    empty = client.get("/api/datasets/empty/versions/1/card")
    assert empty.status_code == 200
    assert json.loads(empty.content)["composition"]["counts"]["series"] == 0


@pytest.mark.parametrize("suffix", ["card", "card.html"])
def test_api_errors(client: TestClient, suffix: str) -> None:
    unknown = client.get(f"/api/datasets/nope/versions/1/{suffix}")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "dataset_not_found"
    missing = client.get(f"/api/datasets/lungs/versions/5/{suffix}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "version_not_found"
    bad = client.get(f"/api/datasets/lungs/versions/1/{suffix}", params={"target": "PatientID"})
    assert bad.status_code == 400
    assert "identifies patients" in bad.text
    assert client.get(f"/api/datasets/lungs/versions/x/{suffix}").status_code == 422
