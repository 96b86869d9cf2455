"""What the result store reads and writes: result rows, provenance, write summaries.

A leaf module (no catalog imports) so the store, the search index, the workflow
runner and the server share these types without import cycles.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: namespaces of derived results, never mixed with the DICOM document
RESULT_NAMESPACES = ("ai", "qc", "clin")

_KEY = re.compile(r"^[a-z0-9_]+$")
_PRODUCER = re.compile(r"^[A-Za-z0-9_.\-:]{1,100}$")


class ResultError(ValueError):
    """Results that cannot be stored as given; the message says what is wrong."""


@dataclass(frozen=True)
class ResultRow:
    """A producer's results for one series: ``{"ai": {...}, "qc": {...}}``.

    ``input_hash`` identifies what the values were computed from (e.g. the hash of
    the series' instance files), so a workflow can skip unchanged series.
    """

    series_uid: str
    values: Mapping[str, Mapping[str, Any]]
    input_hash: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Who and what made a result set: producer and version, parameters, job, input, time."""

    producer: str
    version: str
    params: dict[str, Any]
    params_hash: str
    job_id: str | None
    input_hash: str | None
    actor: str
    written_at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``written_at`` in ISO 8601 UTC)."""
        return {
            "producer": self.producer,
            "version": self.version,
            "params": self.params,
            "params_hash": self.params_hash,
            "job_id": self.job_id,
            "input_hash": self.input_hash,
            "actor": self.actor,
            "written_at": iso_time(self.written_at),
        }


@dataclass(frozen=True)
class ResultSet:
    """One producer's current (or, in history, earlier) results for one series."""

    series_uid: str
    provenance: Provenance
    values: dict[str, dict[str, Any]]
    #: when it was replaced (history entries only)
    replaced_at: float | None = None

    @property
    def keys(self) -> list[str]:
        """The full field names it holds (``ai.bodypart``; nested dicts as ``ai.a.b``)."""
        return sorted(leaf_paths(self.values))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = {
            "series_uid": self.series_uid,
            **self.provenance.to_dict(),
            "keys": self.keys,
            "values": self.values,
        }
        if self.replaced_at is not None:
            out["replaced_at"] = iso_time(self.replaced_at)
        return out


@dataclass(frozen=True)
class StoredInput:
    """What a series' current result set of a producer was computed from (for skipping)."""

    version: str
    params_hash: str
    input_hash: str | None


@dataclass(frozen=True)
class WriteSummary:
    """What one ``write_results`` call did."""

    producer: str
    written: int
    #: series that had identical values, version, parameters and input already
    unchanged: int = 0
    #: series UIDs the catalog does not hold (nothing written for them)
    unknown_series: tuple[str, ...] = ()
    #: replaced earlier result sets, now in the history
    replaced: int = 0
    details: dict[str, Any] = field(default_factory=dict, compare=False)


def iso_time(at: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC.

    Examples
    --------
    >>> iso_time(0)
    '1970-01-01T00:00:00+00:00'
    """
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def params_hash(params: Mapping[str, Any]) -> str:
    """A short, stable hash of parameters (key order does not matter).

    Examples
    --------
    >>> params_hash({"a": 1, "b": 2}) == params_hash({"b": 2, "a": 1})
    True
    """
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_producer(producer: str) -> str:
    """A valid producer name, or :class:`ResultError`."""
    if not _PRODUCER.match(producer or ""):
        raise ResultError(
            f"producer name {producer!r} must be 1-100 characters of letters, digits, '_.-:'"
        )
    return producer


def check_values(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"ai": {...}, ...}`` checked: known namespaces, lower_snake keys, JSON values.

    Examples
    --------
    >>> check_values({"ai": {"bodypart": ["chest"]}})
    {'ai': {'bodypart': ['chest']}}
    >>> check_values({"tags": {"x": 1}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    radcurate.catalog.result_types.ResultError: result namespace must be one of ai, qc, ...
    """
    out: dict[str, dict[str, Any]] = {}
    for namespace, keyed in values.items():
        if namespace not in RESULT_NAMESPACES:
            raise ResultError(
                f"result namespace must be one of {', '.join(RESULT_NAMESPACES)}, "
                f"not {namespace!r}"
            )
        if not isinstance(keyed, Mapping):
            raise ResultError(f"results of {namespace!r} must be a mapping of key -> value")
        for key in keyed:
            check_key(key)
        if keyed:
            out[namespace] = dict(keyed)
    return out


def check_key(key: str) -> None:
    """A result key is lower_snake (nest values in a dict to reach them as ``ai.a.b``)."""
    if not isinstance(key, str) or not _valid_key(key):
        raise ResultError(
            f"result key {key!r} must be lower_snake, e.g. 'bodypart' "
            "(nest values in a dict to reach them as ai.a.b)"
        )


@functools.lru_cache(maxsize=4096)
def _valid_key(key: str) -> bool:
    """Keys repeat on every series of a write: decided once each."""
    return _KEY.match(key) is not None


def leaf_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Field paths of a result payload down to its non-dict values.

    Examples
    --------
    >>> sorted(leaf_paths({"ai": {"a": 1, "r": {"chest": [0, 10]}}}))
    ['ai.a', 'ai.r.chest']
    """
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, path + ".")
        elif not isinstance(value, Mapping):
            yield path


def flat_results(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Results as ``{"ai.key": value}`` down to non-dict values (for tables and projections).

    Examples
    --------
    >>> flat_results({"ai": {"a": 1, "r": {"chest": [0, 10]}}, "qc": {}})
    {'ai.a': 1, 'ai.r.chest': [0, 10]}
    """
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Mapping[str, Any]) -> None:
        for key, item in value.items():
            if isinstance(item, Mapping) and item:
                walk(f"{prefix}{key}.", item)
            elif not isinstance(item, Mapping):
                out[f"{prefix}{key}"] = item

    walk("", results)
    return out


def merge_payloads(payloads: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The results of a series from its producers' payloads (later ones win per key).

    Examples
    --------
    >>> merge_payloads([{"ai": {"a": 1}}, {"ai": {"b": 2}, "qc": {"c": 3}}])
    {'ai': {'a': 1, 'b': 2}, 'qc': {'c': 3}}
    """
    out: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        for namespace, keyed in payload.items():
            out.setdefault(namespace, {}).update(keyed)
    return out
