"""``import-nifti``: NIfTI images and label maps -> DICOM series and SEG -> ingest.

What is imported (:func:`plan_import`):

- one ``.nii``/``.nii.gz`` file: one case, one series;
- an nnU-Net v2 raw folder (``dataset.json`` beside ``imagesTr``): one collection named
  after the folder, one patient and study per case, one series per channel file
  (``CASE_0000``, ``CASE_0001``, ...; ``imagesTr`` and ``imagesTs``), one SEG per label
  file (``labelsTr/CASE``), segment names from ``dataset.json``;
- any other folder, walked: each NIfTI file is a case, except files named
  ``<image>_seg``, ``_label``, ``_labels`` or ``_mask`` (label maps of ``<image>`` in the
  same folder), segment names from that folder's ``seg_info.json`` or ``--labels``.

Files are written under ``OUT/<collection>/<case>/`` (a file whose bytes would not change
is not touched, so a second import changes nothing and ingest sees the files unchanged),
then ingested in place with :func:`radcurate.ingest.ingest`.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from radcurate.catalog.base import CatalogBackend
from radcurate.ingest.nifti_dicom import (
    NiftiError,
    NiftiVolume,
    SeriesSpec,
    check_label_data,
    derive_uid,
    encode_values,
    file_sha256,
    load_nifti,
    slice_datasets,
)
from radcurate.ingest.nifti_seg import label_table, read_label_table, seg_dataset
from radcurate.ingest.pipeline import IngestSummary, ingest

__all__ = ["ImportPlan", "ImportSummary", "import_nifti", "plan_import", "read_meta"]

_SUFFIXES = (".nii.gz", ".nii")
_LABEL_SUFFIX = re.compile(r"_(seg|label|labels|mask)$", re.IGNORECASE)
_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")
MODALITIES = frozenset({"CT", "MR", "PT"})


def _stem(path: Path) -> str | None:
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return None


@dataclass
class Case:
    """One patient/study: channel -> image file, and its label files."""

    case_id: str
    images: dict[int, Path] = field(default_factory=dict)
    labels: list[Path] = field(default_factory=list)
    label_names: dict[int, str] = field(default_factory=dict)


@dataclass
class ImportPlan:
    """What will be imported, and the files left out with the reason."""

    collection: str
    cases: list[Case]
    channel_names: dict[int, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    kind: str = "files"

    @property
    def files(self) -> int:
        """Image and label files to read."""
        return sum(len(c.images) + len(c.labels) for c in self.cases)


@dataclass
class ImportSummary:
    """What an import did."""

    collection: str
    out_dir: Path
    kind: str
    cases: int = 0
    series: int = 0
    segs: int = 0
    files_written: int = 0
    files_unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)
    segments: dict[str, dict[str, int]] = field(default_factory=dict)
    ingest: IngestSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "collection": self.collection,
            "out_dir": str(self.out_dir),
            "kind": self.kind,
            "cases": self.cases,
            "series": self.series,
            "segs": self.segs,
            "files_written": self.files_written,
            "files_unchanged": self.files_unchanged,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "notes": self.notes,
            "values": self.values,
            "segments": self.segments,
            "ingest": self.ingest.to_dict() if self.ingest is not None else None,
        }


def read_meta(path: Path | None) -> dict[str, Any]:
    """The JSON sidecar: DICOM keywords for every case, ``"cases": {id: {...}}`` per case.

    Raises
    ------
    NiftiError
        Not a JSON object.
    """
    if path is None:
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NiftiError(f"sidecar {path.name} cannot be read ({type(exc).__name__})") from exc
    if not isinstance(document, dict):
        raise NiftiError(f"sidecar {path.name} is not a JSON object")
    return document


def _nnunet_plan(root: Path) -> ImportPlan:
    try:
        dataset = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NiftiError(f"dataset.json cannot be read ({type(exc).__name__})") from exc
    names = label_table(dataset) if "labels" in dataset else {}
    ending = str(dataset.get("file_ending", ".nii.gz"))
    channels = {int(k): str(v) for k, v in dict(dataset.get("channel_names", {})).items()}
    plan = ImportPlan(root.name, [], channels, kind="nnunet")
    cases: dict[str, Case] = {}
    for folder in ("imagesTr", "imagesTs"):
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            match = (
                _CHANNEL.match(path.name[: -len(ending)]) if path.name.endswith(ending) else None
            )
            if match is None:
                plan.skipped.append((_rel(path, root), f"not CASE_XXXX{ending}"))
                continue
            case = cases.setdefault(match["case"], Case(match["case"], label_names=names))
            case.images[int(match["channel"])] = path
    for folder in ("labelsTr", "labelsTs"):
        for path in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
            case_id = path.name[: -len(ending)] if path.name.endswith(ending) else None
            if case_id is None or case_id not in cases:
                plan.skipped.append((_rel(path, root), "label file without an image of its case"))
                continue
            cases[case_id].labels.append(path)
    plan.cases = [cases[k] for k in sorted(cases)]
    return plan


def _folder_plan(root: Path, names: Mapping[int, str]) -> ImportPlan:
    plan = ImportPlan(root.name, [], kind="folder")
    for folder, _dirs, files in sorted(os.walk(root)):
        here = Path(folder)
        table = dict(names)
        if not table and (here / "seg_info.json").is_file():
            table = read_label_table(here / "seg_info.json")
        stems = {s: here / f for f in sorted(files) if (s := _stem(here / f)) is not None}
        for stem, path in stems.items():
            if _LABEL_SUFFIX.search(stem):
                continue
            case_id = str(path.relative_to(root).parent / stem).replace(os.sep, "_").lstrip("._")
            case = Case(case_id or stem, {0: path}, label_names=table)
            plan.cases.append(case)
        by_stem = {c.images[0].name: c for c in plan.cases if c.images[0].parent == here}
        for stem, path in stems.items():
            base = _LABEL_SUFFIX.sub("", stem)
            if base == stem:
                continue
            owner = next((c for n, c in by_stem.items() if _stem(Path(n)) == base), None)
            if owner is None:
                plan.skipped.append((_rel(path, root), "label file without an image of its name"))
            else:
                owner.labels.append(path)
    return plan


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def plan_import(path: Path, labels: Path | None = None) -> ImportPlan:
    """The cases, series and label maps under ``path`` (see the module docstring).

    Raises
    ------
    NiftiError
        ``path`` does not exist, or a label table cannot be read.
    """
    names = read_label_table(labels) if labels is not None else {}
    if path.is_file():
        stem = _stem(path) or path.stem
        match = _CHANNEL.match(stem)
        case_id = match["case"] if match else stem
        return ImportPlan(case_id, [Case(case_id, {0: path}, label_names=names)], kind="file")
    if not path.is_dir():
        raise NiftiError(f"{path} does not exist")
    if (path / "dataset.json").is_file() and (path / "imagesTr").is_dir():
        plan = _nnunet_plan(path)
        if names:
            for case in plan.cases:
                case.label_names = names
        return plan
    return _folder_plan(path, names)


def _dataset_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless the file already holds exactly these bytes."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".dcm")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _case_header(
    meta: Mapping[str, Any], plan: ImportPlan, case: Case, channel: int
) -> tuple[dict[str, Any], str | None]:
    """Header values of one series and a note when the Modality had to be assumed."""
    header = {k: v for k, v in meta.items() if k != "cases"}
    header.update(dict(meta.get("cases", {}).get(case.case_id, {})))
    note = None
    if "Modality" not in header:
        channel_name = plan.channel_names.get(channel, "").upper()
        if channel_name in MODALITIES:
            header["Modality"] = channel_name
        else:
            header["Modality"] = "OT"
            note = "no Modality in the sidecar: stored as OT (other)"
    header.setdefault("PatientID", case.case_id)
    header.setdefault("PatientName", f"{case.case_id}^")
    header.setdefault("StudyDescription", plan.collection)
    image = case.images[channel]
    header.setdefault("SeriesDescription", plan.channel_names.get(channel) or _stem(image) or "")
    return header, note


def import_nifti(
    path: Path,
    catalog: CatalogBackend | None,
    out_dir: Path,
    *,
    meta: Mapping[str, Any] | None = None,
    labels: Path | None = None,
    uid_root: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import NIfTI files as DICOM under ``out_dir/<collection>``, then ingest them.

    Parameters
    ----------
    catalog
        Where to ingest the written files; ``None`` writes them only.
    meta
        Header values (:func:`read_meta`).
    labels
        A label table (nnU-Net ``dataset.json`` or ``seg_info.json``-style) for every label map.
    uid_root
        UID prefix (``"1.2.3."``); default ``2.25.`` + a hash.
    on_progress
        Called with (files done, files in all) after each file.

    Returns
    -------
    ImportSummary
        With every file skipped and why; one bad file never stops the others.
    """
    plan = plan_import(path, labels)
    meta = dict(meta or {})
    target = out_dir / plan.collection
    summary = ImportSummary(plan.collection, target, plan.kind, skipped=list(plan.skipped))
    total, done = plan.files, 0

    def step() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    for case in plan.cases:
        sources = _import_case(plan, case, meta, target, uid_root, summary, step)
        if sources is not None:
            summary.cases += 1
    notes = sorted(set(summary.notes))
    summary.notes = notes
    if catalog is not None and target.is_dir():
        summary.ingest = ingest([target], catalog, workers=workers)
    return summary


