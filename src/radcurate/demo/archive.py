"""Generate a whole demo archive, streaming one series at a time."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from radcurate.demo import defects
from radcurate.demo.ct import instance_uid, write_ct
from radcurate.demo.enhanced import write_enhanced
from radcurate.demo.mr import write_mr
from radcurate.demo.phantom import PhantomCache
from radcurate.demo.plan import PatientPlan, SeriesPlan, StudyPlan
from radcurate.demo.planner import iter_plans
from radcurate.demo.qcplan import DEFECTS, qc_enabled
from radcurate.demo.qcwrite import MANIFEST_NAME, qc_manifest, write_qc_patient
from radcurate.demo.radiography import write_radiograph
from radcurate.demo.rtstruct import write_rtstruct
from radcurate.demo.seg import write_seg
from radcurate.demo.sink import Sink, WriteContext
from radcurate.demo.sr import write_comprehensive_sr, write_text_sr
from radcurate.demo.ultrasound import write_us
from radcurate.optional import MissingDependencyError

__all__ = ["DemoManifest", "generate_archive"]

Writer = Callable[[WriteContext, PatientPlan, StudyPlan, SeriesPlan, bool], None]
_WRITERS: dict[str, Writer] = {
    "ct": write_ct,
    "mr": write_mr,
    "cr": write_radiograph,
    "dx": write_radiograph,
    "us": write_us,
    "enhanced": write_enhanced,
    "seg": write_seg,
    "rtstruct": write_rtstruct,
    "sr_text": write_text_sr,
    "sr_comp": write_comprehensive_sr,
}
#: derived kinds that need the datasets of the series they reference
_NEEDS_DATASETS = {"enhanced", "seg", "sr_comp"}


@dataclass(frozen=True)
class DemoManifest:
    """What :func:`generate_archive` wrote.

    Attributes
    ----------
    root
        The archive directory.
    patients, studies, series
        Counts of readable, ingestible DICOM content.
    instances
        Distinct SOP instances in readable files (the duplicate adds none).
    files
        All files written, including defects, the duplicate and the README.
    readable_files
        Files a DICOM reader can parse (including the byte-identical duplicate).
    unreadable
        Relative paths of files that are not parseable DICOM.
    defects
        Where each deliberate defect is (series UIDs or relative paths); the QC
        phantom's defects as ``qc_<name>_series``.
    by_modality
        Number of series per Modality.
    qc_manifest
        Relative path of ``qc-defects.json`` (empty without the QC phantom).
    """

    root: Path
    patients: int
    studies: int
    series: int
    instances: int
    files: int
    readable_files: int
    unreadable: tuple[str, ...]
    defects: dict[str, str] = field(default_factory=dict)
    by_modality: dict[str, int] = field(default_factory=dict)
    qc_manifest: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable dictionary of the manifest."""
        out = asdict(self)
        out["root"] = str(self.root)
        out["unreadable"] = list(self.unreadable)
        return out


def _check_target(out: Path, parameters: str) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    if not out.exists() or not any(out.iterdir()):
        return
    readme = out / "README.txt"
    text = readme.read_text(errors="replace") if readme.is_file() else ""
    if not text.startswith(defects.MARKER):
        raise ValueError(
            f"refusing to write the demo archive into {out}: the directory is not empty and "
            "is not a previous radcurate demo archive; choose an empty or new directory"
        )
    if parameters not in text:
        raise ValueError(
            f"{out} holds a radcurate demo archive made with other parameters; delete it or "
            "choose another directory (only an archive of the same --patients, --seed and "
            "--qc-defects is overwritten)"
        )


def _write_study(
    ctx: WriteContext,
    patient: PatientPlan,
    study: StudyPlan,
    found: dict[str, str],
    seen: dict[str, str],
) -> None:
    needed = {i for s in study.series if s.kind in _NEEDS_DATASETS for i in s.refs}
    ctx.kept.clear()
    for series in study.series:
        try:
            _WRITERS[series.kind](ctx, patient, study, series, series.index in needed)
        except MissingDependencyError as exc:
            warnings.warn(f"skipping a {series.kind} object: {exc}", stacklevel=2)
            continue
        seen[series.uid] = series.modality
        if series.defect:
            found[f"{series.defect}_series"] = series.uid
        if series.defect == "missing_slice" and "duplicate_file" not in found:
            original = ctx.sink.last_path
            found["duplicate_of"] = original
            found["duplicate_file"] = defects.duplicate(ctx.sink, original)
        if series.defect == "noisy" and "truncated_file" not in found:
            _truncated(ctx, patient, study, series, found)
    ctx.kept.clear()


