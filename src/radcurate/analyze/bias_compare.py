"""Dataset shift between two selections, and distance to a reference population.

A selection is written as query text, ``dataset:NAME@V`` (a frozen version's
members), or ``selection:ID`` (a stored selection). Per attribute the two
selections are grouped alike (groups of their union), then compared:
Jensen–Shannon distance and chi-square over the groups, and for numbers the
two-sample Kolmogorov–Smirnov D over the exact values. Patients in both are
leakage. A reference population is a CSV of ``field,value,proportion`` rows;
docs/bias.md has the formulas and the file format.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from radcurate.analyze.bias_metrics import NotComputable, chi_square, js_distance, ks_two_sample
from radcurate.analyze.bias_report import (
    DEFAULT_ATTRIBUTES,
    BiasInputError,
    Selected,
    field_name,
    group_filter,
    json_label,
    tabulating,
)
from radcurate.catalog.index.crosstab import MAX_GROUPS, Grouping, VersionRef
from radcurate.query.ast import Node

_VERSIONED = re.compile(r"^dataset:(?P<name>.+)@(?P<version>\d+)$")
_STORED = re.compile(r"^selection:(?P<id>\S+)$")


def resolve_selection(
    catalog: Any, text: str, parse: Callable[[str], Node]
) -> tuple[str, Selected]:
    """``(label, selection)`` of a selection as written (module docstring).

    Raises :class:`BiasInputError` for an unknown dataset version or stored
    selection (their messages name them, never their series), and whatever
    ``parse`` raises for a bad query.
    """
    written = text.strip()
    versioned = _VERSIONED.match(written)
    if versioned:
        name, version = versioned.group("name"), int(versioned.group("version"))
        try:
            versions = [v.version for v in catalog.dataset_versions(name)]
        except LookupError as exc:
            raise BiasInputError(str(exc)) from exc
        if version not in versions:
            raise BiasInputError(f"dataset {name!r} has no version {version}")
        return written, VersionRef(name, version)
    stored = _STORED.match(written)
    if stored:
        try:
            selection = catalog.stored_selection(stored.group("id"))
            return written, frozenset(catalog.resolve_selection(selection))
        except LookupError as exc:
            raise BiasInputError(str(exc)) from exc
    return written or "*", parse(written or "*")


def _shares(counts: Any) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts]


def shift_entry(
    field: str,
    found: Grouping,
    tallies: list[tuple[Any, int]],
    numbers: tuple[Any, list[Any]] | None,
) -> dict[str, Any]:
    """One attribute compared between two selections (missing rows left out of the tests)."""
    (a, missing_a), (b, missing_b) = tallies
    entry: dict[str, Any] = {
        "field": field,
        "binning": found.kind,
        "n_a": int(a.sum()),
        "n_b": int(b.sum()),
        "missing_a": missing_a,
        "missing_b": missing_b,
        "missing_share_a": missing_a / (int(a.sum()) + missing_a) if a.sum() + missing_a else None,
        "missing_share_b": missing_b / (int(b.sum()) + missing_b) if b.sum() + missing_b else None,
        "computable": True,
        "reason": None,
    }
    share_a, share_b = _shares(a), _shares(b)
    entry["groups"] = [
        {
            "value": json_label(found.labels[i]),
            "count_a": int(a[i]),
            "count_b": int(b[i]),
            "share_a": share_a[i],
            "share_b": share_b[i],
            "filter": group_filter(field, found, i),
        }
        for i in range(len(found))
        if a[i] or b[i]
    ]
    if not a.sum() or not b.sum():
        entry.update(computable=False, reason="no values in one of the selections")
        return entry
    entry["js_distance"] = js_distance(a, b)
    table = np.vstack([a, b])[:, (a + b) > 0]
    try:
        test = chi_square(table)
        entry.update(chi2=test.statistic, dof=test.dof, p=test.p)
    except NotComputable:
        entry.update(chi2=None, dof=0, p=None)  # one group in all: the same distribution
    if numbers is not None:
        d, p = ks_two_sample(numbers[1][0], numbers[1][1])
        entry.update(ks=d, ks_p=p)
    return entry


def compare(
    catalog: object,
    a: Selected,
    b: Selected,
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
    *,
    labels: tuple[str, str] = ("A", "B"),
    max_groups: int = MAX_GROUPS,
) -> dict[str, Any]:
    """Dataset shift between two selections per attribute, and their overlap (leakage)."""
    fields = list(dict.fromkeys(attributes))
    if not fields:
        raise BiasInputError("no attributes to compare")
    tab = tabulating(catalog).cross_tabulate([a, b], fields, max_groups=max_groups, numbers=True)
    assert tab.overlap is not None and tab.numbers is not None
    counts_a, counts_b = tab.counts
    problems = [
        f"selection {label} has no series"
        for label, counts in zip(labels, tab.counts, strict=True)
        if not counts["series"]
    ]
    shared = tab.overlap["patients"]
    return {
        "a": {"selection": labels[0], **counts_a},
        "b": {"selection": labels[1], **counts_b},
        "overlap": {
            "series": tab.overlap["series"],
            "patients": shared,
            "patient_share_a": shared / counts_a["patients"] if counts_a["patients"] else None,
            "patient_share_b": shared / counts_b["patients"] if counts_b["patients"] else None,
            "leakage": shared > 0,
        },
        "problems": problems,
        "attributes": [
            shift_entry(name, tab.groupings[name], tab.tallies[name], tab.numbers.get(name))
            for name in fields
        ],
    }


# -- reference populations ----------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceCategory:
    """One row of a reference population: a value, or a numeric range ``[low, high)``."""

    value: str
    proportion: float
    low: float | None = None
    high: float | None = None

    def holds(self, value: Any) -> bool:
        """Whether a series' value falls in this category."""
        if self.low is not None or self.high is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            low = -math.inf if self.low is None else self.low
            high = math.inf if self.high is None else self.high
            return low <= value < high
        return str(value).lower() == self.value.lower()


