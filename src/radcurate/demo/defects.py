"""Deliberate defects: a duplicate file, a truncated file and non-DICOM files."""

from __future__ import annotations

import io

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from radcurate.demo.sink import Sink

__all__ = ["MARKER", "duplicate", "readme_text", "scanner_log", "truncated_bytes"]

#: First line of the README that marks a directory as a radcurate demo archive.
MARKER = "radcurate demo archive"


def duplicate(sink: Sink, rel: str) -> str:
    """Write a byte-identical copy of ``rel`` next to it; return the copy's path."""
    stem, dot, ext = rel.rpartition(".") if rel.endswith(".dcm") else (rel, "", "")
    copy = f"{stem}_copy{dot}{ext}"
    return sink.write_bytes(copy, (sink.root / rel).read_bytes(), readable=True)


def truncated_bytes(ds: Dataset) -> bytes:
    """Encode ``ds`` and cut it off inside its file meta header.

    The cut falls in the middle of the Media Storage SOP Class UID value, so the
    file has a valid preamble and ``DICM`` prefix but no SOP Class, SOP Instance,
    transfer syntax or any other attribute: no reader can make an instance of it
    (pydicom itself returns an empty dataset rather than raising).
    """
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    data = buffer.getvalue()
    anchor = data.find(str(ds.file_meta.MediaStorageSOPClassUID).encode(), 132)
    return data[: anchor + 7]


def scanner_log(patient_id: str, station: str) -> str:
    """Text of a small scanner export log (not DICOM)."""
    return (
        f"[export] station={station} patient={patient_id}\n"
        "[export] transfer started\n"
        "[export] WARNING: connection reset by peer, 1 file incomplete\n"
        "[export] transfer finished with errors\n"
    )


def readme_text(patients: int, seed: int, summary: str = "") -> str:
    """The archive's README: marker line, parameters and (at the end) a summary."""
    return (
        f"{MARKER}\n"
        f"parameters: patients={patients} seed={seed}\n\n"
        "Synthetic phantom images made by `radcurate demo`; no real patient data.\n"
        "This README and scanner-export.log are deliberately not DICOM.\n"
        f"{summary}"
    )
