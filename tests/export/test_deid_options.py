"""Keyed UIDs, references, date shifts, each option, burned-in risk (pydicom's test files)."""

from __future__ import annotations

import copy
import io

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from radcurate.export.deid import DeidOptions, burned_in_risk, deidentify, deidentify_file
from radcurate.export.deid_uids import date_shift_days

KEY = b"test-key-0123456789"


def _read(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert path is not None
    return dcmread(path, force=True)


def _uids(ds: Dataset) -> set[str]:
    found: set[str] = set()

    def visit(d: Dataset, elem: object) -> None:
        if getattr(elem, "VR", None) == "UI" and getattr(elem, "value", None):
            value = elem.value  # type: ignore[attr-defined]
            found.update(str(v) for v in (value if isinstance(value, list) else [value]))

    ds.walk(visit)
    return found


def test_same_key_same_uids_other_key_other_uids() -> None:
    a = deidentify(_read("CT_small.dcm"), DeidOptions(key=KEY))
    b = deidentify(_read("CT_small.dcm"), DeidOptions(key=KEY))
    c = deidentify(_read("CT_small.dcm"), DeidOptions(key=b"another-key-000"))
    assert a.SOPInstanceUID == b.SOPInstanceUID and a.StudyInstanceUID == b.StudyInstanceUID
    assert a.SOPInstanceUID != c.SOPInstanceUID
    assert a.SOPInstanceUID.startswith("2.25.") and len(a.SOPInstanceUID) <= 64
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    assert a.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # well-known UIDs kept
    original = _read("CT_small.dcm")
    assert not _uids(a) & {original.SOPInstanceUID, original.FrameOfReferenceUID}


def _values(ds: Dataset, keyword: str) -> set[str]:
    found: set[str] = set()

    def visit(d: Dataset, elem: object) -> None:
        if getattr(elem, "keyword", None) == keyword and getattr(elem, "value", None):
            found.add(str(elem.value))  # type: ignore[attr-defined]

    ds.walk(visit)
    return found


@pytest.mark.parametrize("name", ["rtstruct.dcm", "rtplan.dcm", "test-SR.dcm"])
def test_references_are_mapped_consistently(name: str) -> None:
    from radcurate.export.deid_uids import replace_uid

    original = _read(name)
    out = deidentify(copy.deepcopy(original), DeidOptions(key=KEY))
    keywords = ("ReferencedSOPInstanceUID", "FrameOfReferenceUID", "ReferencedFrameOfReferenceUID")
    for keyword in (*keywords, "SeriesInstanceUID", "StudyInstanceUID"):
        before, after = _values(original, keyword), _values(out, keyword)
        assert after == {replace_uid(KEY, u) for u in before}, keyword
        assert not after & before


def test_dates_shift_per_patient_and_times_kept() -> None:
    options = DeidOptions(key=KEY, retain_long_modified_dates=True)
    original = _read("CT_small.dcm")
    out = deidentify(copy.deepcopy(original), options)
    days = date_shift_days(KEY, original.PatientID)
    assert -3650 <= days <= -1
    import datetime as dt

    def day(text: str) -> dt.date:
        return dt.datetime.strptime(text, "%Y%m%d").date()

    assert day(out.StudyDate) - day(original.StudyDate) == dt.timedelta(days=days)
    assert day(out.AcquisitionDate) - day(original.AcquisitionDate) == dt.timedelta(days=days)
    assert out.StudyTime == original.StudyTime  # TM kept
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    # the same patient in another series moves by the same number of days
    other = copy.deepcopy(original)
    other.StudyDate = "20010101"
    assert deidentify(other, options).StudyDate == (day("20010101") + dt.timedelta(days)).strftime(
        "%Y%m%d"
    )
    # another patient moves differently; without the option, dates are emptied
    assert date_shift_days(KEY, "someone else") != days
    plain = deidentify(copy.deepcopy(original), DeidOptions(key=KEY))
    assert not plain.StudyDate and not plain.get("AcquisitionDate")
    assert plain.LongitudinalTemporalInformationModified == "REMOVED"


def test_each_option_changes_what_it_should() -> None:
    original = _read("CT_small.dcm")
    original.PatientAge, original.PatientWeight = "041Y", 80
    original.DeviceSerialNumber = "SN-4711"
    original.SeriesDescription = f"Liver {original.PatientName} 1234567"

    def run(**flags: bool) -> Dataset:
        return deidentify(copy.deepcopy(original), DeidOptions(key=KEY, **flags))

    base = run()
    assert "PatientAge" not in base and base.DeviceSerialNumber == "ANONYMIZED"  # X, X/Z/D
    assert "SeriesDescription" not in base
    chars = run(retain_patient_characteristics=True)
    assert chars.PatientAge == "041Y" and chars.PatientSex == original.PatientSex
    assert chars.DeviceSerialNumber == "ANONYMIZED"
    device = run(retain_device_identity=True)
    assert device.DeviceSerialNumber == "SN-4711" and "PatientAge" not in device
    uids = run(retain_uids=True)
    assert uids.SOPInstanceUID == original.SOPInstanceUID
    assert uids.FrameOfReferenceUID == original.FrameOfReferenceUID
    clean = run(clean_descriptors=True)
    assert clean.SeriesDescription.startswith("Liver")
    assert str(original.PatientName).split("^")[0] not in clean.SeriesDescription
    assert "1234567" not in clean.SeriesDescription
    codes = [item.CodeValue for item in clean.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113105"]
    assert base.PatientIdentityRemoved == "YES"
    assert [i.CodeValue for i in base.DeidentificationMethodCodeSequence] == ["113100"]


def test_retain_safe_private_keeps_only_allow_listed_numeric() -> None:
    ds = _read("CT_small.dcm")
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x0C, "IS", "1000")
    block.add_new(0x10, "LO", "free text about the patient")
    kept = deidentify(copy.deepcopy(ds), DeidOptions(key=KEY, retain_safe_private=True))
    assert kept[block.get_tag(0x0C)].value == 1000 and block.get_tag(0x10) not in kept
    assert kept[(0x0019 << 16) | (block.get_tag(0x0C).element >> 8)].value == "SIEMENS MR HEADER"
    assert all(elem.tag.group != 0x0009 for elem in kept)  # GE private groups gone
    dropped = deidentify(copy.deepcopy(ds), DeidOptions(key=KEY))
    assert not any(elem.tag.is_private for elem in dropped)


def test_pixel_bytes_unchanged_through_file(tmp_path: object) -> None:
    for name in ("CT_small.dcm", "MR_small.dcm", "SC_rgb.dcm", "JPEG2000.dcm"):
        src = get_testdata_file(name)
        assert src is not None
        out = io.BytesIO()
        deidentify_file(src, out, DeidOptions(key=KEY))
        before, after = dcmread(src), dcmread(io.BytesIO(out.getvalue()))
        assert after.PixelData == before.PixelData
        assert after.file_meta.TransferSyntaxUID == before.file_meta.TransferSyntaxUID


def test_burned_in_risk() -> None:
    assert burned_in_risk(_read("CT_small.dcm")) is None
    assert burned_in_risk(_read("MR_small.dcm")) is None
    assert burned_in_risk(_read("SC_rgb.dcm")) == "SOP class Secondary Capture"
    us = _read("CT_small.dcm")
    us.Modality = "US"
    assert burned_in_risk(us) == "Modality US (ultrasound)"
    ct = _read("CT_small.dcm")
    ct.BurnedInAnnotation = "YES"
    assert burned_in_risk(ct) == "BurnedInAnnotation is YES"
    ct.BurnedInAnnotation = "NO"
    ct.RecognizableVisualFeatures = "YES"
    assert burned_in_risk(ct) == "RecognizableVisualFeatures is YES"
    doc = Dataset()
    doc.SOPClassUID = "1.2.840.10008.5.1.4.1.1.104.1"
    assert burned_in_risk(doc) == "SOP class Encapsulated PDF"


def test_short_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 8 bytes"):
        DeidOptions(key=b"short")


def test_method_with_every_option_fits_lo() -> None:
    options = DeidOptions(
        key=KEY,
        retain_long_modified_dates=True,
        retain_patient_characteristics=True,
        retain_device_identity=True,
        retain_uids=True,
        clean_descriptors=True,
        retain_safe_private=True,
    )
    out = deidentify(_read("CT_small.dcm"), options)
    assert len(out.DeidentificationMethod) <= 64
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107", "113108", "113109", "113110", "113105", "113111"]
    for item in out.DeidentificationMethodCodeSequence:
        assert item.CodingSchemeDesignator == "DCM" and item.CodeMeaning
