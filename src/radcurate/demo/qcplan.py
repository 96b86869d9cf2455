"""The plan of the QC phantom patient: one clean CT series and one series per planted defect.

Each defect the quality-control checks (issue 15) look for lives in its own series
of one extra patient, written after the archive's other patients, so the rest of
the archive is byte-identical with or without it.  All series share one small,
fast geometry (20 axial slices of 128 x 128 over the upper abdomen); each
departs from it in exactly the way its defect needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from radcurate.demo.geometry import SeriesGeometry
from radcurate.demo.phantom import Anatomy
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.population import SCANNERS, SITES, age_string, make_uid

__all__ = [
    "BASE_NOISE_HU",
    "DEFECTS",
    "FOV_MM",
    "MATRIX",
    "SLICES",
    "STEP_MM",
    "Defect",
    "plan_qc_patient",
    "qc_enabled",
]

#: An archive of at least this many patients gets the QC phantom unless told otherwise.
MIN_PATIENTS = 10
MATRIX = 128
SLICES = 20
STEP_MM = 5.0
FOV_MM = 400.0
#: Gaussian noise (HU) of every QC series but the noisy one: a low-noise phantom.
BASE_NOISE_HU = 8.0
#: Template z (mm) of the first slice; slices run towards the feet from there.
TOP_Z = 5.0
_CENTRE = (0.0, -10.0, -400.0)


@dataclass(frozen=True)
class Defect:
    """One planted defect: its series and what should flag it.

    Attributes
    ----------
    name
        Short name (also the key ``qc_<name>_series`` of the archive's defects).
    title
        SeriesDescription suffix of its series.
    fields
        The ``qc.*`` fields expected to flag it.
    also
        Fields that may fire as a side effect of the same defect.
    description
        What was planted, in one sentence.
    """

    name: str
    title: str
    fields: tuple[str, ...]
    also: tuple[str, ...]
    description: str


_GEOM = ("qc.geometry.regular_volume",)
#: The planted defects in series order (the clean reference comes first, the SEG last).
DEFECTS: tuple[Defect, ...] = (
    Defect(
        "gap", "gap", ("qc.geometry.missing_slices",), ("qc.geometry.spacing_uniform", *_GEOM),
        "two adjacent slices (the 10th and 11th of 20) are missing: one 15 mm step in a 5 mm "
        "series, and a gap in the instance numbers",
    ),
    Defect(
        "uneven_spacing", "uneven spacing", ("qc.geometry.spacing_uniform",), _GEOM,
        "slice steps alternate 4.4, 5.6, 4.8 and 5.2 mm (mean 5 mm): not uniform, no gap",
    ),
    Defect(
        "mixed_orientation", "mixed orientation", ("qc.geometry.orientation_count",), _GEOM,
        "six of 20 slices are rotated 12 degrees about the antero-posterior axis "
        "(another ImageOrientationPatient; too many to pass for localizers)",
    ),
    Defect(
        "localizer", "localizer in series", ("qc.geometry.localizer",),
        ("qc.geometry.orientation_count", *_GEOM),
        "instance 1 is a coronal projection image with ImageType ORIGINAL\\PRIMARY\\LOCALIZER "
        "in front of 20 axial slices",
    ),
    Defect(
        "gantry_tilt", "gantry tilt", ("qc.geometry.gantry_tilt_degrees",),
        ("qc.geometry.oblique_degrees", "qc.geometry.inplane_offset_mm", *_GEOM),
        "GantryDetectorTilt 15 and image planes tilted by 15 degrees while the table moves "
        "along z: the positions are sheared against the slice normal",
    ),
    Defect(
        "mixed_acquisitions", "two bed positions", ("qc.geometry.mixed_acquisitions",),
        ("qc.geometry.duplicate_positions", *_GEOM),
        "two acquisitions (AcquisitionNumber 1 and 2) of 14 slices each whose bed positions "
        "overlap by 5 slice positions",
    ),
    Defect(
        "sop_conflict", "SOP UID conflict", ("qc.header.duplicate_sop_conflicts",), (),
        "one SOP Instance UID is stored in two files: the second is another reconstruction "
        "(ConvolutionKernel LUNG, three times the noise) of the same slice",
    ),
    Defect(
        "duplicate_frame", "duplicate frame", ("qc.pixels.duplicate_frames",),
        ("qc.geometry.duplicate_positions", *_GEOM),
        "one slice is stored again under a new SOP Instance UID (same header otherwise, "
        "same pixel data)",
    ),
    Defect(
        "duplicate_series_source", "duplicated series", ("qc.outliers.duplicate_pixel_series",),
        (), "its pixel data equal those of the series of defect duplicate_series",
    ),
    Defect(
        "duplicate_series", "duplicated series copy", ("qc.outliers.duplicate_pixel_series",),
        (), "a second series (new series and SOP UIDs) with the pixel data of "
        "duplicate_series_source, slice by slice",
    ),
    Defect(
        "patient_mismatch", "patient mismatch", ("qc.header.inconsistent_patient_attributes",),
        (), "instance 8 of 20 has another PatientSex than the rest of the series",
    ),
    Defect(
        "burned_in", "burned-in annotation", ("qc.header.burned_in_annotation",), (),
        "BurnedInAnnotation YES on every instance",
    ),
    Defect(
        "missing_attributes", "missing attributes", ("qc.header.missing_required_count",),
        ("qc.conformance.errors",),
        "KVP and AcquisitionNumber (both Type 2 in the CT Image module) are absent",
    ),
    Defect(
        "added_noise", "noisy", ("qc.pixels.noise_high", "qc.pixels.noise_hu"), (),
        "the clean reference series plus independent Gaussian noise of 50 HU "
        "(8 HU before: about 50.6 HU in all)",
    ),
    Defect(
        "truncated_fov", "truncated FOV", ("qc.pixels.truncated_fov",), (),
        "a 260 mm field of view on a 330 mm wide body: the body is cut by the left and "
        "right image edges on every slice",
    ),
    Defect(
        "metal", "metal", ("qc.pixels.metal_fraction",), (),
        "a metal rod of 4000 HU, 10 mm in radius, through 10 of 20 slices",
    ),
    Defect(
        "empty_slice", "empty slice", ("qc.pixels.constant_slices",), (),
        "slice 11 of 20 is constant air (-1000 HU, no noise)",
    ),
    Defect(
        "bad_segmentation", "bad segmentation",
        (
            "qc.segmentation.fragmented", "qc.segmentation.components",
            "qc.segmentation.outside_body_fraction", "qc.segmentation.outside_body_count",
            "qc.segmentation.empty_segments",
        ),
        (),
        "a DICOM SEG of the clean reference: Liver has a detached fragment (2 components), "
        "Stomach lies wholly outside the body, Gallbladder is empty; Spleen is sound",
    ),
)  # fmt: skip


def qc_enabled(patients: int, qc_defects: bool | None) -> bool:
    """Whether an archive gets the QC phantom (``None``: when it has >= 10 patients)."""
    return patients >= MIN_PATIENTS if qc_defects is None else qc_defects


def _geometry(fov: float = FOV_MM) -> SeriesGeometry:
    ps = fov / MATRIX
    half = fov / 2 - ps / 2
    return SeriesGeometry(
        rows=MATRIX,
        columns=MATRIX,
        spacing=(ps, ps),
        row_dir=(1.0, 0.0, 0.0),
        col_dir=(0.0, 1.0, 0.0),
        origin=(_CENTRE[0] - half, _CENTRE[1] - half, _CENTRE[2] + TOP_Z),
        step=-STEP_MM,
        count=SLICES,
        thickness=STEP_MM,
    )


def plan_qc_patient(seed: int) -> PatientPlan:
    """The QC phantom patient of an archive of ``seed``: one CT study, one series per defect.

    Series 0 is the clean reference; series ``i + 1`` carries ``DEFECTS[i]`` (the last
    of which, the SEG, segments the reference).
    """
    site = SITES[0]
    scanner = next(s for s in SCANNERS["GE MEDICAL SYSTEMS"] if s.modality == "CT")
    birth = dt.date(1961, 3, 14)
    date = dt.date(2024, 6, 3)

    def uid(*parts: object) -> str:
        return make_uid(seed, "qc-phantom", *parts)

    study = StudyPlan(
        index=0,
        uid=uid("study"),
        date=date,
        time="101500",
        description="CT ABDOMEN QC PHANTOM",
        accession=f"QC{seed % 10**6:06d}",
        referring="Hart^Emma^^Dr",
        body_part="ABDOMEN",
        scanner=scanner,
        station="SAUHCT01",
        age=age_string(birth, date),
        anatomy=Anatomy(scale=(1.0, 1.0, 1.0), centre=_CENTRE),
        frame_of_reference=uid("for"),
        procedure_codes=(("CTABP", "CT Abdomen and Pelvis"),),
    )
    kernel = scanner.kernel("soft")
    series: list[SeriesPlan] = []
    names = ("reference", *(d.name for d in DEFECTS))
    titles = ("reference", *(d.title for d in DEFECTS))
    for i, (name, title) in enumerate(zip(names, titles, strict=True)):
        seg = name == "bad_segmentation"
        series.append(
            SeriesPlan(
                kind="seg" if seg else "ct",
                index=i,
                uid=uid("series", i),
                number=300 if seg else i + 2,
                modality="SEG" if seg else "CT",
                description=f"QC {title}",
                protocol="" if seg else "AbdomenRoutine",
                region="abdomen",
                geometry=None if seg else _geometry(260.0 if name == "truncated_fov" else FOV_MM),
                kernel=None if seg else kernel,
                noise=BASE_NOISE_HU,
                refs=(0,) if seg else (),
                defect=name if name != "reference" else "",
                rng_key=(seed, 0x5143, i),
            )
        )
    return PatientPlan(
        index=-1,
        patient_id=f"QCPHANTOM{seed}",
        name="Phantom^Quality Control",
        sex="M",
        birth=birth,
        site=site,
        size=1.0,
        weight=75.0,
        studies=(StudyPlan(**{**study.__dict__, "series": tuple(series)}),),
    )
