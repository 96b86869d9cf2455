"""A Dask distributed executor: jobs recorded and driven here, their work on a Dask cluster.

Needs ``distributed`` (extra ``dask``). The cluster's workers open the catalog by its URL
and write thumbnails into the cache folder, so both must be reachable from them: a
PostgreSQL catalog (or a SQLite file on a shared file system) and a shared cache folder.
"""

from __future__ import annotations

from concurrent.futures import Executor as FuturesExecutor
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.jobs.executor import LocalExecutor
from radcurate.optional import import_optional

__all__ = ["DaskExecutor"]


class DaskExecutor(LocalExecutor):
    """Like :class:`LocalExecutor`, plus ``work_pool``: a ``concurrent.futures`` view of a
    Dask cluster that job functions hand their parallel work to (``thumbnails_job(pool=...)``).

    Parameters
    ----------
    catalog
        Where job records live.
    cluster
        A scheduler address (``tcp://host:8786``), a ``distributed.Client``, or a cluster
        object such as ``distributed.LocalCluster``.
    max_workers
        Jobs driven at once from this process.
    """

    def __init__(self, catalog: CatalogBackend, cluster: Any, max_workers: int = 1) -> None:
        distributed = import_optional("distributed", "running jobs on a Dask cluster")
        super().__init__(catalog, max_workers=max_workers)
        self._owns_client = not isinstance(cluster, distributed.Client)
        self.client: Any = distributed.Client(cluster) if self._owns_client else cluster
        self.work_pool: FuturesExecutor = self.client.get_executor()

    @property
    def cluster_workers(self) -> int:
        """Dask workers connected now (how many chunks of work run at once)."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def shutdown(self, *, cancel: bool = True) -> None:
        """Stop the jobs (see :meth:`LocalExecutor.shutdown`), then close a client opened here."""
        super().shutdown(cancel=cancel)
        if self._owns_client:
            self.client.close()
