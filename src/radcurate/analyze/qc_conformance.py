"""``qc-conformance``: DICOM conformance of a series by David Clunie's ``dciodvfy``.

``dciodvfy`` (Debian/Ubuntu package ``dicom3tools``; the reference system runs it at ingest)
checks an instance against the IOD of its SOP class: missing or empty attributes by type,
values that break their VR or value multiplicity, retired or unknown attributes, and more.
This step runs it on up to ``max_instances`` instances of a series (the first, the last and
evenly between; ``0``: all) and writes ``qc.conformance.*``:

- ``errors`` / ``warnings``: distinct error and warning messages over the checked instances;
- ``messages``: those messages (errors first, at most :data:`MAX_MESSAGES`), each with the
  number of checked instances that gave it; values quoted by dciodvfy (``= <…>``) are
  removed, so no patient data is copied into the results;
- ``iod``: the IOD dciodvfy checked against (e.g. ``CTImage``); ``instances_checked``.

When ``dciodvfy`` is not installed the step does not apply to any series (``qc`` runs
without it); running ``qc-conformance`` itself then fails each series with a message
saying how to install it. ``$RADCURATE_DCIODVFY`` names another executable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from radcurate.dicom.instance import InstanceRecord
from radcurate.storage.locations import is_remote, local_path, read_location
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.step import SeriesItem, Workflow

#: environment variable naming the dciodvfy executable (default: ``dciodvfy`` on PATH)
ENV_EXECUTABLE = "RADCURATE_DCIODVFY"
#: at most this many distinct messages are kept per series
MAX_MESSAGES = 50
#: seconds one dciodvfy run may take
TIMEOUT_S = 60.0
HOW_TO_INSTALL = (
    "dciodvfy is not installed: install David Clunie's dicom3tools "
    "(Debian/Ubuntu: `apt-get install dicom3tools`) or set $RADCURATE_DCIODVFY to its path"
)

_LINE = re.compile(r"^(Error|Warning) - (.*)$")
_QUOTED = re.compile(r"= <[^>]*>")
_IOD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class ConformanceParams(BaseModel):
    """Parameters of the conformance check."""

    model_config = ConfigDict(extra="forbid")

    max_instances: int = Field(
        default=5, ge=0, le=100_000, description="Instances checked per series (0: all)"
    )


def dciodvfy_path() -> str | None:
    """The dciodvfy executable to run, or None when there is none."""
    named = os.environ.get(ENV_EXECUTABLE)
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("dciodvfy")


def sample(records: list[InstanceRecord], limit: int) -> list[InstanceRecord]:
    """Up to ``limit`` instances in InstanceNumber order: first, last and evenly between.

    Examples
    --------
    >>> recs = [InstanceRecord(str(i), str(i), 0, 0, "s", "e", str(i), instance_number=i)
    ...         for i in range(10)]
    >>> [r.instance_number for r in sample(recs, 3)]
    [0, 4, 9]
    """
    ordered = sorted(records, key=lambda r: (r.instance_number or 0, r.sop_uid))
    if limit <= 0 or len(ordered) <= limit:
        return ordered
    if limit == 1:
        return ordered[:1]
    step = (len(ordered) - 1) / (limit - 1)
    return [ordered[round(i * step)] for i in range(limit)]


def parse_output(text: str) -> tuple[list[tuple[str, str]], str | None]:
    """(severity, message) pairs and the IOD name from dciodvfy's output.

    Examples
    --------
    >>> parse_output("CTImage\\nWarning - </X(0010,1030)[1]> - Value is zero = <0>\\n")
    ([('warning', '</X(0010,1030)[1]> - Value is zero')], 'CTImage')
    """
    found: list[tuple[str, str]] = []
    iod = None
    for line in text.splitlines():
        line = line.strip()
        match = _LINE.match(line)
        if match:
            message = _QUOTED.sub("", match.group(2)).strip()
            found.append((match.group(1).lower(), message))
        elif iod is None and _IOD.match(line):
            iod = line
    return found, iod


def _run(executable: str, record: InstanceRecord) -> str:
    """dciodvfy's output on one instance (remote instances go through a temporary file)."""
    if not is_remote(record.location):
        return _dciodvfy(executable, local_path(record.location))
    with tempfile.NamedTemporaryFile(suffix=".dcm") as handle:
        handle.write(read_location(record.location))
        handle.flush()
        return _dciodvfy(executable, handle.name)


def _dciodvfy(executable: str, path: str) -> str:
    try:
        done = subprocess.run(
            [executable, "-new", path],
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"dciodvfy took more than {TIMEOUT_S:.0f} s on one instance") from None
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def check_series(
    records: list[InstanceRecord], max_instances: int, executable: str
) -> dict[str, Any]:
    """The ``qc.conformance`` payload of the instances of one series."""
    chosen = sample(records, max_instances)
    counts: Counter[tuple[str, str]] = Counter()
    iods: Counter[str] = Counter()
    for record in chosen:
        found, iod = parse_output(_run(executable, record))
        counts.update(set(found))
        if iod:
            iods[iod] += 1
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0] != "error", -kv[1], kv[0][1]))
    return {
        "errors": sum(1 for severity, _ in counts if severity == "error"),
        "warnings": sum(1 for severity, _ in counts if severity == "warning"),
        "messages": [
            {"severity": severity, "message": message, "instances": n}
            for (severity, message), n in ordered[:MAX_MESSAGES]
        ],
        "iod": iods.most_common(1)[0][0] if iods else None,
        "instances_checked": len(chosen),
    }


class ConformanceQC(Workflow):
    """DICOM conformance of each series by dciodvfy (dicom3tools)."""

    name = "qc-conformance"
    title = "DICOM conformance (dciodvfy)"
    description = (
        "Runs dciodvfy (dicom3tools) on a sample of each series' instances: error and "
        "warning counts and the messages, as qc.conformance.*"
    )
    version = "1"
    Params = ConformanceParams
    checks: ClassVar[tuple[QCCheck, ...]] = (
        QCCheck(
            field="qc.conformance.errors",
            title="DICOM conformance errors",
            meaning="Distinct errors dciodvfy reports on the checked instances (missing Type 1 "
            "attributes, invalid values, UID mismatches); the messages are in the detail view.",
            fails="qc.conformance.errors:>0",
            tolerance="none: any error fails",
            family="conformance",
            severity="error",
        ),
        QCCheck(
            field="qc.conformance.warnings",
            title="DICOM conformance warnings",
            meaning="Distinct warnings dciodvfy reports (dubious values, retired or "
            "non-standard attributes); common in clinical data, worth a look in bulk.",
            fails="qc.conformance.warnings:>0",
            tolerance="none: any warning is listed",
            family="conformance",
            severity="info",
        ),
    )

    def applies(self, item: SeriesItem) -> bool:
        """Every series, when dciodvfy is installed."""
        return dciodvfy_path() is not None

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        """Run dciodvfy on a sample of the series' instances."""
        executable = dciodvfy_path()
        if executable is None:
            raise RuntimeError(HOW_TO_INSTALL)
        if not item.instances:
            raise ValueError("the series has no instances to check")
        payload = check_series(item.instances, params.max_instances, executable)
        return {"qc": {"conformance": payload}}
