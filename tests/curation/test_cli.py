"""``radcurate tag``, ``dataset`` and ``audit`` as a user runs them, on both backends."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from radcurate.catalog import open_catalog
from radcurate.cli import main
from tests.curation.corpus import uid, write_series


def run(url: str, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(main, [*args, "--catalog", url, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output) if code == 0 else result.output


def test_curation_commands(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        write_series(catalog, 12)
    url = catalog_url
    assert run(url, "tag", "create", "todo", "--color", "#FFAA00")["color"] == "#ffaa00"
    added = run(url, "tag", "add", "todo", "Modality:CT", "--exclude", uid(0), "--include", uid(1))
    assert added == {"changed": 4, "series_count": 4}
    assert (
        run(url, "tag", "add", "todo", "Modality:CT", "--exclude", uid(0), "--include", uid(1))[
            "changed"
        ]
        == 0
    )
    assert run(url, "tag", "list") == [{"name": "todo", "color": "#ffaa00", "series_count": 4}]
    assert run(url, "tag", "rename", "todo", "done")["name"] == "done"
    assert run(url, "tag", "remove", "done", "Modality:MR")["changed"] == 1
    run(url, "dataset", "create", "cohort", "--description", "all CT")
    assert run(url, "dataset", "add", "cohort", "tag:done")["changed"] == 3
    v1 = run(url, "dataset", "freeze", "cohort", "--note", "first")
    assert (v1["version"], v1["series_count"], v1["note"]) == (1, 3, "first")
    assert run(url, "dataset", "add", "cohort", "Modality:PT")["changed"] == 4
    assert run(url, "dataset", "freeze", "cohort")["version"] == 2
    assert [v["version"] for v in run(url, "dataset", "versions", "cohort")] == [1, 2]
    diff = run(url, "dataset", "diff", "cohort", "1", "2")
    assert len(diff["added"]) == 4 and diff["removed"] == []
    listed = run(url, "dataset", "list")
    assert listed[0]["name"] == "cohort" and listed[0]["series"] == 7
    audit = run(url, "audit", "--limit", "3")
    assert [a["action"] for a in audit] == ["dataset.freeze", "dataset.add", "dataset.freeze"]
    # bad input: one clear line, exit status 2, nothing changed
    assert "must not be empty" in run(url, "tag", "add", " ", "*", code=2)
    assert "no tag 'nosuch'" in run(url, "tag", "remove", "nosuch", "*", code=2)
    assert "already exists" in run(url, "dataset", "create", "COHORT", code=2)
    assert "expected" in run(url, "tag", "add", "x", "Modality:(", code=2)
    assert "frozen version" in run(url, "dataset", "delete", "cohort", code=2)
    assert run(url, "tag", "list") == [{"name": "done", "color": "#ffaa00", "series_count": 3}]
    assert len(run(url, "audit", "--limit", "100")) == 10
    assert run(url, "tag", "delete", "done") == {"name": "done", "series_count": 3}
