"""What a request may see: the projects of a signed-in non-admin, applied everywhere.

Projects are opt-in (``catalog/project_store.py``). While the catalog has none, or for an
admin, or with auth off, a request is **unrestricted**. Otherwise it is restricted to the
projects its user is a member of:

* every query the server parses gets ``AND project:(A OR B)`` (``KnownFieldsDep`` does it,
  so search, counts, facets, aggregates, autocomplete values, QC and bias panels, review
  progress all see the same subset);
* a selection's query is scoped the same way and its ``include`` UIDs are filtered;
* a route about one series answers 404 for a series outside the projects (as for one that
  does not exist: its existence is not confirmed), and DICOMweb keeps such series out of
  QIDO-RS answers and WADO-RS studies;
* a user with no project sees nothing.

Examples
--------
>>> from radcurate.query import parse, to_text
>>> to_text(scoped(parse("Modality:CT"), ("lung", "liver")))
'Modality:CT (project:lung OR project:liver)'
>>> to_text(scoped(parse("Modality:CT"), ()))
'Modality:CT NOT *'
>>> scoped(parse("Modality:CT"), None) == parse("Modality:CT")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request

from radcurate.auth import Role
from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import Selection
from radcurate.query import Node
from radcurate.query.ast import All, Not, Project, conjoin, disjoin
from radcurate.server.auth import auth_enabled, authenticate
from radcurate.server.errors import SeriesNotFoundError

#: a request's projects: None when unrestricted
Projects = tuple[str, ...] | None


def request_projects(request: Request) -> Projects:
    """The projects ``request`` is restricted to (None: unrestricted); cached on it."""
    if hasattr(request.state, "projects"):
        cached: Projects = request.state.projects
        return cached
    projects = _projects(request)
    request.state.projects = projects
    return projects


def _projects(request: Request) -> Projects:
    principal = authenticate(request)
    if principal is None or principal.via == "open" or principal.role is Role.ADMIN:
        return None
    if not auth_enabled(request):
        return None
    catalog: CatalogBackend = request.app.state.catalog
    if not catalog.projects.exist():
        return None
    return tuple(catalog.projects.of_user(principal.name))


ProjectsDep = Annotated[Projects, Depends(request_projects)]


def scoped(tree: Node, projects: Projects) -> Node:
    """``tree`` restricted to ``projects`` (None: unchanged; empty: matches nothing)."""
    if projects is None:
        return tree
    if not projects:
        return conjoin([tree, Not(All())])
    return conjoin([tree, disjoin([Project(p) for p in projects])])


def visible_uids(catalog: CatalogBackend, uids: Sequence[str], projects: Projects) -> set[str]:
    """Those of ``uids`` a request restricted to ``projects`` may see."""
    if projects is None:
        return set(uids)
    return catalog.projects.visible(uids, projects)


def scoped_selection(
    catalog: CatalogBackend, selection: Selection, projects: Projects
) -> Selection:
    """``selection`` restricted to ``projects``: its query scoped, its includes filtered."""
    if projects is None:
        return selection
    query = selection.query
    tree: Node | None = None
    if query is not None:
        from radcurate.query import from_json, parse

        if isinstance(query, str):
            tree = parse(query, fields=frozenset(f.name for f in catalog.fields()))
        elif isinstance(query, dict):
            tree = from_json(query, fields=frozenset(f.name for f in catalog.fields()))
        else:
            tree = query
        tree = scoped(tree, projects)
    include = sorted(visible_uids(catalog, selection.include, projects))
    return Selection(tree, tuple(include), selection.exclude)


def check_series(request: Request, series_uid: str) -> None:
    """404 unless the request may see ``series_uid`` (unrestricted: nothing is checked)."""
    projects = request_projects(request)
    if projects is None:
        return
    catalog: CatalogBackend = request.app.state.catalog
    if series_uid not in catalog.projects.visible([series_uid], projects):
        raise SeriesNotFoundError(series_uid)


def see_series(request: Request, series_uid: str) -> str:
    """A route dependency: the ``series_uid`` path parameter, if the request may see it."""
    check_series(request, series_uid)
    return series_uid


def view_series_images(request: Request, series_uid: str) -> str:
    """:func:`see_series`, and the view goes into the access log (auth on)."""
    check_series(request, series_uid)
    record_view(request, "images", series_uid=series_uid)
    return series_uid


def record_view(
    request: Request,
    action: str,
    *,
    series_uid: str | None = None,
    study_uid: str | None = None,
) -> None:
    """Write who viewed what to the access log (only with auth on: a named person)."""
    principal = authenticate(request)
    if principal is None or principal.via == "open":
        return
    catalog: CatalogBackend = request.app.state.catalog
    if catalog.access_log.recorded_lately(principal.name, action, series_uid or study_uid or ""):
        return  # one row per user, series and action in ten minutes: skip the look-up
    patient = None
    if series_uid is not None:
        document = catalog.series_document(series_uid)
        if document is not None:
            patient = document.get("PatientID")
            study_uid = study_uid or document.get("StudyInstanceUID")
    catalog.access_log.record(
        principal.name,
        action,
        patient_id=None if patient is None else str(patient),
        study_uid=study_uid,
        series_uid=series_uid,
    )


#: route declarations: ``dependencies=[READ, SEE_SERIES]`` on routes with a ``series_uid``
SEE_SERIES = Depends(see_series)
VIEW_SERIES_IMAGES = Depends(view_series_images)