_RANGE = re.compile(
    r"^\s*(?:\[\s*(?P<a>[-\d.]+)\s*,\s*(?P<b>[-\d.]+)\s*\)"
    r"|(?P<c>\d+)\s*(?:-|\.\.|to)\s*(?P<d>\d+)|(?P<e>[-\d.]+)\s*\+)\s*$"
)


def _category(value: str, proportion: float) -> ReferenceCategory:
    match = _RANGE.match(value)
    if match is None:
        return ReferenceCategory(value.strip(), proportion)
    if match.group("a") is not None:
        low, high = float(match.group("a")), float(match.group("b"))
    elif match.group("c") is not None:  # 40-49: completed years 40 to 49, i.e. [40, 50)
        low, high = float(match.group("c")), float(match.group("d")) + 1
    else:
        return ReferenceCategory(value.strip(), proportion, float(match.group("e")), None)
    return ReferenceCategory(value.strip(), proportion, low, high)


def read_reference(text: str) -> dict[str, list[ReferenceCategory]]:
    """A reference population CSV (``field,value,proportion``; ``attribute`` may name the
    first column) -> categories per field, in file order."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    key = "field" if "field" in header else "attribute"
    if key not in header or "value" not in header or "proportion" not in header:
        raise BiasInputError("a reference file needs the columns field, value and proportion")
    out: dict[str, list[ReferenceCategory]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            proportion = float(row["proportion"])
        except (TypeError, ValueError):
            raise BiasInputError(f"line {line}: proportion is not a number") from None
        if not math.isfinite(proportion) or proportion < 0:
            raise BiasInputError(f"line {line}: proportion must be a number >= 0")
        field = (row[key] or "").strip()
        if not field:
            raise BiasInputError(f"line {line}: no field")
        out.setdefault(field, []).append(_category(row["value"] or "", proportion))
    if not out:
        raise BiasInputError("the reference file has no rows")
    return out


def against_reference(
    catalog: object,
    selection: Selected,
    reference: dict[str, list[ReferenceCategory]],
    *,
    check: Callable[[str], object] | None = None,
) -> list[dict[str, Any]]:
    """Per field of ``reference``: the selection's shares beside the reference's, and the
    Jensen–Shannon distance (values in no reference category: one extra category whose
    reference share is 0; missing values left out)."""
    fields = {name: field_name(name, check) for name in reference}
    tab = tabulating(catalog).cross_tabulate(
        [selection], list(fields.values()), exact=list(fields.values()), max_groups=1_000_000
    )
    out = []
    for written, name in fields.items():
        categories = reference[written]
        found = tab.groupings[name]
        counts, missing = tab.tallies[name][0]
        observed = np.zeros(len(categories) + 1, np.int64)
        for group, count in enumerate(counts.tolist()):
            if count:
                value = found.labels[group]
                hit = next((i for i, c in enumerate(categories) if c.holds(value)), None)
                observed[len(categories) if hit is None else hit] += count
        given = np.asarray([c.proportion for c in categories] + [0.0])
        entry: dict[str, Any] = {
            "field": name,
            "n": int(observed.sum()),
            "missing": missing,
            "unmatched": int(observed[-1]),
            "reference_total": float(given.sum()),
            "categories": [
                {
                    "value": c.value,
                    "reference": c.proportion / given.sum() if given.sum() else 0.0,
                    "observed": float(observed[i] / observed.sum()) if observed.sum() else 0.0,
                    "count": int(observed[i]),
                }
                for i, c in enumerate(categories)
            ],
            "computable": True,
            "reason": None,
        }
        try:
            entry["js_distance"] = js_distance(observed, given)
        except NotComputable:
            reason = "the reference proportions sum to 0"
            if not observed.sum():
                reason = "no series of the selection has a value"
            entry.update(computable=False, reason=reason, js_distance=None)
        out.append(entry)
    return out
