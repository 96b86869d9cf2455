"""The structured gallery's groups: a query's matches by patient, then by study.

Shared by the catalog (``catalog/grouping.py`` counts them) and the server
(``/api/search/groups``). Each group carries ``term``, the query text that
picks out its series: the UI selects a patient or a study by sending
``(query) (term)`` as a server-side selection, so a bulk action reaches exactly
the group's series that match the query, however many there are.

Examples
--------
>>> patient_term("P-007"), patient_term(None)
('PatientID:P-007', '(missing:PatientID OR PatientID:"")')
>>> study_term("1.2.3", "a b")
'PatientID:"a b" StudyInstanceUID:1.2.3'
>>> GroupCursor.decode(GroupCursor(("P1", 0)).encode()).key
('P1', 0)
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from radcurate.query.errors import QueryError
from radcurate.query.text import literal_text

#: most groups on one page
MAX_GROUP_PAGE = 500


def patient_term(patient_id: str | None) -> str:
    """The query term of one patient's series (``None``: the series without a PatientID,
    or with an empty one).

    Values match case-insensitively in the query language, so the groups do too: two
    PatientIDs that differ only in case are one patient (docs/ui-gallery.md).
    """
    if patient_id is None or patient_id == "":
        return '(missing:PatientID OR PatientID:"")'
    return f"PatientID:{literal_text(patient_id)}"


def study_term(study_uid: str, patient_id: str | None) -> str:
    """The query term of one study's series of one patient."""
    return f"{patient_term(patient_id)} StudyInstanceUID:{literal_text(study_uid)}"


@dataclass(frozen=True)
class PatientGroup:
    """One patient among a query's matches: how many of its studies and series match."""

    patient_id: str | None
    studies: int
    series: int

    @property
    def term(self) -> str:
        return patient_term(self.patient_id)


@dataclass(frozen=True)
class StudyGroup:
    """One study of a patient among a query's matches."""

    study_uid: str
    patient_id: str | None
    series: int
    study_date: str | None = None
    study_description: str | None = None
    modalities: tuple[str, ...] = ()

    @property
    def term(self) -> str:
        return study_term(self.study_uid, self.patient_id)


@dataclass(frozen=True)
class GroupPage:
    """One page of groups; ``total`` counts every group of the query at that level."""

    items: list[Any]
    total: int
    next_cursor: str | None
    #: series and studies among every match of the query (patients page) or of the patient
    series: int = 0
    studies: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupCursor:
    """Where a page of groups ended: the last group's sort key (JSON-able values)."""

    key: tuple[Any, ...]

    def encode(self) -> str:
        raw = json.dumps(list(self.key))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> GroupCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            key = json.loads(raw)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise QueryError(f"invalid group cursor {token[:40]!r}") from exc
        if not isinstance(key, list):
            raise QueryError(f"invalid group cursor {token[:40]!r}")
        return cls(tuple(key))
