#!/usr/bin/env bash
# Try radcurate on the embedded default catalog, no server to set up:
#   bash scripts/try.sh              # makes a phantom demo archive and ingests it
#   bash scripts/try.sh /my/dicoms   # ingests your own folder instead
# Installs radcurate into .venv (once), ingests into ~/.radcurate/catalog.sqlite
# (or $RADCURATE_CATALOG), then prints what the catalog holds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

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
echo "[try] next: $rc serve (HTTP API on http://127.0.0.1:8000/docs), $rc search 'Modality:CT',"
echo "      $rc show SERIES_UID, $rc errors, $rc --help"
