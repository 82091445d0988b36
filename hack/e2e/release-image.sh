#!/usr/bin/env bash
# Builds (once; cached in <out-dir>) the image of an earlier commit, for the upgrade test:
# that commit's source (git archive), packed by today's hack/build-image.sh, tagged
# localhost/switchboard:<commit>.
#
#   release-image.sh <crane> <commit> <out-dir>
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CRANE=$(cd "$(dirname "${1:?crane}")" && pwd)/$(basename "$1")
COMMIT=${2:?commit}
OUT=${3:?output directory}
[[ -f $OUT/switchboard.tar ]] && exit 0
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git -C "$E2E_ROOT" archive "$COMMIT" | tar -x -C "$src"
# A release whose binary links envtest (dev mode before runtime/dev) needs the directory
# envtest's init creates to exist in the read-only image.
legacy=0
if grep -rqs --include='*.go' --exclude='*_test.go' 'controller-runtime/pkg/envtest"' "$src"; then legacy=1; fi
(cd "$src" && LEGACY_ENVTEST_DIR=$legacy REVISION=$(git -C "$E2E_ROOT" rev-parse "$COMMIT") SOURCE_DATE_EPOCH=$(git -C "$E2E_ROOT" log -1 --format=%ct "$COMMIT") \
  "$E2E_ROOT/hack/build-image.sh" "$CRANE" "$OUT" "$COMMIT" >"$OUT/build.log" 2>&1) ||
  { cat "$OUT/build.log" >&2; exit 1; }
