"""Finding workflows: the entry-point groups ``radcurate.workflows``, ``radcurate.annotators``
and ``radcurate.qc_checks``, loaded lazily through :class:`radcurate.plugins.Registry`.

Built-ins are published exactly like third-party plugins (pyproject entry points);
:data:`BUILTIN_WORKFLOWS` only fills in for an editable checkout whose metadata predates them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from radcurate.plugins import GROUPS, PluginError, PluginNotFound, Registry
from radcurate.workflow.checks import QCCheck
from radcurate.workflow.step import Workflow

#: the groups whose plugins are workflows, in listing order
WORKFLOW_GROUPS = ("workflows", "annotators", "qc_checks")

#: built-in name -> "module:attribute", per group (the same targets as the entry points)
BUILTIN_WORKFLOWS: dict[str, dict[str, str]] = {
    "workflows": {
        "thumbnails": "radcurate.render.thumbnail_workflow:ThumbnailsWorkflow",
    },
    "annotators": {
        "header-bodypart": "radcurate.analyze.header_bodypart:HeaderBodyPart",
        "annotate-bodypart": "radcurate.analyze.bodypart:CTBodyPart",
        "annotate-ct-masks": "radcurate.analyze.ct_masks:CTMasks",
        "annotate-mr-type": "radcurate.analyze.mr_type:MRSeriesType",
        "annotate": "radcurate.analyze.annotate:AnnotateAll",
    },
    "qc_checks": {
        "qc-header": "radcurate.analyze.qc_header:HeaderQC",
        "qc-conformance": "radcurate.analyze.qc_conformance:ConformanceQC",
        "qc-pixels": "radcurate.analyze.qc_pixels:PixelQC",
        "qc-segmentation": "radcurate.analyze.qc_segmentation:SegmentationQC",
        "qc-outliers": "radcurate.analyze.qc_outliers:OutlierQC",
        "qc": "radcurate.analyze.qc:QCAll",
    },
}


def _instantiate(name: str, target: object) -> Workflow:
    obj = target() if isinstance(target, type) else target
    if not isinstance(obj, Workflow):
        raise TypeError(f"workflow {name!r} ({target!r}) is not a radcurate.workflow.Workflow")
    if getattr(obj, "name", None) != name:
        raise TypeError(
            f"workflow registered as {name!r} calls itself {getattr(obj, 'name', None)!r}"
        )
    return obj


@dataclass(frozen=True)
class WorkflowInfo:
    """What lists and the UI show of a workflow."""

    name: str
    title: str
    description: str
    version: str
    group: str
    params_schema: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "version": self.version,
            "group": self.group,
            "params_schema": self.params_schema,
        }


class WorkflowRegistry:
    """Every workflow of the workflow groups; a name is unique across them (first group wins)."""

    def __init__(self) -> None:
        self.registries: dict[str, Registry[Workflow]] = {
            key: Registry(GROUPS[key], check=_instantiate, builtins=BUILTIN_WORKFLOWS[key])
            for key in WORKFLOW_GROUPS
        }

    def _group_of(self, name: str) -> str | None:
        for key, registry in self.registries.items():
            if name in registry.names():
                return key
        return None

    def names(self) -> list[str]:
        """Every workflow name, sorted (imports nothing)."""
        return sorted({n for r in self.registries.values() for n in r.names()})

    def get(self, name: str) -> Workflow:
        """The workflow called ``name`` (``PluginNotFound`` / ``PluginLoadError``)."""
        key = self._group_of(name)
        if key is None:
            raise PluginNotFound("workflows", name, self.names())
        return self.registries[key].get(name)

    def register(self, workflow: Workflow, group: str = "workflows") -> None:
        """Register a workflow object in-process (tests, notebooks)."""
        self.registries[group].register(workflow.name, workflow, replace=True)

    def infos(self) -> list[WorkflowInfo]:
        """Every loadable workflow, described (broken plugins skipped, see :meth:`errors`)."""
        out = []
        for key, registry in self.registries.items():
            for name, workflow in sorted(registry.load_all().items()):
                out.append(
                    WorkflowInfo(
                        name=name,
                        title=workflow.title or name,
                        description=workflow.description,
                        version=workflow.version,
                        group=key,
                        params_schema=workflow.params_schema(),
                    )
                )
        return out

    def qc_checks(self) -> list[tuple[str, QCCheck]]:
        """Every check every loadable workflow declares, as (workflow name, check), in
        registry order; a field declared twice keeps its first declaration."""
        out: list[tuple[str, QCCheck]] = []
        seen: set[str] = set()
        for registry in self.registries.values():
            for name, workflow in sorted(registry.load_all().items()):
                if workflow.steps:
                    continue  # a composite declares nothing of its own
                for check in workflow.checks:
                    if check.field not in seen:
                        seen.add(check.field)
                        out.append((name, check))
        return out

    def errors(self) -> list[PluginError]:
        """Workflow plugins that could not be loaded."""
        return [e for r in self.registries.values() for e in r.errors()]


_DEFAULT: WorkflowRegistry | None = None
_DEFAULT_LOCK = threading.Lock()


def default_registry() -> WorkflowRegistry:
    """The process's workflow registry (created on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = WorkflowRegistry()
        return _DEFAULT
