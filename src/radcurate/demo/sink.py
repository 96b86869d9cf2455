"""Writes files into the archive and counts what was written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy.typing as npt
from pydicom import dcmwrite
from pydicom.dataset import Dataset

from radcurate.demo.layout import relative_path
from radcurate.demo.phantom import PhantomCache
from radcurate.demo.plan import EXPLICIT, PatientPlan, SeriesPlan, StudyPlan

__all__ = ["Sink", "WriteContext", "compress"]


@dataclass
class Sink:
    """Writes files under ``root`` and keeps the manifest's counters."""

    root: Path
    files: int = 0
    readable_files: int = 0
    instances: int = 0
    studies: int = 0
    series: int = 0
    patients: int = 0
    by_modality: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)
    #: relative path of the last instance written
    last_path: str = ""
    _patient_paths: set[str] = field(default_factory=set)
    _seen_series: set[str] = field(default_factory=set)
    _seen_studies: set[str] = field(default_factory=set)
    _dirs: set[Path] = field(default_factory=set)

    def start_patient(self) -> None:
        """Forget the per-patient bookkeeping (UIDs and paths are unique per patient)."""
        if self._seen_studies:
            self.patients += 1
        self._patient_paths.clear()
        self._seen_series.clear()
        self._seen_studies.clear()
        self._dirs.clear()

    def finish(self) -> None:
        """Close the last patient."""
        self.start_patient()

    def _unique(self, rel: str) -> str:
        stem, dot, ext = rel.rpartition(".") if rel.endswith(".dcm") else (rel, "", "")
        k = 1
        while rel in self._patient_paths:
            rel = f"{stem}_{k}{dot}{ext}"
            k += 1
        self._patient_paths.add(rel)
        return rel

    def write(self, ds: Dataset, patient: PatientPlan, study: StudyPlan, series: SeriesPlan) -> str:
        """Write one instance where the patient's layout puts it; return its relative path."""
        path, rel = self._path(
            patient, study, series, int(ds.InstanceNumber), str(ds.SOPInstanceUID)
        )
        dcmwrite(path, ds, enforce_file_format=True)
        self._record(study, series, str(ds.Modality))
        return rel

    def write_encoded(
        self,
        data: bytes,
        patient: PatientPlan,
        study: StudyPlan,
        series: SeriesPlan,
        number: int,
        sop_uid: str,
    ) -> str:
        """Write one already encoded instance (see :mod:`radcurate.demo.fastwrite`)."""
        path, rel = self._path(patient, study, series, number, sop_uid)
        path.write_bytes(data)
        self._record(study, series, series.modality)
        return rel

    def _path(
        self, patient: PatientPlan, study: StudyPlan, series: SeriesPlan, number: int, uid: str
    ) -> tuple[Path, str]:
        rel = self._unique(relative_path(patient, study, series, number, uid))
        self.last_path = rel
        path = self.root / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        return path, rel

    def _record(self, study: StudyPlan, series: SeriesPlan, modality: str) -> None:
        self.files += 1
        self.readable_files += 1
        self.instances += 1
        if series.uid not in self._seen_series:
            self._seen_series.add(series.uid)
            self.series += 1
            self.by_modality[modality] += 1
        if study.uid not in self._seen_studies:
            self._seen_studies.add(study.uid)
            self.studies += 1

    def write_bytes(self, rel: str, data: bytes, *, readable: bool) -> str:
        """Write raw bytes (a defect or a duplicate); they add no instance."""
        rel = self._unique(rel) if readable else rel
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files += 1
        if readable:
            self.readable_files += 1
        else:
            self.unreadable.append(rel)
        return rel


@dataclass
class WriteContext:
    """Everything a series writer needs besides its plan."""

    seed: int
    sink: Sink
    cache: PhantomCache
    #: series index -> datasets kept for derived objects of the same study
    kept: dict[int, list[Dataset]] = field(default_factory=dict)
    #: transfer syntaxes whose encoder turned out to be missing
    missing_encoders: set[str] = field(default_factory=set)
    #: what the checks will find in series that carry no planted defect, by construction:
    #: ``(finding, series UID, detail)`` (listed in qc-defects.json)
    findings: list[tuple[str, str, str]] = field(default_factory=list)


def compress(ctx: WriteContext, ds: Dataset, arr: npt.NDArray[Any], syntax: str) -> None:
    """Compress ``ds`` in place with ``syntax``; keep it uncompressed if no encoder works."""
    if syntax == EXPLICIT or syntax in ctx.missing_encoders:
        return
    from pydicom.pixels.encoders.base import get_encoder

    try:
        if not get_encoder(syntax).is_available:
            raise RuntimeError(f"no encoder for {syntax}")
        ds.compress(syntax, arr, generate_instance_uid=False)
    except (RuntimeError, ImportError, ValueError, NotImplementedError):
        ctx.missing_encoders.add(syntax)
