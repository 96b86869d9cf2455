"""The storage contract."""

from __future__ import annotations

from typing import BinaryIO, Protocol, runtime_checkable


class StorageError(Exception):
    """A store cannot be used; the message says what to do."""


@runtime_checkable
class StorageBackend(Protocol):
    """A place that keeps instance files and gives them back."""

    url: str

    def put(self, source: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
        """Copy the file at ``source`` into the store; returns its location there."""

    def open(self, location: str) -> BinaryIO:
        """Open a stored instance for reading."""
