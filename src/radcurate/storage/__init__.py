"""Where instances live: referenced in place, or copied into a store chosen by URL."""

from __future__ import annotations

from radcurate.storage.base import StorageBackend, StorageError

__all__ = ["StorageBackend", "StorageError", "open_storage"]


def open_storage(url: str) -> StorageBackend:
    """Open the store at ``url`` (``file:///path``, a plain path, or ``dicomweb+http://...``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme == "file":
        from radcurate.storage.filesystem import FileStore

        return FileStore.from_url(url)
    if scheme in ("dicomweb+http", "dicomweb+https"):
        from radcurate.storage.dicomweb import DicomWebStore

        return DicomWebStore.from_url(url)
    raise StorageError(
        f"unknown storage URL scheme {scheme!r} in {url!r}: "
        "use file:///path or dicomweb+http://host/dicom-web"
    )
