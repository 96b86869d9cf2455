"""Open an instance wherever its catalog location says it is.

A location is a file path, a ``file://`` URL, or an ``http(s)://`` WADO-RS URL
of an instance kept in a PACS (pull-ingest, the ``dicomweb+http://`` store).
Readers (the DICOMweb server, renderers) call :func:`open_location` instead of
``open`` so series held in a PACS are read the same way as local files.

Examples
--------
>>> is_remote("http://pacs/dicom-web/studies/1/series/2/instances/3"), is_remote("/data/x.dcm")
(True, False)
"""

from __future__ import annotations

import io
from typing import BinaryIO

from radcurate.storage.dicomweb import DicomWebStore

__all__ = ["is_remote", "local_path", "open_location", "read_location"]


def is_remote(location: str) -> bool:
    """Whether a location is a URL to fetch (rather than a local file)."""
    return location.startswith(("http://", "https://"))


def local_path(location: str) -> str:
    """The file path of a local location (``file://`` URLs accepted)."""
    return location[len("file://") :] if location.startswith("file://") else location


def read_location(location: str, timeout: float = 120.0) -> bytes:
    """The bytes of the instance at ``location``.

    Raises
    ------
    OSError
        When the file cannot be read or the PACS cannot be reached.
    """
    if is_remote(location):
        base = location.split("/studies/", 1)[0]
        return DicomWebStore(base, timeout=timeout).read(location)
    with open(local_path(location), "rb") as handle:
        return handle.read()


def open_location(location: str) -> BinaryIO:
    """Open the instance at ``location`` for reading (remote ones are fetched into memory)."""
    if is_remote(location):
        return io.BytesIO(read_location(location))
    return open(local_path(location), "rb")
