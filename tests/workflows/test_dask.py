"""The same workflow on a Dask cluster gives what a local run gives (its workers are threads of
this process, so the in-process ``probe`` registration is visible to them);
``radcurate run --dask ADDRESS``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.cli import main
from radcurate.ingest import ingest
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import Workflow, WorkflowSelection
from tests.workflows.conftest import all_uids, series_uid
from tests.workflows.steps import PROBE

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as local:
        yield local


def _values(catalog: CatalogBackend, producer: str) -> dict[str, Any]:
    out = {}
    for uid in all_uids(catalog):
        for result_set in catalog.result_store.result_sets(uid):
            if result_set.provenance.producer == producer:
                p = result_set.provenance
                out[uid] = (result_set.values, p.version, p.params_hash, p.input_hash)
    return out


def _report(record: Any) -> dict[str, Any]:
    assert record.state == "done", record.error
    return dict(record.result)


def test_dask_run_matches_the_local_run(
    cluster: Any, synthetic_root: Path, tmp_path: Path, probe: Workflow
) -> None:
    fail_file = tmp_path / "fail.txt"
    fail_file.write_text(series_uid(1) + "\n")
    params = {"factor": 2, "fail_file": str(fail_file)}
    selection = WorkflowSelection(query="*", exclude=(series_uid(5),))
    reports, values, errors = [], [], []
    with distributed.Client(cluster) as client:
        for name, pool in (("local", None), ("dask", client.get_executor())):
            with open_catalog(f"sqlite:///{tmp_path / f'{name}.sqlite'}") as catalog:
                ingest([synthetic_root], catalog, workers=1)
                function = workflow_job(probe, selection, params, pool=pool, chunk_size=2)
                with distributed.get_task_stream(client) as stream:
                    record = run_job(catalog, WORKFLOW_KIND, function, {"workflow": PROBE})
                # chunks of 2 of the 5 series: 3 tasks on the cluster, none for the local run
                ran = [t for t in stream.data if "process_chunk" in str(t["key"])]
                assert len(ran) == (0 if pool is None else 3)
                reports.append(_report(record))
                values.append(_values(catalog, PROBE))
                errors.append(catalog.job_errors(record.id))
                if pool is not None:  # and again: everything is up to date on the cluster too
                    again = _report(run_job(catalog, WORKFLOW_KIND, function))
                    assert (again["skipped"], again["processed"]) == (4, 0)
    local, dask = reports
    assert local == dask
    assert (local["processed"], local["failed"], local["total"]) == (4, 1, 5)
    assert values[0] == values[1] and len(values[0]) == 4
    refused = f"RuntimeError: probe refuses {series_uid(1)}"
    assert errors[0] == errors[1] == (1, [(series_uid(1), refused)])


def test_cli_run_on_a_dask_scheduler(
    cluster: Any, sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "run", PROBE, "Modality:CT", "--catalog", sqlite_catalog.url,
            "--dask", cluster.scheduler_address, "--chunk-size", "1", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["state"], out["total"], out["processed"], out["failed"]) == ("done", 4, 4, 0)
    job = sqlite_catalog.job(out["job"])
    assert job is not None and job.params["dask"] == cluster.scheduler_address
    assert job.params["workflow"] == PROBE
    assert sqlite_catalog.series_uids(f"job:{job.id}") == [series_uid(n) for n in range(4)]


def test_unreachable_scheduler_is_a_clear_error(
    sqlite_catalog: CatalogBackend, probe: Workflow
) -> None:
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(
            main, ["run", PROBE, "--catalog", sqlite_catalog.url, "--dask", "tcp://127.0.0.1:9"]
        )
    assert result.exit_code == 2, result.output
    assert "cannot reach Dask at tcp://127.0.0.1:9" in " ".join(result.output.split())
    assert sqlite_catalog.jobs() == []
