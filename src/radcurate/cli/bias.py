"""``radcurate bias`` and ``radcurate compare``: quantified bias and shift (docs/bias.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from radcurate.analyze.bias_compare import against_reference, read_reference, resolve_selection
from radcurate.analyze.bias_compare import compare as compare_selections
from radcurate.analyze.bias_report import (
    DEFAULT_ATTRIBUTES,
    BiasInputError,
    bias_report,
    field_name,
    target_of,
)
from radcurate.catalog.aggregations import AggregationError
from radcurate.catalog.index.crosstab import MAX_GROUPS
from radcurate.cli.common import catalog_option, err_console, open_or_exit
from radcurate.query import QueryError, parse
from radcurate.query.ast import Node

_ATTRIBUTES_HELP = "Comma-separated fields to test (default: " + ",".join(DEFAULT_ATTRIBUTES) + ")."

_TARGET_HELP = (
    "A field (ai.x, clin.t.c, review, …) or a query (tag:X, dataset:D) whose series "
    "are compared with the others."
)
_REFERENCE_HELP = "A CSV of field,value,proportion: the distance of QUERY to that population."


@contextmanager
def _errors_exit() -> Iterator[None]:
    try:
        yield
    except (QueryError, BiasInputError, AggregationError) as exc:
        err_console().print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)


def _attributes(text: str | None, check: Callable[[str], object]) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    return [field_name(n, check) for n in names] or list(DEFAULT_ATTRIBUTES)


def _reference(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BiasInputError(f"cannot read the reference file {path.name}: {exc}") from exc


def console() -> Console:
    """The stdout console, without emoji codes (``InstitutionName:A:`` is no emoji)."""
    return Console(highlight=False, emoji=False)


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and 0 < abs(value) < 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


@click.command()
@click.argument("query", default="*")
@click.option("--target", "-t", default=None, help=_TARGET_HELP)
@click.option("--attributes", "-a", default=None, help=_ATTRIBUTES_HELP)
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=_REFERENCE_HELP)  # fmt: skip
@click.option("--max-groups", default=MAX_GROUPS, show_default=True,
              help="Categories kept per field (the rest is one '(other)' group).")  # fmt: skip
@catalog_option
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
def bias(
    query: str,
    target: str | None,
    attributes: str | None,
    reference: Path | None,
    max_groups: int,
    catalog_url: str | None,
    as_json: bool,
) -> None:
    """Representation of each attribute in QUERY, its association with --target, and
    shortcut risks: acquisition attributes that predict the target (docs/bias.md).

    Example: radcurate bias 'Modality:CT' --target tag:covid -a Manufacturer,InstitutionName
    """
    with open_or_exit(catalog_url) as catalog, _errors_exit():
        known = [f.name for f in catalog.fields()]

        def check(text: str) -> Node:
            return parse(text, fields=known)

        node = check(query)
        fields = _attributes(attributes, check)
        goal = None if target is None else target_of(target, check)
        report = bias_report(catalog, node, goal, fields, label=query, max_groups=max_groups)
        if reference is not None:
            population = read_reference(_reference(reference))
            report["reference"] = against_reference(catalog, node, population, check=check)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    out = console()
    counts = report["counts"]
    out.print(
        f"{counts['series']:,} series, {counts['studies']:,} studies, "
        f"{counts['patients']:,} patients match"
    )
    for problem in report["problems"]:
        out.print(f"[yellow]not computable:[/yellow] {escape(problem)}")
    table = Table(title="Representation", box=None)
    for name in ("field", "groups", "missing", "effective groups", "evenness", "imbalance"):
        table.add_column(name, justify="left" if name == "field" else "right")
    for entry in report["representation"]:
        rate = entry["missing_rate"]
        table.add_row(
            escape(entry["field"]),
            str(entry["k"]),
            "-" if rate is None else f"{rate:.1%}",
            _number(entry["effective_groups"], 2),
            _number(entry["evenness"], 2),
            _number(entry["imbalance_ratio"], 1),
        )
    out.print(table)
    if report["target"] is not None:
        _print_associations(report)
    for entry in report.get("reference", []):
        out.print(
            f"reference {escape(entry['field'])}: JS distance {_number(entry['js_distance'])} "
            f"({entry['n']:,} series with a value, {entry['unmatched']:,} in no category)"
        )


def _print_associations(report: dict[str, Any]) -> None:
    out = console()
    target = report["target"]
    numeric = target["kind"] == "numeric"
    table = Table(title=f"Association with {escape(target['field'])}", box=None)
    effect = "eta²" if numeric else "V"
    for name in ("attribute", effect, "p", "p (Holm)", "NMI", "most over-represented", "shortcut"):
        left = name in ("attribute", "most over-represented")
        table.add_column(name, justify="left" if left else "right")
    for entry in report["associations"]:
        if not entry["computable"]:
            reason = f"[dim]{escape(entry['reason'])}[/dim]"
            table.add_row(escape(entry["attribute"]), "", "", "", "", reason, "")
            continue
        top = max(entry.get("cells", []), key=lambda c: c["residual"], default=None)
        where = "" if top is None else f"{top['value']} → {top['target']} ({top['residual']:+.1f})"
        table.add_row(
            escape(entry["attribute"]),
            _number(entry["eta_squared"] if numeric else entry["cramers_v"]),
            _number(entry["p"]),
            _number(entry["p_adjusted"]),
            _number(entry.get("nmi")),
            escape(where),
            "[red]RISK[/red]" if entry["flag"] else "",
        )
    out.print(table)
    rule = report["thresholds"]
    out.print(
        f"[dim]risk: {effect} ≥ {rule['eta_squared' if numeric else 'cramers_v']} and "
        f"Holm-adjusted p < {rule['alpha']} over {len(report['associations'])} pairs[/dim]"
    )


@click.command()
@click.argument("selection_a")
@click.argument("selection_b")
@click.option("--attributes", "-a", default=None, help=_ATTRIBUTES_HELP)
@click.option("--max-groups", default=MAX_GROUPS, show_default=True,
              help="Categories kept per field (the rest is one '(other)' group).")  # fmt: skip
@catalog_option
@click.option("--json", "as_json", is_flag=True, help="The comparison as one JSON object.")
def compare(
    selection_a: str,
    selection_b: str,
    attributes: str | None,
    max_groups: int,
    catalog_url: str | None,
    as_json: bool,
) -> None:
    """Dataset shift between two selections: per attribute the Jensen–Shannon distance,
    chi-square and (numbers) KS, and the patients in both (leakage).

    A selection is a query, dataset:NAME@VERSION or selection:ID.
    Example: radcurate compare dataset:lidc@1 'dataset:lidc-test@1'
    """
    with open_or_exit(catalog_url) as catalog, _errors_exit():
        known = [f.name for f in catalog.fields()]

        def check(text: str) -> Node:
            return parse(text, fields=known)

        label_a, a = resolve_selection(catalog, selection_a, check)
        label_b, b = resolve_selection(catalog, selection_b, check)
        fields = _attributes(attributes, check)
        result = compare_selections(
            catalog, a, b, fields, labels=(label_a, label_b), max_groups=max_groups
        )
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    out = console()
    for side in ("a", "b"):
        found = result[side]
        out.print(f"{side.upper()}: {escape(found['selection'])}: {found['series']:,} series, "
                  f"{found['patients']:,} patients")  # fmt: skip
    overlap = result["overlap"]
    style = "red" if overlap["leakage"] else "green"
    out.print(f"[{style}]{overlap['patients']:,} patients and {overlap['series']:,} series "
              f"in both[/{style}]")  # fmt: skip
    for problem in result["problems"]:
        out.print(f"[yellow]not computable:[/yellow] {escape(problem)}")
    table = Table(box=None)
    for name in ("attribute", "JS distance", "chi² p", "KS D", "KS p", "missing A", "missing B"):
        table.add_column(name, justify="left" if name == "attribute" else "right")
    for entry in result["attributes"]:
        share = [entry["missing_share_a"], entry["missing_share_b"]]
        table.add_row(
            escape(entry["field"]),
            _number(entry.get("js_distance")),
            _number(entry.get("p")),
            _number(entry.get("ks")),
            _number(entry.get("ks_p")),
            *("-" if s is None else f"{s:.1%}" for s in share),
        )
    out.print(table)
