"""``export_dataset``: a frozen version into a layout, as one job (progress, per-series errors).

Everything is written into a hidden folder beside ``out`` and renamed to ``out`` at the end,
so an export is there whole or not at all (an interrupted one leaves ``.NAME.partial-*``).
A series that cannot be converted (undecodable, inconsistent geometry, a label series that
cannot be placed) is recorded with its reason, in the manifest and in the report, and the
rest goes on. Nothing written depends on the clock or the output path: the same version,
options and seed give byte-identical files.

The dataset card and the comparison between splits come from the analysis layer, which
this layer does not import: the caller passes them in (``card``, ``compare``); without a
card builder a minimal card (version hash and counts) is written and the report says so.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from radcurate.catalog import CatalogBackend
from radcurate.export.channels import Channel, check_channels
from radcurate.export.channels_resample import channel_volume
from radcurate.export.dicom_copy import LAYOUTS
from radcurate.export.dicom_job import write_dicom
from radcurate.export.failures import public_uid, record_failure
from radcurate.export.labels import LabelSpec, LabelTable, case_label_map, label_names, label_table
from radcurate.export.layouts import FORMATS, CasePaths, case_paths, dataset_folder, write_index
from radcurate.export.manifest import (
    BASE_COLUMNS,
    DEFAULT_FIELDS,
    checksums,
    flat_values,
    select_fields,
    sha256_file,
    write_manifest,
)
from radcurate.export.plan import Case, ExportError, ExportPlan, FrozenLookup, plan_export
from radcurate.export.splits import SplitSpec, assign_splits
from radcurate.export.volumes import write_image, write_labels
from radcurate.imaging.series import load_series
from radcurate.imaging.volume import series_volume_stream, volume_geometry

if TYPE_CHECKING:
    from radcurate.export.deid import DeidOptions

__all__ = ["ExportOptions", "ExportReport", "Progress", "check_options", "export_dataset"]

#: ``card(name, version) -> dict`` (radcurate.analyze.dataset_card)
CardBuilder = Callable[[str, int], dict[str, Any]]
#: ``compare(uids_a, uids_b, (label_a, label_b)) -> dict`` (radcurate.analyze.bias_compare)
SplitCompare = Callable[[frozenset[str], frozenset[str], tuple[str, str]], dict[str, Any]]


#: DICOM fields a de-identified export's manifest may show (none that the Basic Profile removes)
DEID_SAFE_FIELDS = frozenset(DEFAULT_FIELDS) - {"SeriesDescription", "PatientSex", "age_years"}
_NO_LABELS = "a training case without labels (nnU-Net needs them)"


class Progress(Protocol):
    """What the export reports to (a :class:`radcurate.jobs.JobContext` is one)."""

    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        """Report progress."""

    def check(self) -> None:
        """Raise when the job was asked to stop."""


class _Quiet:
    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        return None

    def check(self) -> None:
        return None


@dataclass(frozen=True)
class ExportOptions:
    """What ``radcurate export`` was asked (docs/export.md)."""

    dataset: str
    format: str
    out: Path
    split: SplitSpec = field(default_factory=SplitSpec)
    stratify: tuple[str, ...] = ()
    seed: int = 0
    labels: LabelSpec | None = None
    include_rejected: bool = False
    fields: tuple[str, ...] | None = None
    overwrite: bool = False
    dataset_id: int = 1
    layout: str = "patient/study/series"
    #: cases converted at once (threads); the output does not depend on it
    workers: int = 2
    #: de-identify a ``dicom`` export with these options (``radcurate.export.deid.DeidOptions``)
    deid: DeidOptions | None = None
    #: export series whose pixels may carry burned-in text when de-identifying
    include_burned_in: bool = False
    #: ``--channel NAME=QUERY``: a case is a study with one series per channel (channels.py)
    channels: tuple[Channel, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The options as written into ``export.json`` (no output path)."""
        return {
            "format": self.format,
            "split": self.split.to_dict(),
            "stratify": list(self.stratify),
            "seed": self.seed,
            "labels": None if self.labels is None else {n: list(p) for n, p in self.labels.entries},
            "include_rejected": self.include_rejected,
            "fields": None if self.fields is None else list(self.fields),
            "dataset_id": self.dataset_id,
            "layout": self.layout if self.format == "dicom" else None,
            "deidentify": None if self.deid is None else self.deid.used(),
            "include_burned_in": self.include_burned_in,
            "channels": [c.to_dict() for c in self.channels],
        }


