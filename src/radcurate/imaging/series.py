"""A series as the imaging code sees it: its document and instance rows, and where to look
up the series it references."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from radcurate.dicom.instance import InstanceRecord

__all__ = ["SeriesInput", "SeriesLookup", "load_series"]


class SeriesLookup(Protocol):
    """Where series are looked up by UID: a catalog (``CatalogBackend`` is one)."""

    def series_document(self, series_uid: str) -> dict[str, Any] | None:
        """The series document, or None when there is no such series."""
        ...

    def instances(self, series_uid: str) -> list[InstanceRecord]:
        """The instance rows of a series (empty when there is none)."""
        ...


@dataclass
class SeriesInput:
    """Everything a renderer, annotator or exporter may look at for one series.

    Attributes
    ----------
    catalog
        Where the series was found (SEG/RTSTRUCT look up the series they reference there).
    series_uid
        SeriesInstanceUID.
    document
        The series document (header of a representative instance plus derived facts).
    instances
        The instance rows of the series.
    """

    catalog: SeriesLookup
    series_uid: str
    document: dict[str, Any]
    instances: list[InstanceRecord]

    @property
    def modality(self) -> str:
        """Modality of the series ('' when absent)."""
        value = self.document.get("Modality")
        return value if isinstance(value, str) else ""

    @property
    def sop_class_uid(self) -> str:
        """SOPClassUID of the representative instance ('' when absent)."""
        value = self.document.get("SOPClassUID")
        return value if isinstance(value, str) else ""


def load_series(catalog: SeriesLookup, series_uid: str) -> SeriesInput:
    """The document and instance rows of a series.

    Raises
    ------
    KeyError
        When the catalog has no such series.
    """
    document = catalog.series_document(series_uid)
    if document is None:
        raise KeyError(f"no series {series_uid} in the catalog")
    return SeriesInput(catalog, series_uid, document, catalog.instances(series_uid))
