"""``qc``: every quality check that applies to each series, in one run (docs/qc.md).

A composite workflow: header geometry and integrity (``qc-header``, also run at ingest),
DICOM conformance (``qc-conformance``, when dciodvfy is installed), pixel measures
(``qc-pixels``) and segmentation checks (``qc-segmentation``) on each series, each written
with its own provenance; then, once every series of the selection is done, the outlier
scores of each series against its population (``qc-outliers``), which need the others'
measures. Running ``qc`` or the families one by one gives the same results and skips
each other's unchanged work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radcurate.workflow.step import SeriesItem, Workflow


class QCAll(Workflow):
    """Runs every QC family that applies to each series, then the population outliers."""

    name = "qc"
    title = "Quality control (all checks)"
    description = (
        "Header geometry and integrity, DICOM conformance (dciodvfy), pixel measures and "
        "segmentation checks on each series where they apply, then the outlier scores "
        "against the protocol group and label populations; results as qc.* fields."
    )
    version = "1"
    steps = ("qc-header", "qc-conformance", "qc-pixels", "qc-segmentation")
    then = ("qc-outliers",)

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        raise NotImplementedError("a composite workflow runs its steps (the runner does)")
