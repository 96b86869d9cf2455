"""Shared dashboard layouts: named chart layouts any user of the catalog can apply (schema
version 11).

A user's own layout lives in their settings (``dashboard`` in ``user_settings``); sharing
stores a copy under a name here. Anyone signed in may list and read them; the owner (who
saved it first) may replace or delete one, and so may a curator or an admin (the route
decides who may, ``server/routes/dashboard_layouts.py``). Every change is one
``audit_log`` entry (``layout.save``, ``layout.delete``).

Examples
--------
>>> check_layout({"charts": [{"field": "Modality", "zoom": 3, "height": 160}], "width": 420})
{'charts': [{'field': 'Modality', 'zoom': 3, 'height': 160}], 'width': 420}
>>> check_layout({"charts": [{"field": ""}]})
Traceback (most recent call last):
...
radcurate.catalog.curation_types.CurationError: layout.charts[0].field must be a field name
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from radcurate.catalog.curation_types import (
    CurationError,
    CurationNotFoundError,
    check_name,
    check_text,
)
from radcurate.catalog.rows import dumps, loads
from radcurate.catalog.store_session import AuditedSession

LAYOUT_TABLES = """
    CREATE TABLE dashboard_layouts (
        name TEXT PRIMARY KEY,
        name_lower TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        layout {JSON} NOT NULL,
        created_at {REAL} NOT NULL,
        updated_at {REAL} NOT NULL
    )
"""

#: the most charts a layout holds
MAX_CHARTS = 64
#: a chart's height and the dashboard's width, in CSS pixels
HEIGHTS = (60, 800)
WIDTHS = (220, 1200)


class LayoutForbiddenError(CurationError):
    """A change to another user's layout by a user who may not make it."""

    code = "forbidden"
    status = 403


@dataclass(frozen=True)
class SharedLayout:
    """A named dashboard layout and who shared it."""

    name: str
    owner: str
    description: str
    layout: dict[str, Any]
    created_at: float
    updated_at: float


def _bounded(value: Any, where: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CurationError(f"{where} must be a number of pixels")
    return int(min(bounds[1], max(bounds[0], round(value))))


def check_layout(layout: Any) -> dict[str, Any]:
    """A dashboard layout, validated: ``{"charts": [{"field", "zoom"?, "height"?}], "width"?}``
    (heights and width clamped to their bounds; other keys dropped)."""
    if not isinstance(layout, Mapping) or not isinstance(layout.get("charts"), list):
        raise CurationError("layout must be an object with a list of charts", code="invalid_layout")
    charts = layout["charts"]
    if len(charts) > MAX_CHARTS:
        raise CurationError(f"layout has {len(charts)} charts; at most {MAX_CHARTS}")
    out: list[dict[str, Any]] = []
    for i, chart in enumerate(charts):
        field = chart.get("field") if isinstance(chart, Mapping) else None
        if not isinstance(field, str) or not field.strip() or len(field) > 200:
            raise CurationError(f"layout.charts[{i}].field must be a field name")
        clean: dict[str, Any] = {"field": field.strip()}
        zoom = chart.get("zoom")
        if zoom is not None:
            if isinstance(zoom, bool) or not isinstance(zoom, int) or not 0 <= zoom <= 16:
                raise CurationError(f"layout.charts[{i}].zoom must be a step from 0 to 16")
            clean["zoom"] = zoom
        if chart.get("height") is not None:
            clean["height"] = _bounded(chart["height"], f"layout.charts[{i}].height", HEIGHTS)
        out.append(clean)
    result: dict[str, Any] = {"charts": out}
    if layout.get("width") is not None:
        result["width"] = _bounded(layout["width"], "layout.width", WIDTHS)
    return result


class LayoutSession(AuditedSession, Protocol):
    """What the store needs of a SQL catalog (``SQLCatalog`` provides it)."""

    row_lock: str


_COLUMNS = "name, owner, description, layout, created_at, updated_at"


class SQLLayoutStore:
    """Shared dashboard layouts in the catalog's ``dashboard_layouts`` table."""

    def __init__(self, catalog: LayoutSession) -> None:
        self._catalog = catalog

    def list(self) -> list[SharedLayout]:
        """Every shared layout, by name (case-insensitive)."""
        rows = self._catalog._read(f"SELECT {_COLUMNS} FROM dashboard_layouts ORDER BY name_lower")
        return [_layout(row) for row in rows]

    def get(self, name: str) -> SharedLayout:
        """One shared layout (any case of its name); ``CurationNotFoundError`` if none."""
        rows = self._catalog._read(
            f"SELECT {_COLUMNS} FROM dashboard_layouts WHERE name_lower = ?", (name.lower(),)
        )
        if not rows:
            raise CurationNotFoundError(f"no shared layout named {name!r}")
        return _layout(rows[0])

    def save(
        self,
        name: str,
        layout: Mapping[str, Any],
        *,
        actor: str,
        description: str = "",
        may_replace_others: bool = False,
    ) -> SharedLayout:
        """Share ``layout`` as ``name``, or replace the layout of that name: its owner may,
        and anyone with ``may_replace_others`` (a curator or an admin); the owner stays."""
        name = check_name(name, "layout")
        clean = check_layout(layout)
        text = check_text(description, "description")
        now = time.time()
        with self._catalog._transaction() as cur:
            cur.execute(
                self._catalog._sql(
                    "SELECT owner, name FROM dashboard_layouts WHERE name_lower = ?"
                    + self._catalog.row_lock
                ),
                (name.lower(),),
            )
            found = cur.fetchone()
            if found is None:
                cur.execute(
                    self._catalog._sql(
                        "INSERT INTO dashboard_layouts (name, name_lower, owner, description, "
                        "layout, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (name, name.lower(), actor, text, dumps(clean), now, now),
                )
            else:
                owner, name = found
                if owner != actor and not may_replace_others:
                    raise LayoutForbiddenError(
                        f"the shared layout {name!r} is {owner}'s: only they, a curator or "
                        "an admin may replace it; save it under another name"
                    )
                cur.execute(
                    self._catalog._sql(
                        "UPDATE dashboard_layouts SET description = ?, layout = ?, "
                        "updated_at = ? WHERE name = ?"
                    ),
                    (text, dumps(clean), now, name),
                )
            self._catalog._audit(cur, actor, "layout.save", name, None, None, None)
        return self.get(name)

    def delete(self, name: str, *, actor: str, may_delete_others: bool = False) -> None:
        """Remove a shared layout (its owner, or anyone with ``may_delete_others``)."""
        found = self.get(name)
        if found.owner != actor and not may_delete_others:
            raise LayoutForbiddenError(
                f"the shared layout {found.name!r} is {found.owner}'s: only they, a curator or "
                "an admin may delete it"
            )
        with self._catalog._transaction() as cur:
            cur.execute(
                self._catalog._sql("DELETE FROM dashboard_layouts WHERE name = ?"), (found.name,)
            )
            self._catalog._audit(cur, actor, "layout.delete", found.name, None, None, None)


def _layout(row: tuple[Any, ...]) -> SharedLayout:
    name, owner, description, layout, created, updated = row
    value = dict(loads(layout))
    return SharedLayout(
        str(name), str(owner), str(description), value, float(created), float(updated)
    )