def _import_case(
    plan: ImportPlan,
    case: Case,
    meta: Mapping[str, Any],
    target: Path,
    uid_root: str | None,
    summary: ImportSummary,
    step: Callable[[], None],
) -> list[Dataset] | None:
    """Write one case's series and SEGs; returns the datasets SEGs refer to (None: nothing)."""
    hashes = {ch: file_sha256(p) for ch, p in sorted(case.images.items())}
    first = min(hashes)
    study_uid = derive_uid(uid_root, "study", plan.collection, case.case_id, hashes[first])
    frame_uid = derive_uid(uid_root, "frame-of-reference", study_uid)
    case_dir = target / case.case_id
    reference: tuple[NiftiVolume, list[Dataset]] | None = None
    for channel, image in sorted(case.images.items()):
        name = _rel(image, image.parents[1]) if plan.kind == "nnunet" else image.name
        try:
            volume = load_nifti(image)
            header, note = _case_header(meta, plan, case, channel)
            encoding = encode_values(volume.data)
            spec = SeriesSpec(
                study_uid,
                derive_uid(uid_root, "series", study_uid, str(channel), volume.sha256),
                frame_uid,
                uid_root,
                channel + 1,
                header,
            )
            datasets = slice_datasets(volume, encoding, spec)
        except NiftiError as exc:
            summary.skipped.append((name, str(exc)))
            step()
            continue
        if note:
            summary.notes.append(note)
        summary.notes.extend(volume.notes)
        summary.notes.append(f"affine from the {volume.affine_source}")
        summary.values.append(
            {
                "file": name,
                "exact": encoding.exact,
                "slope": encoding.slope,
                "intercept": encoding.intercept,
                "max_error": encoding.max_error,
            }
        )
        _write_series(case_dir / f"ch{channel:04d}", datasets, summary)
        summary.series += 1
        if reference is None:
            reference = (volume, datasets)
        step()
    for number, label in enumerate(case.labels, start=100):
        name = _rel(label, label.parents[1]) if plan.kind == "nnunet" else label.name
        try:
            if reference is None:
                raise NiftiError("its image could not be imported")
            _import_label(label, reference, case, (study_uid, number), uid_root, case_dir, summary)
        except NiftiError as exc:
            summary.skipped.append((name, str(exc)))
        step()
    return reference[1] if reference is not None else None


