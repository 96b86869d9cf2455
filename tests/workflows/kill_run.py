"""Run the ``probe`` workflow as a job in its own process (tests/workflows/test_resume.py).

    RADCURATE_TEST_PROBE_SLEEP=1 python -m tests.workflows.kill_run CATALOG_URL

Prints the job id on the first line as soon as the job exists, and its final record as JSON
when it ends (it may be killed before).
"""

from __future__ import annotations

import json
import sys

from radcurate.catalog import open_catalog
from radcurate.jobs import run_job
from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
from radcurate.workflow import WorkflowSelection
from radcurate.workflow.registry import default_registry
from tests.workflows.steps import PROCESS_TOKEN, ProbeWorkflow


def main(url: str) -> None:
    step = ProbeWorkflow()
    default_registry().register(step)
    with open_catalog(url) as catalog:
        job = catalog.create_job(WORKFLOW_KIND, {"workflow": step.name, "token": PROCESS_TOKEN})
        print(job.id, PROCESS_TOKEN, flush=True)
        function = workflow_job(step, WorkflowSelection(query="*"), {"token": True}, chunk_size=1)
        record = run_job(catalog, job, function)
        print(json.dumps({"state": record.state, "result": record.result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
