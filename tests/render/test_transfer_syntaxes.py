"""Every compressed transfer syntax pydicom knows decodes through radcurate's pixel path with the
decoders radcurate depends on (issue 13, finding 7), lossless ones to the exact stored values.

JPEG Lossless (processes 14 and 14 SV1, .57/.70) files are made here from pydicom's
uncompressed MR with DCMTK's ``dcmcjpeg`` (installed by scripts/test-env.sh), so the decoded
values can be compared with the originals; the rest are the compressed files pydicom ships
beside their uncompressed sources.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from radcurate.imaging.codecs import GPL_EXTRA
from radcurate.imaging.errors import UndecodableError
from radcurate.imaging.frames import decode_frame

#: (compressed file, its uncompressed source) pairs pydicom ships, by transfer syntax
LOSSLESS_PAIRS = {
    "1.2.840.10008.1.2.4.80": ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),
    "1.2.840.10008.1.2.4.90": ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
    "1.2.840.10008.1.2.5": ("MR_small_RLE.dcm", "MR_small.dcm"),
}
#: lossy syntaxes: a file that must decode to an image of the header's shape
LOSSY = {
    "1.2.840.10008.1.2.4.50": "SC_rgb_jpeg_dcmtk.dcm",
    "1.2.840.10008.1.2.4.81": "SC_rgb_jls_lossy_line.dcm",
    "1.2.840.10008.1.2.4.91": "US1_J2KI.dcm",
}


def _frame(path: str | Path) -> np.ndarray:
    return decode_frame(dcmread(path), 0)


@pytest.mark.parametrize("syntax", sorted(LOSSLESS_PAIRS))
def test_lossless_files_decode_exactly(syntax: str) -> None:
    compressed, source = (get_testdata_file(n) for n in LOSSLESS_PAIRS[syntax])
    assert str(dcmread(compressed).file_meta.TransferSyntaxUID) == syntax
    np.testing.assert_array_equal(_frame(compressed), dcmread(source).pixel_array)


@pytest.mark.parametrize("syntax", sorted(LOSSY))
def test_lossy_files_decode(syntax: str) -> None:
    path = get_testdata_file(LOSSY[syntax])
    ds = dcmread(path)
    assert str(ds.file_meta.TransferSyntaxUID) == syntax
    frame = _frame(path)
    assert frame.shape[:2] == (ds.Rows, ds.Columns) and frame.std() > 0


@pytest.mark.parametrize(
    ("option", "syntax"),
    [("+el", "1.2.840.10008.1.2.4.57"), ("+e1", "1.2.840.10008.1.2.4.70")],
)
def test_jpeg_lossless_made_by_dcmtk(option: str, syntax: str, tmp_path: Path) -> None:
    assert shutil.which("dcmcjpeg"), "scripts/test-env.sh installs DCMTK"
    source = get_testdata_file("MR_small.dcm")
    target = tmp_path / "lossless.dcm"
    subprocess.run(["dcmcjpeg", option, source, str(target)], check=True, capture_output=True)
    assert str(dcmread(target).file_meta.TransferSyntaxUID) == syntax
    np.testing.assert_array_equal(_frame(target), dcmread(source).pixel_array)


def test_twelve_bit_jpeg_extended() -> None:
    """Decoded with the opt-in GPL extra; without it, a message saying how to get it."""
    path = get_testdata_file("JPGExtended.dcm")
    ds = dcmread(path)
    assert ds.BitsStored == 12
    if importlib.util.find_spec("libjpeg") is not None:
        frame = _frame(path)
        assert frame.shape == (ds.Rows, ds.Columns) and 0 <= frame.min() < frame.max() < 4096
    else:
        with pytest.raises(UndecodableError, match=rf"radcurate\[{GPL_EXTRA}\]"):
            _frame(path)


def test_undecodable_reason_names_each_decoder(tmp_path: Path) -> None:
    """A corrupt JPEG 2000 stream: every decoder's reason, on one line, not a bare first line."""
    ds = dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    data = bytearray(ds.PixelData)
    start = data.find(b"\xff\x4f\xff\x51")  # the codestream's SOC and SIZ markers
    data[start + 4 : start + 40] = b"\xff" * 36  # a SIZ segment no decoder accepts
    ds.PixelData = bytes(data)
    with pytest.raises(UndecodableError) as info:
        decode_frame(ds, 0)
    message = str(info.value)
    assert "\n" not in message and "JPEG 2000" in message
    assert "no installed decoder could decode it" in message and "gdcm" in message.lower()
