"""The plan of an archive: patients, studies and series, decided before any pixel.

:mod:`radcurate.demo.planner` makes plans; writers turn them into files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from radcurate.demo.geometry import SeriesGeometry
from radcurate.demo.phantom import Anatomy
from radcurate.demo.population import Kernel, Scanner, Site

__all__ = ["EXPLICIT", "FEATURES", "J2K", "JLS", "RLE", "PatientPlan", "SeriesPlan", "StudyPlan"]

EXPLICIT = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"
J2K = "1.2.840.10008.1.2.4.90"
JLS = "1.2.840.10008.1.2.4.80"

#: Rare object kinds given deterministically to the first patients (one study each).
FEATURES = (
    "ct_chest_seg_sr",
    "ct_abdomen_rle_rtstruct_sr",
    "mr_head_jpegls",
    "cr_chest_monochrome1",
    "us_multiframe",
    "ct_head_j2k_enhanced",
    "ct_chest_noisy",
    "ct_abdomen_missing_slice",
    "dx_chest_infant",
    "ct_chest_512_dx",
)


@dataclass(frozen=True)
class SeriesPlan:
    """One series to write (``kind`` picks the writer)."""

    kind: str  # ct mr cr dx us enhanced seg rtstruct sr_text sr_comp
    index: int
    uid: str
    number: int
    modality: str
    description: str
    protocol: str = ""
    region: str = ""
    geometry: SeriesGeometry | None = None
    kernel: Kernel | None = None
    noise: float = 0.0
    contrast: str = ""
    transfer_syntax: str = EXPLICIT
    photometric: str = "MONOCHROME2"
    frames: int = 1
    refs: tuple[int, ...] = ()
    defect: str = ""
    rng_key: tuple[int, ...] = ()


@dataclass(frozen=True)
class StudyPlan:
    """One study of one patient."""

    index: int
    uid: str
    date: dt.date
    time: str
    description: str
    accession: str
    referring: str
    body_part: str
    scanner: Scanner
    station: str
    age: str
    anatomy: Anatomy
    frame_of_reference: str
    procedure_codes: tuple[tuple[str, str], ...]
    series: Sequence[SeriesPlan] = ()


@dataclass(frozen=True)
class PatientPlan:
    """One patient with all their studies."""

    index: int
    patient_id: str
    name: str
    sex: str
    birth: dt.date
    site: Site
    size: float  # anatomy scale
    weight: float
    studies: tuple[StudyPlan, ...] = field(default=())
