#!/usr/bin/env bash
# The inbox's web page vendors pinned front-end packages from npm (web/package.json and
# its lock file): htmx is copied into runtime/inbox/ui/static/vendor
# and embedded in the binary, so nothing is fetched at run time; axe-core stays under bin/
# for the browser tests.
#
#   hack/ui-vendor.sh install   npm ci into bin/npm (cached until the lock file changes)
#   hack/ui-vendor.sh vendor    install, then copy the vendored files
#   hack/ui-vendor.sh check     install, then fail unless the vendored files are those copies
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-install}
npm_dir=bin/npm
vendor=runtime/inbox/ui/static/vendor
# source (under node_modules) -> vendored name; names carry the version, so a page that
# loaded an old copy never mixes it with a new one.
files=(
  "htmx.org/dist/htmx.min.js htmx-2.0.11.min.js"
)

if ! cmp -s web/package-lock.json "$npm_dir/package-lock.json" 2>/dev/null || [ ! -d "$npm_dir/node_modules" ]; then
  command -v npm >/dev/null || { echo "npm is needed to install the web page's packages (Debian: apt-get install npm)" >&2; exit 1; }
  rm -rf "$npm_dir" && mkdir -p "$npm_dir"
  cp web/package.json web/package-lock.json "$npm_dir/"
  (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

case $mode in
  install) ;;
  vendor)
    mkdir -p "$vendor"
    for f in "${files[@]}"; do set -- $f; cp "$npm_dir/node_modules/$1" "$vendor/$2"; done
    echo "vendored into $vendor" ;;
  check)
    for f in "${files[@]}"; do
      set -- $f
      cmp "$npm_dir/node_modules/$1" "$vendor/$2" || { echo "$vendor/$2 differs from npm's $1: run make ui-vendor" >&2; exit 1; }
    done
    echo "vendored files match web/package-lock.json" ;;
  *) echo "usage: $0 install|vendor|check" >&2; exit 2 ;;
esac
