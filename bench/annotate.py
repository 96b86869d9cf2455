"""CT annotation benchmark: mask accuracy on real scans, speed and memory on a 512 x 512 x 300
CT, throughput over a demo archive.

One command::

    .venv/bin/python bench/annotate.py                           # everything (a few minutes)
    .venv/bin/python bench/annotate.py --smoke --json figures.json   # < 60 s, used by tests

1. **Accuracy** on TotalSegmentator 2.18.0's reference files (Apache-2.0; fetched once into
   a cache by ``tests/reference_data.py``). Each sample's masks (``compute_masks``, default
   settings) are scored against the union of the reference classes: body = share of the
   labelled voxels inside the body mask; lungs = the five lobes; bone = vertebrae, sacrum,
   ribs, sternum, hips, femurs, humeri, scapulae, claviculae, skull ("bone+cartilage" adds
   the costal cartilages, which DESIGN.md's naive 0.47 counted); subcutaneous fat = the
   tissue-types reference. Samples: the abdomen CT crop that the label maps belong to (30 x
   3 mm), the whole 112-slice abdomen-pelvis CT scored on those 30 slices, the real 20-slice
   DICOM CT (JPEG 2000, read with pydicom: its UIDs are empty) and the contrast chest CT
   (no lung or bone reference: lung volumes, the share of its reference aorta labelled bone
   and of its reference T12 vertebra found). The body-part regions of each sample are
   printed when ``radcurate.analyze.bodypart`` is installed.
2. **Speed and memory**: the real abdomen CT resampled to 300 x 512 x 512 (0.6-0.7 mm, noise
   added), written as DICOM and ingested; a fresh process per repeat runs ``annotate-bodypart``
   and ``annotate-ct-masks`` (reading, masks, DICOM SEG written and registered), timed
   step by step, peak RSS from ``getrusage``. Targets: body part + masks <= 15 s, <= 2 GiB.
3. **Throughput**: a phantom demo archive (``radcurate.demo``) ingested, then
   ``annotate-ct-masks`` run as a job over every series (non-CT series are refused): series/min.

Medians over ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.reference_data fetches the reference scans

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

TARGET_SECONDS = 15.0
TARGET_RSS_MIB = 2048.0
TARGETS = {"body_coverage": 0.99, "lungs": 0.85, "bone": 0.75}
#: TotalSegmentator "total" class ids (its map_to_binary.py)
LUNG_LOBES = (10, 11, 12, 13, 14)
LEFT_LOBES, RIGHT_LOBES = (10, 11), (12, 13, 14)
BONES = (*range(25, 51), *range(69, 79), 91, *range(92, 117))
COSTAL_CARTILAGES = (117,)
#: SeriesInstanceUID of the synthetic CT of the speed runs
SPEED_UID = "2.25.1007"
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


# -- volumes ------------------------------------------------------------------------------------
def nifti(path: Path) -> tuple[npt.NDArray[Any], F64]:
    """A NIfTI file as ``(slices, rows, columns)`` and its (column, row, slice) affine."""
    import nibabel

    image: Any = nibabel.load(str(path))
    data = np.asanyarray(image.dataobj)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), np.asarray(image.affine, np.float64)


def dicom_folder(folder: Path) -> tuple[F32, F64]:
    """Single-frame CT slices read with pydicom, in order along the slice normal."""
    import pydicom

    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir()) if p.is_file()]
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=np.float64)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda d: float(normal @ np.array(d.ImagePositionPatient, np.float64)))
    array = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in datasets]
    ).astype(np.float32)
    first = np.array(datasets[0].ImagePositionPatient, np.float64)
    last = np.array(datasets[-1].ImagePositionPatient, np.float64)
    row_mm, col_mm = (float(v) for v in datasets[0].PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1] = iop[:3] * col_mm, iop[3:] * row_mm
    lps[:3, 2] = (last - first) / max(len(datasets) - 1, 1)
    lps[:3, 3] = first
    return array, LPS_TO_RAS @ lps


def on_grid(mask: npt.NDArray[Any], affine: F64, shape: tuple[int, ...], target: F64
            ) -> npt.NDArray[Any]:  # fmt: skip
    """``mask`` (on ``affine``'s grid) sampled at the voxel centres of another grid."""
    k, j, i = np.indices(shape)
    points = np.stack([i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)])
    source = np.rint(np.linalg.solve(affine, target @ points)[:3]).astype(np.int64)
    si, sj, sk = source
    inside = (
        (si >= 0) & (si < mask.shape[2]) & (sj >= 0) & (sj < mask.shape[1])
        & (sk >= 0) & (sk < mask.shape[0])
    )  # fmt: skip
    out = np.zeros(i.size, dtype=mask.dtype)
    out[inside] = mask[sk[inside], sj[inside], si[inside]]
    return out.reshape(shape)


