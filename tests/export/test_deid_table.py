"""The generated PS3.15 Table E.1-1 matches its sources and holds every action code."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from radcurate.export import deid_table, deid_tablegen

CODES = {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_table_has_every_row_and_action_code() -> None:
    assert len(deid_table.BASIC) + len(deid_table.MASKED) >= 600
    assert set(deid_table.BASIC_BY_CODE) == CODES
    assert all(deid_table.BASIC_BY_CODE[c] for c in CODES)
    # a few well-known rows
    assert deid_table.BASIC[0x00100010] == "Z"  # Patient's Name
    assert deid_table.BASIC[0x00080018] == "U"  # SOP Instance UID
    assert deid_table.BASIC[0x00080080] == "X/Z/D"  # Institution Name
    assert deid_table.BASIC[0x00081140] == "X/Z/U*"  # Referenced Image Sequence
    assert deid_table.OPTIONS["retain_long_modified_dates"][0x00080020] == "C"


@pytest.mark.skipif(
    not (_installed("dicom-anonymizer") and _installed("dicom-standard")),
    reason="table sources not installed (pip install --no-deps dicom-anonymizer dicom-standard)",
)
def test_generated_table_matches_sources() -> None:
    committed = Path(deid_table.__file__).read_text(encoding="utf-8")
    assert deid_tablegen.render() == committed
