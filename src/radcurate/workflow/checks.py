"""What a quality check declares: the ``qc.*`` field it writes, what it means, its tolerance
and the query that finds the series failing it.

Every QC workflow lists its checks in :attr:`radcurate.workflow.Workflow.checks`; the QC
panel, ``radcurate qc checks``, ``/api/qc/checks`` and docs/qc.md all read this one list,
so a check's meaning is written once, beside the code that computes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class QCCheck:
    """One check: a ``qc.*`` field and the query text that selects the series failing it.

    ``fails`` is radcurate query language (docs/query-language.md) over the check's own
    field, e.g. ``qc.geometry.missing_slices:>0`` or ``qc.geometry.regular_volume:false``.
    Series the check did not run on never match it.
    """

    #: the result path, e.g. ``qc.geometry.missing_slices``
    field: str
    #: a short title for panels and tables ("Missing slices")
    title: str
    #: what the value means, in one or two sentences
    meaning: str
    #: the query that selects failing series
    fails: str
    #: the tolerance applied (empty when the check is exact)
    tolerance: str = ""
    #: the family it belongs to (geometry, header, conformance, pixels, segmentation, ...)
    family: str = ""
    #: "error" (the series is likely unusable as is) or "warning" (look at it)
    severity: str = "warning"

    def __post_init__(self) -> None:
        if not self.field.startswith("qc."):
            raise ValueError(f"a QC check's field must start with 'qc.': {self.field!r}")
        if self.severity not in ("error", "warning", "info"):
            raise ValueError(f"severity must be error, warning or info: {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)
