"""``/api/bias``: representation, shortcut associations and dataset shift (docs/bias.md).

The shapes are the Bias panel's: ``associations`` are the cells of its
attribute × target heatmap (V or eta², p, Holm-adjusted p, flag, and the
per-group cells with adjusted residuals and the query term of each group, so a
click filters to it); ``representation`` its bars (each group's share, and the
missing share); ``attributes`` of a comparison its rows. A pair that cannot be
computed says why (``computable`` false, ``reason``); a bad request is a 400.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from radcurate.analyze.bias_compare import against_reference, compare, read_reference
from radcurate.analyze.bias_compare import resolve_selection as resolve
from radcurate.analyze.bias_report import (
    DEFAULT_ATTRIBUTES,
    BiasInputError,
    bias_report,
    field_name,
    target_of,
)
from radcurate.catalog import CatalogBackend
from radcurate.catalog.aggregations import AggregationError
from radcurate.catalog.index.crosstab import MAX_GROUPS
from radcurate.query.ast import Node
from radcurate.server.auth import READ
from radcurate.server.deps import CatalogDep, KnownFieldsDep
from radcurate.server.errors import ERROR_RESPONSES
from radcurate.server.fieldnames import ScopedFields

router = APIRouter(prefix="/bias", tags=["bias"], responses=ERROR_RESPONSES)

QueryInput = str | dict[str, Any]


# -- requests -----------------------------------------------------------------------------
class BiasBody(BaseModel):
    """``POST /api/bias``: the selection, the target and the attributes to test."""

    query: QueryInput = Field(
        default="", description="Query text or JSON tree (all series when empty)"
    )
    target: str | None = Field(
        default=None, description="A field (its values are the groups) or a query such as tag:X"
    )
    attributes: list[str] | None = Field(
        default=None, max_length=200, description="Fields to test (default: the acquisition ones)"
    )
    reference: str | None = Field(
        default=None, description="A reference population as CSV text: field,value,proportion"
    )
    max_groups: int = Field(
        default=MAX_GROUPS, ge=2, le=1000, description="Categories kept per field"
    )


class CompareBody(BaseModel):
    """``POST /api/bias/compare``: two selections (query, ``dataset:NAME@V``, ``selection:ID``)."""

    a: str = Field(description="First selection")
    b: str = Field(description="Second selection")
    attributes: list[str] | None = Field(default=None, max_length=200)
    max_groups: int = Field(default=MAX_GROUPS, ge=2, le=1000)


# -- responses ----------------------------------------------------------------------------
class GroupShare(BaseModel):
    """One bar: a group of an attribute, its series and share (of all, missing included)."""

    value: Any
    count: int
    share: float
    filter: str | None = Field(description="Query term selecting the group's series")


class Representation(BaseModel):
    """How the selection's series spread over one attribute's groups."""

    field: str
    binning: str = Field(description="categorical, numeric, binned, decades or years")
    series: int
    present: int
    missing: int
    missing_rate: float | None
    groups: list[GroupShare]
    k: int = Field(description="Non-empty groups")
    entropy: float | None = Field(description="Shannon entropy of the group shares (nats)")
    effective_groups: float | None = Field(description="exp(entropy)")
    evenness: float | None = Field(description="entropy / ln k")
    imbalance_ratio: float | None = Field(description="Largest over smallest group")


class Cell(BaseModel):
    """One attribute group × target group cell."""

    value: Any
    target: Any
    count: int
    expected: float
    residual: float = Field(description="Adjusted residual: > 2 over-, < -2 under-represented")
    filter: str | None
    target_filter: str | None


class GroupMedian(BaseModel):
    """One attribute group of a numeric target."""

    value: Any
    count: int
    median: float
    filter: str | None


class Association(BaseModel):
    """One heatmap cell: an attribute's association with the target."""

    attribute: str
    test: str = Field(description="chi2 (categorical target) or kruskal (numeric)")
    computable: bool
    reason: str | None
    n: int = Field(description="Series in the table (with a target value)")
    flag: bool = Field(description="Shortcut risk (thresholds in the report)")
    cramers_v: float | None = None
    chi2: float | None = None
    h: float | None = None
    dof: int | None = None
    p: float | None = None
    p_adjusted: float | None = None
    nmi: float | None = None
    eta_squared: float | None = None
    rows: list[Any] | None = None
    columns: list[Any] | None = None
    cells: list[Cell] | None = None
    groups: list[GroupMedian] | None = None


class TargetInfo(BaseModel):
    """The target: a field or a query (groups true/false)."""

    field: str
    kind: str
    values: int
    missing: int
    representation: Representation | None


class Thresholds(BaseModel):
    """The shortcut-risk rule."""

    cramers_v: float
    eta_squared: float
    alpha: float
    correction: str


class Counts(BaseModel):
    """Series, studies and patients of a selection."""

    series: int
    studies: int
    patients: int