@dataclass
class ExportReport:
    """What an export did (the job's result)."""

    dataset: str
    version: int
    content_hash: str
    froze: bool
    format: str
    out: str
    exported: int = 0
    failed: int = 0
    skipped: int = 0
    left_out: int = 0
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON result of the job."""
        return {
            "dataset": self.dataset,
            "version": self.version,
            "content_hash": self.content_hash,
            "froze": self.froze,
            "format": self.format,
            "out": self.out,
            "exported": self.exported,
            "failed": self.failed,
            "skipped": self.skipped,
            "left_out": self.left_out,
            "splits": self.splits,
            "errors": [list(e) for e in self.errors],
            "notes": self.notes,
            "files": self.files,
        }


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"{out} is not empty (--overwrite replaces it)")


def check_options(options: ExportOptions) -> None:
    """Raise :class:`ExportError` for options an export cannot start with."""
    if options.format not in FORMATS:
        raise ExportError(f"unknown format {options.format!r} (use one of {', '.join(FORMATS)})")
    if options.layout not in LAYOUTS:
        raise ExportError(f"unknown layout {options.layout!r} (use one of {', '.join(LAYOUTS)})")
    if options.deid is not None and options.format != "dicom":
        raise ExportError("--deidentify applies to the dicom format (NIfTI files carry no header)")
    if options.channels and options.format == "dicom":
        raise ExportError("--channel applies to the nnunet, monai and nifti formats")
    check_channels(options.channels)
    if not 0 <= options.dataset_id <= 999:
        raise ExportError("the nnU-Net dataset id must lie between 0 and 999")
    _check_out(options.out, options.overwrite)


def _values(
    catalog: CatalogBackend, uids: Sequence[str], documents: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    results = catalog.result_store.results_of(list(uids))
    curation = catalog.curation_of(list(uids))
    reviews = catalog.reviews.reviews_of(list(uids))
    return {
        uid: flat_values(
            documents.get(uid, {}),
            results.get(uid, {}),
            curation.get(uid, {}),
            reviews[uid].status if uid in reviews else None,
        )
        for uid in uids
    }


def _assign(plan: ExportPlan, options: ExportOptions, values: dict[str, dict[str, Any]]) -> None:
    strata: dict[str, str] = {}
    for case in plan.cases:  # a patient's stratum: the values of its first case
        if case.patient not in strata:
            row = values[case.series_uid]
            strata[case.patient] = json.dumps(
                [row.get(f) for f in options.stratify], sort_keys=True, default=str
            )
    assigned = assign_splits(strata, options.split, options.seed)
    for case in plan.cases:
        case.split, case.fold = assigned[case.patient]


def _balance(
    plan: ExportPlan, rows: list[dict[str, Any]], options: ExportOptions,
    values: dict[str, dict[str, Any]], compare: SplitCompare | None,
) -> dict[str, Any]:  # fmt: skip
    """Counts per split (series, patients, and per stratum) and the comparisons between them."""
    exported = [r for r in rows if r["status"] == "exported"]
    splits: dict[str, Any] = {}
    for name in dict.fromkeys(r["split"] for r in exported):
        members = [r for r in exported if r["split"] == name]
        entry: dict[str, Any] = {
            "series": len(members),
            "patients": len({r["patient"] for r in members}),
        }
        for f in options.stratify:
            counts: dict[str, int] = {}
            for r in members:
                key = json.dumps(values[r["_uid"]].get(f), default=str)
                counts[key] = counts.get(key, 0) + 1
            entry[f"by {f}"] = dict(sorted(counts.items()))
        splits[name] = entry
    out: dict[str, Any] = {"splits": splits}
    if compare is not None:
        names = sorted(splits)
        uids = {n: frozenset(r["_uid"] for r in exported if r["split"] == n) for n in names}
        out["comparisons"] = [
            compare(uids[a], uids[b], (a, b))
            for k, a in enumerate(names) for b in names[k + 1:]
        ]  # fmt: skip
    return out


def _label_table(
    plan: ExportPlan, lookup: FrozenLookup, options: ExportOptions
) -> tuple[LabelTable, dict[str, str]]:
    """The export's label table, and the label series that cannot be read (with why)."""
    found: list[tuple[str, bool]] = []
    broken: dict[str, str] = {}
    for uid in sorted({s for c in plan.cases for s in c.label_sources}):
        try:
            found.extend(label_names(lookup, uid))
        except Exception as exc:  # noqa: BLE001 - recorded for the cases that need it
            broken[uid] = f"{type(exc).__name__}: {exc}"
    return label_table(found, options.labels), broken


