"""A dataset card (analyze/dataset_card.py) as one self-contained, printable HTML page.

Inline CSS and inline SVG bar charts: no script, no font, no request to the
network. Every value from the card is escaped. The page shows only what the card
holds (aggregates), so it carries no patient data either; the same card gives
the same bytes.

Examples
--------
>>> page = card_html({"format": "radcurate-dataset-card/1",
...                   "dataset": {"name": "<x>", "version": 1}})
>>> "&lt;x&gt;" in page and "<script" not in page
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

#: bars drawn per chart (the table below it lists every group)
CHART_BARS = 12
_BAR_HEIGHT = 18
_LABEL_WIDTH = 180
_BAR_WIDTH = 300

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;
margin:2rem auto;max-width:960px;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.2rem;border-bottom:2px solid #d5dbe5;
padding-bottom:.2rem;margin-top:2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;margin:.3rem 0 1rem;width:100%}
th,td{border:1px solid #d5dbe5;padding:.2rem .5rem;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f1f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.muted{color:#5d6778}.flag{color:#a61b1b;font-weight:600}.ok{color:#1d6b35}
code{font-size:.9em;background:#f1f4f8;padding:0 .2rem;word-break:break-all}
svg{display:block;margin:.3rem 0;max-width:100%;height:auto}svg text{font-size:12px;fill:#1d2430}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:0 1.5rem}
section{break-inside:avoid-page}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}
table,svg{break-inside:avoid}}
"""


def card_html(card: dict[str, Any]) -> str:
    """The card as an HTML document (one string, UTF-8 text)."""
    dataset = card.get("dataset", {})
    title = f"Dataset card: {dataset.get('name', '')} version {dataset.get('version', '')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">{_e(card.get("format", ""))} · the structure of '
        "“Datasheets for Datasets” (Gebru et al.) · aggregates only, no patient data</p>",
        _motivation(card.get("motivation")),
        _composition(card.get("composition")),
        _collection(card.get("collection")),
        _preprocessing(card.get("preprocessing")),
        _bias(card.get("bias")),
        _qc(card.get("qc")),
        _review(card.get("review")),
        _provenance(card.get("provenance")),
        _facts("Distribution", card.get("distribution")),
        _facts("Maintenance", card.get("maintenance")),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


# -- pieces -------------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Any value as escaped text (None as a dash, floats shortened)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    return escape(str(value), quote=True)


def _share(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1%}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _chart(label: str, groups: Sequence[dict[str, Any]]) -> str:
    """Horizontal bars of the first :data:`CHART_BARS` groups (an inline SVG)."""
    shown = list(groups)[:CHART_BARS]
    if not shown:
        return ""
    top = max(int(g["count"]) for g in shown) or 1
    height = _BAR_HEIGHT * len(shown) + 4
    width = _LABEL_WIDTH + _BAR_WIDTH + 70
    bars = []
    for i, group in enumerate(shown):
        y = i * _BAR_HEIGHT + 2
        length = max(1.0, _BAR_WIDTH * int(group["count"]) / top)
        text = str(group["value"])
        text = text if len(text) <= 26 else text[:25] + "…"
        bars.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{_e(text)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 2}" width="{length:.1f}" '
            f'height="{_BAR_HEIGHT - 5}" fill="#4a78c2"/>'
            f'<text x="{_LABEL_WIDTH + length + 5:.1f}" y="{y + 13}">{int(group["count"])}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{_e(label)}"><title>{_e(label)}</title>'
        + "".join(bars)
        + "</svg>"
    )


def _field_table(entry: dict[str, Any]) -> str:
    """One attribute: its chart, its groups and its missing share."""
    name = entry.get("field", "")
    groups = entry.get("groups") or []
    binning = entry.get("binning")
    note = (
        f'<p class="muted">{_e(entry.get("series", 0))} series · missing '
        f"{_e(entry.get('missing', 0))} ({_share(entry.get('missing_rate'))})"
        + (f" · {_e(binning)}" if binning else " · no series has this field")
        + "</p>"
    )
    rows = [(g["value"], g["count"], _share(g.get("share"))) for g in groups]
    table = _table(("value", "series", "share"), rows, {1, 2}) if rows else ""
    return (
        f"<section><h3><code>{_e(name)}</code></h3>{note}"
        f"{_chart(str(name), groups)}{table}</section>"
    )


def _facts(title: str, facts: dict[str, Any] | None) -> str:
    if not facts:
        return ""
    rows = [(key, facts[key]) for key in sorted(facts)]
    return f"<h2>{_e(title)}</h2>" + _table(("", ""), rows, set())


def _motivation(section: dict[str, Any] | None) -> str:
    return _facts("Motivation", section)


