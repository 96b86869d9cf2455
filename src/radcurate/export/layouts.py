"""Where each format puts a case's files, and the index files training code reads.

- ``nnunet``: nnU-Net v2 raw layout ``DatasetNNN_Name/``: ``imagesTr/CASE_0000.nii.gz`` and
  ``labelsTr/CASE.nii.gz`` for the train and val cases (which must have labels),
  ``imagesTs/CASE_0000.nii.gz`` (and ``labelsTs/CASE.nii.gz`` when labelled) for test,
  ``dataset.json`` and, with a val split or folds, ``splits_final.json`` (nnU-Net's own
  format; copy it into ``nnUNet_preprocessed/DatasetNNN_Name/`` to train on these folds).
- ``monai``: ``images/CASE.nii.gz``, ``labels/CASE.nii.gz`` and ``datalist.json`` in the
  Decathlon form (``training`` with a ``fold`` per item when folds are asked,
  ``validation``, ``test``), paths relative to the file.
- ``nifti``: ``images/CASE.nii.gz``, ``labels/CASE.nii.gz`` and ``labels.json``.

With ``--channel`` a case has one image per channel: ``CASE_0000.nii.gz``,
``CASE_0001.nii.gz``… (nnU-Net's naming, in ``images/`` for monai and nifti too);
``dataset.json``'s ``channel_names`` (nnunet), the datalist's ``modality`` (monai, each item's
``image`` a list of the channel files) and ``channels.json`` (nifti) name them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radcurate.export.plan import Case

__all__ = ["FORMATS", "CasePaths", "case_paths", "dataset_folder", "write_index"]

#: the formats ``radcurate export`` writes
FORMATS: tuple[str, ...] = ("nnunet", "monai", "nifti", "dicom")


def dataset_folder(name: str, dataset_id: int) -> str:
    """``DatasetNNN_Name`` (nnU-Net's folder name; letters, digits and ``_`` of the name kept).

    Examples
    --------
    >>> dataset_folder("lung ct/v2", 7)
    'Dataset007_lung_ct_v2'
    """
    clean = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "radcurate"
    return f"Dataset{dataset_id:03d}_{clean}"


class CasePaths:
    """The image and label paths of a case, relative to the export root: ``images`` one per
    channel (``image`` is the first)."""

    def __init__(self, images: Sequence[str], label: str | None):
        self.images = tuple(images)
        self.image = self.images[0]
        self.label = label

    def all(self) -> list[str]:
        """Every path of the case."""
        return [*self.images, *([self.label] if self.label else [])]


def case_paths(fmt: str, case: Case, root: str, labelled: bool) -> CasePaths:
    """Where a case goes; ``root`` is the nnU-Net dataset folder (else unused)."""
    count = len(case.channels)
    stem = case.case_id
    if fmt == "nnunet":
        images = [f"{stem}_{k:04d}.nii.gz" for k in range(max(1, count))]
        if case.split == "test":
            return CasePaths(
                [f"{root}/imagesTs/{i}" for i in images],
                f"{root}/labelsTs/{stem}.nii.gz" if labelled else None,
            )
        return CasePaths([f"{root}/imagesTr/{i}" for i in images], f"{root}/labelsTr/{stem}.nii.gz")
    names = [f"{stem}_{k:04d}.nii.gz" for k in range(count)] if count else [f"{stem}.nii.gz"]
    return CasePaths([f"images/{n}" for n in names], f"labels/{stem}.nii.gz" if labelled else None)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _splits_final(cases: Sequence[Case], folds: int) -> list[dict[str, list[str]]]:
    train = [c for c in cases if c.split in ("train", "val")]
    if folds:
        return [
            {
                "train": sorted(c.case_id for c in train if c.fold != k),
                "val": sorted(c.case_id for c in train if c.fold == k),
            }
            for k in range(folds)
        ]
    return [
        {
            "train": sorted(c.case_id for c in train if c.split == "train"),
            "val": sorted(c.case_id for c in train if c.split == "val"),
        }
    ]


def write_index(
    fmt: str,
    out: Path,
    root: str,
    exported: Sequence[tuple[Case, CasePaths]],
    labels: dict[str, int],
    *,
    name: str,
    description: str,
    folds: int,
    channels: Sequence[str] = (),
) -> list[str]:
    """Write the format's index files; returns their paths relative to ``out``.
    ``channels``: the channel names (``--channel``), else one channel named by modality."""
    cases = [c for c, _ in exported]
    named = {str(k): n for k, n in enumerate(channels)}
    if fmt == "nnunet":
        modalities = sorted({str(c.document.get("Modality") or "unknown") for c in cases})
        training = [c for c in cases if c.split != "test"]
        dataset = {
            "channel_names": named or {"0": "/".join(modalities) or "CT"},
            "labels": labels,
            "numTraining": len(training),
            "file_ending": ".nii.gz",
            "name": name,
            "description": description,
        }
        written = [f"{root}/dataset.json"]
        (out / root).mkdir(parents=True, exist_ok=True)
        (out / root / "dataset.json").write_text(_dump(dataset), encoding="utf-8")
        if folds or any(c.split == "val" for c in cases):
            (out / root / "splits_final.json").write_text(
                _dump(_splits_final(cases, folds)), encoding="utf-8"
            )
            written.append(f"{root}/splits_final.json")
        return written
    if fmt == "monai":

        def item(case: Case, paths: CasePaths) -> dict[str, Any]:
            image: str | list[str] = list(paths.images) if channels else paths.image
            entry: dict[str, Any] = {"image": image, "case": case.case_id}
            if paths.label:
                entry["label"] = paths.label
            if case.fold is not None:
                entry["fold"] = case.fold
            return entry

        datalist = {
            "name": name,
            "description": description,
            "labels": {str(v): k for k, v in labels.items()},
            "modality": named
            or {"0": "/".join(sorted({str(c.document.get("Modality")) for c in cases}))},
            "numTraining": sum(1 for c in cases if c.split == "train"),
            "numTest": sum(1 for c in cases if c.split == "test"),
            "training": [item(c, p) for c, p in exported if c.split == "train"],
            "validation": [item(c, p) for c, p in exported if c.split == "val"],
            "test": [item(c, p) for c, p in exported if c.split == "test"],
        }
        (out / "datalist.json").write_text(_dump(datalist), encoding="utf-8")
        return ["datalist.json"]
    if fmt == "nifti":
        (out / "labels.json").write_text(_dump(labels), encoding="utf-8")
        if not named:
            return ["labels.json"]
        (out / "channels.json").write_text(_dump(named), encoding="utf-8")
        return ["labels.json", "channels.json"]
    return []
