"""The header path of a de-identified copy (pixel data copied file to file, hashed while
copied) writes the same bytes as the whole-file path, and falls back where it must."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from radcurate.dicom.instance import InstanceRecord
from radcurate.export.deid import DeidOptions, _method, _plan, _vr_of, deidentify_file
from radcurate.export.deid_copy import deidentify_header
from radcurate.export.dicom_copy import copy_instances

KEY = b"copy-key-2468"


def _big_ct(path: Path, syntax: str, seed: int = 0, padding: int = 0, private: int = 0) -> Path:
    """CT_small's header over 512 x 512 int16 pixels (a 0.5 MB file, as a CT slice)."""
    source = get_testdata_file("CT_small.dcm")
    assert source is not None
    ds = dcmread(source)
    ds.Rows = ds.Columns = 512
    pixels = np.random.default_rng(seed).integers(-1000, 2000, (512, 512), dtype=np.int16)
    ds.PixelData = pixels.tobytes()
    ds.InstanceNumber = seed + 1
    uid = f"1.2.826.0.1.3680043.8.498.{seed + 7}"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.DataSetTrailingPadding = b"\0" * padding  # CT_small has 128 bytes of it
    if not padding:
        del ds.DataSetTrailingPadding
    if private:  # a long header: a vendor's private blob before the pixel data
        ds.private_block(0x0029, "RADCURATE TEST", create=True).add_new(0x10, "OB", b"\1" * private)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(path, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True,
               enforce_file_format=True)  # fmt: skip
    return path


def _whole_file(path: Path, options: DeidOptions) -> bytes:
    out = io.BytesIO()
    deidentify_file(io.BytesIO(path.read_bytes()), out, options)
    return out.getvalue()


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize(
    "options",
    [DeidOptions(key=KEY), DeidOptions(key=KEY, retain_long_modified_dates=True, retain_uids=True)],
    ids=["basic", "dates+uids"],
)
@pytest.mark.parametrize("private", [0, 40_000], ids=["short-header", "long-header"])
def test_header_path_writes_the_whole_file_paths_bytes(
    tmp_path: Path, syntax: str, options: DeidOptions, private: int
) -> None:
    src = _big_ct(tmp_path / "ct.dcm", syntax, private=private)
    dst = tmp_path / "out.dcm"
    digest = hashlib.sha256()
    # the header path takes it (pixel data last, defined length) ...
    assert deidentify_header(src, dst, options, _plan(options.flags()), _method(options), _vr_of,
                             digest)  # fmt: skip
    written = dst.read_bytes()
    # ... and writes what reading the whole file writes, pixel bytes untouched
    assert written == _whole_file(src, options)
    assert digest.hexdigest() == hashlib.sha256(written).hexdigest()
    original = dcmread(src)
    got = dcmread(dst)
    assert got.PixelData == original.PixelData
    assert got.PatientIdentityRemoved == "YES"
    assert str(original.PatientName) and str(original.PatientName) not in str(got.PatientName)


@pytest.mark.parametrize("padding", [128, 100_000])
def test_elements_after_the_pixel_data(tmp_path: Path, padding: int) -> None:
    """A short tail (Data Set Trailing Padding) is rewritten with the header; a long one makes
    the whole file be read. Either way the bytes are the whole-file path's."""
    src = _big_ct(tmp_path / "ct.dcm", ExplicitVRLittleEndian, padding=padding)
    options = DeidOptions(key=KEY)
    plan, method = _plan(options.flags()), _method(options)
    taken = deidentify_header(src, tmp_path / "x.dcm", options, plan, method, _vr_of)
    assert taken == (padding < 65536)
    assert (tmp_path / "x.dcm").exists() == taken
    deidentify_file(src, tmp_path / "out.dcm", options)
    assert (tmp_path / "out.dcm").read_bytes() == _whole_file(src, options)
    assert dcmread(tmp_path / "out.dcm").PatientIdentityRemoved == "YES"
    assert "DataSetTrailingPadding" in dcmread(src)


def test_small_and_compressed_files_take_the_whole_file_path(tmp_path: Path) -> None:
    options = DeidOptions(key=KEY)
    plan, method = _plan(options.flags()), _method(options)
    for name in ("CT_small.dcm", "JPEG2000.dcm"):
        path = get_testdata_file(name)
        assert path is not None
        assert not deidentify_header(path, tmp_path / name, options, plan, method, _vr_of)
        deidentify_file(path, tmp_path / name, options)
        assert (tmp_path / name).read_bytes() == _whole_file(Path(path), options)


def _records(paths: list[Path]) -> list[InstanceRecord]:
    records = []
    for n, path in enumerate(paths):
        ds: Dataset = dcmread(path, stop_before_pixels=True)
        records.append(InstanceRecord(
            location=path.as_uri(), source=str(path), size=path.stat().st_size, mtime_ns=0,
            study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID),
            sop_uid=str(ds.SOPInstanceUID), instance_number=n + 1,
        ))  # fmt: skip
    return records


@pytest.mark.parametrize("deid", [None, DeidOptions(key=KEY)], ids=["plain", "deid"])
def test_copy_instances_hashes_what_it_writes_on_any_number_of_threads(
    tmp_path: Path, deid: DeidOptions | None
) -> None:
    paths = [_big_ct(tmp_path / f"s{k}.dcm", ExplicitVRLittleEndian, seed=k) for k in range(6)]
    records = _records(paths)
    outputs = {}
    for workers in (1, 4):
        digests: dict[Path, str] = {}
        folder = tmp_path / f"out{workers}"
        written = copy_instances(records, folder, deid, workers=workers, digests=digests)
        assert [p.name for p in written] == [f"IM{n:04d}.dcm" for n in range(1, 7)]
        assert digests == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in written}
        outputs[workers] = [p.read_bytes() for p in written]
    assert outputs[1] == outputs[4]
    if deid is None:
        assert outputs[1] == [p.read_bytes() for p in paths]
    else:
        assert all(b[128:132] == b"DICM" and b != p.read_bytes()
                   for b, p in zip(outputs[1], paths, strict=True))  # fmt: skip
