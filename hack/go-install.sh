#!/usr/bin/env bash
# Installs a Go tool at a pinned version to a versioned path under bin/:
#   hack/go-install.sh <target-binary> <package> <version>
set -euo pipefail
target=$1 pkg=$2 version=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo ">> installing $pkg@$version"
GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$pkg@$version"
mkdir -p "$(dirname "$target")"
mv "$tmp/$(basename "$pkg")" "$target"
