"""The byte-level fast path gives the same dataset as the pydicom path, and is fast."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from radcurate.export.deid import DeidOptions, _method, _plan, _vr_of, deidentify, deidentify_file
from radcurate.export.deid_stream import deidentify_bytes, deidentify_head

KEY = b"stream-key-98765"
FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb.dcm", "test-SR.dcm",
         "priv_SQ.dcm", "nested_priv_SQ.dcm", "JPEG2000.dcm", "rtdose.dcm"]  # fmt: skip
OPTION_SETS = [
    DeidOptions(key=KEY),
    DeidOptions(key=KEY, retain_long_modified_dates=True, retain_uids=True),
    DeidOptions(key=KEY, retain_device_identity=True, retain_patient_characteristics=True),
]


def _flat(ds: Dataset) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    ds.walk(lambda _d, e: rows.append((str(e.tag), e.VR, "" if e.VR == "SQ" else repr(e.value))))
    return rows


def _fast(path: str, options: DeidOptions) -> bytes | None:
    data = Path(path).read_bytes()
    return deidentify_bytes(data, options, _plan(options.flags()), _method(options), _vr_of)


@pytest.mark.parametrize("options", OPTION_SETS, ids=["basic", "dates+uids", "device+chars"])
@pytest.mark.parametrize("name", FILES)
def test_fast_path_equals_pydicom_path(name: str, options: DeidOptions) -> None:
    path = get_testdata_file(name)
    assert path is not None
    fast = _fast(path, options)
    buffer = io.BytesIO()
    deidentify(dcmread(path), options).save_as(buffer, enforce_file_format=False)
    slow = dcmread(io.BytesIO(buffer.getvalue()))
    if fast is None:
        pytest.fail(f"{name}: fast path declined")
    got = dcmread(io.BytesIO(fast))
    assert _flat(got) == _flat(slow)
    assert got.file_meta.MediaStorageSOPInstanceUID == slow.file_meta.MediaStorageSOPInstanceUID
    assert got.file_meta.TransferSyntaxUID == slow.file_meta.TransferSyntaxUID
    assert got.preamble == b"\0" * 128


@pytest.mark.parametrize("options", OPTION_SETS, ids=["basic", "dates+uids", "device+chars"])
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "rtdose.dcm", "SC_rgb.dcm"])
def test_one_walk_of_the_head_gives_the_whole_paths_header(name: str, options: DeidOptions) -> None:
    """deidentify_head finds the Pixel Data while rewriting what lies before it, and writes
    what the whole-file walk writes for those bytes."""
    path = get_testdata_file(name)
    assert path is not None
    data = Path(path).read_bytes()
    plan, method = _plan(options.flags()), _method(options)
    found = deidentify_head(data, options, plan, method, _vr_of)
    assert found is not None
    header, start, end = found
    assert data[start : start + 4] == b"\xe0\x7f\x10\x00"  # (7FE0,0010)
    pixels = dcmread(path).PixelData
    assert end <= len(data) and data[end - len(pixels) : end] == pixels
    assert header == deidentify_bytes(data[:start], options, plan, method, _vr_of)
    # a head cut inside the header is declined (the caller reads further), never half-done
    assert deidentify_head(data[: start // 2], options, plan, method, _vr_of) is None


def test_fast_path_declines_what_it_cannot_do() -> None:
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    assert _fast(path, DeidOptions(key=KEY, clean_descriptors=True)) is None
    assert _fast(path, DeidOptions(key=KEY, retain_safe_private=True)) is None
    big = get_testdata_file("MR_small_bigendian.dcm")
    assert big is not None
    assert _fast(big, DeidOptions(key=KEY)) is None
    out = io.BytesIO()
    deidentify_file(big, out, DeidOptions(key=KEY))  # the pydicom path takes it
    assert dcmread(io.BytesIO(out.getvalue())).PatientIdentityRemoved == "YES"


def test_throughput_small_ct() -> None:
    """Instances per second, CT_small read from and written to memory (printed; floor 500/s).

    The target is 2,000/s; the floor only catches a fall back to the pydicom path (~400/s) on
    a machine shared with other jobs.
    """
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    data = Path(path).read_bytes()
    options = DeidOptions(key=KEY)
    n = 300
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            deidentify_file(io.BytesIO(data), io.BytesIO(), options)
        best = max(best, n / (time.perf_counter() - start))
    print(f"deid CT_small: {best:.0f} instances/s")
    assert best > 500


def _un(tag: int, value: bytes) -> bytes:
    value += b"\0" if len(value) % 2 else b""
    return (
        struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        + b"UN\0\0"
        + struct.pack("<I", len(value))
        + value
    )


def test_standard_elements_stored_as_un_are_still_processed() -> None:
    """Explicit VR UN on standard tags (some converters write it): the pydicom path takes them."""
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    data = Path(path).read_bytes()
    # splice two UN elements in tag order, just before (0008,1090) Manufacturer's Model Name
    at = data.index(struct.pack("<HH", 0x0008, 0x1090) + b"LO")
    extra = _un(0x00081030, b"Study of Jane Roe") + _un(0x00081155, b"1.2.3.4.55555")
    raw = data[:at] + extra + data[at:]
    options = DeidOptions(key=KEY)
    assert deidentify_bytes(raw, options, _plan(options.flags()), _method(options),
                            _vr_of) is None  # fmt: skip
    out = io.BytesIO()
    deidentify_file(io.BytesIO(raw), out, options)
    assert b"1.2.3.4.55555" not in out.getvalue() and b"Jane Roe" not in out.getvalue()
    # the original bytes do carry them (the check can fail)
    assert b"Jane Roe" in raw


def test_private_sop_class_is_kept_in_dataset_and_meta() -> None:
    """Class UIDs name no patient: a vendor's private SOP class stays (dataset = file meta)."""
    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    ds = dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.3.4.5.6.7"
    raw = io.BytesIO()
    ds.save_as(raw, enforce_file_format=False)
    for options in (DeidOptions(key=KEY), DeidOptions(key=KEY, clean_descriptors=True)):
        out = io.BytesIO()
        deidentify_file(io.BytesIO(raw.getvalue()), out, options)  # fast and pydicom paths
        got = dcmread(io.BytesIO(out.getvalue()))
        assert got.SOPClassUID == got.file_meta.MediaStorageSOPClassUID == "1.2.3.4.5.6.7"
        assert got.SOPInstanceUID != ds.SOPInstanceUID
