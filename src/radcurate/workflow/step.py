"""What a workflow is: a versioned step with a typed parameter model, run once per series.

A workflow computes a result payload (``{"ai": {...}, "qc": {...}}``) for one series
from what :class:`SeriesItem` offers (its document, instance rows, pixel data through
``radcurate.imaging``). The runner writes the payload with the workflow's name as the
producer, its ``version`` and parameter hash, the job id and the series' input hash,
so a re-run skips series whose input, version and parameters are unchanged.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from radcurate.catalog import CatalogBackend
from radcurate.dicom.instance import InstanceRecord
from radcurate.imaging.series import SeriesInput
from radcurate.settings import Settings
from radcurate.workflow.checks import QCCheck


class WorkflowParamsError(ValueError):
    """Parameters a workflow does not accept; the message names each problem."""


class NoParams(BaseModel):
    """A workflow without parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class SeriesItem:
    """One series as a workflow step sees it (documents and instances read on first use)."""

    catalog: CatalogBackend
    series_uid: str
    settings: Settings = field(default_factory=Settings.from_env)

    @cached_property
    def document(self) -> dict[str, Any]:
        """The series document (raises ``LookupError`` when the series is gone)."""
        found = self.catalog.series_document(self.series_uid)
        if found is None:
            raise LookupError(f"series {self.series_uid} is not in the catalog")
        return found

    @cached_property
    def instances(self) -> list[InstanceRecord]:
        """The series' instance rows."""
        return self.catalog.instances(self.series_uid)

    def series_input(self) -> SeriesInput:
        """What the imaging code reads pixels and volumes from."""
        return SeriesInput(self.catalog, self.series_uid, self.document, self.instances)


def instances_hash(instances: list[InstanceRecord]) -> str:
    """A hash of a series' instance files (SOP UID, location, size, mtime): changes when any
    instance is added, removed or rewritten."""
    digest = hashlib.sha256()
    for record in sorted(instances, key=lambda r: r.sop_uid):
        digest.update(
            f"{record.sop_uid}|{record.location}|{record.size}|{record.mtime_ns}\n".encode()
        )
    return digest.hexdigest()[:32]


class Workflow(ABC):
    """A registered step: subclass it, set the class attributes, implement :meth:`process`.

    Publish the class under the entry-point group ``radcurate.workflows`` (or
    ``radcurate.annotators`` / ``radcurate.qc_checks``); docs/plugins.md shows how.
    """

    #: the registered name, also the producer of its results
    name: ClassVar[str]
    #: one line for lists and the UI
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: bump when results would change for the same input: series are then processed again
    version: ClassVar[str] = "1"
    #: the parameter model (pydantic); its JSON Schema drives the UI form
    Params: ClassVar[type[BaseModel]] = NoParams
    #: a *composite* workflow names the registered workflows it runs on each series (those
    #: whose :meth:`applies` accepts it), each written with its own provenance; its own
    #: :meth:`process` is then never called
    steps: ClassVar[tuple[str, ...]] = ()
    #: registered workflows run over the same selection once every series of this one is
    #: done (population steps, e.g. ``qc-outliers`` after ``qc``), with their defaults
    then: ClassVar[tuple[str, ...]] = ()
    #: the modalities this step works on (empty: any); what :meth:`applies` checks by default
    modalities: ClassVar[tuple[str, ...]] = ()
    #: the quality checks this step computes (``qc.*`` fields, their meaning and failing
    #: query); the QC panel and docs list them (see :class:`radcurate.workflow.checks.QCCheck`)
    checks: ClassVar[tuple[QCCheck, ...]] = ()

    def applies(self, item: SeriesItem) -> bool:
        """Whether this step has anything to do on a series (a composite skips it if not)."""
        return not self.modalities or item.document.get("Modality") in self.modalities

    @abstractmethod
    def process(self, item: SeriesItem, params: Any) -> Mapping[str, Mapping[str, Any]]:
        """The results of one series: ``{"ai": {...}, "qc": {...}, "clin": {...}}``.

        Raise any exception for a series that cannot be processed: the runner
        records it for that series and goes on with the rest.
        """

    def input_hash(self, item: SeriesItem) -> str:
        """What the results are computed from (default: the instance files)."""
        return instances_hash(item.instances)

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any] | None) -> BaseModel:
        """Validated parameters (defaults filled in), or :class:`WorkflowParamsError`."""
        try:
            return cls.Params.model_validate(dict(raw or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}"
                for e in exc.errors()
            )
            raise WorkflowParamsError(f"workflow {cls.name!r}: {problems}") from None

    @classmethod
    def params_schema(cls) -> dict[str, Any]:
        """The JSON Schema of the parameters."""
        return cls.Params.model_json_schema()
