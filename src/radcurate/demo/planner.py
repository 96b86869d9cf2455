"""Planning an archive: which patients, studies and series, before any pixel.

Planning is cheap and deterministic: patient ``i`` of seed ``s`` depends only on
``(s, i)`` and on how the rare object kinds are spread over the first patients,
so tests can re-plan an archive and re-render any series independently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from radcurate.demo.geometry import SeriesGeometry
from radcurate.demo.phantom import Anatomy
from radcurate.demo.plan import (
    EXPLICIT,
    FEATURES,
    J2K,
    JLS,
    RLE,
    PatientPlan,
    SeriesPlan,
    StudyPlan,
)
from radcurate.demo.population import SITES, Scanner, Site, age_string, make_uid
from radcurate.demo.population import patient_name as _name

__all__ = ["iter_plans", "plan_patient"]

_LAST = dt.date(2024, 12, 31)
_REFERRING = (
    "Hart^Emma^^Dr",
    "Osei^Kwame^^Dr",
    "Lindqvist^Anna^^Dr",
    "Moreau^Luc^^Dr",
    "Chen^Wei^^Dr",
    "Ramirez^Sofia^^Dr",
    "Adeyemi^Tunde^^Dr",
)
_STUDY_DESC = {
    "chest": ("CT CHEST W/O CONTRAST", "CT Thorax", "CT CHEST HIGH RESOLUTION", "Thorax^Routine"),
    "abdomen": ("CT ABDOMEN PELVIS W CONTRAST", "CT Abdomen/Pelvis", "Abdomen^PV phase"),
    "head": ("CT HEAD W/O CONTRAST", "CT Brain", "Head^Routine"),
    "mr": ("MRI BRAIN W/O CONTRAST", "MR Head", "Neuro^Brain routine"),
    "cr": ("XR CHEST PA", "Chest X-ray", "THORAX PA"),
    "us": ("US ABDOMEN COMPLETE", "Ultrasound abdomen", "US Liver/GB"),
}
_PROC = {
    "chest": ("CTCHE", "CT Chest"),
    "abdomen": ("CTABP", "CT Abdomen and Pelvis"),
    "head": ("CTHD", "CT Head"),
    "mr": ("MRBR", "MR Brain"),
    "cr": ("XRCH", "XR Chest"),
    "us": ("USAB", "US Abdomen"),
}
_BODY = {
    "chest": "CHEST",
    "abdomen": "ABDOMEN",
    "head": "HEAD",
    "mr": "HEAD",
    "cr": "CHEST",
    "us": "ABDOMEN",
}
_Z = {
    "chest": (-50.0, 240.0, "trunk"),
    "abdomen": (-250.0, 20.0, "trunk"),
    "head": (-70.0, 100.0, "head"),
}


@dataclass
class _Draft:
    """A patient being planned: its attributes and its studies so far."""

    birth: dt.date
    size: float
    studies: list[StudyPlan] = field(default_factory=list)


class _Ctx:
    """Mutable helper used while planning one patient."""

    def __init__(self, seed: int, index: int, rng: np.random.Generator, site: Site) -> None:
        self.seed, self.index, self.rng, self.site = seed, index, rng, site

    def uid(self, *parts: object) -> str:
        return make_uid(self.seed, self.index, *parts)


def _ct_geometry(
    ctx: _Ctx, region: str, anatomy: Anatomy, matrix: int, thickness: float, ffs: bool
) -> SeriesGeometry:
    rng = ctx.rng
    zlo, zhi, tpl = _Z[region]
    s = anatomy.scale
    top = anatomy.centre[2] + zhi * s[2]
    coverage = (zhi - zlo) * s[2]
    count = int(np.clip(round(coverage / thickness), 30, 80))
    top -= max(0.0, (coverage - count * thickness) / 2)
    width = (420.0 if tpl == "trunk" else 200.0) * s[0] + 20
    fovs = [f for f in (180, 200, 220, 250, 300, 320, 350, 380, 400, 450, 500) if f >= width]
    fov = float(fovs[int(rng.integers(min(2, len(fovs))))] if fovs else 500)
    ps = round(fov / matrix, 6)
    cx = anatomy.centre[0] + float(rng.normal(0, 4))
    cy = anatomy.centre[1] + float(rng.normal(0, 4))
    sign = -1.0 if ffs else 1.0
    origin = (cx - sign * (fov / 2 - ps / 2), cy - (fov / 2 - ps / 2), top)
    return SeriesGeometry(
        rows=matrix,
        columns=matrix,
        spacing=(ps, ps),
        row_dir=(sign, 0.0, 0.0),
        col_dir=(0.0, 1.0, 0.0),
        origin=(round(origin[0], 4), round(origin[1], 4), round(origin[2], 2)),
        step=-thickness * sign,  # normal z is +1 (HFS) or -1 (FFS): slices run head to feet
        count=count,
        thickness=thickness,
    )


def _study(ctx: _Ctx, patient: _Draft, kind: str, date: dt.date, scanner: Scanner) -> StudyPlan:
    rng = ctx.rng
    n = len(patient.studies)
    size = patient.size
    if kind == "head" or kind == "mr":
        scale = (size**0.35, size**0.35, size**0.35)
    else:
        scale = (size, size * float(rng.uniform(0.93, 1.07)), size)
    centre = (float(rng.normal(0, 6)), float(rng.normal(-10, 12)), float(rng.uniform(-700, -100)))
    descs = _STUDY_DESC[kind]
    hour = int(rng.integers(7, 20))
    codes: tuple[tuple[str, str], ...] = (_PROC[kind],)
    if kind == "abdomen" and rng.random() < 0.5:
        codes += (("CTCHAB", "CT Chest Abdomen Pelvis"),)
    return StudyPlan(
        index=n,
        uid=ctx.uid("study", n),
        date=date,
        time=f"{hour:02d}{int(rng.integers(60)):02d}{int(rng.integers(60)):02d}",
        description=descs[int(rng.integers(len(descs)))],
        accession=f"{ctx.site.code[:2]}{date:%y}{int(rng.integers(10**6)):06d}",
        referring=_REFERRING[int(rng.integers(len(_REFERRING)))],
        body_part=_BODY[kind],
        scanner=scanner,
        station=f"{ctx.site.code}{scanner.modality}{int(rng.integers(1, 4)):02d}",
        age=age_string(patient.birth, date),
        anatomy=Anatomy(scale=scale, centre=centre),
        frame_of_reference=ctx.uid("for", n),
        procedure_codes=codes,
        series=[],
    )


def _add(ctx: _Ctx, study: StudyPlan, kind: str, **kw: Any) -> int:
    series = study.series
    assert isinstance(series, list)
    i = len(series)
    numbers = {"seg": 300, "rtstruct": 400, "sr_text": 900, "sr_comp": 901, "enhanced": 500}
    number = numbers.get(kind, (i + 2) if kind in ("ct", "mr") else i + 1)
    modality = {
        "seg": "SEG",
        "rtstruct": "RTSTRUCT",
        "sr_text": "SR",
        "sr_comp": "SR",
        "enhanced": "CT",
        "ct": "CT",
        "mr": "MR",
        "cr": "CR",
        "dx": "DX",
        "us": "US",
    }[kind]
    plan = SeriesPlan(
        kind=kind,
        index=i,
        uid=ctx.uid("series", study.index, i),
        number=number,
        modality=modality,
        rng_key=(ctx.seed, ctx.index, study.index, i),
        **kw,
    )
    series.append(plan)
    return i


_THICK = {"soft": (2.5, 3.0, 5.0), "lung": (1.25, 2.0, 2.5), "head": (4.0, 5.0), "bone": (2.0,)}
_WORD = {"chest": "Thorax", "abdomen": "Abdomen", "head": "Head"}


def _ct_series(
    ctx: _Ctx, study: StudyPlan, region: str, role: str, matrix: int = 256, **kw: Any
) -> int:
    scanner, anatomy = study.scanner, study.anatomy
    kernel = scanner.kernel(role)
    options = _THICK[role]
    thick = float(options[int(ctx.rng.integers(len(options)))])
    if region == "chest" and thick < 2.0:
        thick = 5.0 if role != "lung" else 2.0  # keep 30-80 slices
    ffs = region == "abdomen" and scanner.manufacturer == "TOSHIBA"
    geom = _ct_geometry(ctx, region, anatomy, matrix, thick, ffs)
    if kw.pop("missing", False):
        geom = SeriesGeometry(**{**geom.__dict__, "missing": geom.count // 2})
    word = _WORD[region]
    desc = {
        "SIEMENS": f"{word} {thick:.1f} {kernel.name}",
        "GE MEDICAL SYSTEMS": f"{kernel.name.title()} {thick:g}mm {word.upper()}",
        "Philips": f"{word} {thick:g}mm {kernel.name}",
        "TOSHIBA": f"{word.upper()} {thick:.1f} {kernel.name}",
    }[scanner.manufacturer]
    noise = 11.0 * kernel.noise * float(ctx.rng.uniform(0.85, 1.2))
    return _add(
        ctx,
        study,
        "ct",
        description=desc,
        protocol=f"{word}Routine",
        region=region,
        geometry=geom,
        kernel=kernel,
        noise=noise,
        **kw,
    )


def _mr_series(ctx: _Ctx, study: StudyPlan, contrast: str, sagittal: bool, **kw: Any) -> int:
    anatomy = study.anatomy
    rng = ctx.rng
    matrix = 256
    fov = float(rng.choice([220.0, 230.0, 240.0]))
    ps = round(fov / matrix, 6)
    c = anatomy.centre
    thick, gap = (5.0, 1.0) if not sagittal else (4.0, 0.4)
    count = int(rng.integers(24, 33)) if not sagittal else int(rng.integers(22, 30))
    step = thick + gap
    if sagittal:  # rows run feet-ward, columns posterior-ward, slices from left to right
        geom = SeriesGeometry(
            matrix,
            matrix,
            (ps, ps),
            (0.0, 1.0, 0.0),
            (0.0, 0.0, -1.0),
            (c[0] + step * (count - 1) / 2, c[1] - fov / 2 + ps / 2, c[2] + fov / 2 - ps / 2 + 10),
            step,
            count,
            thick,
        )
    else:
        geom = SeriesGeometry(
            matrix,
            matrix,
            (ps, ps),
            (1.0, 0.0, 0.0),
            (0.0, 1.0, 0.0),
            (c[0] - fov / 2 + ps / 2, c[1] - fov / 2 + ps / 2, c[2] + 95 * anatomy.scale[2]),
            -step,
            count,
            thick,
        )
    plane = "sag" if sagittal else "tra"
    desc = {
        "T1": f"t1_se_{plane}",
        "T2": f"t2_tse_{plane}",
        "FLAIR": f"t2_tirm_{plane}_dark-fluid",
    }[contrast]
    return _add(
        ctx,
        study,
        "mr",
        description=desc,
        protocol=desc,
        region="head",
        geometry=geom,
        contrast=contrast,
        noise=float(rng.uniform(12, 25)),
        **kw,
    )


def _random_study(ctx: _Ctx, patient: _Draft, date: dt.date, kind: str = "") -> None:
    rng = ctx.rng
    if not kind:
        kinds = ("chest", "abdomen", "head", "mr", "cr", "us")
        kind = kinds[int(rng.choice(6, p=[0.3, 0.24, 0.12, 0.2, 0.09, 0.05]))]
    modality = {"mr": "MR", "cr": "CR" if rng.random() < 0.4 else "DX", "us": "US"}.get(kind, "CT")
    scanner = ctx.site.scanner(rng, modality)
    st = _study(ctx, patient, kind, date, scanner)
    compress = (RLE, J2K, JLS)[int(rng.integers(3))] if rng.random() < 0.12 else EXPLICIT
    if modality == "CT":
        _ct_series(ctx, st, kind, "head" if kind == "head" else "soft", transfer_syntax=compress)
        if kind == "chest" and rng.random() < 0.8:
            _ct_series(ctx, st, kind, "lung")
        if kind != "head" and rng.random() < 0.25:
            _ct_series(ctx, st, kind, "bone")
        if rng.random() < 0.08:
            _add(ctx, st, "sr_text", description="Radiology report", refs=(0,))
    elif modality == "MR":
        for contrast in ("T1", "T2", "FLAIR")[: int(rng.integers(2, 4))]:
            sag = contrast == "T1" and rng.random() < 0.3
            _mr_series(
                ctx, st, contrast, sag, transfer_syntax=compress if contrast == "T2" else EXPLICIT
            )
    elif modality in ("CR", "DX"):
        mono1 = scanner.manufacturer.startswith("FUJI")
        _add(
            ctx,
            st,
            modality.lower(),
            description="CHEST PA",
            photometric="MONOCHROME1" if mono1 else "MONOCHROME2",
        )
    else:
        _add(ctx, st, "us", description="Abdomen", frames=int(rng.integers(6, 12)))
    patient.studies.append(st)


def _feature_study(ctx: _Ctx, patient: _Draft, date: dt.date, feature: str) -> None:
    rng = ctx.rng
    kind = {
        "ct_chest_seg_sr": "chest",
        "ct_abdomen_rle_rtstruct_sr": "abdomen",
        "mr_head_jpegls": "mr",
        "cr_chest_monochrome1": "cr",
        "us_multiframe": "us",
        "ct_head_j2k_enhanced": "head",
        "ct_chest_noisy": "chest",
        "ct_abdomen_missing_slice": "abdomen",
        "dx_chest_infant": "cr",
        "ct_chest_512_dx": "chest",
    }[feature]
    modality = {"mr": "MR", "us": "US", "cr": "CR" if "monochrome1" in feature else "DX"}.get(
        kind, "CT"
    )
    scanner = ctx.site.scanner(rng, modality)
    if modality == "CR":
        scanner = next(s for s in _all_scanners() if s.modality == "CR")
    st = _study(ctx, patient, kind, date, scanner)
    if feature == "ct_chest_seg_sr":
        _ct_series(ctx, st, "chest", "soft")
        _ct_series(ctx, st, "chest", "lung")
        _add(ctx, st, "seg", description="Organ segmentation", refs=(0,))
        _add(ctx, st, "sr_comp", description="Organ volumetry", refs=(0, 1))
    elif feature == "ct_abdomen_rle_rtstruct_sr":
        _ct_series(ctx, st, "abdomen", "soft", transfer_syntax=RLE)
        _add(ctx, st, "rtstruct", description="Organ contours", refs=(0,))
        _add(ctx, st, "sr_text", description="Radiology report", refs=(0,))
    elif feature == "mr_head_jpegls":
        _mr_series(ctx, st, "T1", False)
        _mr_series(ctx, st, "T2", False, transfer_syntax=JLS, refs=(0,))
        _mr_series(ctx, st, "T1", True)
    elif feature == "cr_chest_monochrome1":
        _add(ctx, st, "cr", description="CHEST PA", photometric="MONOCHROME1")
    elif feature == "us_multiframe":
        _add(ctx, st, "us", description="Liver", frames=8)
        _add(ctx, st, "us", description="Gallbladder", frames=1)
    elif feature == "ct_head_j2k_enhanced":
        _ct_series(ctx, st, "head", "head", transfer_syntax=J2K)
        _add(ctx, st, "enhanced", description="Head enhanced multi-frame", refs=(0,))
    elif feature == "ct_chest_noisy":
        _ct_series(ctx, st, "chest", "soft", defect="noisy")
    elif feature == "ct_abdomen_missing_slice":
        _ct_series(ctx, st, "abdomen", "soft", missing=True, defect="missing_slice")
    elif feature == "dx_chest_infant":
        _add(ctx, st, "dx", description="CHEST AP NEONATAL")
    elif feature == "ct_chest_512_dx":
        _ct_series(ctx, st, "chest", "lung", matrix=512)
        patient.studies.append(st)
        dx = _study(ctx, patient, "cr", date, ctx.site.scanner(rng, "DX"))
        _add(ctx, dx, "dx", description="CHEST PA")
        st = dx
    patient.studies.append(st)


def _all_scanners() -> Iterator[Scanner]:
    from radcurate.demo.population import SCANNERS

    for group in SCANNERS.values():
        yield from group


def _freeze(studies: list[StudyPlan]) -> tuple[StudyPlan, ...]:
    return tuple(replace(s, series=tuple(s.series)) for s in studies)


def plan_patient(seed: int, index: int, total: int) -> PatientPlan:
    """Plan patient ``index`` of an archive of ``total`` patients.

    The rare object kinds (:data:`FEATURES`) go to the first ``min(total, 10)``
    patients round-robin, so every archive contains all of them.
    """
    rng = np.random.default_rng([seed, index])
    features = [f for i, f in enumerate(FEATURES) if i % min(total, len(FEATURES)) == index]
    p = np.array([s.weight for s in SITES])
    site = SITES[int(rng.choice(len(SITES), p=p / p.sum()))]
    ctx = _Ctx(seed, index, rng, site)
    infant = "dx_chest_infant" in features
    first = dt.date(2012, 1, 1) + dt.timedelta(days=int(rng.integers(0, 4200)))
    if infant:
        birth = first - dt.timedelta(days=int(rng.integers(3, 80)))
        sex = "M" if rng.random() < 0.5 else "F"
    else:
        sex = "F" if rng.random() < site.female else "M"
        age = (
            rng.uniform(0.1, 16)
            if rng.random() < site.pediatric
            else np.clip(rng.normal(site.age_mean, site.age_sd), 18, 97)
        )
        birth = first - dt.timedelta(days=int(age * 365.25))
    years = (first - birth).days / 365.25
    size = float(np.clip(0.45 + 0.55 * min(years / 16, 1.0), 0.4, 1.0))
    size *= (1.04 if sex == "M" else 0.95) * float(rng.uniform(0.93, 1.05))
    prefix = {"hierarchical": "", "numbered": "NF", "flat": "RC", "dicomdir": "EB-"}[site.layout]
    patient_id = f"{prefix}{int(rng.integers(10**6, 10**7))}{index:04d}"
    name = _name(rng, sex)
    weight = round(float(np.clip(75 * size**3 * rng.uniform(0.8, 1.3), 2.5, 160)), 1)
    patient = _Draft(birth=birth, size=size)
    date = first
    for f in features:
        _feature_study(ctx, patient, min(date, _LAST), f)
        date += dt.timedelta(days=int(rng.integers(1, 400)))
    extra = int(rng.integers(0, 2)) if index < len(FEATURES) else 1 + int(rng.poisson(0.6))
    for _ in range(extra):
        if date > _LAST:
            break
        _random_study(ctx, patient, date)
        date += dt.timedelta(days=int(rng.integers(30, 900)))
    return PatientPlan(
        index, patient_id, name, sex, birth, site, size, weight, _freeze(patient.studies)
    )


def iter_plans(patients: int, seed: int) -> Iterator[PatientPlan]:
    """Plan every patient of an archive, one at a time."""
    for i in range(patients):
        yield plan_patient(seed, i, patients)
