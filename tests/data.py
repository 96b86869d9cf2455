"""Where the offline DICOM test files live."""

from __future__ import annotations

from pathlib import Path


def shipped_dicom_roots() -> list[Path]:
    """Folders of the DICOM files pydicom and pydicom-data ship (walked, never downloaded)."""
    import data_store
    import pydicom.data

    return [Path(pydicom.data.__file__).parent, Path(data_store.__file__).parent]
