"""What a run runs on: a query with includes and excludes, a dataset's current members or a
frozen version, UIDs; unknown datasets, versions and UIDs are clear errors."""

from __future__ import annotations

import pytest

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import CurationNotFoundError, Selection
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.query import QueryError
from radcurate.workflow import Workflow, WorkflowSelection
from tests.workflows.conftest import series_uid
from tests.workflows.steps import CALLS

CT = [series_uid(n) for n in range(4)]
MR = [series_uid(4), series_uid(5)]


def ran_on(catalog: CatalogBackend, step: Workflow, selection: WorkflowSelection) -> list[str]:
    """The series a run wrote results to (and checks that it ran on exactly those)."""
    CALLS.clear()
    record = run_job(catalog, WORKFLOW_KIND, workflow_job(step, selection))
    assert record.state == "done", record.error
    assert record.result is not None and record.result["failed"] == 0
    written = catalog.result_store.job_series(record.id)
    assert sorted(CALLS) == written
    assert record.result["total"] == record.result["processed"] + record.result["skipped"]
    return written


def test_resolve_every_kind_of_selection(any_catalog: CatalogBackend) -> None:
    catalog = any_catalog
    assert WorkflowSelection(query="Modality:CT").resolve(catalog) == CT
    assert (
        WorkflowSelection(query={"op": "match", "field": "Modality", "pattern": "MR"}).resolve(
            catalog
        )
        == MR
    )
    both = WorkflowSelection(query="Modality:CT", include=(MR[0],), exclude=(CT[1],))
    assert both.resolve(catalog) == sorted([CT[0], CT[2], CT[3], MR[0]])
    assert WorkflowSelection(uids=(MR[1], CT[0], MR[1])).resolve(catalog) == [CT[0], MR[1]]
    assert WorkflowSelection(uids=(CT[0], CT[1]), exclude=(CT[1],)).resolve(catalog) == [CT[0]]
    assert WorkflowSelection(query="Modality:US").resolve(catalog) == []

    catalog.create_dataset("lung train")
    catalog.add_to_dataset("lung train", Selection.of("BodyPartExamined:CHEST"))
    catalog.create_dataset("lung train 2")  # a name that starts the same: not mixed in
    catalog.add_to_dataset("lung train 2", Selection.of(None, include=MR))
    catalog.freeze_dataset("lung train")
    catalog.add_to_dataset("lung train", Selection.of(None, include=[MR[0]]))
    catalog.remove_from_dataset("lung train", Selection.of(None, include=[CT[0]]))
    assert WorkflowSelection(dataset="lung train", version=1).resolve(catalog) == CT[:2]
    assert WorkflowSelection(dataset="lung train").resolve(catalog) == [CT[1], MR[0]]
    assert WorkflowSelection(dataset="lung train", exclude=(MR[0],)).resolve(catalog) == [CT[1]]
    assert WorkflowSelection(dataset="lung train", version=1, include=(MR[1],)).resolve(
        catalog
    ) == [CT[0], CT[1], MR[1]]

    with pytest.raises(CurationNotFoundError, match="nope"):
        WorkflowSelection(dataset="nope").resolve(catalog)
    with pytest.raises(CurationNotFoundError, match="nope"):
        WorkflowSelection(dataset="nope", version=1).resolve(catalog)
    with pytest.raises(CurationNotFoundError):
        WorkflowSelection(dataset="lung train", version=7).resolve(catalog)
    with pytest.raises(QueryError):
        WorkflowSelection(query="Modality:(CT").resolve(catalog)
    with pytest.raises(QueryError):
        WorkflowSelection(query="NoSuchField:1").resolve(catalog)


def test_runs_touch_only_their_selection(sqlite_catalog: CatalogBackend, probe: Workflow) -> None:
    catalog = sqlite_catalog
    catalog.create_dataset("heads")
    catalog.add_to_dataset("heads", Selection.of(None, include=[MR[0]]))
    catalog.freeze_dataset("heads")
    catalog.add_to_dataset("heads", Selection.of(None, include=[CT[3]]))

    assert ran_on(catalog, probe, WorkflowSelection(dataset="heads", version=1)) == [MR[0]]
    # the current members: the new one only (the other is up to date)
    assert ran_on(catalog, probe, WorkflowSelection(dataset="heads")) == [CT[3]]
    assert ran_on(
        catalog, probe, WorkflowSelection(query="Modality:CT", include=(MR[1],), exclude=(CT[0],))
    ) == [CT[1], CT[2], MR[1]]
    assert ran_on(catalog, probe, WorkflowSelection(uids=(CT[0],))) == [CT[0]]
    assert all(catalog.results(u)["ai"] for u in CT + MR)


def test_unknown_uids_are_failed_series_not_a_failed_job(
    sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    ghost = "1.2.3.4.5.404"
    record = run_job(
        sqlite_catalog, WORKFLOW_KIND, workflow_job(probe, WorkflowSelection(uids=(CT[0], ghost)))
    )
    assert record.state == "done"
    assert record.result is not None
    assert (record.result["processed"], record.result["failed"]) == (1, 1)
    total, errors = sqlite_catalog.job_errors(record.id)
    assert total == 1 and errors[0][0] == ghost and errors[0][1].startswith("LookupError")
    assert sqlite_catalog.result_store.job_series(record.id) == [CT[0]]


def test_an_unknown_dataset_fails_the_job_with_its_name(
    sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    record = run_job(
        sqlite_catalog, WORKFLOW_KIND, workflow_job(probe, WorkflowSelection(dataset="nope"))
    )
    assert record.state == "failed"
    assert "nope" in (record.error or "")
    assert not CALLS


def test_as_given_records_the_selection() -> None:
    assert WorkflowSelection(query="Modality:CT", include=("1",), exclude=("2",)).as_given() == {
        "query": "Modality:CT", "include": ["1"], "exclude": ["2"],
    }  # fmt: skip
    assert WorkflowSelection(dataset="d", version=2).as_given() == {"dataset": "d", "version": 2}
    assert WorkflowSelection(dataset="d").as_given() == {"dataset": "d"}
    assert WorkflowSelection(uids=("1", "2")).as_given() == {"uids": ["1", "2"]}