def flip_volume(hu: npt.NDArray[Any], affine: F64, axis: int) -> tuple[npt.NDArray[Any], F64]:
    """The same anatomy stored with array ``axis`` (0 slice, 1 row, 2 column) reversed."""
    column = 2 - axis
    flipped = np.array(affine, dtype=np.float64)
    flipped[:3, 3] = affine[:3, 3] + (hu.shape[axis] - 1) * affine[:3, column]
    flipped[:3, column] = -affine[:3, column]
    return np.ascontiguousarray(np.flip(hu, axis)), flipped


def write_ct_series(
    folder: Path, hu: npt.NDArray[Any], affine: F64, *, series_uid: str, study_uid: str,
    frame_uid: str, reverse_numbers: bool = False, description: str = "CT",
) -> None:  # fmt: skip
    """``hu`` (``(slices, rows, columns)``, RAS affine) as uncompressed CT slices."""
    folder.mkdir(parents=True, exist_ok=True)
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    col_mm, row_mm = float(np.linalg.norm(lps[:3, 0])), float(np.linalg.norm(lps[:3, 1]))
    orientation = [round(float(v), 6) for v in (*(lps[:3, 0] / col_mm), *(lps[:3, 1] / row_mm))]
    pixels = np.clip(np.rint(hu), -32768, 32767).astype(np.int16)
    count = hu.shape[0]
    for k in range(count):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.PatientID, ds.PatientName = "MASKS1", "Masks^Bench"
        ds.Modality, ds.SeriesDescription, ds.SeriesNumber = "CT", description, 2
        ds.StudyDate, ds.StudyTime = "20240102", "101500"
        ds.SeriesDate, ds.SeriesTime = "20240102", "101600"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = count - k if reverse_numbers else k + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in (lps @ [0.0, 0.0, k, 1.0])[:3]]
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing = [round(row_mm, 6), round(col_mm, 6)]
        ds.SliceThickness = round(float(np.linalg.norm(lps[:3, 2])), 4)
        ds.Rows, ds.Columns = hu.shape[1], hu.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = pixels[k].tobytes()
        ds.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)


# -- accuracy -----------------------------------------------------------------------------------
def dice(a: Mask, b: Mask) -> float:
    """Dice overlap of two masks (1 when both are empty)."""
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 1.0


def _bodypart() -> Any:
    try:
        from radcurate.analyze import bodypart
    except ImportError:
        return None
    return bodypart if hasattr(bodypart, "slice_regions") else None


