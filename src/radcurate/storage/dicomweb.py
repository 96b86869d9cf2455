"""A store in a PACS: files go in by STOW-RS and come back by WADO-RS.

``dicomweb+http://host/dicom-web`` (or ``dicomweb+https://``) names the
DICOMweb root of the PACS (Orthanc: ``http://host:8042/dicom-web``). An
instance's location is its WADO-RS URL, which is all anything needs to read
it back. Files are retrieved with ``transfer-syntax=*`` so a PACS that keeps
what it was sent (Orthanc, dcm4chee) gives back the same bytes.

Examples
--------
>>> DicomWebStore.from_url("dicomweb+http://pacs:8042/dicom-web/").base
'http://pacs:8042/dicom-web'
"""

from __future__ import annotations

import io
import json
import secrets
import urllib.error
import urllib.request
from typing import BinaryIO

from radcurate.storage.base import StorageError

__all__ = ["DicomWebStore"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SCHEMES = ("dicomweb+http://", "dicomweb+https://")
_RETRIEVE = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def _boundary_of(content_type: str) -> str | None:
    for piece in content_type.split(";")[1:]:
        name, _, value = piece.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    return None


def _first_part(body: bytes, boundary: str) -> bytes:
    delimiter = b"--" + boundary.encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise StorageError("the PACS answered a multipart body without its boundary")
    head_end = body.find(b"\r\n\r\n", start)
    end = body.find(b"\r\n" + delimiter, head_end)
    if head_end < 0 or end < 0:
        raise StorageError("the PACS answered a truncated multipart body")
    return body[head_end + 4 : end]


class DicomWebStore:
    """Instances kept in a DICOMweb PACS."""

    def __init__(self, base: str, timeout: float = 120.0) -> None:
        self.base = base.rstrip("/")
        self.url = "dicomweb+" + self.base
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str) -> DicomWebStore:
        """``dicomweb+http(s)://host/path`` (the DICOMweb root)."""
        if not url.lower().startswith(SCHEMES):
            raise StorageError(f"{url!r} is not a dicomweb+http(s):// URL")
        base = url[len("dicomweb+") :]
        if not base.split("://", 1)[1].strip("/"):
            raise StorageError(f"storage URL {url!r} names no host")
        return cls(base)

    def location(self, study_uid: str, series_uid: str, sop_uid: str) -> str:
        """The WADO-RS URL of an instance."""
        return f"{self.base}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"

    def put(self, source: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
        """Send the file at ``source`` by STOW-RS; returns its WADO-RS URL.

        Raises
        ------
        OSError
            When the PACS cannot be reached or refuses the instance.
        """
        with open(source, "rb") as handle:
            data = handle.read()
        boundary = "radcurate-" + secrets.token_hex(16)
        body = (
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode("ascii")
            + data
            + f"\r\n--{boundary}--\r\n".encode("ascii")
        )
        request = urllib.request.Request(
            f"{self.base}/studies",
            data=body,
            method="POST",
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            raise OSError(f"the PACS refused {sop_uid}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise OSError(f"cannot reach the PACS at {self.base}: {exc.reason}") from exc
        try:
            failed = json.loads(answer).get("00081198", {}).get("Value") if answer else None
        except (ValueError, AttributeError):
            failed = None
        if failed:
            raise OSError(f"the PACS refused {sop_uid}: {failed}")
        return self.location(study_uid, series_uid, sop_uid)

    def read(self, location: str) -> bytes:
        """The bytes of an instance as the PACS keeps them."""
        request = urllib.request.Request(location, headers={"Accept": _RETRIEVE})
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise OSError(f"{location}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise OSError(f"cannot reach {location}: {exc.reason}") from exc
        boundary = _boundary_of(content_type)
        return _first_part(body, boundary) if boundary else bytes(body)

    def open(self, location: str) -> BinaryIO:
        """Retrieve an instance (WADO-RS) into memory and open it for reading."""
        return io.BytesIO(self.read(location))
