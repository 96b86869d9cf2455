"""Workflows for the tests: importable by a subprocess, a process pool and a Dask worker.

``probe`` returns values derived from the series (so two runs can be compared), a token of
the process that computed them (so a series processed twice shows up as a replaced set in
``result_history``), sleeps per series when asked (so a run can be killed or cancelled
half-way; :data:`SLEEP_ENV` slows it without changing the parameters) and fails for the
UIDs listed in a file (so a failure can be fixed between runs without changing the
parameters).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from radcurate.workflow import SeriesItem, Workflow

#: unique per process (a PID alone could come back)
PROCESS_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

PROBE = "probe"

#: seconds per series, like the ``sleep`` parameter but outside the parameters: a run slowed
#: down by it has the parameters (hash) of a fast one
SLEEP_ENV = "RADCURATE_TEST_PROBE_SLEEP"

#: series UID -> how often this process ran ``probe`` on it
CALLS: Counter[str] = Counter()


class ProbeParams(BaseModel):
    """Parameters of :class:`ProbeWorkflow`."""

    model_config = ConfigDict(extra="forbid")

    sleep: float = Field(0.0, ge=0, le=5, description="Seconds per series")
    fail_file: str | None = Field(None, description="A file of UIDs (one a line) that fail")
    factor: int = Field(1, ge=1, description="Multiplies ai.probe_slices")
    token: bool = Field(False, description="Put this process's token into the results")


def failing_uids(path: str | None) -> set[str]:
    """The UIDs listed in ``path`` (none when unset or missing)."""
    if path is None or not Path(path).is_file():
        return set()
    return {line.strip() for line in Path(path).read_text().splitlines() if line.strip()}


def expected_values(uid: str, instances: int, factor: int = 1) -> dict[str, Any]:
    """What :class:`ProbeWorkflow` computes for a series (without the token)."""
    return {
        "probe_digest": hashlib.sha256(uid.encode()).hexdigest()[:12],
        "probe_slices": instances * factor,
    }


class ProbeWorkflow(Workflow):
    """A test workflow: values derived from the series, optionally slow, failing or tokened."""

    name = PROBE
    title = "Probe"
    description = "Test workflow"
    version = "1"
    Params = ProbeParams

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        assert isinstance(params, ProbeParams)
        CALLS[item.series_uid] += 1
        delay = params.sleep or float(os.environ.get(SLEEP_ENV) or 0)
        if delay:
            time.sleep(delay)
        if item.series_uid in failing_uids(params.fail_file):
            raise RuntimeError(f"probe refuses {item.series_uid}")
        ai: dict[str, Any] = expected_values(item.series_uid, len(item.instances), params.factor)
        if params.token:
            ai["probe_token"] = PROCESS_TOKEN
        return {"ai": ai, "qc": {"probe_ok": True}}


class ProbeWorkflowV2(ProbeWorkflow):
    """The same workflow after a version bump."""

    version = "2"
