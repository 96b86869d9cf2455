"""The Dask executor on a real LocalCluster (2 worker processes): thumbnails rendered by the
cluster's workers, the job recorded and driven here; ``radcurate thumbnails --dask``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom.uid import generate_uid

from radcurate.catalog import open_catalog
from radcurate.cli import main
from radcurate.ingest import ingest
from radcurate.jobs.thumbnails import THUMBNAILS, thumbnails_job
from radcurate.render.cache import ThumbnailCache
from tests.jobs.conftest import write_ct_series

distributed = pytest.importorskip("distributed")


def test_thumbnails_on_a_local_dask_cluster(tmp_path: Path) -> None:
    from radcurate.jobs.dask import DaskExecutor

    folders = []
    for n in range(5):
        folder = tmp_path / f"s{n}"
        write_ct_series(folder, generate_uid(entropy_srcs=["dask", str(n)]), range(3))
        folders.append(folder)
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    cache = ThumbnailCache(tmp_path / "thumbnails")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        open_catalog(url) as catalog,
    ):
        ingest(folders[:3], catalog, workers=1)
        executor = DaskExecutor(catalog, cluster)
        try:
            assert executor.cluster_workers == 2
            job = executor.submit(
                THUMBNAILS,
                thumbnails_job(cache, workers=executor.cluster_workers, pool=executor.work_pool),
                {"query": None},
            )
            record = executor.wait(job.id, timeout=120)
        finally:
            executor.shutdown()
        assert record.state == "done", record.error
        assert (record.done, record.total) == (3, 3)
        assert record.result is not None and record.result["generated"] == 3
        uids = [str(d["SeriesInstanceUID"]) for d in catalog.iter_series_documents()]
        assert all(cache.lookup(catalog, u) is not None for u in uids)
        # the workers wrote qc results into the shared catalog
        assert all(catalog.results(u)["qc"]["undecodable"] is False for u in uids)

        ingest(folders, catalog, workers=1)
        env = {"RADCURATE_HOME": str(tmp_path / "home")}
        result = CliRunner().invoke(
            main,
            [
                "thumbnails",
                "--catalog",
                url,
                "--cache",
                str(cache.root),
                "--dask",
                cluster.scheduler_address,
                "--json",
            ],
            env=env,
        )
        assert result.exit_code == 0, result.output
        counts = json.loads(result.output)
        assert (counts["generated"], counts["cached"], counts["failed"]) == (2, 3, 0)
        newest = catalog.jobs(limit=1)[0]
        assert newest.params["dask"] == cluster.scheduler_address and newest.state == "done"


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    write_ct_series(tmp_path / "s", generate_uid(entropy_srcs=["dask-x"]), range(1))
    with open_catalog(url) as catalog:
        ingest([tmp_path / "s"], catalog, workers=1)
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = CliRunner().invoke(
            main, ["thumbnails", "--catalog", url, "--dask", "tcp://127.0.0.1:9", "--json"]
        )
    assert result.exit_code == 2, result.output
    assert "cannot reach Dask" in result.output
