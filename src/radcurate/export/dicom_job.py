"""The ``dicom`` format's part of an export job: each series of the version copied (or
de-identified) into its folder, one manifest row a series (:mod:`radcurate.export.job`
does the rest). The series' files are copied on one set of threads for the whole export,
the next series handed out before the last ones finish (:data:`IN_FLIGHT`)."""

from __future__ import annotations

import shutil
from collections import deque
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radcurate.export.copy_helpers import CopyHelpers, HelperSeriesCopy, helper_count
from radcurate.export.dicom_copy import (
    SeriesCopy,
    burned_in_reason,
    copy_workers,
    series_folders,
    submit_copies,
)
from radcurate.export.failures import public_uid, record_failure

if TYPE_CHECKING:
    from radcurate.dicom.instance import InstanceRecord
    from radcurate.export.job import ExportOptions, ExportReport, Progress
    from radcurate.export.plan import ExportPlan, FrozenLookup

__all__ = ["BURNED_IN", "write_dicom"]

BURNED_IN = "pixels may carry burned-in text (--include-burned-in exports it)"
#: series copying at once beyond the one being handed out: the threads go on with the next
#: series while the last files (or the one large file) of the previous ones finish
IN_FLIGHT = 2


def write_dicom(
    plan: ExportPlan, lookup: FrozenLookup, options: ExportOptions, tmp: Path,
    report: ExportReport, sink: Progress,
) -> list[dict[str, Any]]:  # fmt: skip
    """Copy every image series of ``plan`` (label series too: they are DICOM already) under
    ``tmp``; the manifest rows, with each file's sha256 in ``_sha256``."""
    series = [uid for uid in sorted(plan.documents) if uid not in plan.left_out
              or plan.left_out[uid].startswith(("not an image", "a label"))]  # fmt: skip
    case_of = {c.series_uid: c for c in plan.cases}
    docs = plan.documents
    patients = sorted({str(docs[u].get("PatientID") or "") for u in series})
    keys = {p: f"P{n:04d}" for n, p in enumerate(patients, start=1)}
    rows_in = [
        (str(docs[u].get("PatientID") or ""), str(docs[u].get("StudyInstanceUID") or ""), u,
         str(docs[u].get("Modality") or "")) for u in series
    ]  # fmt: skip
    folders = series_folders(rows_in, options.layout, keys)
    rows: list[dict[str, Any]] = []
    #: series handed to the threads and not yet finished: (row, its copies)
    pending: deque[tuple[dict[str, Any], SeriesCopy | HelperSeriesCopy]] = deque()

    def finish(row: dict[str, Any], copies: SeriesCopy | HelperSeriesCopy) -> None:
        uid = row["_uid"]
        digests: dict[Path, str] = {}
        try:
            copies.result(digests)
            row.update(status="exported", reason="", image=folders[uid])
            row["_sha256"] = {p.relative_to(tmp).as_posix(): h for p, h in digests.items()}
            report.exported += 1
        except Exception as exc:  # noqa: BLE001 - one series never stops the others
            shutil.rmtree(tmp / folders[uid], ignore_errors=True)
            record_failure(row, uid, exc, report, options.deid)

    helpers = _helpers(plan, series, options)
    threads = ThreadPoolExecutor(max_workers=copy_workers(), thread_name_prefix="export-copy")
    try:
        for k, uid in enumerate(series):
            sink.check()
            sink.progress(k, len(series), f"{report.exported} series copied")
            case = case_of.get(uid)
            row: dict[str, Any] = {
                "case": folders[uid], "_uid": uid, "series_uid": public_uid(uid, options.deid),
                "patient": keys[str(docs[uid].get("PatientID") or "")],
                "split": case.split if case else "", "fold": case.fold if case else None,
            }  # fmt: skip
            rows.append(row)  # the manifest keeps the series order, whenever a row is done
            try:
                records = lookup.instances(uid)
                risk = None if options.deid is None else burned_in_reason(records)
                if risk is not None and not options.include_burned_in:
                    row.update(status="left out", reason=f"{BURNED_IN}: {risk}")
                    report.left_out += 1
                    continue
                copies = _submit(records, tmp / folders[uid], options, threads, helpers)
            except Exception as exc:  # noqa: BLE001 - one series never stops the others
                shutil.rmtree(tmp / folders[uid], ignore_errors=True)
                record_failure(row, uid, exc, report, options.deid)
                continue
            pending.append((row, copies))
            while len(pending) > IN_FLIGHT + (0 if helpers is None else helpers.queued):
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())
    finally:
        threads.shutdown(wait=True, cancel_futures=True)  # a cancelled export stops here
        if helpers is not None:
            helpers.shutdown()
    sink.progress(len(series), len(series), f"{report.exported} series copied")
    return rows


def _helpers(plan: ExportPlan, series: list[str], options: ExportOptions) -> CopyHelpers | None:
    """Helper processes for a large de-identified copy (:mod:`radcurate.export.copy_helpers`):
    the byte copy holds the GIL too briefly to gain from them."""
    if options.deid is None:
        return None
    instances = sum(len(plan.members.get(uid, ())) for uid in series)
    count = helper_count(instances)
    return CopyHelpers(count, options.deid) if count else None


def _submit(
    records: list[InstanceRecord], folder: Path, options: ExportOptions, threads: Executor,
    helpers: CopyHelpers | None,
) -> SeriesCopy | HelperSeriesCopy:  # fmt: skip
    """Start copying a series: in a helper when one is ready for it, else on ``threads``."""
    if helpers is not None and helpers.accepts():
        try:
            return helpers.submit(records, folder)
        except BrokenProcessPool:
            pass  # a helper died: this series and the next are copied here
    return submit_copies(records, folder, options.deid, threads)
