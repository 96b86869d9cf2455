"""Workflows: registered steps with a typed parameter model, run per series over a selection.

``step.py`` defines what a workflow is (:class:`Workflow`, :class:`SeriesItem`);
``registry.py`` finds them (entry points ``radcurate.workflows``, ``radcurate.annotators``,
``radcurate.qc_checks``); ``selection.py`` turns a query, dataset version or UIDs into
series; the runner that drives them as jobs is ``radcurate.jobs.workflows``. See
docs/workflows.md.
"""

from __future__ import annotations

from radcurate.workflow.checks import QCCheck
from radcurate.workflow.registry import WorkflowInfo, WorkflowRegistry
from radcurate.workflow.selection import WorkflowRequestError, WorkflowSelection
from radcurate.workflow.step import NoParams, SeriesItem, Workflow, WorkflowParamsError

__all__ = [
    "NoParams",
    "QCCheck",
    "SeriesItem",
    "Workflow",
    "WorkflowInfo",
    "WorkflowParamsError",
    "WorkflowRegistry",
    "WorkflowRequestError",
    "WorkflowSelection",
]
