"""How an export names series and records the ones that fail (never an original UID in a
de-identified export's manifest, report or card)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from radcurate.export.deid import DeidOptions
    from radcurate.export.job import ExportReport

__all__ = ["public_uid", "record_failure"]

#: a UID inside free text (an error message, a stored file's path)
_UID_TEXT = re.compile(r"(?<![\d.])[0-9]+(?:\.[0-9]+){3,}(?!\.?\d)")


def public_uid(uid: str, deid: DeidOptions | None) -> str:
    """The series UID the manifest shows: replaced as the de-identified files have it."""
    if deid is None or deid.retain_uids:
        return uid
    from radcurate.export.deid_uids import replace_uid

    return replace_uid(deid.key, uid)


def record_failure(
    row: dict[str, Any], uid: str, exc: BaseException, report: ExportReport,
    deid: DeidOptions | None = None,
) -> None:  # fmt: skip
    """Record a failed series in its manifest ``row`` and in ``report``. In a de-identified
    copy every UID in what is written (the series' and any inside the reason, e.g. a stored
    file's path) is the replacement UID the exported files carry."""
    reason = f"{type(exc).__name__}: {exc}"
    if deid is not None and not deid.retain_uids:
        reason = _UID_TEXT.sub(lambda m: public_uid(m.group(0), deid), reason)
        uid = public_uid(uid, deid)
    row.update(status="failed", reason=reason)
    report.failed += 1
    report.errors.append((uid, reason))
