#!/bin/bash
# What one client feature costs in the seed-API bundle: copies packages/client to a scratch
# folder, removes the features named by letter (see remove-feature.py), type-checks the copy and
# prints the seed-API gzip bytes from scripts/bundle-size.mjs. Baseline: run with no letters.
#   packages/client/scripts/feature-cost/run.sh b      # without presence
#   packages/client/scripts/feature-cost/run.sh abcdefghij loose
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkg=$(cd "$here/../.." && pwd)
root=$(cd "$pkg/../.." && pwd)
lab=$(mktemp -d /tmp/switchboard-feature-cost.XXXXXX)
trap 'rm -rf "$lab"' EXIT
cp -r "$pkg/src" "$pkg/scripts" "$pkg/package.json" "$lab/"
sed "s#\"../../tsconfig.base.json\"#\"$root/tsconfig.base.json\"#" "$pkg/tsconfig.json" > "$lab/tsconfig.json"
ln -s "$root/node_modules" "$lab/node_modules"
if [ -n "${1:-}" ]; then LAB_SRC="$lab/src" python3 "$here/remove-feature.py" "$@"; fi
(cd "$root" && npx tsc -p "$lab" --noEmit)
(cd "$lab" && node scripts/bundle-size.mjs --json) | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`seed API gzip: ${r.sdk.gzip} bytes (${r.sdk.minified} minified)`)})'
