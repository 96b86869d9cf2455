"""What an export holds: the frozen version, its series as cases, their label sources.

A *case* is one image series of the version (one volume): its patient, and the DICOM-SEG
and RTSTRUCT series that reference it (members of the version, or series of the catalog
whose ``referenced_series`` names it, such as the SEG that ``annotate-ct-masks`` writes).
Series of the version that are neither (SR, a SEG whose image is not in the version, ...)
are recorded as left out with the reason. Instances are read as frozen: a series' instance
rows are cut to the SOP Instance UIDs the version holds, so a later re-ingest never
changes an export of an old version.

With ``--channel`` queries a case is a study instead, one series per channel
(:mod:`radcurate.export.channels`); its label sources are the SEG/RTSTRUCT series that
reference any of its channels' series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from radcurate.catalog import CatalogBackend
from radcurate.catalog.curation_types import CurationError
from radcurate.dicom.instance import InstanceRecord
from radcurate.export.channels import Channel, ChannelError, group_studies
from radcurate.query import QueryError

__all__ = [
    "LABEL_MODALITIES",
    "Case",
    "ExportError",
    "ExportPlan",
    "FrozenLookup",
    "plan_export",
    "resolve_version",
]

#: modalities whose series are label sources, not images
LABEL_MODALITIES = ("SEG", "RTSTRUCT")
#: modalities that never make an image volume
NON_IMAGE_MODALITIES = ("SR", "PR", "KO", "DOC", "ECG", "RTPLAN", "RTDOSE", "REG", "RWV")


class ExportError(ValueError):
    """An export that cannot start (unknown dataset or version, bad options, out dir taken)."""


class FrozenLookup:
    """A catalog seen through a frozen version: member series keep only their frozen
    instances; other series (e.g. a SEG's reference outside the version) are read as they are.
    Satisfies :class:`radcurate.imaging.series.SeriesLookup`."""

    def __init__(self, catalog: CatalogBackend, members: Mapping[str, Sequence[str]]):
        self.catalog = catalog
        self.members = {uid: frozenset(sops) for uid, sops in members.items()}

    def series_document(self, series_uid: str) -> dict[str, Any] | None:
        """The catalog's document of the series."""
        return self.catalog.series_document(series_uid)

    def instances(self, series_uid: str) -> list[InstanceRecord]:
        """The series' instance rows, cut to the frozen ones for a member."""
        rows = self.catalog.instances(series_uid)
        frozen = self.members.get(series_uid)
        if frozen is None:
            return rows
        return [r for r in rows if r.sop_uid in frozen]


@dataclass
class Case:
    """One image series of the export.

    Attributes
    ----------
    case_id
        The file stem, ``<prefix>_<NNNN>`` numbered over (patient, series UID) sorted.
    series_uid, patient, patient_key
        The image series, its PatientID (never written unless asked) and the export's
        pseudonym of the patient (``P0001``…, numbered over sorted PatientIDs).
    label_sources
        SEG/RTSTRUCT series UIDs referencing the image (any channel's), sorted.
    channels
        With ``--channel``: the series of each channel, channel 0 (``series_uid``) first;
        empty for a single-series case.
    """

    case_id: str
    series_uid: str
    patient: str
    patient_key: str
    document: dict[str, Any]
    label_sources: list[str] = field(default_factory=list)
    split: str = "train"
    fold: int | None = None
    channels: tuple[str, ...] = ()

    @property
    def image_series(self) -> tuple[str, ...]:
        """The series whose volumes the case's image files hold, in channel order."""
        return self.channels or (self.series_uid,)


@dataclass
class ExportPlan:
    """The version and what becomes of each of its series."""

    dataset: str
    version: int
    content_hash: str
    froze: bool
    cases: list[Case]
    #: series UID -> why it is not exported as a case (rejected, not an image, ...)
    left_out: dict[str, str]
    members: dict[str, list[str]]
    documents: dict[str, dict[str, Any]]


def resolve_version(catalog: CatalogBackend, spec: str) -> tuple[str, int, str, bool]:
    """``NAME[@VERSION]`` -> ``(name, version, content_hash, froze)``; without a version the
    dataset is frozen now (an unchanged membership returns its latest version).

    Raises
    ------
    ExportError
        No such dataset or version, or VERSION is not a number.
    """
    name, _, version_text = spec.partition("@")
    try:
        if version_text:
            if not version_text.isdigit():
                raise ExportError(f"{spec!r}: VERSION must be a number")
            frozen = catalog.dataset_version(name, int(version_text))
            return frozen.dataset, frozen.version, frozen.content_hash, False
        made = catalog.freeze_dataset(name, note="radcurate export")
        return made.dataset, made.version, made.content_hash, made.created
    except CurationError as exc:
        raise ExportError(str(exc)) from exc


def _label_sources(catalog: CatalogBackend, image_uid: str, members: Mapping[str, Any]) -> set[str]:
    """SEG/RTSTRUCT series of the catalog that reference ``image_uid``."""
    query = f'referenced_series:"{image_uid}" AND Modality:(SEG OR RTSTRUCT)'
    return set(catalog.series_uids(query))


def _channel_groups(
    catalog: CatalogBackend,
    channels: Sequence[Channel],
    documents: dict[str, dict[str, Any]],
    images: list[tuple[str, str]],
) -> tuple[list[tuple[str, tuple[str, ...]]], dict[str, str]]:
    """``(patient, channel series)`` of each study case, and why other image series are out."""
    matched = []
    for channel in channels:
        try:
            matched.append(frozenset(catalog.series_uids(channel.query)))
        except QueryError as exc:
            raise ExportError(f"--channel {channel.name}: {exc}") from exc
    try:
        studies, left_out = group_studies(channels, documents, [u for _, u in images], matched)
    except ChannelError as exc:
        raise ExportError(str(exc)) from exc
    return [(s.patient, s.series) for s in studies], left_out


def plan_export(
    catalog: CatalogBackend,
    spec: str,
    *,
    include_rejected: bool = False,
    prefix: str = "case",
    channels: Sequence[Channel] = (),
) -> ExportPlan:
    """Resolve (or freeze) the version and plan its cases.

    Rejected series (review status ``rejected``) are left out unless ``include_rejected``,
    as :func:`radcurate.catalog.review_store.exclude_rejected` takes them out of a query.
    With ``channels`` a case is a study with one series per channel (cases numbered over
    (PatientID, StudyInstanceUID) sorted).

    Raises
    ------
    ExportError
        No such dataset or version; a channel query that does not parse or two channel
        queries matching one series.
    """
    name, version, digest, froze = resolve_version(catalog, spec)
    members = catalog.version_members(name, version)
    uids = sorted(members)
    reviews = catalog.reviews.reviews_of(uids)
    documents: dict[str, dict[str, Any]] = {}
    left_out: dict[str, str] = {}
    images: list[tuple[str, str]] = []
    labels_in_version: list[str] = []
    for uid in uids:
        document = catalog.series_document(uid)
        if document is None:
            left_out[uid] = "the series is no longer in the catalog"
            continue
        documents[uid] = document
        review = reviews.get(uid)
        if review is not None and review.status == "rejected" and not include_rejected:
            left_out[uid] = "rejected in review (--include-rejected exports it)"
            continue
        modality = str(document.get("Modality") or "")
        if modality in LABEL_MODALITIES:
            labels_in_version.append(uid)
        elif modality in NON_IMAGE_MODALITIES or not document.get("Rows"):
            left_out[uid] = f"not an image series (Modality {modality or 'missing'})"
        else:
            images.append((str(document.get("PatientID") or ""), uid))
    images.sort()
    patients = sorted({p for p, _ in images})
    keys = {p: f"P{n:04d}" for n, p in enumerate(patients, start=1)}
    cases: list[Case] = []
    image_uids = {u for _, u in images}
    groups: list[tuple[str, tuple[str, ...]]] = [(p, (u,)) for p, u in images]
    if channels:
        groups, unmatched = _channel_groups(catalog, channels, documents, images)
        left_out.update(unmatched)
    for n, (patient, series) in enumerate(groups, start=1):
        sources: set[str] = set()
        for uid in series:
            sources |= _label_sources(catalog, uid, members)
        rejected = {
            s for s, r in catalog.reviews.reviews_of(sorted(sources)).items()
            if r.status == "rejected" and not include_rejected
        }  # fmt: skip
        cases.append(
            Case(f"{prefix}_{n:04d}", series[0], patient, keys[patient], documents[series[0]],
                 sorted(sources - rejected), channels=series if channels else ())
        )  # fmt: skip
    used = {s for c in cases for s in c.label_sources}
    for uid in labels_in_version:
        if uid not in used:
            refs = documents[uid].get("referenced_series") or []
            if any(r in members and r not in image_uids for r in refs):
                left_out[uid] = "a label series whose image is rejected"
            elif any(r in image_uids for r in refs):
                left_out[uid] = "a label series whose image is left out (see the image's row)"
            else:
                left_out[uid] = "a label series whose image is not in the version"
    return ExportPlan(name, version, digest, froze, cases, left_out, members, documents)
