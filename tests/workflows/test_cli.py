"""``radcurate workflows`` and ``radcurate run`` as a user runs them (click's runner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection
from radcurate.cli import main
from radcurate.workflow import Workflow
from tests.workflows.conftest import all_uids, series_uid
from tests.workflows.steps import CALLS, PROBE


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"RADCURATE_HOME": str(tmp_path / "home"), "RADCURATE_CATALOG": ""}


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def run_json(env: dict[str, str], catalog: CatalogBackend, *args: str) -> dict[str, Any]:
    result = invoke(env, "run", *args, "--catalog", catalog.url, "--json")
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_workflows_lists_the_builtins_with_their_parameters(env: dict[str, str]) -> None:
    result = invoke(env, "workflows", "--json")
    assert result.exit_code == 0, result.output
    listed = {w["name"]: w for w in json.loads(result.stdout)}
    assert {"thumbnails", "header-bodypart"} <= set(listed)
    thumbnails, bodypart = listed["thumbnails"], listed["header-bodypart"]
    assert (thumbnails["group"], bodypart["group"]) == ("workflows", "annotators")
    assert thumbnails["params_schema"]["properties"]["size"]["default"] == 256
    assert thumbnails["params_schema"]["properties"]["size"]["minimum"] == 32
    assert set(thumbnails["params_schema"]["properties"]) == {"size", "rerender"}
    assert bodypart["params_schema"]["properties"]["use_descriptions"]["type"] == "boolean"
    assert bodypart["version"] == "1" and bodypart["title"] == "Body part from headers"

    table = invoke(env, "workflows")
    assert table.exit_code == 0, table.output
    assert "header-bodypart" in table.output and "thumbnails" in table.output
    assert "size: integer = 256" in table.output


def test_run_header_bodypart_json(env: dict[str, str], sqlite_catalog: CatalogBackend) -> None:
    out = run_json(env, sqlite_catalog, "header-bodypart", "Modality:CT")
    assert set(out) == {
        "job", "state", "workflow", "total", "processed", "skipped", "failed", "written",
    }  # fmt: skip
    assert out["state"] == "done" and out["workflow"] == "header-bodypart"
    assert (out["total"], out["processed"], out["skipped"], out["failed"]) == (4, 4, 0, 0)
    job = sqlite_catalog.job(out["job"])
    assert job is not None and job.kind == "workflow"
    assert job.params == {
        "workflow": "header-bodypart",
        "params": {"use_descriptions": True},
        "selection": {"query": "Modality:CT"},
        "force": False,
        "trigger": "radcurate run",
    }
    assert sqlite_catalog.series_uids(f"job:{out['job']}") == [series_uid(n) for n in range(4)]

    again = run_json(env, sqlite_catalog, "header-bodypart", "Modality:CT")
    assert (again["processed"], again["skipped"]) == (0, 4)
    forced = run_json(env, sqlite_catalog, "header-bodypart", "Modality:CT", "--force")
    assert (forced["processed"], forced["skipped"]) == (4, 0)
    changed = run_json(env, sqlite_catalog, "header-bodypart", "-p", "use_descriptions=false")
    assert (changed["total"], changed["processed"]) == (6, 6)
    assert sqlite_catalog.results(series_uid(3))["ai"]["bodypart_header"] == []


def test_progress_bar_and_summary(env: dict[str, str], sqlite_catalog: CatalogBackend) -> None:
    result = invoke(env, "run", "header-bodypart", "--catalog", sqlite_catalog.url)
    assert result.exit_code == 0, result.output
    assert "header-bodypart: 6 of 6 series: 6 processed, 0 unchanged, 0 failed" in flat(
        result.output
    )
    result = invoke(
        env, "run", "header-bodypart", "--catalog", sqlite_catalog.url, "--chunk-size", "1"
    )
    assert result.exit_code == 0, result.output
    assert "6 of 6 series: 0 processed, 6 unchanged" in flat(result.output)
    quiet = invoke(env, "run", "header-bodypart", "--catalog", sqlite_catalog.url, "-q")
    assert quiet.exit_code == 0, quiet.output


def test_selections_on_the_command_line(
    env: dict[str, str], sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    catalog = sqlite_catalog
    catalog.create_dataset("heads")
    catalog.add_to_dataset("heads", Selection.of("Modality:MR"))
    catalog.freeze_dataset("heads")
    catalog.add_to_dataset("heads", Selection.of(None, include=[series_uid(3)]))

    out = run_json(env, catalog, PROBE, "--dataset", "heads@1", "--exclude", series_uid(5))
    assert catalog.series_uids(f"job:{out['job']}") == [series_uid(4)]
    job = catalog.job(out["job"])
    assert job is not None
    assert job.params["selection"] == {"exclude": [series_uid(5)], "dataset": "heads", "version": 1}
    out = run_json(env, catalog, PROBE, "--dataset", "heads")
    assert catalog.series_uids(f"job:{out['job']}") == [series_uid(3), series_uid(5)]
    out = run_json(env, catalog, PROBE, "--series", series_uid(0), "--series", series_uid(1))
    assert catalog.series_uids(f"job:{out['job']}") == [series_uid(0), series_uid(1)]
    out = run_json(env, catalog, PROBE, "Modality:CT", "--exclude", series_uid(0))
    assert (out["total"], out["processed"], out["skipped"]) == (3, 1, 2)
    out = run_json(env, catalog, PROBE, "-p", "factor=2", "--workers", "2", "--chunk-size", "2")
    assert (out["total"], out["processed"]) == (6, 6)
    assert all(catalog.results(u)["ai"]["probe_slices"] % 2 == 0 for u in all_uids(catalog))


BAD_RUNS = {
    "unknown": (["nope"], "no workflows plugin named 'nope' (available: annotate"),
    "too-small": (["-p", "factor=0"], "'probe': factor: Input should be greater than or equal"),
    "not-int": (["-p", "factor=two"], "'probe': factor: Input should be a valid integer"),
    "extra": (["-p", "nope=1"], "workflow 'probe': nope: Extra inputs are not permitted"),
    "no-value": (["-p", "factor"], "'factor' is not KEY=VALUE"),
    "dataset": (["--dataset", "nope"], "error: no dataset 'nope'"),
    "version": (["--dataset", "heads@x"], "VERSION must be a number"),
    "syntax": (["Modality:(CT"], "error: at position 12: expected ')'"),
    "field": (["NoSuchField:1"], "unknown field 'NoSuchField'"),
    "two-selections": (["Modality:CT", "--series", "1.2.3"], "give one of QUERY, --dataset"),
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_bad_requests_exit_2_with_a_clear_message(
    env: dict[str, str],
    sqlite_catalog: CatalogBackend,
    probe: Workflow,
    case: str,
) -> None:
    args, message = BAD_RUNS[case]
    if case != "unknown":
        args = [PROBE, *args]
    result = invoke(env, "run", *args, "--catalog", sqlite_catalog.url)
    assert result.exit_code == 2, result.output
    assert message in flat(result.output)
    assert sqlite_catalog.jobs() == [] and not CALLS


def test_failed_series_exit_1_and_radcurate_jobs_lists_them(
    env: dict[str, str], sqlite_catalog: CatalogBackend, probe: Workflow, tmp_path: Path
) -> None:
    fail_file = tmp_path / "fail.txt"
    fail_file.write_text(series_uid(2) + "\n")
    args = ["run", PROBE, "-p", f"fail_file={fail_file}", "--catalog", sqlite_catalog.url]
    result = invoke(env, *args)
    assert result.exit_code == 1, result.output
    (job,) = sqlite_catalog.jobs()
    assert job.state == "done"
    text = flat(result.output)
    assert f"probe: 6 of 6 series: 5 processed, 0 unchanged, 1 failed (job {job.id})" in text
    assert f"errors of failed series: radcurate jobs {job.id}" in text
    listed = invoke(env, "jobs", job.id, "--catalog", sqlite_catalog.url)
    assert listed.exit_code == 0, listed.output
    assert f"{series_uid(2)}: RuntimeError: probe refuses {series_uid(2)}" in flat(listed.output)

    as_json = invoke(env, *args, "--json")
    assert as_json.exit_code == 1
    out = json.loads(as_json.stdout)
    assert (out["processed"], out["skipped"], out["failed"]) == (0, 5, 1)

    fail_file.write_text("")
    fixed = invoke(env, *args, "--json")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["processed"] == 1


def test_an_empty_selection_is_a_run_of_nothing(
    env: dict[str, str], sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    out = run_json(env, sqlite_catalog, PROBE, "Modality:US")
    assert (out["state"], out["total"], out["processed"]) == ("done", 0, 0)
    result = invoke(env, "run", PROBE, "Modality:US", "--catalog", sqlite_catalog.url)
    assert result.exit_code == 0, result.output
    assert "probe: 0 of 0 series" in flat(result.output)
    assert sqlite_catalog.count(f"job:{out['job']}") == 0
    assert sqlite_catalog.count("job:no-such-job") == 0
