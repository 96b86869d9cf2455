#!/usr/bin/env bash
# Build the web UI (web/) into the Python package (src/radcurate/server/webui/).
#
#   scripts/build-web.sh            npm ci, regenerate the typed API client, type-check, build
#   scripts/build-web.sh --no-ci    skip npm ci (node_modules already installed)
#
# Needs Node >= 18 and the repository's .venv (to write the OpenAPI document).
# The built files are committed, so installing or testing radcurate needs no Node.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/web"
python="${PYTHON:-$root/.venv/bin/python}"

if [[ "${1:-}" != "--no-ci" ]]; then
  npm ci --no-audit --no-fund
fi

# the typed client: OpenAPI document of the app as it is now -> src/api/schema.d.ts
"$python" - > openapi.json <<'PY'
import json
from radcurate.server import ServerSettings, create_app
app = create_app(ServerSettings(catalog_url="sqlite:///:memory:"))
print(json.dumps(app.openapi(), indent=1, sort_keys=True))
PY
npx openapi-typescript openapi.json -o src/api/schema.d.ts
npx vue-tsc --noEmit
npx vite build

out="$root/src/radcurate/server/webui"
rm -rf "$out"
mkdir -p "$out"
cp -r dist/. "$out/"
# what the build was made from (tests/e2e/test_webui_route.py checks it against web/)
"$python" "$root/web/source-hash.py" >"$out/source.sha256"
echo "built web UI into ${out#"$root"/}: $(find "$out" -type f | wc -l) files"
