#!/usr/bin/env bash
# Installs and starts what the test suite needs, idempotently (Debian 12, as root or with sudo):
#   - apt: postgresql, postgresql-contrib, orthanc, orthanc-dicomweb, dcmtk, dicom3tools
#     (python3-venv if needed)
#   - .venv with `pip install -e '.[test]'` (skipped while pyproject.toml is unchanged), then
#     test-only tools without their dependency trees (dicom-anonymizer, dicom-standard; nnU-Net
#     and MONAI on torch 2.13.0 CPU by scripts/test-ml-tools.sh)
#   - PostgreSQL 15 running on 127.0.0.1:5432 with a role radcurate/radcurate (CREATEDB)
# and writes the environment the tests read to .ci/test-env (lines of `export NAME=value`):
#   bash scripts/test-env.sh && . .ci/test-env
# Orthanc is not started here: tests and benchmarks start their own (bench/orthanc.py), on
# free loopback ports; a system Orthanc service, if any, is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[test-env] %s\n' "$*"; }
if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo -n); fi

# --- system packages --------------------------------------------------------------------------
packages=(postgresql postgresql-contrib orthanc orthanc-dicomweb dcmtk dicom3tools chromium fonts-liberation)
[ -x .venv/bin/python ] || packages+=(python3-venv)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  # keep the packages' own services (a system Orthanc on 4242/8042) from starting during install
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${as_root[@]}" chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  status=0
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ -n "$added_policy" ] && "${as_root[@]}" rm -f /usr/sbin/policy-rc.d
  [ "$status" -eq 0 ] || { say "apt-get install failed ($status)"; exit "$status"; }
fi

# --- Python environment -----------------------------------------------------------------------
[ -x .venv/bin/python ] || { say "creating .venv"; python3 -m venv .venv; }
stamp=.venv/.radcurate-test-install
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  say "pip install -e '.[test]'"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$wanted" >"$stamp"
fi
# test-only packages taken without their dependency trees: the sources the de-identification
# table is generated from (tests/export/test_deid_table.py checks it against them), and the
# training tools that read exports (nnU-Net, MONAI on a CPU torch: scripts/test-ml-tools.sh)
if ! .venv/bin/python -c "import dicomanonymizer, dicom_standard" 2>/dev/null; then
  say "pip install --no-deps dicom-anonymizer dicom-standard"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
    dicom-anonymizer==2.1.0 dicom-standard==0.1.0
fi
bash scripts/test-ml-tools.sh

# --- PostgreSQL ---------------------------------------------------------------------------------
pg_version=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1}')
pg_cluster=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $2}')
if [ -z "$pg_version" ]; then
  pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_cluster=main
  say "creating PostgreSQL cluster $pg_version/$pg_cluster"
  "${as_root[@]}" pg_createcluster "$pg_version" "$pg_cluster" >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL $pg_version/$pg_cluster"
  "${as_root[@]}" pg_ctlcluster "$pg_version" "$pg_cluster" start || true
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p 5432 || { say "PostgreSQL did not start"; exit 1; }
fi
psql_admin() { (cd / && "${as_root[@]}" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"); }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'radcurate'")" != "1" ]; then
  say "creating role radcurate"
  psql_admin -c "CREATE ROLE radcurate LOGIN CREATEDB PASSWORD 'radcurate'"
fi

# --- environment for the tests ------------------------------------------------------------------
mkdir -p .ci
cat >.ci/test-env <<'ENV'
# written by scripts/test-env.sh; read with `. .ci/test-env`
export RADCURATE_TEST_PG_URL=postgresql://radcurate:radcurate@127.0.0.1:5432/postgres
ENV
say "ready (PostgreSQL $pg_version on 127.0.0.1:5432; env in .ci/test-env)"