def _import_label(
    label: Path,
    reference: tuple[NiftiVolume, list[Dataset]],
    case: Case,
    study: tuple[str, int],
    uid_root: str | None,
    case_dir: Path,
    summary: ImportSummary,
) -> None:
    """One label map as a SEG; ``study`` is the study UID and the SEG's series number."""
    volume, sources = reference
    study_uid, series_number = study
    label_volume = load_nifti(label)
    data = check_label_data(label_volume.data, volume.data.shape)
    if not np.allclose(label_volume.affine, volume.affine, atol=1e-3):
        raise NiftiError("label map affine differs from its image's (not on the same grid)")
    stem = _stem(label) or label.stem
    series_uid = derive_uid(uid_root, "seg", study_uid, stem, label_volume.sha256)
    try:
        seg, counts = seg_dataset(
            sources,
            data,
            case.label_names,
            series_uid=series_uid,
            uid_root=uid_root,
            series_number=series_number,
            description=f"labels {stem}",
        )
    except ValueError as exc:  # NiftiError included; highdicom rejects odd inputs
        raise NiftiError(str(exc)) from exc
    if _write_if_changed(case_dir / f"seg_{stem}.dcm", _dataset_bytes(seg)):
        summary.files_written += 1
    else:
        summary.files_unchanged += 1
    summary.segs += 1
    summary.segments[f"{case.case_id}/{stem}"] = counts


def _write_series(folder: Path, datasets: list[Dataset], summary: ImportSummary) -> None:
    """Write the slices ``000001.dcm``, ... and remove slices left from a longer earlier import."""
    names = set()
    for ds in datasets:
        name = f"{int(ds.InstanceNumber):06d}.dcm"
        names.add(name)
        if _write_if_changed(folder / name, _dataset_bytes(ds)):
            summary.files_written += 1
        else:
            summary.files_unchanged += 1
    for stale in folder.glob("*.dcm"):
        if stale.name not in names:
            stale.unlink()
