"""Sites, scanners and patients, with deliberately skewed distributions.

Each site is dominated by one vendor, has its own age and sex mix and its own
way of laying files out on disk, so that bias checks on a demo archive find
something to report.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SCANNERS",
    "SITES",
    "Kernel",
    "Scanner",
    "Site",
    "age_string",
    "make_uid",
    "patient_name",
]

_NAMESPACE = uuid.UUID("6f1c1d1e-7a52-4c55-9c1c-2f7f2a4bd3e1")


def make_uid(seed: int, *parts: object) -> str:
    """Derive a deterministic ``2.25`` UID from the seed and identifying parts.

    The UID is the decimal form of a name-based (SHA-1, version 5) UUID, as
    DICOM PS3.5 Annex B.2 allows; the clock is never used.
    """
    name = "|".join(["radcurate-demo", str(seed), *map(str, parts)])
    return f"2.25.{uuid.uuid5(_NAMESPACE, name).int}"


@dataclass(frozen=True)
class Kernel:
    """A CT reconstruction kernel, its clinical role and its noise factor."""

    name: str
    role: str  # "soft", "lung", "bone", "head"
    noise: float


@dataclass(frozen=True)
class Scanner:
    """One scanner model of one vendor."""

    modality: str
    manufacturer: str
    model: str
    software: str
    kernels: tuple[Kernel, ...] = ()
    field_strength: float = 0.0
    storage: str = "unsigned"  # "unsigned" (intercept -1024), "signed" (-1024) or "signed0" (0)
    private: bool = False

    def kernel(self, role: str) -> Kernel:
        """The kernel for a clinical role (falls back to the first kernel)."""
        for k in self.kernels:
            if k.role == role:
                return k
        return self.kernels[0]


SCANNERS: dict[str, tuple[Scanner, ...]] = {
    "SIEMENS": (
        Scanner(
            "CT",
            "SIEMENS",
            "SOMATOM Definition AS+",
            "syngo CT VA48A",
            (
                Kernel("B30f", "soft", 1.0),
                Kernel("B70f", "lung", 2.6),
                Kernel("I30f", "soft", 0.75),
                Kernel("H31s", "head", 1.0),
                Kernel("B60f", "bone", 2.0),
            ),
            storage="unsigned",
            private=True,
        ),
        Scanner("MR", "SIEMENS", "Skyra", "syngo MR E11", field_strength=3.0, private=True),
        Scanner("MR", "SIEMENS", "Avanto", "syngo MR B17", field_strength=1.5, private=True),
        Scanner("DX", "SIEMENS", "Ysio", "VF85C"),
        Scanner("US", "SIEMENS", "ACUSON S2000", "3.0.05"),
    ),
    "GE MEDICAL SYSTEMS": (
        Scanner(
            "CT",
            "GE MEDICAL SYSTEMS",
            "LightSpeed VCT",
            "07MW18.4",
            (
                Kernel("STANDARD", "soft", 1.0),
                Kernel("LUNG", "lung", 2.8),
                Kernel("BONE", "bone", 2.2),
                Kernel("SOFT", "head", 0.9),
            ),
            storage="signed",
            private=True,
        ),
        Scanner(
            "MR", "GE MEDICAL SYSTEMS", "Signa HDxt", "16\\LX\\MR", field_strength=1.5, private=True
        ),
        Scanner(
            "MR",
            "GE MEDICAL SYSTEMS",
            "DISCOVERY MR750",
            "DV25.0",
            field_strength=3.0,
            private=True,
        ),
        Scanner("DX", "GE Healthcare", "Definium 8000", "dm_Platform_release"),
        Scanner("US", "GE Healthcare", "LOGIQ E9", "R6.1.0"),
    ),
    "Philips": (
        Scanner(
            "CT",
            "Philips",
            "Brilliance 64",
            "3.2.0",
            (
                Kernel("B", "soft", 1.0),
                Kernel("YA", "lung", 2.4),
                Kernel("C", "soft", 1.2),
                Kernel("UB", "head", 1.0),
                Kernel("D", "bone", 2.0),
            ),
            storage="unsigned",
        ),
        Scanner("MR", "Philips Medical Systems", "Ingenia", "5.1.7", field_strength=3.0),
        Scanner("MR", "Philips Medical Systems", "Achieva", "3.2.3", field_strength=1.5),
        Scanner("DX", "Philips Medical Systems", "DigitalDiagnost", "2.1.3"),
        Scanner("US", "Philips Medical Systems", "iU22", "6.3.2.2"),
    ),
    "TOSHIBA": (
        Scanner(
            "CT",
            "TOSHIBA",
            "Aquilion",
            "V4.86ER003",
            (
                Kernel("FC08", "soft", 1.0),
                Kernel("FC52", "lung", 2.5),
                Kernel("FC21", "head", 1.0),
                Kernel("FC30", "bone", 2.1),
            ),
            storage="signed0",
        ),
        Scanner("MR", "TOSHIBA", "Vantage Titan", "V3.0", field_strength=1.5),
        Scanner("CR", "FUJIFILM Corporation", "FCR PROFECT CS", "A09"),
        Scanner("US", "TOSHIBA", "Aplio 500", "V4.0"),
    ),
}


@dataclass(frozen=True)
class Site:
    """An institution with its vendor mix, demographics and export layout."""

    code: str
    institution: str
    address: str
    vendors: tuple[tuple[str, float], ...]
    female: float  # fraction of female patients
    age_mean: float
    age_sd: float
    pediatric: float  # fraction of patients under 16
    layout: str  # see radcurate.demo.layout
    weight: float  # share of patients

    def scanner(self, rng: np.random.Generator, modality: str) -> Scanner:
        """Pick a scanner of ``modality``, usually from the site's dominant vendor."""
        names = [v for v, _ in self.vendors]
        p = np.array([w for _, w in self.vendors])
        vendor = names[int(rng.choice(len(names), p=p / p.sum()))]
        options = [s for s in SCANNERS[vendor] if s.modality == modality]
        if not options:  # e.g. CR only exists at one vendor: take it anywhere
            options = [s for v in SCANNERS.values() for s in v if s.modality == modality]
        return options[int(rng.integers(len(options)))]


