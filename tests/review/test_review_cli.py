"""``radcurate review`` as a user runs it: bulk statuses, --show, --progress, bad input."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.cli import main
from tests.curation.corpus import uid, write_series


def run(url: str, *args: str, code: int = 0, as_json: bool = True) -> Any:
    extra = ["--json"] if as_json else []
    result = CliRunner().invoke(main, ["review", *args, "--catalog", url, *extra])
    assert result.exit_code == code, result.output
    return json.loads(result.output) if code == 0 and as_json else result.output


def test_review_command(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        write_series(catalog, 12, instances=1)
    url = catalog_url
    done = run(url, "Modality:CT", "--status", "accepted", "--note", "sharp", "--actor", "ana")
    assert done == {"changed": 4, "total": 4}
    assert run(url, "Modality:CT", "--status", "ACCEPTED", "--note", "sharp")["changed"] == 0
    both = f"{uid(1)},{uid(0)}"
    assert run(url, "--uids", both, "--status", "rejected", "--actor", "bob") == {
        "changed": 2,
        "total": 2,
    }
    pet = ("Modality:PT", "--uids", uid(4), "--exclude", uid(2))
    assert run(url, *pet, "--status", "questionable") == {"changed": 4, "total": 4}

    shown = run(url, "--show", uid(0))
    assert (shown["status"], shown["reviewer"], shown["note"]) == ("rejected", "bob", None)
    assert [(h["actor"], h["detail"]["after"]) for h in shown["history"]] == [
        ("bob", "rejected"),
        ("ana", "accepted"),
    ]
    progress = run(url, "--progress", "*")
    assert progress == {
        "total": 12,
        "reviewed": 9,
        "accepted": 3,
        "rejected": 2,
        "questionable": 4,
        "pending": 3,
    }
    assert run(url, "--progress", "NOT review:rejected")["total"] == 10
    text = run(url, "--progress", as_json=False)
    assert "9 / 12 reviewed (75.0%)" in text and "questionable" in text
    summary = run(url, "Modality:CT", "--status", "pending", as_json=False)
    assert "pending: 4 series changed (4 selected)" in summary
    assert f"{uid(0)}: pending" in run(url, "--show", uid(0), as_json=False)

    # bad input: one clear line, exit status 2, nothing changed
    assert "give one of --status" in run(url, "*", code=2)
    assert "give a QUERY" in run(url, "--status", "accepted", code=2)
    assert "Invalid value for '--status'" in run(url, "*", "--status", "ok", code=2)
    assert "no series '1.2.3.nosuch'" in run(url, "--show", "1.2.3.nosuch", code=2)
    assert "expected" in run(url, "Modality:(", "--status", "accepted", code=2)
    assert "not in the catalog" in run(url, "--uids", "1.2.3.x", "--status", "rejected", code=2)
    assert run(url, "--progress", "*")["pending"] == 7
