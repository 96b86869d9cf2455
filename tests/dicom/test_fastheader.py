"""The fast scanner is an accelerator only: it must agree with pydicom on every shipped file."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from radcurate.dicom.fastheader import read_selected, read_selected_bytes
from radcurate.dicom.instance import RECORD_KEYWORDS, instance_record, record_from_values
from radcurate.dicom.reading import UnreadableDicomError, read_header
from tests.data import shipped_dicom_roots


def _files() -> list[Path]:
    return sorted(p for root in shipped_dicom_roots() for p in root.rglob("*") if p.is_file())


def test_fast_records_equal_pydicom_records() -> None:
    compared = fell_back = 0
    for path in _files():
        try:
            fast = read_selected(str(path), RECORD_KEYWORDS)
        except UnreadableDicomError:
            continue  # truncated: checked by the corpus ingest test

        if fast is None:
            fell_back += 1
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                dataset = read_header(path)
            except UnreadableDicomError:
                continue
        kwargs = {"location": str(path), "source": str(path), "size": 1, "mtime_ns": 1}
        try:
            slow = instance_record(dataset, **kwargs)
        except UnreadableDicomError:
            with pytest.raises(UnreadableDicomError):
                record_from_values(*fast, **kwargs)
            continue
        assert record_from_values(*fast, **kwargs) == slow, path.name
        compared += 1
    assert compared > 150
    assert fell_back > 5  # big endian, deflated, no preamble, broken files: pydicom's job


def test_truncated_header_is_a_clear_error(tmp_path: Path) -> None:
    source = next(p for p in _files() if p.name == "CT_small.dcm")
    data = source.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:600])
    with pytest.raises(UnreadableDicomError, match="truncated header: the file ends at byte 600"):
        read_selected(str(cut), RECORD_KEYWORDS)
    assert read_selected(str(source), RECORD_KEYWORDS) is not None


def test_reading_from_memory_agrees_with_reading_the_file() -> None:
    keywords = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "PatientID")
    compared = 0
    for path in _files():
        data = path.read_bytes()
        try:
            full = read_selected(str(path), keywords)
        except UnreadableDicomError:
            with pytest.raises(UnreadableDicomError):
                read_selected_bytes(data, keywords)
            continue
        assert read_selected_bytes(data, keywords) == full, path.name
        compared += full is not None
    assert compared > 150
