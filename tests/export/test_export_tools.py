"""The tools that read the exports: nnU-Net v2's ``verify_dataset_integrity`` on an nnunet export
and MONAI's ``load_decathlon_datalist`` + ``LoadImaged`` on every item of a monai export.

Both run in a subprocess (nnU-Net's check starts a spawn pool, so it must run under
``if __name__ == "__main__"``). The tools come from scripts/test-ml-tools.sh.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest

from radcurate.catalog import CatalogBackend
from radcurate.export.job import ExportOptions, export_dataset
from radcurate.export.splits import parse_split

HAVE_NNUNET = importlib.util.find_spec("nnunetv2") is not None
HAVE_MONAI = importlib.util.find_spec("monai") is not None
INSTALL = "install with scripts/test-ml-tools.sh"

VERIFY = """
import sys
if __name__ == "__main__":
    from nnunetv2.experiment_planning.verify_dataset_integrity import verify_dataset_integrity
    verify_dataset_integrity(sys.argv[1], num_processes=1)
    print("VERIFIED")
"""

LOAD = """
import json, sys
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged
root = sys.argv[1]
shapes = []
for key in ("training", "validation", "test"):
    for item in load_decathlon_datalist(f"{root}/datalist.json", True, key, root):
        keys = [k for k in ("image", "label") if k in item]
        loaded = LoadImaged(keys=keys, image_only=True)(item)
        shapes.append([key, list(loaded["image"].shape),
                       list(loaded["label"].shape) if "label" in loaded else None])
print(json.dumps(shapes))
"""


def _verify(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "verify.py"
    script.write_text(VERIFY)
    return subprocess.run(
        [sys.executable, str(script), str(folder)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_NNUNET, reason=f"nnunetv2 not installed ({INSTALL})")
def test_nnunet_verify_dataset_integrity_passes_and_fails_on_a_broken_label(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "raw"
    spec = parse_split("train=0.5,test=0.5")
    export_dataset(shared_catalog, ExportOptions("demo", "nnunet", out, spec, dataset_id=7))
    folder = out / "Dataset007_demo"
    done = _verify(folder, tmp_path)
    assert "VERIFIED" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    # negative: a label value outside dataset.json's table must be caught by the tool
    label = next((folder / "labelsTr").iterdir())
    image = nibabel.load(label)
    data = np.asarray(image.dataobj).copy()
    data[0, 0, 0] = 200
    nibabel.save(nibabel.Nifti1Image(data, image.affine, image.header), label)
    broken = _verify(folder, tmp_path)
    assert broken.returncode != 0 and "VERIFIED" not in broken.stdout


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MONAI, reason=f"monai not installed ({INSTALL})")
def test_monai_loads_every_item_of_the_datalist(
    shared_catalog: CatalogBackend, tmp_path: Path
) -> None:
    out = tmp_path / "monai"
    spec = parse_split("train=0.5,test=0.5", folds=None)
    report = export_dataset(shared_catalog, ExportOptions("demo", "monai", out, spec))
    datalist = json.loads((out / "datalist.json").read_text())
    items = datalist["training"] + datalist["validation"] + datalist["test"]
    assert len(items) == report.exported >= 10
    script = tmp_path / "load.py"
    script.write_text(LOAD)
    done = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shapes = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(shapes) == len(items)
    labelled = [s for s in shapes if s[2] is not None]
    assert len(labelled) == 2 and all(s[1] == s[2] for s in labelled)