def score_sample(
    name: str, hu: npt.NDArray[Any], affine: F64, labels: npt.NDArray[Any] | None,
    label_affine: F64 | None, expected_regions: list[str], extra: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Masks of one sample and their overlap with its reference label map."""
    from radcurate.analyze.masks_structures import compute_masks

    hu = np.asarray(hu, dtype=np.float32)
    start = time.perf_counter()
    masks = compute_masks(hu, affine)
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "name": name,
        "shape": list(hu.shape),
        "spacing_mm": [round(float(v), 3) for v in np.linalg.norm(affine[:3, :3], axis=0)[::-1]],
        "seconds": round(seconds, 3),
        "volume_ml": {n: round(masks.volume_ml(n), 1) for n in masks.names},
        "dice": {},
    }
    if labels is not None and label_affine is not None:
        full = {n: on_grid(masks.full(n), affine, labels.shape, label_affine) for n in masks.names}
        labelled = labels > 0
        scores = out["dice"]
        scores["body_coverage"] = float((full["body"] & labelled).sum() / max(labelled.sum(), 1))
        lobes = np.isin(labels, LUNG_LOBES)
        if lobes.any():
            scores["lungs"] = dice(full["lung_left"] | full["lung_right"], lobes)
            scores["lung_left"] = dice(full["lung_left"], np.isin(labels, LEFT_LOBES))
            scores["lung_right"] = dice(full["lung_right"], np.isin(labels, RIGHT_LOBES))
        scores["bone"] = dice(full["bone"], np.isin(labels, BONES))
        scores["bone_with_cartilage"] = dice(
            full["bone"], np.isin(labels, BONES + COSTAL_CARTILAGES)
        )
        for key, value in (extra or {}).items():
            if key == "subcutaneous_fat":
                scores[key] = dice(full["subcutaneous_fat"], value)
        out["dice"] = {k: round(v, 4) for k, v in scores.items()}
    for key, value in (extra or {}).items():
        if key.startswith("overlap_"):  # (reference mask, its affine): share labelled bone
            ref, ref_affine = value
            bone = on_grid(masks.full("bone"), affine, ref.shape, ref_affine)
            out[key] = round(float((bone & ref).sum() / max(ref.sum(), 1)), 4)
    module = _bodypart()
    if module is not None:
        regions = module.slice_regions(hu, affine).covered()
        out["bodypart"] = {"regions": regions, "expected": expected_regions,
                           "correct": regions == expected_regions}  # fmt: skip
    return out


def accuracy(smoke: bool) -> list[dict[str, Any]]:
    """Scores of every real sample (the chest CT only in a full run: ~5 s of masks)."""
    from tests.reference_data import totalsegmentator_reference

    ref = totalsegmentator_reference()
    seg, seg_affine = nifti(ref / "example_seg.nii.gz")
    fat = nifti(ref / "example_seg_tissue_types" / "subcutaneous_fat.nii.gz")[0] > 0
    samples = []
    crop, crop_affine = nifti(ref / "example_ct_sm.nii.gz")
    samples.append(score_sample(
        "abdomen CT crop (example_ct_sm)", crop, crop_affine, seg, seg_affine,
        ["abdomen"], {"subcutaneous_fat": fat},
    ))  # fmt: skip
    whole, whole_affine = nifti(ref / "example_ct.nii.gz")
    # the label maps belong to the 30 top slices (82..111) of the whole scan; its affine
    # and the crop's are the same, so the labels are placed with the crop's slice offset
    shifted = np.array(seg_affine)
    shifted[:3, 3] += 82 * seg_affine[:3, 2]
    samples.append(score_sample(
        "abdomen-pelvis CT (example_ct, scored on its 30 labelled slices)", whole, whole_affine,
        seg, shifted, ["abdomen", "pelvis"], {"subcutaneous_fat": fat},
    ))  # fmt: skip
    dicom, dicom_affine = dicom_folder(ref / "example_ct_dicom")
    labels, labels_affine = nifti(ref / "example_seg_dicom.nii.gz")
    samples.append(score_sample(
        "DICOM CT (example_ct_dicom, JPEG 2000)", dicom, dicom_affine, labels, labels_affine,
        ["abdomen"],
    ))  # fmt: skip
    if not smoke:
        chest, chest_affine = nifti(ref / "aorta_report" / "example_ct.nii.gz")
        models = ref / "aorta_report" / "test_result" / "models"
        aorta, aorta_affine = nifti(models / "aorta.nii.gz")
        t12, t12_affine = nifti(models / "vertebrae_T12.nii.gz")
        samples.append(score_sample(
            "contrast chest CT (aorta_report/example_ct, no lung/bone reference)",
            chest, chest_affine, None, None, ["chest"],
            {"overlap_aorta_as_bone": (aorta > 0, aorta_affine),
             "overlap_t12_found": (t12 > 0, t12_affine)},
        ))  # fmt: skip
    return samples


# -- speed --------------------------------------------------------------------------------------
def synthetic_ct(slices: int, size: int, seed: int = 0) -> tuple[F32, F64]:
    """The real abdomen-pelvis CT resampled to ``(slices, size, size)`` with noise added."""
    from scipy import ndimage

    from tests.reference_data import totalsegmentator_reference

    hu, affine = nifti(totalsegmentator_reference() / "example_ct.nii.gz")
    zoom = (slices / hu.shape[0], size / hu.shape[1], size / hu.shape[2])
    big = ndimage.zoom(hu.astype(np.float32), zoom, order=1)
    big += np.random.default_rng(seed).normal(0.0, 12.0, big.shape).astype(np.float32)
    scaled = np.array(affine, dtype=np.float64)
    for axis, factor in enumerate(zoom):
        scaled[:3, 2 - axis] /= factor
    return big, scaled


def speed_worker(catalog_url: str, uid: str, home: str) -> dict[str, Any]:
    """One run of body part + masks on ``uid`` (in a fresh process): step seconds, peak RSS."""
    from radcurate.analyze.ct_masks import CTMasks, CTMasksParams, mask_facts
    from radcurate.catalog import open_catalog
    from radcurate.settings import Settings
    from radcurate.workflow.step import SeriesItem

    catalog = open_catalog(catalog_url)
    settings = Settings(home=Path(home))
    figures: dict[str, Any] = {"start_rss_mib": _rss_mib()}
    module = _bodypart()
    start = time.perf_counter()
    if module is not None:
        bodypart = module.CTBodyPart()
        bodypart.process(SeriesItem(catalog, uid, settings), bodypart.parse_params({}))
        figures["bodypart_s"] = time.perf_counter() - start
    masks_step = CTMasks()
    params = CTMasksParams.model_validate({})
    item = SeriesItem(catalog, uid, settings)
    begin = time.perf_counter()
    geometry, masks = masks_step.masks_of(item, params)
    names = mask_facts(masks)["structures"]
    figures["masks_s"] = time.perf_counter() - begin  # reading the volume included
    begin = time.perf_counter()
    masks_step.write_seg(item, params, geometry, masks, names)
    figures["seg_s"] = time.perf_counter() - begin
    figures["total_s"] = time.perf_counter() - start
    figures["peak_rss_mib"] = _rss_mib()
    return figures


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_ct(folder: str, slices: str, size: str) -> str:
    """Write the synthetic CT as DICOM into ``folder`` and ingest it (in its own process,
    so the process that starts the timed workers never held the volume: Linux hands a
    parent's peak RSS down to ``getrusage`` of the child it forks); returns the catalog URL."""
    from radcurate.catalog import open_catalog
    from radcurate.ingest import ingest

    work = Path(folder)
    hu, affine = synthetic_ct(int(slices), int(size))
    write_ct_series(work / "ct", hu, affine, series_uid=SPEED_UID, study_uid="2.25.1008",
                    frame_uid="2.25.1009", description="synthetic 512")  # fmt: skip
    del hu
    url = f"sqlite:///{work / 'speed.sqlite'}"
    with open_catalog(url) as catalog:
        ingest([work / "ct"], catalog, workers=1)
    return url


def _child(*args: str) -> str:
    process = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=900
    )
    if process.returncode != 0:
        raise SystemExit(f"bench child {args[0]} failed:\n{process.stderr[-3000:]}")
    return process.stdout.strip().splitlines()[-1]


def speed(work: Path, slices: int, size: int, repeats: int) -> dict[str, Any]:
    """Median step times and peak RSS of body part + masks on a synthetic CT, each run in a
    fresh process started by this (small) one."""
    work.mkdir(parents=True, exist_ok=True)
    url = _child("--make-ct", str(work), str(slices), str(size))
    uid = SPEED_UID
    runs = [
        json.loads(_child("--worker", url, uid, str(work / f"home{repeat}")))
        for repeat in range(repeats)
    ]
    keys = [k for k in runs[0] if k.endswith("_s") or k.endswith("_mib")]
    median = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    return {
        "shape": [slices, size, size], "repeats": repeats, "median": median, "runs": runs,
        "load_average": round(os.getloadavg()[0], 2),
    }  # fmt: skip


# -- throughput ---------------------------------------------------------------------------------
def throughput(work: Path, patients: int) -> dict[str, Any]:
    """``annotate-ct-masks`` as a job over a phantom demo archive: series/min."""
    from radcurate.analyze.ct_masks import CTMasks
    from radcurate.catalog import open_catalog
    from radcurate.demo import generate_archive
    from radcurate.ingest import ingest
    from radcurate.jobs import run_job
    from radcurate.jobs.workflows import WORKFLOW_KIND, workflow_job
    from radcurate.workflow import WorkflowSelection

    manifest = generate_archive(work / "archive", patients=patients, seed=3)
    with open_catalog(f"sqlite:///{work / 'demo.sqlite'}") as catalog:
        ingest([manifest.root], catalog, workers=1)
        ct = catalog.count("Modality:CT")
        start = time.perf_counter()
        job = workflow_job(CTMasks(), WorkflowSelection(query="*"), {}, home=str(work / "home"))
        record = run_job(catalog, WORKFLOW_KIND, job)
        seconds = time.perf_counter() - start
        result = dict(record.result or {})
    return {
        "patients": patients,
        "series": result.get("total"),
        "ct_series": ct,
        "processed": result.get("processed"),
        "refused": result.get("failed"),
        "seconds": round(seconds, 2),
        "series_per_min": round(60.0 * (result.get("total") or 0) / seconds, 1),
        "ct_series_per_min": round(60.0 * (result.get("processed") or 0) / seconds, 1),
    }


# -- report -------------------------------------------------------------------------------------
def report(figures: dict[str, Any]) -> None:
    """Print the figures against the targets."""
    if "accuracy" in figures:
        _report_accuracy(figures["accuracy"])
    if "speed" in figures:
        _report_speed(figures["speed"])
    if "throughput" in figures:
        th = figures["throughput"]
        print(f"throughput over a {th['patients']}-patient demo archive: {th['series']} series "
              f"({th['ct_series']} CT) in {th['seconds']:.1f} s = {th['series_per_min']:.0f} "
              f"series/min, {th['ct_series_per_min']:.0f} CT series masked/min "
              f"({th['refused']} refused)")  # fmt: skip


def _report_accuracy(samples: list[dict[str, Any]]) -> None:
    print("accuracy on TotalSegmentator 2.18.0's reference scans (Dice; body: share of the "
          "labelled voxels inside the body)")  # fmt: skip
    for sample in samples:
        print(f"  {sample['name']}: {sample['shape']} @ {sample['spacing_mm']} mm, "
              f"{sample['seconds']:.2f} s")  # fmt: skip
        for key, value in sample["dice"].items():
            target = TARGETS.get(key)
            mark = (
                ""
                if target is None
                else f"  (target >= {target}: " + ("met)" if value >= target else "NOT met)")
            )
            print(f"    {key:<20} {value:.3f}{mark}")
        for key in ("overlap_aorta_as_bone", "overlap_t12_found"):
            if key in sample:
                print(f"    {key:<20} {sample[key]:.3f}")
        print(f"    volumes (ml)         {sample['volume_ml']}")
        if "bodypart" in sample:
            part = sample["bodypart"]
            print(f"    body part            {part['regions']} (expected {part['expected']}: "
                  f"{'correct' if part['correct'] else 'WRONG'})")  # fmt: skip
    if _bodypart() is None:
        print("  body part: radcurate.analyze.bodypart.slice_regions is not installed; "
              "figure skipped")  # fmt: skip


def _report_speed(sp: dict[str, Any]) -> None:
    m = sp["median"]
    total = m.get("bodypart_s", 0.0) + m["masks_s"]
    print(f"speed on a {sp['shape'][0]} x {sp['shape'][1]} x {sp['shape'][2]} CT "
          f"(median of {sp['repeats']}, fresh process each; load average "
          f"{sp['load_average']} on {os.cpu_count()} cores):")  # fmt: skip
    if "bodypart_s" in m:
        print(f"  body part (annotate-bodypart)     {m['bodypart_s']:.2f} s")
    print(f"  masks (volume read + compute)      {m['masks_s']:.2f} s")
    print(
        f"  body part + masks                  {total:.2f} s "
        f"(target <= {TARGET_SECONDS:.0f} s: {'met' if total <= TARGET_SECONDS else 'NOT met'})"
    )
    print(f"  DICOM SEG build + store + register {m['seg_s']:.2f} s "
          f"(all of it: {m['total_s']:.2f} s)")  # fmt: skip
    rss_ok = m["peak_rss_mib"] <= TARGET_RSS_MIB
    print(f"  peak RSS                           {m['peak_rss_mib']:.0f} MiB (target <= "
          f"{TARGET_RSS_MIB:.0f} MiB: {'met' if rss_ok else 'NOT met'}; "
          f"{m['start_rss_mib']:.0f} MiB at the start)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, < 60 s")
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument(
        "--parts", default="speed,accuracy,throughput", help="comma-separated parts to run"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--make-ct", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(speed_worker(*args.worker)))
        return
    if args.make_ct:
        print(make_ct(*args.make_ct))
        return
    if args.smoke:
        args.slices, args.size, args.repeats, args.patients = 60, 256, 1, 1
    with tempfile.TemporaryDirectory(prefix="radcurate-annotate-bench-") as folder:
        work = Path(folder)
        # speed first: its workers must be started while this process is still small
        parts = set(args.parts.split(","))
        figures: dict[str, Any] = {"smoke": args.smoke}
        if "speed" in parts:
            figures["speed"] = speed(work / "speed", args.slices, args.size, args.repeats)
        if "accuracy" in parts:
            figures["accuracy"] = accuracy(args.smoke)
        if "throughput" in parts:
            figures["throughput"] = throughput(work / "demo", args.patients)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