SITES: tuple[Site, ...] = (
    Site(
        "SAUH",
        "St Aurelia University Hospital",
        "1 Campus Road, Northbridge",
        (("SIEMENS", 0.8), ("GE MEDICAL SYSTEMS", 0.2)),
        0.38,
        66.0,
        12.0,
        0.02,
        "hierarchical",
        0.35,
    ),
    Site(
        "NFCH",
        "Northfield Community Hospital",
        "22 Mill Lane, Northfield",
        (("GE MEDICAL SYSTEMS", 0.85), ("Philips", 0.15)),
        0.55,
        58.0,
        16.0,
        0.05,
        "numbered",
        0.25,
    ),
    Site(
        "RCGH",
        "Riverside Childrens and General Hospital",
        "5 Riverside Walk, Easton",
        (("Philips", 0.75), ("SIEMENS", 0.25)),
        0.5,
        34.0,
        22.0,
        0.35,
        "flat",
        0.2,
    ),
    Site(
        "EBIC",
        "Eastbay Imaging Center",
        "Unit 4, Harbour Park, Eastbay",
        (("TOSHIBA", 0.9), ("GE MEDICAL SYSTEMS", 0.1)),
        0.68,
        49.0,
        13.0,
        0.0,
        "dicomdir",
        0.2,
    ),
)

_FAMILY = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "James",
    "Phillips",
    "Mason",
    "Mitchell",
    "Rose",
    "Davis",
    "Rodriguez",
    "Cox",
    "Alexander",
    "Garcia",
    "Nguyen",
    "Kim",
    "Mueller",
    "Rossi",
    "Novak",
    "Silva",
    "Haddad",
    "Okafor",
    "Tanaka",
    "Larsen",
    "Dubois",
    "Kowalski",
    "Santos",
    "Ivanova",
    "Schmidt",
]
_GIVEN = {
    "F": [
        "Olivia",
        "Amelia",
        "Isla",
        "Ava",
        "Emily",
        "Sophia",
        "Grace",
        "Mia",
        "Poppy",
        "Ella",
        "Lily",
        "Evie",
        "Maria",
        "Anna",
        "Chloe",
        "Fatima",
        "Yuki",
        "Ingrid",
        "Ana",
        "Zoe",
    ],
    "M": [
        "Oliver",
        "George",
        "Harry",
        "Noah",
        "Jack",
        "Leo",
        "Arthur",
        "Muhammad",
        "Oscar",
        "Charlie",
        "Jacob",
        "Thomas",
        "Henry",
        "Lucas",
        "Omar",
        "Kenji",
        "Lars",
        "Pedro",
        "Ivan",
        "Tom",
    ],
}


def patient_name(rng: np.random.Generator, sex: str) -> str:
    """A synthetic ``Family^Given`` person name."""
    family = _FAMILY[int(rng.integers(len(_FAMILY)))]
    given = _GIVEN[sex][int(rng.integers(len(_GIVEN[sex])))]
    return f"{family}^{given}"


def age_string(birth: dt.date, on: dt.date) -> str:
    """DICOM Age String (AS) of someone born on ``birth`` at date ``on``.

    Examples
    --------
    >>> import datetime as dt
    >>> age_string(dt.date(2020, 1, 1), dt.date(2020, 1, 10))
    '009D'
    >>> age_string(dt.date(1950, 6, 1), dt.date(2013, 5, 31))
    '062Y'
    """
    days = (on - birth).days
    if days < 28:
        return f"{days:03d}D"
    if days < 7 * 12:
        return f"{days // 7:03d}W"
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years < 2:
        months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
        return f"{months:03d}M"
    return f"{years:03d}Y"
