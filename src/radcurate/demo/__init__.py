"""Synthetic phantom DICOM archives for demos, tests and benchmarks.

``generate_archive`` writes CT, MR, CR/DX, US, enhanced multi-frame, SEG,
RTSTRUCT and SR objects with realistic, deliberately skewed metadata and a few
deliberate defects.  Optional packages (highdicom, pylibjpeg, pyjpegls) are
imported only while generating.
"""

from __future__ import annotations

from radcurate.demo.archive import DemoManifest, generate_archive

__all__ = ["DemoManifest", "generate_archive"]
