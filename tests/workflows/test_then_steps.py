"""A workflow's ``then`` steps run over the same selection after every series of it is done:
a population step sees the results of the whole selection, not only the series before it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from radcurate.catalog import CatalogBackend
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import SeriesItem, Workflow, WorkflowSelection
from radcurate.workflow.registry import default_registry
from tests.workflows.conftest import all_uids


class Population(Workflow):
    """How many series carry ``ai.probe_slices`` when this series is processed."""

    name = "probe-population"

    def input_hash(self, item: SeriesItem) -> str:
        return str(item.catalog.count("has:ai.probe_slices"))

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        return {"ai": {"probe_population": item.catalog.count("has:ai.probe_slices")}}


class ProbeThenPopulation(Workflow):
    name = "probe-then"
    steps = ("probe",)
    then = ("probe-population",)

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        raise NotImplementedError


@pytest.fixture
def composite(probe: Workflow) -> Iterator[Workflow]:
    registry = default_registry()
    steps = (Population(), ProbeThenPopulation())
    for step in steps:
        registry.register(step)
    yield steps[1]
    for step in steps:
        registry.registries["workflows"].unregister(step.name)


def test_then_runs_after_all_series(sqlite_catalog: CatalogBackend, composite: Workflow) -> None:
    uids = all_uids(sqlite_catalog)
    job = sqlite_catalog.create_job(WORKFLOW_KIND, {"workflow": composite.name})
    function = workflow_job(composite, WorkflowSelection(uids=tuple(uids)), chunk_size=2)
    record = run_job(sqlite_catalog, job, function)
    assert record.state == "done", (record.error, record.message)
    assert record.result is not None
    assert record.result["processed"] == len(uids)
    assert [p["workflow"] for p in record.result["then"]] == ["probe-population"]
    assert record.result["then"][0]["processed"] == len(uids)
    for uid in uids:  # every series saw the whole selection's probe results
        values = sqlite_catalog.result_store.results(uid)["ai"]
        assert values["probe_population"] == len(uids)
