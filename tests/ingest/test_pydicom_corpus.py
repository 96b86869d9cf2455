"""Every file pydicom and pydicom-data ship offline goes through ingest.

Readable files appear with values equal to pydicom's (checked here with an
independent reading of the same file); unreadable ones are listed with a
reason while the rest goes on.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from radcurate.catalog import CatalogBackend, open_catalog
from radcurate.ingest import ingest
from tests.data import shipped_dicom_roots

PRIVATE_KEY = re.compile(r"^[0-9A-F]{8}$")
STRING_VRS = {"AE", "CS", "LO", "SH", "UI", "LT", "ST", "UT", "UC", "UR"}
NUMBER_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "IS", "DS"}
CHARSET_FILES = {
    "chrArab.dcm", "chrFren.dcm", "chrFrenMulti.dcm", "chrGerm.dcm", "chrGreek.dcm",
    "chrH31.dcm", "chrH32.dcm", "chrHbrw.dcm", "chrI2.dcm", "chrJapMulti.dcm",
    "chrJapMultiExplicitIR6.dcm", "chrKoreanMulti.dcm", "chrRuss.dcm", "chrX1.dcm", "chrX2.dcm",
}  # fmt: skip


#: pydicom returns a partial header for these without complaint; ingest must refuse them
TRUNCATED_HEADERS = {"rtplan_truncated.dcm"}


def _all_files() -> list[Path]:
    return sorted(p for root in shipped_dicom_roots() for p in root.rglob("*") if p.is_file())


def _pydicom_reads(path: Path) -> Dataset | None:
    """pydicom's own verdict, independent of radcurate's reader."""
    if path.name in TRUNCATED_HEADERS:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            except Exception:  # noqa: BLE001
                return None
        try:
            uids = [ds.get(k) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
        except Exception:  # noqa: BLE001
            return None
    if "DirectoryRecordSequence" in ds or not all(uids):
        return None
    return ds


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[CatalogBackend, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'c.sqlite'}"
    catalog = open_catalog(url)
    summary = ingest(shipped_dicom_roots(), catalog, workers=2)
    return catalog, summary


def test_every_file_is_either_ingested_or_listed_with_a_reason(corpus: Any) -> None:
    catalog, summary = corpus
    files = _all_files()
    readable = {str(p) for p in files if _pydicom_reads(p) is not None}
    assert len(readable) > 200
    ingested = {
        r.source
        for d in catalog.iter_series_documents()
        for r in catalog.instances(d["SeriesInstanceUID"])
    }
    errors = {e.source: e.reason for e in catalog.errors()}
    assert ingested == readable
    assert set(errors) == {str(p) for p in files} - readable
    assert all(reason.strip() for reason in errors.values())
    assert summary.files_seen == len(files)


def test_known_broken_files_have_specific_reasons(corpus: Any) -> None:
    catalog, _ = corpus
    reasons = {os.path.basename(e.source): e.reason for e in catalog.errors()}
    assert reasons["README.txt"].startswith("not a DICOM file")
    assert "DICOMDIR" in reasons["DICOMDIR"]
    assert "missing StudyInstanceUID" in reasons["nested_priv_SQ.dcm"]
    for name in TRUNCATED_HEADERS:
        assert reasons[name].startswith("truncated header: the file ends at byte")
    assert "MR_truncated.dcm" not in reasons  # cut inside its pixel data: the header is whole


def _expected(vr: str, value: Any) -> Any:
    """The typed value an element should have in the document (None: absent)."""
    values = list(value) if isinstance(value, (MultiValue, list)) else [value]
    out: list[Any] = []
    for item in values:
        if item is None or item == "":
            continue
        if vr in NUMBER_VRS:
            try:
                number = float(item)
            except (TypeError, ValueError):
                number = math.nan
            out.append(str(item).strip() if math.isnan(number) else number)
        elif vr == "DA":
            text = str(item).strip().replace(".", "")  # ACR-NEMA wrote YYYY.MM.DD
            ok = len(text) == 8 and text.isdigit() and 1 <= int(text[4:6]) <= 12
            out.append(f"{text[:4]}-{text[4:6]}-{text[6:]}" if ok else text)
        elif vr == "PN":
            out.append(str(item).strip())
        else:
            out.append(str(item).strip(" \x00"))
    out = [v for v in out if v != ""]
    if not out:
        return None
    return out if len(out) > 1 else out[0]


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, float):
        return isinstance(actual, (int, float)) and math.isclose(actual, expected, rel_tol=1e-9)
    return bool(actual == expected)


def _compare(ds: Dataset, doc: dict[str, Any], where: str, problems: list[str]) -> int:
    checked = 0
    for element in ds:
        if element.tag.element == 0 or element.tag == 0x7FE00010:
            continue
        name = (
            element.keyword
            if (element.keyword and not element.tag.is_private)
            else f"{int(element.tag):08X}"
        )
        vr = str(element.VR)
        try:
            value = element.value
        except Exception:  # noqa: BLE001
            continue
        if vr == "SQ":
            items = doc.get(name, [])
            if len(items) != len(value):
                problems.append(f"{where} {name}: {len(items)} items, pydicom has {len(value)}")
            for i, (item, doc_item) in enumerate(zip(value, items, strict=False)):
                checked += _compare(item, doc_item, f"{where} {name}[{i}]", problems)
            continue
        if vr not in STRING_VRS | NUMBER_VRS | {"DA", "PN"}:
            continue
        expected = _expected(vr, value)
        actual = doc.get(name)
        if expected is None:
            continue
        checked += 1
        if not _same(actual, expected):
            problems.append(f"{where} {name} ({vr}): {actual!r} != pydicom {expected!r}")
    return checked


def test_documents_equal_pydicom_values(corpus: Any) -> None:
    catalog, _ = corpus
    problems: list[str] = []
    checked = private = sequences = charsets = 0
    for doc in catalog.iter_series_documents():
        sources = sorted(r.source for r in catalog.instances(doc["SeriesInstanceUID"]))
        representative = Path(sources[0])
        ds = _pydicom_reads(representative)
        assert ds is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checked += _compare(ds, doc, representative.name, problems)
        private += sum(1 for k in doc if PRIVATE_KEY.match(k) and int(k[:4], 16) % 2)
        sequences += sum(
            1 for v in doc.values() if isinstance(v, list) and len(v) > 1 and isinstance(v[0], dict)
        )
        if representative.name in CHARSET_FILES:
            charsets += 1
            assert doc["PatientName"] == str(ds.PatientName)
    assert problems == [], "\n".join(problems)
    assert checked > 3000
    assert private > 20, "private tags must be kept, addressable by tag number"
    assert sequences > 3, "multi-item sequences must be kept whole"
    assert charsets >= 10, "the character-set files must be ingested with decoded names"


def test_japanese_name_is_decoded(corpus: Any) -> None:
    catalog, _ = corpus
    names = {d.get("PatientName") for d in catalog.iter_series_documents()}
    assert "Yamada^Tarou=山田^太郎=やまだ^たろう" in names
    assert any(isinstance(n, str) and "Люкceмбypг" in n for n in names)