def _export_case(
    case: Case, lookup: FrozenLookup, table: LabelTable, options: ExportOptions, tmp: Path,
    root: str, broken: dict[str, str],
) -> tuple[dict[str, Any], CasePaths | None]:  # fmt: skip
    row: dict[str, Any] = {"status": "exported", "reason": ""}
    labelled = bool(case.label_sources)
    if options.format == "nnunet" and case.split != "test" and not labelled:
        return {"status": "skipped", "reason": _NO_LABELS}, None
    bad = [broken[s] for s in case.label_sources if s in broken]
    if bad:
        raise ValueError(f"a label series cannot be read: {bad[0]}")
    try:
        geometry = volume_geometry(load_series(lookup, case.series_uid))
    except ValueError as exc:
        doc = case.document
        if "ImageOrientationPatient" not in doc and "PerFrameFunctionalGroupsSequence" not in doc:
            raise ValueError(
                f"not a volume: a {doc.get('Modality') or 'series'} without "
                "ImageOrientationPatient (a projection or 2-D image)"
            ) from exc
        raise
    paths = case_paths(options.format, case, root, labelled)
    labels = present = None
    if labelled:
        labels, present = case_label_map(
            lookup, case.label_sources, table, geometry, case.image_series
        )
    written: list[dict[str, Any]] = []
    for k, (uid, target) in enumerate(zip(case.image_series, paths.images, strict=True)):
        entry: dict[str, Any] = {"image": target}
        if k == 0:
            entry["image_dtype"] = write_image(series_volume_stream(lookup, uid), tmp / target)
        else:
            name = options.channels[k].name
            try:
                channel = channel_volume(lookup, uid, geometry)
                entry["image_dtype"] = write_image(channel.stream, tmp / target)
            except Exception as exc:  # named, then the case fails
                raise ValueError(f"channel {name}: {type(exc).__name__}: {exc}") from exc
            if not channel.covered:
                raise ValueError(f"channel {name} does not overlap channel 0's volume")
            entry["coverage"] = round(channel.coverage, 6)
        entry["image_sha256"] = sha256_file(tmp / target)
        written.append(entry)
    row.update(written[0])
    if case.channels:
        row["channels"] = written
    if labels is not None and paths.label:
        write_labels(labels, geometry.affine, tmp / paths.label)
        row["label"] = paths.label
        row["label_sha256"] = sha256_file(tmp / paths.label)
        row["labels_present"] = sorted(present or {})
    return row, paths


def _minimal_card(plan: ExportPlan, report: ExportReport) -> dict[str, Any]:
    return {
        "dataset": plan.dataset,
        "version": plan.version,
        "content_hash": plan.content_hash,
        "series": len(plan.members),
        "exported": report.exported,
        "note": "minimal card written by the export (radcurate.analyze.dataset_card missing)",
    }


