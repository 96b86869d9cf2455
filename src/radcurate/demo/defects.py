"""Deliberate defects: a duplicate file, a truncated file, non-DICOM files; the README.

The QC phantom patient's defects (one series each) are planted by
:mod:`radcurate.demo.qcwrite`; the README lists them.
"""

from __future__ import annotations

import io

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from radcurate.demo.sink import Sink

__all__ = [
    "MARKER",
    "duplicate",
    "parameters_line",
    "readme_text",
    "scanner_log",
    "truncated_bytes",
]

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


def parameters_line(patients: int, seed: int, qc: bool, qc_default: bool) -> str:
    """The README line that names an archive's parameters (the QC switch only if not default)."""
    switch = "" if qc == qc_default else f" qc-defects={'yes' if qc else 'no'}"
    return f"parameters: patients={patients} seed={seed}{switch}\n"


def _qc_text(qc_defects: tuple[tuple[str, str], ...]) -> str:
    if not qc_defects:
        return ""
    lines = "".join(f"  - {name}: {text}\n" for name, text in qc_defects)
    return (
        "\nPatient QCPHANTOM<seed> (study CT ABDOMEN QC PHANTOM) holds one clean reference\n"
        "series (QC reference) and one series per defect that radcurate's quality-control\n"
        "checks look for; qc-defects.json names each series, the qc.* fields expected to\n"
        "flag it and the planted values, and lists the series without defects:\n"
        f"{lines}"
    )


def readme_text(
    patients: int,
    seed: int,
    summary: str = "",
    *,
    qc: bool = False,
    qc_default: bool = False,
    qc_defects: tuple[tuple[str, str], ...] = (),
) -> str:
    """The archive's README: marker line, parameters, the defects and (at the end) a summary.

    Parameters
    ----------
    patients, seed
        The archive's parameters.
    summary
        Counts appended at the end once the archive is written.
    qc, qc_default
        Whether the QC phantom is written, and whether that is the default for ``patients``.
    qc_defects
        ``(name, description)`` of each planted QC defect.
    """
    others = ", scanner-export.log and qc-defects.json" if qc else " and scanner-export.log"
    return (
        f"{MARKER}\n"
        f"{parameters_line(patients, seed, qc, qc_default)}\n"
        "Synthetic phantom images made by `radcurate demo`; no real patient data.\n"
        f"This README{others} are deliberately not DICOM.\n"
        "Deliberate defects: a CT series with one missing slice (and a byte-identical\n"
        "duplicate of one of its files), a CT series with ten times its kernel's noise (and\n"
        "a truncated extra slice beside it), a scanner log that is not DICOM.\n"
        f"{_qc_text(qc_defects)}"
        f"{summary}"
    )