def _truncated(
    ctx: WriteContext,
    patient: PatientPlan,
    study: StudyPlan,
    series: SeriesPlan,
    found: dict[str, str],
) -> None:
    """An extra slice of ``series`` that was cut off during transfer, plus a scanner log."""
    import pydicom
    from pydicom.uid import UID

    from radcurate.demo.layout import relative_path

    full = pydicom.dcmread(ctx.sink.root / ctx.sink.last_path)
    geom = series.geometry
    assert geom is not None
    uid = instance_uid(ctx.seed, series, geom.count)
    full.SOPInstanceUID = UID(uid)
    full.file_meta.MediaStorageSOPInstanceUID = UID(uid)
    full.InstanceNumber = geom.count + 1
    rel = relative_path(patient, study, series, geom.count + 1, uid)
    found["truncated_file"] = ctx.sink.write_bytes(
        rel, defects.truncated_bytes(full), readable=False
    )
    log = f"{rel.split('/')[0]}/scanner-export.log"
    text = defects.scanner_log(patient.patient_id, study.station)
    found["non_dicom_file"] = ctx.sink.write_bytes(log, text.encode(), readable=False)


def generate_archive(
    out: Path,
    patients: int = 10,
    seed: int = 0,
    *,
    qc_defects: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoManifest:
    """Write a synthetic DICOM archive of ``patients`` patients under ``out``.

    Parameters
    ----------
    out
        Target directory; created if missing.  It must be empty or hold a previous
        demo archive made with the same parameters (which is overwritten).
    patients
        Number of patients (>= 1).  The first ten carry the rare object kinds.  0
        with ``qc_defects=True`` writes the QC phantom patient alone (a small,
        quick archive for tests of the quality-control checks).
    seed
        Seed of every random choice; the same seed gives byte-identical files.
    qc_defects
        Whether to add the QC phantom patient: one clean CT series and one series per
        defect the quality-control checks target, listed in ``qc-defects.json``.
        ``None`` (default): only in archives of at least ten patients, the default
        ``radcurate demo`` (small archives stay as small as tests want them).
    progress
        Called as ``progress(done_patients, total_patients)``.

    Returns
    -------
    DemoManifest
        Counts and defect locations of what was written.

    Raises
    ------
    ValueError
        If ``patients`` < 1 (0 is allowed with ``qc_defects=True``), ``seed`` < 0, or
        ``out`` is a non-empty directory that is not a previous demo archive of the same
        parameters.
    """
    if patients < 1 and not (patients == 0 and qc_defects):
        raise ValueError(
            f"patients must be >= 1 (or 0 with qc_defects=True for the QC phantom alone), "
            f"got {patients}"
        )
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    out = Path(out)
    qc, qc_default = qc_enabled(patients, qc_defects), qc_enabled(patients, None)
    planted = tuple((d.name, d.description) for d in DEFECTS) if qc else ()

    def readme(summary: str = "") -> str:
        return defects.readme_text(
            patients, seed, summary, qc=qc, qc_default=qc_default, qc_defects=planted
        )

    _check_target(out, defects.parameters_line(patients, seed, qc, qc_default))
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.txt").write_text(readme())
    sink = Sink(out)
    ctx = WriteContext(seed=seed, sink=sink, cache=PhantomCache())
    found: dict[str, str] = {}
    seen: dict[str, str] = {}
    for done, patient in enumerate(iter_plans(patients, seed), start=1):
        sink.start_patient()
        for study in patient.studies:
            _write_study(ctx, patient, study, found, seen)
        if progress is not None:
            progress(done, patients)
    manifest_path = ""
    if qc:
        sink.start_patient()
        written = write_qc_patient(ctx)
        for study in written.patient.studies:
            seen.update((s.uid, s.modality) for s in study.series)
        found.update((f"qc_{e['name']}_series", e["series_uid"]) for e in written.entries)
        text = qc_manifest(patients, seed, written, found, seen, ctx.findings)
        manifest_path = sink.write_bytes(MANIFEST_NAME, text.encode(), readable=False)
    sink.finish()
    summary = (
        f"\npatients={sink.patients} studies={sink.studies} series={sink.series} "
        f"instances={sink.instances}\n"
    )
    (out / "README.txt").write_text(readme(summary))
    sink.files += 1
    sink.unreadable.append("README.txt")
    return DemoManifest(
        root=out,
        patients=sink.patients,
        studies=sink.studies,
        series=sink.series,
        instances=sink.instances,
        files=sink.files,
        readable_files=sink.readable_files,
        unreadable=tuple(sorted(sink.unreadable)),
        defects=dict(sorted(found.items())),
        by_modality=dict(sorted(sink.by_modality.items())),
        qc_manifest=manifest_path,
    )
