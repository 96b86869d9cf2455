#!/usr/bin/env bash
# Installs the training tools that read radcurate's exports, for tests/export/test_export_tools.py:
# nnU-Net v2 (verify_dataset_integrity) and MONAI (load_decathlon_datalist + LoadImaged), into
# .venv, idempotently. A plain `pip install nnunetv2` pulls timm -> torchvision -> a CUDA torch
# of several GB; here torch 2.13.0 (a CPU build on this machine's disk) comes first and the tools
# come with --no-deps, their runtime dependencies by hand (DESIGN.md section 6).
#   bash scripts/test-ml-tools.sh        (called by scripts/test-env.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
say() { printf '[test-ml-tools] %s\n' "$*"; }

if .venv/bin/python - <<'PY' 2>/dev/null
import importlib.metadata as m
assert m.version("torch").startswith("2.13.0")
assert m.version("nnunetv2") == "2.8.1" and m.version("monai") == "1.6.1"
import nnunetv2.experiment_planning.verify_dataset_integrity, monai.transforms  # noqa: F401
PY
then
  say "nnunetv2 2.8.1, monai 1.6.1 and torch 2.13.0 already installed"
  exit 0
fi
say "installing torch 2.13.0 (CPU), nnunetv2 2.8.1, dynamic-network-architectures 0.4.4, monai 1.6.1"
"${pip[@]}" torch==2.13.0
"${pip[@]}" --no-deps nnunetv2==2.8.1 dynamic-network-architectures==0.4.4 monai==1.6.1
"${pip[@]}" acvl-utils==0.2.6 batchgenerators==0.25.5 SimpleITK==2.5.7 scikit-image==0.26.0 \
  blosc2==4.15.0 tqdm dicom2nifti graphviz imagecodecs nibabel scipy pandas
.venv/bin/python -c "import nnunetv2.experiment_planning.verify_dataset_integrity, monai.transforms"
say "done"
