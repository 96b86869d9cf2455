"""Multi-channel cases: ``--channel NAME=QUERY`` picks one series per channel in each study.

Without channels every image series is a case of its own. With them the unit is a *study*
of a patient (its StudyInstanceUID): the series of one visit are what a multi-sequence model
(BraTS-like T1, T1ce, T2, FLAIR) reads together, they share the patient's position on the
table, and a study never spans two patients. Each channel's query (the query language, as
``radcurate search`` takes it) is matched against every image series of the version; in
each study the series matched by channel ``k`` is channel ``k`` of the case, channel 0 is
the reference grid the others are resampled onto (:mod:`radcurate.export.channels_resample`).

A study is left out, with a reason on each of its series, when a channel matches none of
its series, when a channel matches two or more (no silent choice: narrow the query, or
reject the extra series in review, which takes it out of the export), or when its channels
do not share one Frame of Reference (patient coordinates of different frames cannot be
compared). A series matched by two channels' queries is an error of the request (the
export does not start): the queries must be exclusive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radcurate.query import QueryError, parse

__all__ = [
    "NO_CHANNEL",
    "Channel",
    "ChannelError",
    "StudyCase",
    "check_channels",
    "group_studies",
    "parse_channel",
]

#: why an image series that no channel matches is not exported
NO_CHANNEL = "matches no --channel query"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class ChannelError(ValueError):
    """A ``--channel`` request that cannot be exported (bad name or query, overlapping queries)."""


@dataclass(frozen=True)
class Channel:
    """One input channel: its name (nnU-Net's ``channel_names`` value) and its query."""

    name: str
    query: str

    def to_dict(self) -> dict[str, str]:
        """``{"name": ..., "query": ...}`` (as ``export.json`` records it)."""
        return {"name": self.name, "query": self.query}


def parse_channel(text: str) -> Channel:
    """``NAME=QUERY`` as a :class:`Channel` (the first ``=`` separates them).

    Examples
    --------
    >>> parse_channel("FLAIR=SeriesDescription:*flair*")
    Channel(name='FLAIR', query='SeriesDescription:*flair*')

    Raises
    ------
    ChannelError
        No ``=``, an empty or odd name, an empty or unparsable query.
    """
    name, sep, query = text.partition("=")
    name, query = name.strip(), query.strip()
    if not sep or not query:
        raise ChannelError(
            f"--channel {text!r}: write NAME=QUERY, e.g. T1='SeriesDescription:*t1*'"
        )
    channel = Channel(name, query)
    check_channels([channel])
    return channel


def check_channels(channels: Sequence[Channel]) -> None:
    """Raise :class:`ChannelError` for a name that is empty, odd or given twice, or a query
    that does not parse (its message points at the position)."""
    seen: set[str] = set()
    for channel in channels:
        if not _NAME.match(channel.name):
            raise ChannelError(
                f"--channel {channel.name!r}: a channel name is letters, digits and _ . + - "
                "(e.g. T1, FLAIR, CT)"
            )
        if channel.name.lower() in seen:
            raise ChannelError(f"--channel {channel.name}: the name is given twice")
        seen.add(channel.name.lower())
        try:
            parse(channel.query)
        except QueryError as exc:
            raise ChannelError(f"--channel {channel.name}: {exc}") from exc


@dataclass(frozen=True)
class StudyCase:
    """A study that makes a case: its patient, StudyInstanceUID and one series per channel."""

    patient: str
    study: str
    series: tuple[str, ...]


def _text(document: Mapping[str, Any], key: str) -> str:
    return str(document.get(key) or "")


def _numbers(documents: Mapping[str, Mapping[str, Any]], uids: Sequence[str]) -> str:
    """Series numbers (not descriptions: those may carry patient data) of ``uids``, sorted."""
    numbers = [_text(documents[u], "SeriesNumber") or "?" for u in uids]
    return ", ".join(sorted(numbers, key=lambda n: (len(n), n)))


def _study_reason(
    channels: Sequence[Channel],
    documents: Mapping[str, Mapping[str, Any]],
    picked: Sequence[list[str]],
) -> str | None:
    """Why a study with these matches per channel makes no case (None: it makes one)."""
    missing = [c for c, uids in zip(channels, picked, strict=True) if not uids]
    if missing:
        names = ", ".join(f"{c.name} ({c.query})" for c in missing)
        return f"its study has no series for channel {names}"
    for channel, uids in zip(channels, picked, strict=True):
        if len(uids) > 1:
            return (
                f"channel {channel.name} matches {len(uids)} series of its study (series "
                f"numbers {_numbers(documents, uids)}): narrow the query, or reject the extra "
                "series in review"
            )
    frames = [_text(documents[uids[0]], "FrameOfReferenceUID") for uids in picked]
    for channel, frame in zip(channels, frames, strict=True):
        if not frame and len(channels) > 1:
            return (
                f"channel {channel.name} has no FrameOfReferenceUID: its patient coordinates "
                "cannot be related to the reference channel's"
            )
    for channel, frame in zip(channels[1:], frames[1:], strict=True):
        if frame != frames[0]:
            return (
                f"channels {channels[0].name} and {channel.name} lie in different frames of "
                "reference (FrameOfReferenceUID differs): they cannot be resampled onto one grid"
            )
    return None


def group_studies(
    channels: Sequence[Channel],
    documents: Mapping[str, Mapping[str, Any]],
    images: Sequence[str],
    matched: Sequence[frozenset[str]],
) -> tuple[list[StudyCase], dict[str, str]]:
    """The studies that make cases, sorted by (PatientID, StudyInstanceUID), and why each
    other image series is left out.

    Parameters
    ----------
    channels
        The channels, in channel order.
    documents
        Series documents by SeriesInstanceUID (PatientID, StudyInstanceUID, SeriesNumber,
        FrameOfReferenceUID are read).
    images
        The image series of the version that may be exported.
    matched
        For each channel, the series its query matches (any series; only ``images`` count).

    Raises
    ------
    ChannelError
        A series of ``images`` is matched by two channels' queries.
    """
    pool = set(images)
    owner: dict[str, int] = {}
    for k, found in enumerate(matched):
        for uid in sorted(found & pool):
            if uid in owner:
                first = channels[owner[uid]].name
                both = [u for u in sorted(pool) if u in found and u in matched[owner[uid]]]
                raise ChannelError(
                    f"--channel {first} and --channel {channels[k].name} both match "
                    f"{len(both)} series (e.g. series number {_numbers(documents, both[:1])}): "
                    "make the queries exclusive (e.g. add NOT SeriesDescription:... to one)"
                )
            owner[uid] = k
    studies: dict[tuple[str, str], list[list[str]]] = {}
    left_out: dict[str, str] = {}
    for uid in sorted(pool):
        if uid not in owner:
            left_out[uid] = NO_CHANNEL
            continue
        document = documents[uid]
        key = (_text(document, "PatientID"), _text(document, "StudyInstanceUID"))
        studies.setdefault(key, [[] for _ in channels])[owner[uid]].append(uid)
    cases: list[StudyCase] = []
    for (patient, study), picked in sorted(studies.items()):
        reason = _study_reason(channels, documents, picked)
        if reason is None:
            cases.append(StudyCase(patient, study, tuple(uids[0] for uids in picked)))
        else:
            left_out.update({uid: reason for uids in picked for uid in uids})
    return cases, left_out
