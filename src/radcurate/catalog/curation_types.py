"""Curation's plain parts: errors, records, name/colour/settings checks, the content hash."""

from __future__ import annotations

import getpass
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radcurate.query import Node, to_json

#: rows per IN (...) list
_CHUNK = 500
#: the longest tag or dataset name
MAX_NAME = 200
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: characters a name may not contain: query wildcards, the escape, '/' (names sit in URL
#: paths), control characters
_BAD_NAME = re.compile(r"[*?\\/\x00-\x1f\x7f]")
#: keys of user settings the UI reads, with their checks
SETTINGS_KEYS = ("card_fields", "dashboard_fields", "tag_shortcuts", "saved_searches")
MAX_TAG_SHORTCUTS = 9


class CurationError(ValueError):
    """Bad curation input; ``code`` names it, ``status`` is its HTTP status."""

    code = "invalid_curation"
    status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class CurationNotFoundError(CurationError, LookupError):
    """An unknown tag, dataset, version or selection."""

    code = "not_found"
    status = 404


class CurationConflictError(CurationError):
    """A name already taken, or an action the current state forbids."""

    code = "conflict"
    status = 409


@dataclass(frozen=True)
class Selection:
    """(series matching ``query``, none when it is None) ∪ ``include`` − ``exclude``.

    ``query`` is query text, a JSON tree (docs/query-language.md) or a parsed tree.
    """

    query: str | dict[str, Any] | Node | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        query: str | dict[str, Any] | Node | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Selection:
        """A selection from any sequences of UIDs."""
        return cls(query, tuple(include), tuple(exclude))

    def as_given(self) -> dict[str, Any]:
        """The JSON form recorded in the audit log and in stored selections."""
        query: Any = self.query
        if isinstance(query, Node):
            query = to_json(query)
        return {"query": query, "include": list(self.include), "exclude": list(self.exclude)}


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: rows ``changed``, and how many series the selection held."""

    changed: int
    series_count: int


@dataclass(frozen=True)
class TagInfo:
    """A tag, its colour (``#rrggbb`` or None) and how many series carry it."""

    name: str
    color: str | None
    series_count: int


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset with its member counts and number of frozen versions."""

    name: str
    description: str
    series: int
    studies: int
    patients: int
    versions: int


@dataclass(frozen=True)
class DatasetVersion:
    """A frozen version; ``series_uids`` only when read one at a time."""

    dataset: str
    version: int
    content_hash: str
    series_count: int
    instance_count: int
    created_at: float
    created_by: str
    note: str | None
    series_uids: tuple[str, ...] | None = None
    #: False when freezing found the latest version identical and returned it
    created: bool = True


@dataclass(frozen=True)
class StoredSelection:
    """A server-side selection."""

    id: str
    query: str | dict[str, Any] | None
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    series_count: int
    created_at: float
    created_by: str


@dataclass(frozen=True)
class AuditEntry:
    """One curation action."""

    id: int
    at: float
    actor: str
    action: str
    target: str | None
    selection: dict[str, Any] | None
    series_count: int | None
    detail: dict[str, Any] = field(default_factory=dict)


def check_name(name: str, what: str) -> str:
    """A tag or dataset name, stripped; raises :class:`CurationError` when unusable."""
    if not isinstance(name, str):
        raise CurationError(f"{what} name must be a string", code="invalid_name")
    name = name.strip()
    if not name:
        raise CurationError(f"{what} name must not be empty", code="invalid_name")
    if len(name) > MAX_NAME:
        raise CurationError(
            f"{what} name is {len(name)} characters; at most {MAX_NAME}", code="invalid_name"
        )
    if _BAD_NAME.search(name):
        raise CurationError(
            f"{what} name {name!r} may not contain *, ?, \\, / or control characters",
            code="invalid_name",
        )
    return name


#: longest description or note kept
MAX_TEXT = 10_000


def check_text(text: str, what: str) -> str:
    """A description or note: text without NUL (no PostgreSQL text or JSON value holds one),
    at most :data:`MAX_TEXT` characters; raises :class:`CurationError` otherwise."""
    if not isinstance(text, str):
        raise CurationError(f"{what} must be text", code="invalid_text")
    if "\x00" in text:
        raise CurationError(f"{what} contains a NUL character", code="invalid_text")
    if len(text) > MAX_TEXT:
        raise CurationError(
            f"{what} is {len(text)} characters; at most {MAX_TEXT}", code="invalid_text"
        )
    return text


def check_color(color: str | None) -> str | None:
    """``#rrggbb`` (lowercased) or None."""
    if color is None:
        return None
    if not isinstance(color, str) or not _COLOR.match(color):
        raise CurationError(f"color must look like #1f77b4, not {color!r}", code="invalid_color")
    return color.lower()


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validate user settings (the keys the UI reads; other JSON keys are kept as given)."""
    if not isinstance(settings, Mapping):
        raise CurationError("settings must be a JSON object", code="invalid_settings")
    out = dict(settings)
    for key in ("card_fields", "dashboard_fields"):
        if key in out and not (
            isinstance(out[key], list) and all(isinstance(v, str) for v in out[key])
        ):
            raise CurationError(f"settings.{key} must be a list of field names")
    if "tag_shortcuts" in out:
        value = out["tag_shortcuts"]
        if not isinstance(value, list) or not all(isinstance(v, (str, type(None))) for v in value):
            raise CurationError("settings.tag_shortcuts must be a list of tag names")
        if len(value) > MAX_TAG_SHORTCUTS:
            raise CurationError(
                f"settings.tag_shortcuts has {len(value)} entries; at most {MAX_TAG_SHORTCUTS}"
            )
    if "saved_searches" in out:
        value = out["saved_searches"]
        ok = isinstance(value, list) and all(
            isinstance(v, dict)
            and isinstance(v.get("name"), str)
            and v["name"].strip()
            and isinstance(v.get("query"), (str, dict))
            for v in value
        )
        if not ok:
            raise CurationError(
                "settings.saved_searches must be a list of {name, query} with a non-empty name"
            )
    try:
        encoded = json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise CurationError(f"settings must be plain JSON: {exc}") from exc
    if "\\u0000" in encoded:
        raise CurationError("settings contain a NUL character", code="invalid_settings")
    return out


def content_hash(sop_uids: Sequence[str]) -> str:
    """sha256 over the sorted, distinct SOP Instance UIDs, each followed by a newline.

    Examples
    --------
    >>> content_hash(["1.2", "1.1", "1.2"]) == content_hash(["1.1", "1.2"])
    True
    """
    digest = hashlib.sha256()
    for uid in sorted(set(sop_uids)):
        digest.update(uid.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def actor_name(actor: str | None) -> str:
    if actor is None or not actor.strip():
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no user name in the environment or passwd
            return "unknown"
    return actor.strip()
