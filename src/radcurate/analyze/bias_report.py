"""Bias of a selection: representation of each attribute and its association with a target.

The catalog counts on its search index (``cross_tabulate``: one pass per
attribute × target pair, catalog/index/crosstab.py); the metrics come from
those counts (analyze/bias_metrics.py). The result is plain JSON for the CLI,
the API and the Bias panel; its shape and every formula are in docs/bias.md.

Every SQL catalog answers through its index (with the index switched off it
builds a private one for the call, as ``aggregate`` does), so there is no
slower path: a catalog without ``cross_tabulate`` is refused with a clear error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np

from radcurate.analyze.bias_metrics import (
    NotComputable,
    adjusted_residuals,
    chi_square,
    cramers_v,
    holm,
    kruskal_wallis,
    normalized_mutual_info,
    representation,
    trim,
)
from radcurate.catalog.index.crosstab import (
    MAX_GROUPS,
    OTHER,
    Grouping,
    Tabulation,
    VersionRef,
    dense,
)
from radcurate.query import UnknownFieldError
from radcurate.query.ast import Node
from radcurate.query.fields import is_field_path, resolve_field
from radcurate.query.text import literal_text, to_text

#: acquisition attributes tested when none are named
DEFAULT_ATTRIBUTES: tuple[str, ...] = (
    "Manufacturer",
    "ManufacturerModelName",
    "ConvolutionKernel",
    "InstitutionName",
    "StationName",
    "SliceThickness",
    "KVP",
    "MagneticFieldStrength",
    "Modality",
    "PixelSpacing",
)
#: a shortcut risk: an association at least this strong (bias-corrected Cramér's V) ...
V_THRESHOLD = 0.3
#: ... or, for a numeric target, at least this eta² (Kruskal–Wallis; "large" by Cohen) ...
ETA2_THRESHOLD = 0.14
#: ... and significant after Holm's correction over the report's computable pairs
ALPHA = 0.05
#: label of a field's missing rows in tables
MISSING = "(missing)"
#: the fields whose values are a series' names (several per series)
NAME_FIELDS = ("tag", "dataset", "review")

#: a selection as the catalog takes it: a query tree, a frozen version or SeriesInstanceUIDs
Selected = Node | VersionRef | Collection[str]


class BiasInputError(ValueError):
    """A bias request the catalog cannot answer (unknown field, bad selection or file)."""


class TabulatingCatalog(Protocol):
    """What a bias report needs of a catalog (``SQLCatalog`` has it: catalog/indexed.py)."""

    def cross_tabulate(
        self,
        selections: Sequence[str | Node | VersionRef | Collection[str]],
        fields: Sequence[str],
        *,
        target: str | Node | None = None,
        exact: Collection[str] = (),
        exact_target: bool = False,
        edges: Mapping[str, tuple[float, ...]] | None = None,
        max_groups: int = MAX_GROUPS,
        numbers: bool = False,
    ) -> Tabulation: ...


def tabulating(catalog: object) -> TabulatingCatalog:
    """The catalog as one that cross-tabulates, or a clear error."""
    if not callable(getattr(catalog, "cross_tabulate", None)):
        raise BiasInputError(f"{type(catalog).__name__} cannot count bias metrics")
    return cast(TabulatingCatalog, catalog)


# -- what the user names ------------------------------------------------------------------
def field_name(text: str, check: Callable[[str], object] | None = None) -> str:
    """A field as written (``Manufacturer``, ``ai.bodypart``, ``tag``) -> its document path.

    ``check`` (e.g. parsing ``has:FIELD`` against the known fields) raises for
    an unknown field.
    """
    name = text.strip()
    if name in NAME_FIELDS:
        return name
    if not is_field_path(name):
        raise BiasInputError(f"not a field name: {name!r}")
    if check is not None:
        try:
            check(f"has:{name}")
        except UnknownFieldError as exc:
            near = f" (did you mean {', '.join(exc.suggestions[:3])}?)" if exc.suggestions else ""
            raise BiasInputError(f"unknown field {name!r}{near}") from None
    return resolve_field(name)


def target_of(text: str, parse: Callable[[str], Node]) -> str | Node:
    """A target as written: a field (its values are the groups) or a query (``tag:X``,
    ``dataset:D``, ``review:excluded``, ``ai.x:>3``: the series matching it or not)."""
    name = text.strip()
    if not name:
        raise BiasInputError("no target: name a field or a query such as tag:X")
    if name in NAME_FIELDS or is_field_path(name):
        return field_name(name, parse)
    return parse(name)


def target_label(target: str | Node) -> str:
    """A target as text."""
    return target if isinstance(target, str) else to_text(target)


# -- groups as JSON -----------------------------------------------------------------------
def _number_text(value: float) -> str:
    return f"{value:g}"


def group_filter(field: str, found: Grouping, group: int) -> str | None:
    """The query term selecting one group's series (None: no simple term does)."""
    if group >= len(found):
        return f"missing:{field}"
    label = found.labels[group]
    if found.edges is not None:
        low, high = found.edges[group], found.edges[group + 1]
        close = "]" if group == len(found) - 1 else "}"
        return f"{field}:[{_number_text(low)} TO {_number_text(high)}{close}"
    if found.kind == "years":
        return f"{field}:{label}-01-01..{label}-12-31"
    if label == OTHER and group == len(found) - 1 and found.kind == "categorical":
        return None
    if isinstance(label, bool):
        return f"{field}:{'true' if label else 'false'}"
    if isinstance(label, (int, float)):
        return f"{field}:{_number_text(float(label))}"
    if "\\" in str(label):
        return None
    return f"{field}:{literal_text(str(label))}"


