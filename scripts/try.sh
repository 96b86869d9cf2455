#!/usr/bin/env bash
# Try radcurate on the embedded default catalog, no server to set up:
#   bash scripts/try.sh              # makes a phantom demo archive, ingests it, opens the UI
#   bash scripts/try.sh /my/dicoms   # ingests your own folder instead
#   bash scripts/try.sh --no-serve   # stop after the ingest summary
# Installs radcurate into .venv (once), ingests into ~/.radcurate/catalog.sqlite
# (or $RADCURATE_CATALOG) with thumbnails, prints what the catalog holds, then serves
# the web UI on http://127.0.0.1:8000/ (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

serve=1
args=()
for arg in "$@"; do
  if [ "$arg" = "--no-serve" ]; then serve=0; else args+=("$arg"); fi
done
set -- "${args[@]+"${args[@]}"}"

if [ ! -x .venv/bin/radcurate ] || [ pyproject.toml -nt .venv/bin/radcurate ]; then
  echo "[try] installing radcurate into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[demo,render,server]'
fi
rc=.venv/bin/radcurate

archive=${1:-}
if [ -z "$archive" ]; then
  archive=${RADCURATE_HOME:-$HOME/.radcurate}/demo-archive
  if [ ! -d "$archive" ]; then
    echo "[try] no archive given: making a phantom demo archive in $archive"
    "$rc" demo --out "$archive"
  fi
fi
echo "[try] ingesting $archive"
"$rc" ingest "$archive"
"$rc" info
"$rc" facets '' -f Modality -f Manufacturer
echo "[try] more: $rc search 'Modality:CT', $rc facets 'Modality:CT' -f ConvolutionKernel,"
echo "      $rc tag add reviewed 'Modality:MR', $rc show SERIES_UID, $rc errors, $rc --help"
if [ "$serve" = 1 ]; then
  echo "[try] serving the web UI on http://127.0.0.1:8000/ (API docs: /docs); Ctrl-C stops it"
  exec "$rc" serve
fi
