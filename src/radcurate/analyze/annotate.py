"""``annotate``: every built-in annotator that applies to each series, in one run.

A composite workflow (``Workflow.steps``): CT series get the body part and the organ masks,
MR series their series type; each annotator's results are written with its own provenance
(name, version, default parameters), so running ``annotate`` and running the annotators one
by one give the same results and skip each other's unchanged work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radcurate.workflow.step import SeriesItem, Workflow


class AnnotateAll(Workflow):
    """Runs ``annotate-bodypart``, ``annotate-ct-masks`` and ``annotate-mr-type`` where they
    apply (by modality)."""

    name = "annotate"
    title = "Annotate (all that apply)"
    description = (
        "Runs every built-in annotator that applies to each series: CT body part and "
        "CT masks on CT, MR series type on MR; each with its own provenance."
    )
    version = "1"
    steps = ("annotate-bodypart", "annotate-ct-masks", "annotate-mr-type")

    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        raise NotImplementedError("a composite workflow runs its steps (the runner does)")
