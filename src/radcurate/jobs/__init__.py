"""Jobs: background work recorded in the catalog, its progress, and the executors that run it.

``run_job`` runs a job function in this thread with a heartbeat; ``LocalExecutor``
runs them on an in-process pool. See docs/jobs.md.
"""

from __future__ import annotations

from radcurate.jobs.context import JobCancelled, JobContext, JobFunction, run_job
from radcurate.jobs.executor import Executor, LocalExecutor

__all__ = [
    "Executor",
    "JobCancelled",
    "JobContext",
    "JobFunction",
    "LocalExecutor",
    "run_job",
]