def _composition(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    counts = section.get("counts", {})
    rows = [(key, counts[key]) for key in sorted(counts)]
    return (
        "<h2>Composition</h2>"
        + _table(("count", "value"), rows, {1})
        + '<div class="grid">'
        + "".join(_field_table(t) for t in section.get("tables", []))
        + "</div><h3>Demographics (missing shares)</h3>"
        + _table(
            ("field", "series", "missing", "missing share"),
            [
                (t["field"], t["series"], t["missing"], _share(t["missing_rate"]))
                for t in section.get("demographics", [])
            ],
            {1, 2, 3},
        )
        + '<div class="grid">'
        + "".join(_field_table(t) for t in section.get("demographics", []))
        + "</div>"
    )


def _collection(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    years = section.get("study_years", {})
    period = (
        f"{_e(years.get('first_year'))} – {_e(years.get('last_year'))}"
        if years.get("first_year")
        else "not recorded"
    )
    return (
        "<h2>Collection process</h2>"
        f"<p>Study years ({_e(years.get('field', ''))}): {period}; "
        f"{_e(years.get('missing', 0))} series without a date.</p>"
        + _chart("study years", years.get("groups", []))
        + '<div class="grid">'
        + "".join(_field_table(t) for t in section.get("acquisition", []))
        + "</div>"
    )


def _preprocessing(section: dict[str, Any] | None) -> str:
    if section is None:
        return ""
    producers = section.get("producers", [])
    if not producers:
        return "<h2>Preprocessing and labelling</h2><p>No ai./qc./clin. results recorded.</p>"
    rows = [
        (
            p["producer"],
            ", ".join(f"{v['version'] or '(none)'} ({v['series']})" for v in p["versions"]),
            p["series"],
            ", ".join(p["fields"]),
        )
        for p in producers
    ]
    return "<h2>Preprocessing and labelling</h2>" + _table(
        ("producer", "versions (series)", "series", "fields written"), rows, {2}
    )


def _bias(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    limits = section.get("thresholds", {})
    out = [
        "<h2>Bias metrics and flags</h2>",
        f"<p>Target: <code>{_e(section.get('target'))}</code>. Shortcut risk: Cramér's V ≥ "
        f"{_e(limits.get('cramers_v'))} (or η² ≥ {_e(limits.get('eta_squared'))}) and "
        f"{_e(limits.get('correction'))}-adjusted p &lt; {_e(limits.get('alpha'))}.</p>",
    ]
    flags = section.get("flags", [])
    out.append(
        f'<p class="flag">Shortcut risk: {_e(", ".join(flags))}</p>'
        if flags
        else '<p class="ok">No shortcut flagged.</p>'
    )
    out.extend(f'<p class="muted">{_e(p)}</p>' for p in section.get("problems", []))
    out.append(
        _table(
            ("attribute", "groups", "missing share", "effective groups", "evenness", "imbalance"),
            [
                (
                    r["field"],
                    r["k"],
                    _share(r["missing_rate"]),
                    r["effective_groups"],
                    r["evenness"],
                    r["imbalance_ratio"],
                )
                for r in section.get("representation", [])
            ],
            {1, 2, 3, 4, 5},
        )
    )
    associations = section.get("associations", [])
    if associations:
        out.append(
            _table(
                ("attribute", "V / η²", "p (adjusted)", "NMI", "flag", "over-represented"),
                [
                    (
                        a["attribute"],
                        a["cramers_v"] if a["eta_squared"] is None else a["eta_squared"],
                        a["p_adjusted"],
                        a["nmi"],
                        "SHORTCUT RISK" if a["flag"] else ("" if a["computable"] else a["reason"]),
                        "; ".join(f"{o['value']} → {o['target']}" for o in a["over_represented"]),
                    )
                    for a in associations
                ],
                {1, 2, 3},
            )
        )
    return "".join(out)


def _qc(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    checks = section.get("checks", [])
    ran = [c for c in checks if c["checked"]]
    rows = [
        (c["field"], c["title"], c["severity"], c["failing"], c["checked"], c["fails"]) for c in ran
    ]
    failing = [{"value": c["field"], "count": c["failing"]} for c in ran if c["failing"]]
    idle = [c["field"] for c in checks if not c["checked"]]
    return (
        "<h2>Quality control</h2>"
        + f"<p>{len(ran)} of {len(checks)} registered checks ran on members; "
        + f"{len(failing)} of them fail on at least one.</p>"
        + _chart("failing series per check", failing)
        + (
            _table(
                ("check", "title", "severity", "failing", "checked", "failing query"), rows, {3, 4}
            )
            if rows
            else ""
        )
        + (f'<p class="muted">Not run on any member: {_e(", ".join(idle))}.</p>' if idle else "")
    )


def _review(section: dict[str, Any] | None) -> str:
    if not section:
        return ""
    statuses = ("accepted", "rejected", "questionable", "pending")
    groups = [{"value": s, "count": section.get(s, 0)} for s in statuses]
    return (
        "<h2>Review status</h2>"
        + _chart("review status", groups)
        + _table(("status", "series"), [(s, section.get(s, 0)) for s in (*statuses, "total")], {1})
    )


def _provenance(section: dict[str, Any] | None) -> str:
    return _facts("Provenance", section)
