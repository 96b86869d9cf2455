"""Which package decodes which transfer syntax, and what to say when none can.

radcurate depends on decoders for every compressed transfer syntax pydicom knows, each under
a licence compatible with Apache-2.0: pylibjpeg (MIT) with pylibjpeg-openjpeg (MIT, JPEG 2000
and HTJ2K) and pylibjpeg-rle (MIT, RLE), pyjpegls (BSD-3-Clause, CharLS: JPEG-LS), python-gdcm
(BSD-3-Clause, GDCM: JPEG Lossless processes 14 and 14 SV1, the most common lossless syntax in
PACS archives) and Pillow (MIT-CMU: 8-bit JPEG baseline). The one gap is 12-bit JPEG Extended
(process 4): only libjpeg decodes it in pydicom, through pylibjpeg-libjpeg, which is GPLv3 and
therefore an opt-in extra: ``pip install 'radcurate[jpeg12]'``.
"""

from __future__ import annotations

from pydicom.uid import UID

__all__ = ["CODECS", "GPL_EXTRA", "decode_failure"]

#: the extra that installs the GPLv3 libjpeg decoder (12-bit JPEG Extended)
GPL_EXTRA = "jpeg12"

#: transfer syntax -> (decoding packages radcurate installs, their licences)
CODECS: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "Pillow (MIT-CMU), python-gdcm (BSD-3-Clause)",
    "1.2.840.10008.1.2.4.51": "Pillow and python-gdcm for 8-bit; 12-bit needs "
    f"pylibjpeg-libjpeg (GPLv3, extra '{GPL_EXTRA}')",
    "1.2.840.10008.1.2.4.57": "python-gdcm (BSD-3-Clause)",
    "1.2.840.10008.1.2.4.70": "python-gdcm (BSD-3-Clause)",
    "1.2.840.10008.1.2.4.80": "pyjpegls (BSD-3-Clause), python-gdcm",
    "1.2.840.10008.1.2.4.81": "pyjpegls (BSD-3-Clause), python-gdcm",
    "1.2.840.10008.1.2.4.90": "pylibjpeg-openjpeg (MIT), Pillow, python-gdcm",
    "1.2.840.10008.1.2.4.91": "pylibjpeg-openjpeg (MIT), Pillow, python-gdcm",
    "1.2.840.10008.1.2.4.201": "pylibjpeg-openjpeg (MIT)",
    "1.2.840.10008.1.2.4.202": "pylibjpeg-openjpeg (MIT)",
    "1.2.840.10008.1.2.4.203": "pylibjpeg-openjpeg (MIT)",
    "1.2.840.10008.1.2.5": "pylibjpeg-rle (MIT), pydicom's own RLE decoder",
}

_JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"


def decode_failure(exc: BaseException, syntax: str | None, bits_stored: int | None) -> str:
    """One line saying why pixel data did not decode and, where it can, what to install.

    Examples
    --------
    >>> decode_failure(RuntimeError("x"), "1.2.840.10008.1.2.4.51", 12).split(":")[0]
    '12-bit JPEG Extended needs the GPLv3 libjpeg decoder'
    """
    if syntax == _JPEG_EXTENDED and (bits_stored or 8) > 8:
        return (
            "12-bit JPEG Extended needs the GPLv3 libjpeg decoder: "
            f"pip install 'radcurate[{GPL_EXTRA}]' (pylibjpeg-libjpeg), an opt-in because of "
            "its licence"
        )
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Unable to decode as exceptions were raised"):
        # pydicom lists each plugin's reason: keep them, on one line
        reasons = "; ".join(lines[1:]) or lines[0]
        return f"no installed decoder could decode it ({reasons})"
    if "missing dependencies" in text or "No plugins" in text:
        name = UID(syntax).name if syntax else "this transfer syntax"
        where = CODECS.get(syntax or "", "a pydicom pixel data plugin")
        return f"no decoder for {name} is installed (radcurate installs {where}): {lines[0]}"
    return lines[0] if lines else type(exc).__name__
