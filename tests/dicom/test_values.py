"""Value typing by VR, ages, dates, and the modules' own doctest examples."""

from __future__ import annotations

import doctest
import importlib

import pytest
from pydicom.dataelem import DataElement

from radcurate.dicom.values import age_in_years, iso_date, iso_datetime, iso_time, typed_value


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("045Y", 45.0),
        ("001Y", 1.0),
        ("006M", 0.5),
        ("018M", 1.5),
        ("003W", 3 * 7 / 365.25),
        ("010D", 10 / 365.25),
        ("000D", 0.0),
        (" 12Y ", 12.0),
    ],
)
def test_age_string_units(text: str, years: float) -> None:
    assert age_in_years(text) == pytest.approx(years)


@pytest.mark.parametrize("text", ["", "45", "Y", "045X", "1234Y", "-01Y", "45 years"])
def test_invalid_age_strings(text: str) -> None:
    assert age_in_years(text) is None


def test_dates_and_times() -> None:
    assert iso_date("20240229") == "2024-02-29"
    assert iso_date("20241301") is None
    assert iso_time("235959.999999") == "23:59:59.999999"
    assert iso_time("2500") is None
    assert iso_datetime("20200102030405.5+0100") == "2020-01-02T03:04:05.5+01:00"
    assert iso_datetime("2020") == "2020"


@pytest.mark.parametrize(
    ("vr", "raw", "expected"),
    [
        ("DS", "2.5", 2.5),
        ("DS", ["0.7", "0.7"], [0.7, 0.7]),
        ("IS", "12", 12),
        ("US", 512, 512),
        ("CS", ["ORIGINAL", "PRIMARY", "AXIAL"], ["ORIGINAL", "PRIMARY", "AXIAL"]),
        ("DA", "20190131", "2019-01-31"),
        ("TM", "083000", "08:30:00"),
        ("LO", "  Siemens  ", "Siemens"),
        ("AS", "063Y", "063Y"),
        ("CS", "", None),
        ("OB", b"\x00\x01", "AAE="),
    ],
)
def test_typed_value(vr: str, raw: object, expected: object) -> None:
    assert typed_value(DataElement(0x00100010 if vr == "PN" else 0x00091010, vr, raw)) == expected


def test_long_binary_is_summarised() -> None:
    assert typed_value(DataElement(0x00091010, "OB", b"\x00" * 1000)) == {"binary_bytes": 1000}


@pytest.mark.parametrize(
    "module",
    [
        "radcurate.dicom.values",
        "radcurate.dicom.document",
        "radcurate.dicom.geometry",
        "radcurate.catalog",
        "radcurate.catalog.fields",
        "radcurate.catalog.sqlite",
        "radcurate.storage.filesystem",
        "radcurate.optional",
        "radcurate.ingest.pipeline",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
    assert result.attempted > 0
