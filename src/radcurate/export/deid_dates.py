"""Date shifting for the *Retain Longitudinal Temporal Information with Modified Dates* option.

DA values (single, multiple or ``A-B`` ranges) and the date part of DT values move by a fixed
number of days; the time part and TM values are kept. A value that is not a valid date becomes
empty rather than passing through unshifted.
"""

from __future__ import annotations

import datetime as dt

_ONE_DAY = dt.timedelta(days=1)


def _shift_date(text: str, days: int) -> str:
    """Shift a ``YYYY``, ``YYYYMM`` or ``YYYYMMDD`` date; ``""`` when it is not one."""
    text = text.strip()
    if not text:
        return ""
    if not text.isdigit() or len(text) not in (4, 6, 8):
        return ""
    padded = (text + "0101")[:8] if len(text) == 4 else (text + "01")[:8]
    try:
        day = dt.date(int(padded[:4]), int(padded[4:6]), int(padded[6:8]))
        shifted = day + days * _ONE_DAY
    except (ValueError, OverflowError):
        return ""
    return shifted.strftime("%Y%m%d")[: len(text)].rjust(len(text), "0")


def shift_da(value: str, days: int) -> str:
    """Shift one DA value (a date, or a range ``A-B``, ``A-`` or ``-B``) by ``days``."""
    if "-" in value:
        start, _, end = value.partition("-")
        return f"{_shift_date(start, days) if start.strip() else ''}-" + (
            _shift_date(end, days) if end.strip() else ""
        )
    return _shift_date(value, days)


def shift_dt(value: str, days: int) -> str:
    """Shift the date part of one DT value (``YYYY[MM[DD[time]]][&ZZXX]``) by ``days``.

    The characters after the date (time, fraction, offset) are kept as they are.
    """
    text = value.strip()
    if not text:
        return ""
    digits = len(text) - len(text.lstrip("0123456789"))
    date_len = min(digits, 8)
    if date_len not in (4, 6, 8):
        return ""
    shifted = _shift_date(text[:date_len], days)
    return shifted + text[date_len:] if shifted else ""