class ReferenceCategoryOut(BaseModel):
    """One category of a reference population beside the selection's share."""

    value: str
    reference: float
    observed: float
    count: int


class ReferenceEntry(BaseModel):
    """The selection against a reference population on one field."""

    field: str
    n: int
    missing: int
    unmatched: int
    reference_total: float
    categories: list[ReferenceCategoryOut]
    computable: bool
    reason: str | None
    js_distance: float | None


class BiasResponse(BaseModel):
    """Representation, associations with the target, flags, and the reference distances."""

    selection: str
    counts: Counts
    target: TargetInfo | None
    thresholds: Thresholds
    problems: list[str]
    representation: list[Representation]
    associations: list[Association]
    flags: list[str] = Field(description="Attributes flagged as shortcut risks")
    reference: list[ReferenceEntry] | None = None


class Side(Counts):
    """One selection of a comparison."""

    selection: str


class Overlap(BaseModel):
    """Series and patients in both selections (patients in both: leakage)."""

    series: int
    patients: int
    patient_share_a: float | None
    patient_share_b: float | None
    leakage: bool


class ShiftGroup(BaseModel):
    """One group of an attribute in both selections."""

    value: Any
    count_a: int
    count_b: int
    share_a: float
    share_b: float
    filter: str | None


class Shift(BaseModel):
    """One comparison row: an attribute in A and in B."""

    field: str
    binning: str
    n_a: int
    n_b: int
    missing_a: int
    missing_b: int
    missing_share_a: float | None
    missing_share_b: float | None
    computable: bool
    reason: str | None
    groups: list[ShiftGroup]
    js_distance: float | None = None
    chi2: float | None = None
    dof: int | None = None
    p: float | None = None
    ks: float | None = None
    ks_p: float | None = None


class CompareResponse(BaseModel):
    """Dataset shift between two selections."""

    a: Side
    b: Side
    overlap: Overlap
    problems: list[str]
    attributes: list[Shift]


# -- routes -------------------------------------------------------------------------------
@contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except (BiasInputError, AggregationError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def _parser(catalog: CatalogBackend, known: ScopedFields) -> Callable[[str], Node]:
    return lambda text: known.parse(catalog, text)


def _fields(names: list[str] | None, check: Callable[[str], Node]) -> list[str]:
    return [field_name(n, check) for n in names or []] or list(DEFAULT_ATTRIBUTES)


def _report(catalog: CatalogBackend, known: ScopedFields, body: BiasBody) -> BiasResponse:
    check = _parser(catalog, known)
    node = known.parse(catalog, body.query or "*")
    with _bad_input():
        fields = _fields(body.attributes, check)
        target = None if not body.target else target_of(body.target, check)
        report = bias_report(
            catalog,
            node,
            target,
            fields,
            label=body.query if isinstance(body.query, str) else "",
            max_groups=body.max_groups,
        )
        if body.reference:
            population = read_reference(body.reference)
            report["reference"] = against_reference(catalog, node, population, check=check)
    return BiasResponse.model_validate(report)


@router.post("", operation_id="bias_report", name="bias_report", dependencies=[READ])
def bias_post(catalog: CatalogDep, known: KnownFieldsDep, body: BiasBody) -> BiasResponse:
    """Representation of the attributes in the query's series, their association with the
    target, and shortcut-risk flags (docs/bias.md)."""
    return _report(catalog, known, body)


@router.get("", operation_id="bias_report_get", name="bias_report_get", dependencies=[READ])
def bias_get(
    catalog: CatalogDep,
    known: KnownFieldsDep,
    q: Annotated[str, Query(description="Query text (docs/query-language.md).")] = "",
    target: Annotated[str | None, Query(description="A field or a query (tag:X).")] = None,
    attributes: Annotated[str | None, Query(description="Comma-separated fields.")] = None,
    max_groups: Annotated[int, Query(ge=2, le=1000)] = MAX_GROUPS,
) -> BiasResponse:
    """Like ``POST /api/bias``, with comma-separated attributes."""
    names = [n.strip() for n in (attributes or "").split(",") if n.strip()] or None
    body = BiasBody(query=q, target=target, attributes=names, max_groups=max_groups)
    return _report(catalog, known, body)


@router.post("/compare", operation_id="bias_compare", name="bias_compare", dependencies=[READ])
def bias_compare(catalog: CatalogDep, known: KnownFieldsDep, body: CompareBody) -> CompareResponse:
    """Dataset shift between two selections per attribute, and the patients in both."""
    check = _parser(catalog, known)
    with _bad_input():
        label_a, a = resolve(catalog, body.a, check)
        label_b, b = resolve(catalog, body.b, check)
        fields = _fields(body.attributes, check)
        result = compare(
            catalog, a, b, fields, labels=(label_a, label_b), max_groups=body.max_groups
        )
    return CompareResponse.model_validate(result)