def _card_html(card: dict[str, Any]) -> str:
    body = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    title = f"{card.get('dataset', '')} v{card.get('version', '')}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>Dataset card: {title}</h1><pre>{escaped}</pre></body></html>\n"
    )


def export_dataset(
    catalog: CatalogBackend,
    options: ExportOptions,
    progress: Progress | None = None,
    *,
    card: CardBuilder | None = None,
    card_html: Callable[[dict[str, Any]], str] | None = None,
    compare: SplitCompare | None = None,
) -> ExportReport:
    """Export a dataset version (frozen now when none is given) into ``options.out``.

    Raises
    ------
    ExportError
        Unknown dataset or version, bad options, or ``out`` not empty without ``overwrite``.
    """
    check_options(options)
    sink = progress or _Quiet()
    plan = plan_export(
        catalog, options.dataset, include_rejected=options.include_rejected,
        channels=options.channels,
    )  # fmt: skip
    report = ExportReport(
        plan.dataset, plan.version, plan.content_hash, plan.froze, options.format, str(options.out)
    )
    lookup = FrozenLookup(catalog, plan.members)
    uids = sorted(plan.documents)
    values = _values(catalog, uids, plan.documents)
    _assign(plan, options, values)
    out = options.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        rows = _write(catalog, plan, lookup, options, tmp, values, report, sink)
        _finish(plan, options, tmp, rows, values, report, card, card_html, compare)
        _swap(tmp, out, options.overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _write(
    catalog: CatalogBackend, plan: ExportPlan, lookup: FrozenLookup, options: ExportOptions,
    tmp: Path, values: dict[str, dict[str, Any]], report: ExportReport, sink: Progress,
) -> list[dict[str, Any]]:  # fmt: skip
    rows: list[dict[str, Any]] = []
    if options.format == "dicom":
        return write_dicom(plan, lookup, options, tmp, report, sink)
    table, broken = _label_table(plan, lookup, options)
    report.notes.extend(f"label series {u}: {r}" for u, r in sorted(broken.items()))
    root = dataset_folder(plan.dataset, options.dataset_id) if options.format == "nnunet" else ""
    exported: list[tuple[Case, CasePaths]] = []

    def convert(case: Case) -> tuple[dict[str, Any], CasePaths | None, Exception | None]:
        try:
            outcome, paths = _export_case(case, lookup, table, options, tmp, root, broken)
            return outcome, paths, None
        except Exception as exc:  # noqa: BLE001 - one series never stops the others
            for target in case_paths(options.format, case, root, True).all():
                (tmp / target).unlink(missing_ok=True)
            return {}, None, exc

    # cases run on threads (decoding, compression and numpy release the GIL); results are
    # taken in case order, so the files and rows do not depend on the scheduling
    pool = ThreadPoolExecutor(max_workers=max(1, options.workers))
    try:
        for k, (case, (outcome, paths, error)) in enumerate(
            zip(plan.cases, pool.map(convert, plan.cases), strict=True)
        ):
            sink.check()
            sink.progress(k, len(plan.cases), f"{report.exported} exported, {report.failed} failed")
            row = {
                "case": case.case_id, "_uid": case.series_uid, "series_uid": case.series_uid,
                "patient": case.patient_key, "split": case.split, "fold": case.fold,
                "label_sources": case.label_sources,
            }  # fmt: skip
            row.update(outcome)
            if error is not None:
                record_failure(row, case.series_uid, error, report)
            elif paths is None:
                report.skipped += 1
            else:
                exported.append((case, paths))
                report.exported += 1
            rows.extend(_channel_rows(row, case, options) if case.channels else [row])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    sink.progress(len(plan.cases), len(plan.cases), f"{report.exported} exported")
    description = f"radcurate export of {plan.dataset} v{plan.version} ({plan.content_hash})"
    index = write_index(
        options.format, tmp, root, exported, table.to_dict(), name=plan.dataset,
        description=description, folds=options.split.folds,
        channels=[c.name for c in options.channels],
    )  # fmt: skip
    report.notes.extend(f"wrote {p}" for p in index)
    modalities = sorted({str(c.document.get("Modality") or "") for c, _ in exported})
    if options.format == "nnunet" and len(modalities) > 1 and not options.channels:
        report.notes.append(
            f"nnU-Net trains one channel layout: this export mixes {'/'.join(modalities)} "
            "images (export one modality per dataset)"
        )
    return rows


def _channel_rows(row: dict[str, Any], case: Case, options: ExportOptions) -> list[dict[str, Any]]:
    """The manifest rows of a multi-channel case: one per channel's series, each with its
    channel's image (the label and status are the case's)."""
    per_channel = row.pop("channels", None) or [{} for _ in case.channels]
    rows = []
    for channel, uid, entry in zip(options.channels, case.channels, per_channel, strict=True):
        mine = {k: v for k, v in row.items() if not k.startswith("image")}
        mine.update(entry, channel=channel.name, _uid=uid, series_uid=uid)
        rows.append(mine)
    return rows


def _finish(
    plan: ExportPlan, options: ExportOptions, tmp: Path, rows: list[dict[str, Any]],
    values: dict[str, dict[str, Any]], report: ExportReport, card: CardBuilder | None,
    card_html: Callable[[dict[str, Any]], str] | None, compare: SplitCompare | None,
) -> None:  # fmt: skip
    listed = {r["_uid"] for r in rows}
    for uid, reason in sorted(plan.left_out.items()):
        if uid not in listed:
            rows.append({"_uid": uid, "series_uid": public_uid(uid, options.deid),
                         "status": "left out", "reason": reason})  # fmt: skip
            report.left_out += 1
    for row in rows:
        row.update({k: v for k, v in values.get(row["_uid"], {}).items() if k not in row})
    available = {k for v in values.values() for k in v}
    fields = select_fields(options.fields or DEFAULT_FIELDS, available)
    if options.deid is not None:
        unsafe = [f for f in fields if f not in DEID_SAFE_FIELDS and "." not in f]
        fields = [f for f in fields if f not in unsafe]
        if unsafe:
            report.notes.append(f"de-identified: left out of the manifest: {', '.join(unsafe)}")
    extra = ["channel", "coverage"] if options.channels else []
    columns = [*BASE_COLUMNS, *extra, *fields]
    report.notes.extend(write_manifest(rows, columns, tmp))
    balance = _balance(plan, rows, options, values, compare)
    report.splits = {n: {"series": e["series"], "patients": e["patients"]}
                     for n, e in balance["splits"].items()}  # fmt: skip
    summary = {
        "dataset": plan.dataset, "version": plan.version, "content_hash": plan.content_hash,
        "options": options.to_dict(), "exported": report.exported, "failed": report.failed,
        "skipped": report.skipped, "left_out": report.left_out, "balance": balance,
        "errors": [list(e) for e in report.errors],
    }  # fmt: skip
    dump = json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    (tmp / "export.json").write_text(dump, encoding="utf-8")
    if card is None:
        report.notes.append("dataset card: minimal (radcurate.analyze.dataset_card not available)")
        made = _minimal_card(plan, report)
    else:
        made = card(plan.dataset, plan.version)
    made = {**made, "export": {"format": options.format, "balance": balance}}
    text = json.dumps(made, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"
    (tmp / "dataset-card.json").write_text(text, encoding="utf-8")
    html = (card_html or _card_html)(made) if card is not None else _card_html(made)
    (tmp / "dataset-card.html").write_text(html, encoding="utf-8")
    known = {
        row[path]: row[f"{path}_sha256"]
        for row in rows
        for path in ("image", "label")
        if row.get(path) and row.get(f"{path}_sha256")
    }
    for row in rows:  # the files of a dicom export, hashed while copied
        known.update(row.get("_sha256") or {})
    report.files = checksums(tmp, known)


def _swap(tmp: Path, out: Path, overwrite: bool) -> None:
    """Put the finished export at ``out`` (replacing an old one when allowed)."""
    _check_out(out, overwrite)
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
