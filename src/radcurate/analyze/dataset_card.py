"""The dataset card of a frozen dataset version ("Datasheets for Datasets", Gebru et al.).

A card holds aggregates only: counts, group tables, missing shares, bias
metrics, QC and review counts, the producers of results, and the version's
provenance. No PatientName, PatientID or date of an individual patient is ever
written into it (study dates appear as years only). The same catalog state gives
the same card: :func:`card_json` is byte-identical from call to call (sorted
keys, no time of generation). docs/dataset-card.md documents every key.

Examples
--------
>>> card_json({"format": FORMAT, "b": 1, "a": [2.0]})
'{\\n  "a": [\\n    2.0\\n  ],\\n  "b": 1,\\n  "format": "radcurate-dataset-card/1"\\n}\\n'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import radcurate
from radcurate.analyze.bias_report import (
    DEFAULT_ATTRIBUTES,
    NAME_FIELDS,
    BiasInputError,
    bias_report,
    field_name,
    tabulating,
    target_label,
    target_of,
)
from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import CurationNotFoundError, DatasetVersion
from radcurate.catalog.index.crosstab import VersionRef
from radcurate.catalog.result_types import iso_time
from radcurate.query import QueryError, parse
from radcurate.query.ast import REVIEW_FIELD, REVIEW_STATUSES, All, Node
from radcurate.workflow.registry import WorkflowRegistry, default_registry

#: the card's format; a change of its keys' meaning gets a new number
FORMAT = "radcurate-dataset-card/1"
#: what the card says where radcurate holds no fact
NOT_RECORDED = "not recorded"
#: how the catalog computes a version's content hash (docs/curation.md)
HASH_METHOD = (
    "sha256 over the version's distinct SOP Instance UIDs, sorted, each followed by a "
    "newline; recorded by the catalog when the version was frozen"
)
#: what the series are (the composition tables), before any ai.bodypart* field
COMPOSITION_FIELDS = ("Modality", "BodyPartExamined")
#: the scanners of the series (composition tables)
SCANNER_FIELDS = ("Manufacturer", "ManufacturerModelName", "ConvolutionKernel")
#: demographics whose missing shares the card reports
DEMOGRAPHIC_FIELDS = ("PatientSex", "age_years", "EthnicGroup")
#: how the series were acquired (the acquisition mix)
ACQUISITION_FIELDS = (
    "InstitutionName",
    "StationName",
    "SliceThickness",
    "KVP",
    "MagneticFieldStrength",
)
#: numbers shown in decades whatever their count (ages)
DECADE_FIELDS = ("age_years",)
#: the date field whose years give the collection period
DATE_FIELD = "StudyDate"
#: fields that identify a patient: never a card's target (their groups would name patients)
IDENTIFYING = frozenset(
    {
        "PatientName",
        "PatientID",
        "OtherPatientIDs",
        "OtherPatientNames",
        "OtherPatientIDsSequence",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientBirthName",
        "PatientMotherBirthName",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "IssuerOfPatientID",
        "AccessionNumber",
        "StudyID",
        "StudyDate",
        "SeriesDate",
        "AcquisitionDate",
        "ContentDate",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
    }
)
_YEAR = re.compile(r"^(\d{4})")


class DatasetCardError(ValueError):
    """A card that cannot be made as asked (an identifying target, no frozen version)."""


def card_json(card: dict[str, Any]) -> str:
    """The card as JSON text: sorted keys, two-space indent, UTF-8 characters, a final newline
    (the same card gives the same bytes)."""
    return json.dumps(card, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def resolve_version(catalog: CatalogBackend, written: str) -> tuple[str, int]:
    """``NAME@VERSION`` (or ``NAME``: its latest frozen version) -> (name, version).

    Text after the last ``@`` that is not a number belongs to the name.

    Raises :class:`CurationNotFoundError` for an unknown dataset or version and
    :class:`DatasetCardError` for a dataset never frozen.
    """
    name, at, version = written.strip().rpartition("@")
    if not at or not version.isdigit():  # a name may hold "@" itself
        name, version = written.strip(), ""
    versions = catalog.dataset_versions(name)
    if version:
        return name, int(version)
    if not versions:
        raise DatasetCardError(
            f"dataset {name!r} has no frozen version: freeze it first "
            f"(radcurate dataset freeze {name})"
        )
    return name, versions[-1].version


def dataset_card(
    catalog: CatalogBackend,
    name: str,
    version: int,
    *,
    target: str | None = None,
    registry: WorkflowRegistry | None = None,
) -> dict[str, Any]:
    """The card of version ``version`` of dataset ``name`` as a JSON-able dict.

    ``target`` (a field such as ``clin.trial.dx`` or a query such as ``tag:covid``)
    adds the association of each acquisition attribute with it and the shortcut
    flags (docs/bias.md). Counts are of the members the catalog still holds.
    ``registry`` lists the QC checks (default: the process's workflow registry).

    Raises
    ------
    CurationNotFoundError
        No such dataset or version.
    DatasetCardError
        The target is a field that identifies patients.
    BiasInputError
        The target is an unknown field or a bad query.
    """
    frozen = catalog.dataset_version(name, version)
    info = catalog.dataset(name)
    known = sorted({f.name for f in (*catalog.fields(), *catalog.result_fields())})

    def check(text: str) -> Node:
        return parse(text, fields=known)

    goal = _target(target, check)
    members = list(frozen.series_uids or ())
    ref = VersionRef(frozen.dataset, frozen.version)
    held = _held(catalog, members)
    shown = _composition_fields(known)
    every = [*shown, *DEMOGRAPHIC_FIELDS, *ACQUISITION_FIELDS, DATE_FIELD, REVIEW_FIELD]
    found = _tables(catalog, ref, every, known)
    tables: dict[str, dict[str, Any]] = found["tables"]
    return {
        "format": FORMAT,
        "dataset": {"name": frozen.dataset, "version": frozen.version},
        "motivation": _motivation(catalog, frozen.dataset, info.description),
        "composition": {
            "counts": {
                **found["counts"],
                "series_frozen": frozen.series_count,
                "instances_frozen": frozen.instance_count,
                "series_not_held": len(members) - len(held),
            },
            "tables": [tables[f] for f in shown],
            "demographics": [tables[f] for f in DEMOGRAPHIC_FIELDS],
        },
        "collection": _collection(tables),
        "preprocessing": {"producers": _producers(catalog, held)},
        "bias": _bias(catalog, ref, goal, frozen, known),
        "qc": _qc(catalog, ref, check, registry),
        "review": _review(tables[REVIEW_FIELD]),
        "provenance": _provenance(frozen),
        "distribution": {"license": NOT_RECORDED, "access": NOT_RECORDED},
        "maintenance": {
            "maintainer": NOT_RECORDED,
            "updates": "a frozen version never changes; later versions are new versions "
            "(radcurate dataset versions NAME)",
        },
    }


# -- sections -----------------------------------------------------------------------------
def _target(target: str | None, check: Callable[[str], Node]) -> str | Node | None:
    if target is None or not target.strip():
        return None
    head = target.strip().split(":", 1)[0].strip().lstrip("-(")
    if head in IDENTIFYING or target.strip() in IDENTIFYING:
        raise DatasetCardError(
            f"{head!r} identifies patients: a dataset card holds aggregates only"
        )
    return target_of(target, check)


def _held(catalog: CatalogBackend, members: Sequence[str]) -> list[str]:
    """The members the catalog still holds (a version outlives its series)."""
    if not members:
        return []
    found = set(catalog.series_uids(All()))
    return [uid for uid in members if uid in found]


def _composition_fields(known: Sequence[str]) -> list[str]:
    bodypart = [f for f in known if f == "ai.bodypart" or f.startswith("ai.bodypart")]
    return [*COMPOSITION_FIELDS, *bodypart, *SCANNER_FIELDS]


def _tables(
    catalog: CatalogBackend, ref: VersionRef, fields: Sequence[str], known: Sequence[str]
) -> dict[str, Any]:
    """Counts and representation tables of ``fields`` (one index pass); fields no series
    has are entirely missing."""
    known = [*known, *NAME_FIELDS]
    present = [field_name(f) for f in fields if f in known] or ["Modality"]
    report = bias_report(catalog, ref, None, list(dict.fromkeys(present)))
    counts = {k: int(report["counts"][k]) for k in ("series", "studies", "patients")}
    entries = {e["field"]: e for e in report["representation"]}
    tables = {
        name: _table(
            name, entries.get(field_name(name)) if name in known else None, counts["series"]
        )
        for name in fields
    }
    return {"counts": counts, "tables": tables}


def _table(name: str, entry: dict[str, Any] | None, series: int) -> dict[str, Any]:
    """One attribute's groups as the card shows them (no query filters, ordered by count)."""
    if entry is None:
        return {
            "field": name,
            "binning": None,
            "series": series,
            "present": 0,
            "missing": series,
            "missing_rate": 1.0 if series else None,
            "groups": [],
            "effective_groups": None,
            "imbalance_ratio": None,
        }
    groups = [
        {"value": g["value"], "count": g["count"], "share": g["share"]} for g in entry["groups"]
    ]
    binning = entry["binning"]
    if name in DECADE_FIELDS and binning != "decades":
        groups, binning = _decades(groups), "decades"
        for group in groups:
            group["share"] = group["count"] / entry["series"] if entry["series"] else 0.0
    if binning == "categorical":  # numbers, bins and years keep their order
        groups.sort(key=lambda g: (-g["count"], str(g["value"])))
    return {
        "field": name,
        "binning": binning,
        "series": entry["series"],
        "present": entry["present"],
        "missing": entry["missing"],
        "missing_rate": entry["missing_rate"],
        "groups": groups,
        "effective_groups": entry["effective_groups"],
        "imbalance_ratio": entry["imbalance_ratio"],
    }


def _decades(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Exact ages (few distinct ones) as decades: a card never shows one patient's age."""
    out: dict[int, dict[str, Any]] = {}
    for group in groups:
        value = group["value"]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        low = int(value // 10 * 10)
        found = out.setdefault(low, {"value": f"[{low}, {low + 10})", "count": 0, "share": 0.0})
        found["count"] += group["count"]
    return [out[k] for k in sorted(out)]


def _motivation(catalog: CatalogBackend, name: str, description: str) -> dict[str, Any]:
    created = catalog.audit_log(1000, action="dataset.create", target=name)
    first = created[0] if created else None
    return {
        "name": name,
        "description": description or NOT_RECORDED,
        "created_by": first.actor if first else NOT_RECORDED,
        "created_at": iso_time(first.at) if first else NOT_RECORDED,
    }


def _collection(tables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    dates = tables[DATE_FIELD]
    years: dict[str, int] = {}
    for group in dates["groups"]:
        found = _YEAR.match(str(group["value"]))
        if found:
            years[found.group(1)] = years.get(found.group(1), 0) + int(group["count"])
    return {
        "acquisition": [tables[f] for f in ACQUISITION_FIELDS],
        "study_years": {
            "field": DATE_FIELD,
            "first_year": min(years) if years else None,
            "last_year": max(years) if years else None,
            "missing": dates["missing"],
            "groups": [{"value": y, "count": years[y]} for y in sorted(years)],
        },
    }


def _producers(catalog: CatalogBackend, held: Sequence[str]) -> list[dict[str, Any]]:
    """Who wrote ai./qc./clin. results on the members: producer, versions, fields, series."""
    found: dict[str, dict[str, Any]] = {}
    for uid in held:
        for result_set in catalog.result_store.result_sets(uid):
            prov = result_set.provenance
            entry = found.setdefault(
                prov.producer, {"series": 0, "versions": {}, "fields": set(), "params": set()}
            )
            entry["series"] += 1
            entry["versions"][prov.version] = entry["versions"].get(prov.version, 0) + 1
            entry["params"].add(prov.params_hash)
            for namespace, keyed in result_set.values.items():
                entry["fields"].update(_paths(namespace, keyed))
    return [
        {
            "producer": producer,
            "series": entry["series"],
            "versions": [{"version": v, "series": n} for v, n in sorted(entry["versions"].items())],
            "fields": sorted(entry["fields"]),
            "params_hashes": sorted(entry["params"]),
        }
        for producer, entry in sorted(found.items())
    ]


def _paths(prefix: str, value: Any) -> list[str]:
    """The leaf paths of a result payload (``qc.geometry.missing_slices``)."""
    if not isinstance(value, dict) or not value:
        return [prefix]
    return [p for key, inner in value.items() for p in _paths(f"{prefix}.{key}", inner)]


def _bias(
    catalog: CatalogBackend,
    ref: VersionRef,
    goal: str | Node | None,
    frozen: DatasetVersion,
    known: Sequence[str],
) -> dict[str, Any]:
    attributes = [a for a in DEFAULT_ATTRIBUTES if a in known] or ["Modality"]
    label = f"dataset:{frozen.dataset}@{frozen.version}"
    report = bias_report(catalog, ref, goal, attributes, label=label)
    return {
        "attributes": attributes,
        "target": None if goal is None else target_label(goal),
        "thresholds": report["thresholds"],
        "problems": report["problems"],
        "representation": [
            {
                k: e[k]
                for k in (
                    "field",
                    "missing_rate",
                    "k",
                    "effective_groups",
                    "evenness",
                    "imbalance_ratio",
                )
            }
            for e in report["representation"]
        ],
        "associations": [_association(e) for e in report["associations"]],
        "flags": report["flags"],
    }


def _association(entry: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "attribute",
        "test",
        "computable",
        "reason",
        "n",
        "flag",
        "cramers_v",
        "p",
        "p_adjusted",
        "nmi",
        "eta_squared",
    )
    out = {k: entry.get(k) for k in keep}
    cells = entry.get("cells") or []
    over = [c for c in cells if c["residual"] > 2]
    out["over_represented"] = [
        {"value": c["value"], "target": c["target"], "count": c["count"], "residual": c["residual"]}
        for c in sorted(over, key=lambda c: -c["residual"])
    ]
    return out


def _qc(
    catalog: CatalogBackend,
    ref: VersionRef,
    check: Callable[[str], Node],
    registry: WorkflowRegistry | None,
) -> dict[str, Any]:
    """Every registered check with the members failing it and those it ran on.

    The same counts as ``workflow.qc_summary.check_counts`` (``(query) AND (fails)``,
    ``has:FIELD``), taken on the version's rows of the index: a version is no query.
    """
    out = []
    for workflow, qc_check in (registry or default_registry()).qc_checks():
        try:
            fails, present = check(qc_check.fails), check(f"has:{qc_check.field}")
        except QueryError:  # a field no series has yet: 0 of 0
            failing = checked = 0
        else:
            failing, checked = _matching(catalog, ref, fails), _matching(catalog, ref, present)
        out.append(
            {
                "field": qc_check.field,
                "title": qc_check.title,
                "family": qc_check.family,
                "severity": qc_check.severity,
                "fails": qc_check.fails,
                "workflow": workflow,
                "failing": failing,
                "checked": checked,
            }
        )
    return {"checks": sorted(out, key=lambda c: c["field"])}


def _matching(catalog: CatalogBackend, ref: VersionRef, node: Node) -> int:
    """How many members (held) match a query: one pass of the index."""
    tab = tabulating(catalog).cross_tabulate([ref], [REVIEW_FIELD], target=node)
    assert tab.tables is not None
    _, target_groups, weights = tab.tables[REVIEW_FIELD]
    return int(weights[target_groups == 0].sum())  # a query target: group 0 matches


def _review(entry: dict[str, Any]) -> dict[str, int]:
    counts = {g["value"]: int(g["count"]) for g in entry["groups"]}
    out = {status: counts.get(status, 0) for status in REVIEW_STATUSES}
    out["total"] = int(entry["series"])
    return out


def _provenance(frozen: DatasetVersion) -> dict[str, Any]:
    return {
        "dataset": frozen.dataset,
        "version": frozen.version,
        "frozen_at": iso_time(frozen.created_at),
        "frozen_by": frozen.created_by,
        "note": frozen.note if frozen.note else NOT_RECORDED,
        "series": frozen.series_count,
        "instances": frozen.instance_count,
        "content_hash": frozen.content_hash,
        "content_hash_source": "catalog",
        "content_hash_method": HASH_METHOD,
        "radcurate_version": radcurate.__version__,
    }


__all__ = [
    "FORMAT",
    "NOT_RECORDED",
    "BiasInputError",
    "CurationNotFoundError",
    "DatasetCardError",
    "card_json",
    "dataset_card",
    "resolve_version",
]
