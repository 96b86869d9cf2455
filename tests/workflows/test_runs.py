"""Runs on this thread and on a process pool: failing series are recorded while the rest go on;
a second run skips what is up to date; --force, a new parameter or version re-process;
a cancelled run keeps what it wrote and the next one finishes the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend
from radcurate.catalog.jobs import JobRecord
from radcurate.catalog.result_types import params_hash
from radcurate.ingest import ingest
from radcurate.jobs import LocalExecutor, run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import Workflow, WorkflowParamsError, WorkflowSelection
from radcurate.workflow.registry import default_registry
from tests.workflows.conftest import (
    all_uids,
    history,
    producer_sets,
    result_writes,
    series_uid,
    wait_for,
    write_series,
)
from tests.workflows.steps import CALLS, PROBE, SLEEP_ENV, ProbeWorkflowV2, expected_values

EVERYTHING = WorkflowSelection(query="*")


def run(
    catalog: CatalogBackend,
    step: Workflow,
    params: dict[str, Any] | None = None,
    selection: WorkflowSelection = EVERYTHING,
    **options: Any,
) -> JobRecord:
    function = workflow_job(step, selection, params, **options)
    return run_job(catalog, WORKFLOW_KIND, function, {"workflow": step.name})


# -- failures -----------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2], ids=["thread", "process-pool"])
def test_a_failing_series_is_recorded_and_the_rest_complete(
    any_catalog: CatalogBackend, probe: Workflow, tmp_path: Path, workers: int
) -> None:
    catalog = any_catalog
    uids = all_uids(catalog)
    bad = series_uid(2)
    fail_file = tmp_path / "fail.txt"
    fail_file.write_text(bad + "\n")
    params = {"fail_file": str(fail_file)}
    # chunk_size 2 < 6 series: two worker processes when workers=2
    job = run(catalog, probe, params, workers=workers, chunk_size=2)
    assert job.state == "done", job.error
    assert job.result == {
        "workflow": PROBE, "total": len(uids), "processed": len(uids) - 1, "skipped": 0,
        "failed": 1, "written": len(uids) - 1,
    }  # fmt: skip
    assert (job.done, job.total) == (len(uids), len(uids))
    assert catalog.job_errors(job.id) == (1, [(bad, f"RuntimeError: probe refuses {bad}")])
    assert producer_sets(catalog, bad, PROBE) == []
    for uid in uids:
        if uid != bad:
            (current,) = producer_sets(catalog, uid, PROBE)
            assert current.values["ai"] == expected_values(uid, len(catalog.instances(uid)))
            assert current.provenance.job_id == job.id
    # job:ID finds the series the job wrote
    assert catalog.count(f"job:{job.id}") == len(uids) - 1
    assert sorted(catalog.series_uids(f"job:{job.id}")) == sorted(set(uids) - {bad})
    assert catalog.count(f"job:{job.id} AND SeriesInstanceUID:{bad}") == 0

    # still failing: a re-run tries only that one again
    CALLS.clear()
    again = run(catalog, probe, params, workers=workers, chunk_size=2)
    assert again.result is not None
    assert (again.result["skipped"], again.result["failed"]) == (len(uids) - 1, 1)
    if workers == 1:
        assert dict(CALLS) == {bad: 1}

    # fixed (same parameters): the re-run processes only the failed series
    fail_file.write_text("")
    fixed = run(catalog, probe, params, workers=workers, chunk_size=2)
    assert fixed.state == "done"
    assert fixed.result is not None
    assert (fixed.result["processed"], fixed.result["skipped"], fixed.result["failed"]) == (
        1, len(uids) - 1, 0,
    )  # fmt: skip
    assert catalog.job_errors(fixed.id) == (0, [])
    assert catalog.series_uids(f"job:{fixed.id}") == [bad]
    assert catalog.job_errors(job.id)[0] == 1  # the first job's record stays
    assert history(catalog, uids, PROBE) == []


def test_a_failure_in_input_hash_is_per_series_too(
    sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    class Picky(type(probe)):  # type: ignore[misc]
        def input_hash(self, item: Any) -> str:
            if item.series_uid == series_uid(0):
                raise OSError("file went away")
            return super().input_hash(item)

    job = run(sqlite_catalog, Picky())
    assert job.state == "done" and job.result is not None
    assert (job.result["processed"], job.result["failed"]) == (5, 1)
    assert catalog_errors(sqlite_catalog, job.id) == {series_uid(0): "OSError: file went away"}


def catalog_errors(catalog: CatalogBackend, job_id: str) -> dict[str, str]:
    return dict(catalog.job_errors(job_id)[1])


# -- idempotency --------------------------------------------------------------------------------
def test_a_second_run_skips_everything_and_force_param_or_version_reprocess(
    any_catalog: CatalogBackend, probe: Workflow
) -> None:
    catalog = any_catalog
    uids = all_uids(catalog)
    n = len(uids)
    first = run(catalog, probe)
    assert first.result is not None and first.result["processed"] == n
    assert first.result["written"] == n
    assert dict(CALLS) == dict.fromkeys(uids, 1)
    writes = result_writes(catalog, PROBE)
    assert sum(w.series_count or 0 for w in writes) == n

    second = run(catalog, probe)
    assert second.state == "done"
    assert second.result == {
        "workflow": PROBE, "total": n, "processed": 0, "skipped": n, "failed": 0, "written": 0,
    }  # fmt: skip
    assert dict(CALLS) == dict.fromkeys(uids, 1)  # nothing ran
    assert history(catalog, uids, PROBE) == []
    assert result_writes(catalog, PROBE) == writes  # no audit entry added
    assert catalog.count(f"job:{second.id}") == 0
    assert all(producer_sets(catalog, u, PROBE)[0].provenance.job_id == first.id for u in uids)

    # --force runs the step again and records even identical values: the provenance and
    # job:ID name the forced run, the sets it replaced go to the history
    forced = run(catalog, probe, force=True)
    assert forced.result is not None
    assert (forced.result["processed"], forced.result["skipped"]) == (n, 0)
    assert forced.result["written"] == n
    assert dict(CALLS) == dict.fromkeys(uids, 2)
    assert all(producer_sets(catalog, u, PROBE)[0].provenance.job_id == forced.id for u in uids)
    assert catalog.series_uids(f"job:{forced.id}") == uids
    assert len(history(catalog, uids, PROBE)) == n

    # a changed parameter re-processes everything, the old sets go to the history
    factor = run(catalog, probe, {"factor": 3})
    assert factor.result is not None
    assert (factor.result["processed"], factor.result["written"]) == (n, n)
    assert dict(CALLS) == dict.fromkeys(uids, 3)
    for uid in uids:
        (current,) = producer_sets(catalog, uid, PROBE)
        assert current.values["ai"] == expected_values(uid, len(catalog.instances(uid)), 3)
        assert current.provenance.params == {
            "sleep": 0.0, "fail_file": None, "factor": 3, "token": False,
        }  # fmt: skip
        assert current.provenance.params_hash == params_hash(current.provenance.params)
        assert current.provenance.job_id == factor.id
    assert len(history(catalog, uids, PROBE)) == 2 * n
    assert run(catalog, probe, {"factor": 3}).result["skipped"] == n  # type: ignore[index]

    # a parameter that leaves the values alone still counts (its hash differs)
    slow = run(catalog, probe, {"factor": 3, "sleep": 0.001})
    assert slow.result is not None and slow.result["processed"] == n

    # a new version of the workflow re-processes everything
    v2 = ProbeWorkflowV2()
    default_registry().register(v2)
    bumped = run(catalog, v2, {"factor": 3, "sleep": 0.001})
    assert bumped.result is not None and bumped.result["processed"] == n
    assert {producer_sets(catalog, u, PROBE)[0].provenance.version for u in uids} == {"2"}
    assert run(catalog, v2, {"factor": 3, "sleep": 0.001}).result["skipped"] == n  # type: ignore[index]


def test_a_changed_series_is_processed_again(
    sqlite_catalog: CatalogBackend, probe: Workflow, tmp_path: Path
) -> None:
    """The input hash covers the instance files: a series that grew is stale."""
    run(sqlite_catalog, probe)
    extra = tmp_path / "extra"
    write_series(extra, series_uid(5), "MR", None, "localizer", 2)  # a second slice
    (extra / "0000.dcm").unlink()
    ingest([extra], sqlite_catalog, workers=1)
    assert len(sqlite_catalog.instances(series_uid(5))) == 2
    CALLS.clear()
    again = run(sqlite_catalog, probe)
    assert again.result is not None
    assert (again.result["processed"], again.result["skipped"]) == (1, 5)
    assert dict(CALLS) == {series_uid(5): 1}
    (current,) = producer_sets(sqlite_catalog, series_uid(5), PROBE)
    assert current.values["ai"]["probe_slices"] == 2


def test_bad_parameters_are_refused_before_the_job_starts(
    sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    with pytest.raises(WorkflowParamsError, match=r"workflow 'probe': factor: .*greater than"):
        workflow_job(probe, EVERYTHING, {"factor": 0})
    with pytest.raises(WorkflowParamsError, match=r"nope: Extra inputs are not permitted"):
        workflow_job(probe, EVERYTHING, {"nope": 1})
    assert sqlite_catalog.jobs() == []


# -- cancellation -------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2], ids=["thread", "process-pool"])
def test_cancel_stops_after_the_chunks_in_flight_and_keeps_their_results(
    many_catalog: CatalogBackend,
    probe: Workflow,
    workers: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    catalog = many_catalog
    uids = all_uids(catalog)
    monkeypatch.setenv(SLEEP_ENV, "0.3")  # slow, with the parameters of a fast run
    executor = LocalExecutor(catalog)
    try:
        job = executor.submit(
            WORKFLOW_KIND,
            workflow_job(probe, EVERYTHING, workers=workers, chunk_size=1),
            {"workflow": PROBE},
        )
        wait_for(lambda: len(catalog.result_store.job_series(job.id)) >= 1, timeout=60)
        catalog.cancel_job(job.id)
        at_cancel = len(catalog.result_store.job_series(job.id))
        record = executor.wait(job.id, timeout=60)
    finally:
        executor.shutdown()
    monkeypatch.delenv(SLEEP_ENV)
    assert record.state == "cancelled"
    assert record.result is not None
    written = catalog.result_store.job_series(job.id)
    assert 1 <= len(written) < len(uids)
    # it stops once it sees the request (next progress write, <= 0.5 s), after the chunks in
    # flight: one on this thread, two per worker process on a pool
    assert len(written) <= at_cancel + (3 if workers == 1 else 8)
    # what was processed is kept: every series run was written, none thrown away
    assert record.result["processed"] == record.result["written"] == len(written)
    assert record.done == len(written)
    if workers == 1:
        assert set(CALLS) == set(written) and set(CALLS.values()) == {1}

    CALLS.clear()
    rest = run(catalog, probe, workers=workers, chunk_size=1)
    assert rest.state == "done" and rest.result is not None
    assert (rest.result["processed"], rest.result["skipped"]) == (
        len(uids) - len(written), len(written),
    )  # fmt: skip
    if workers == 1:
        assert set(CALLS) == set(uids) - set(written)
    assert all(len(producer_sets(catalog, u, PROBE)) == 1 for u in uids)
    assert history(catalog, uids, PROBE) == []


def test_a_job_cancelled_while_queued_runs_nothing(
    sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    record = sqlite_catalog.create_job(WORKFLOW_KIND, {"workflow": PROBE})
    sqlite_catalog.cancel_job(record.id)
    final = run_job(sqlite_catalog, record, workflow_job(probe, EVERYTHING))
    assert final.state == "cancelled"
    assert not CALLS and sqlite_catalog.count(f"job:{record.id}") == 0


# -- payloads the store refuses -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"ai": {"BadKey": 1}}, "ResultError: result key 'BadKey' must be lower_snake"),
        ({"tags": {"x": 1}}, "ResultError: result namespace must be one of"),
        ({"ai": {"score": float("nan")}}, "ValueError: Out of range float values"),
        ({"ai": {"score": {1, 2}}}, "TypeError: Object of type set is not JSON serializable"),
    ],
    ids=["key", "namespace", "nan", "not-json"],
)
def test_a_payload_the_store_refuses_fails_that_series_only(
    sqlite_catalog: CatalogBackend, probe: Workflow, payload: dict[str, Any], reason: str
) -> None:
    bad = series_uid(1)

    class Sloppy(type(probe)):  # type: ignore[misc]
        def process(self, item: Any, params: Any) -> Any:
            if item.series_uid == bad:
                return payload
            return super().process(item, params)

    # the bad series shares its chunk with good ones
    job = run(sqlite_catalog, Sloppy(), chunk_size=3)
    assert job.state == "done", job.error
    assert job.result is not None
    assert (job.result["processed"], job.result["failed"], job.result["written"]) == (5, 1, 5)
    ((uid, error),) = catalog_errors(sqlite_catalog, job.id).items()
    assert uid == bad and error.startswith(reason)
    assert producer_sets(sqlite_catalog, bad, PROBE) == []
    assert len(sqlite_catalog.series_uids(f"job:{job.id}")) == 5