def json_label(label: Any) -> Any:
    """A group label as JSON (numbers stay numbers)."""
    if isinstance(label, float) and not math.isfinite(label):
        return str(label)
    return label


def representation_entry(
    field: str,
    found: Grouping,
    counts: Any,
    missing: int,
    filters: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """One attribute's representation: groups with counts and shares, missing rate, and
    the entropy figures (docs/bias.md, "Representation")."""
    if filters is None:
        filters = [group_filter(field, found, i) for i in range(len(found))]
    total = int(counts.sum()) + missing
    figures = representation(counts)
    present = int(counts.sum())
    groups = [
        {
            "value": json_label(found.labels[i]),
            "count": int(counts[i]),
            "share": float(counts[i] / total) if total else 0.0,
            "filter": filters[i],
        }
        for i in range(len(found))
        if counts[i] > 0
    ]
    return {
        "field": field,
        "binning": found.kind,
        "series": total,
        "present": present,
        "missing": missing,
        "missing_rate": missing / total if total else None,
        "groups": groups,
        "k": figures.groups,
        "entropy": figures.entropy if present else None,
        "effective_groups": figures.effective_groups if present else None,
        "evenness": figures.evenness,
        "imbalance_ratio": figures.imbalance_ratio,
    }


# -- associations -------------------------------------------------------------------------
def _not_computable(entry: dict[str, Any], reason: str) -> dict[str, Any]:
    entry.update(computable=False, reason=reason, flag=False)
    return entry


def association_entry(
    field: str,
    found: Grouping,
    target: Grouping,
    target_filters: Sequence[str | None],
    cells: tuple[Any, Any, Any],
    numeric: bool,
) -> dict[str, Any]:
    """The metrics of one attribute × target table (before the multiple-testing step)."""
    entry: dict[str, Any] = {
        "attribute": field,
        "test": "kruskal" if numeric else "chi2",
        "computable": True,
        "reason": None,
    }
    table = dense(cells, len(found) + 1, len(target))
    kept, rows, columns = trim(table)
    entry["n"] = int(kept.sum())
    if entry["n"] == 0:
        return _not_computable(entry, "no series has a target value")
    if len(columns) < 2:
        return _not_computable(entry, "the target has one value in the selection")
    if len(rows) < 2:
        only = "no value" if rows[0] == len(found) else "one value"
        return _not_computable(entry, f"the attribute has {only} in the selection")
    try:
        if numeric:
            found_kw = kruskal_wallis(kept)
            entry.update(h=found_kw.statistic, dof=found_kw.dof, p=found_kw.p)
            entry["eta_squared"] = found_kw.eta_squared
            assert target.numbers is not None
            entry["groups"] = _group_medians(field, found, rows, kept, target.numbers[columns])
            return entry
        test = chi_square(kept)
        v = cramers_v(test.statistic, entry["n"], *kept.shape)
    except NotComputable as exc:
        return _not_computable(entry, str(exc))
    residuals = adjusted_residuals(kept, test.expected)
    entry.update(
        cramers_v=v,
        chi2=test.statistic,
        dof=test.dof,
        p=test.p,
        nmi=normalized_mutual_info(kept),
        rows=[_row_label(found, int(r)) for r in rows],
        columns=[json_label(target.labels[c]) for c in columns],
        cells=[
            {
                "value": _row_label(found, int(r)),
                "target": json_label(target.labels[c]),
                "count": int(kept[i, j]),
                "expected": float(test.expected[i, j]),
                "residual": float(residuals[i, j]),
                "filter": group_filter(field, found, int(r)),
                "target_filter": target_filters[int(c)],
            }
            for i, r in enumerate(rows)
            for j, c in enumerate(columns)
        ],
    )
    return entry


def _row_label(found: Grouping, row: int) -> Any:
    return MISSING if row >= len(found) else json_label(found.labels[row])


def _group_medians(
    field: str, found: Grouping, rows: Any, kept: Any, values: Any
) -> list[dict[str, Any]]:
    """Per attribute group of a numeric target: series and the target's (lower) median."""
    out = []
    for i, row in enumerate(rows):
        counts = kept[i]
        cumulative = np.cumsum(counts)
        median = float(values[int(np.searchsorted(cumulative, cumulative[-1] / 2))])
        out.append(
            {
                "value": _row_label(found, int(row)),
                "count": int(counts.sum()),
                "median": median,
                "filter": group_filter(field, found, int(row)),
            }
        )
    return out


def flag_pairs(entries: list[dict[str, Any]]) -> None:
    """Holm-adjust the p-values of the computable pairs and set each pair's ``flag``."""
    computable = [e for e in entries if e["computable"]]
    for entry, adjusted in zip(computable, holm([e["p"] for e in computable]), strict=True):
        entry["p_adjusted"] = adjusted
        strong = (
            entry.get("eta_squared", -1.0) >= ETA2_THRESHOLD
            if entry["test"] == "kruskal"
            else entry["cramers_v"] >= V_THRESHOLD
        )
        entry["flag"] = bool(strong and adjusted < ALPHA)


def thresholds() -> dict[str, Any]:
    """The shortcut-risk rule, as reported with every result."""
    return {
        "cramers_v": V_THRESHOLD,
        "eta_squared": ETA2_THRESHOLD,
        "alpha": ALPHA,
        "correction": "holm",
    }


def bias_report(
    catalog: object,
    selection: Selected,
    target: str | Node | None,
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
    *,
    label: str = "",
    max_groups: int = MAX_GROUPS,
) -> dict[str, Any]:
    """Representation of ``attributes`` (and the target) in ``selection`` and each one's
    association with ``target``, with shortcut-risk flags (docs/bias.md).

    ``attributes`` and a field ``target`` are document paths (:func:`field_name`);
    without a target only the representation is counted. Pairs that cannot be
    computed say why (``computable`` false, ``reason``); an empty selection gives
    a report whose pairs all say so.
    """
    fields = list(dict.fromkeys(attributes))
    if not fields:
        raise BiasInputError("no attributes to test")
    tab = tabulating(catalog).cross_tabulate(
        [selection], fields, target=target, exact_target=True, max_groups=max_groups
    )
    counts = tab.counts[0]
    problems = [] if counts["series"] else ["no series match the selection"]
    report: dict[str, Any] = {
        "selection": label,
        "counts": counts,
        "target": None,
        "thresholds": thresholds(),
        "problems": problems,
        "representation": [
            representation_entry(name, tab.groupings[name], *tab.tallies[name][0])
            for name in fields
        ],
        "associations": [],
        "flags": [],
    }
    if target is None:
        return report
    assert tab.target is not None and tab.tables is not None
    target_name = target_label(target)
    numeric = tab.target.numbers is not None and tab.target.kind == "numeric"
    if isinstance(target, str):
        filters = [group_filter(target, tab.target, i) for i in range(len(tab.target))]
    else:
        filters = [to_text(target), f"NOT ({to_text(target)})"]
    if counts["series"] and len(tab.target) < 2:
        problems.append("the target has fewer than two values in the selection")
    entries = []
    for name in fields:
        if name == target:
            entry = {"attribute": name, "test": "chi2", "n": 0}
            entries.append(_not_computable(entry, "the attribute is the target"))
            continue
        cells = tab.tables[name]
        entries.append(
            association_entry(name, tab.groupings[name], tab.target, filters, cells, numeric)
        )
    flag_pairs(entries)
    first = tab.tables[fields[0]]
    target_counts = np.bincount(first[1], weights=first[2], minlength=len(tab.target))
    report["target"] = {
        "field": target_name,
        "kind": "numeric" if numeric else "categorical",
        "values": len(tab.target),
        "missing": tab.target_missing,
        "representation": None
        if numeric
        else representation_entry(
            target_name, tab.target, target_counts.astype(np.int64), tab.target_missing, filters
        ),
    }
    report["associations"] = entries
    report["flags"] = [e["attribute"] for e in entries if e["flag"]]
    return report
