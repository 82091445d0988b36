#!/usr/bin/env bash
# Copies the main screenshots of the browser tests (bin/ui-screenshots, written by
# make test) into docs/images, where the README shows them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/images
n=0
for f in bin/ui-screenshots/inbox-*.png; do
  [ -e "$f" ] || { echo "no screenshots in bin/ui-screenshots: run make test first" >&2; exit 1; }
  cp "$f" docs/images/ && n=$((n + 1))
done
echo "copied $n screenshots into docs/images"
