#!/usr/bin/env bash
# Builds the switchboard container image from the static binary, with no Docker:
#
#   hack/build-image.sh <crane> <out-dir> <version> [<name> <package>]
#
# writes <out-dir>/<name>.tar (an image tarball tagged localhost/<name>:<version>,
# importable with `ctr images import` and pushable with `crane push`) and
# <out-dir>/digest (the image's sha256 digest). <name> defaults to switchboard and
# <package> to the repository's root; the e2e cluster builds its pause image this way.
#
# The image is one layer: /usr/local/bin/switchboard (CGO_ENABLED=0, -trimpath; on the
# image's PATH, since the sender and inbox Deployments run `switchboard`), an /etc/passwd and
# /etc/group naming the non-root user 65532, and a world-writable /tmp. No shell, no
# package manager; the public CAs come from golang.org/x/crypto/x509roots/fallback, which
# the binary imports. Reproducible: every file's time is the commit's time, owners are
# numeric and entries sorted, and the config carries no build time, so one commit gives one
# digest (`make image-check` builds twice and compares).
#
# crane cannot mutate a tarball, so the layer is pushed to a throwaway in-memory registry
# on a free loopback port for the duration of the build.
set -euo pipefail

CRANE=${1:?crane binary}
OUT=${2:?output directory}
VERSION=${3:?image version}
NAME=${4:-switchboard}
PKG=${5:-.}
SOURCE=https://github.com/switchboard-dev/switchboard
REVISION=${REVISION:-$(git rev-parse HEAD)}
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
GOARCH=$(go env GOARCH)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
REGISTRY_PID=
cleanup() {
  [[ -z $REGISTRY_PID ]] || kill "$REGISTRY_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

root=$WORK/rootfs
bindir=$root/usr/local/bin
mkdir -p "$root/etc" "$root/tmp" "$bindir"
# Earlier releases' binaries link controller-runtime's envtest, whose package init creates
# /tmp/kubebuilder-envtest and panics on a read-only root: hack/e2e/release-image.sh sets
# LEGACY_ENVTEST_DIR=1 when it packs one of them.
if [[ ${LEGACY_ENVTEST_DIR:-} == 1 ]]; then
  mkdir -p "$root/tmp/kubebuilder-envtest"
  chmod 0755 "$root/tmp/kubebuilder-envtest"
fi
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH go build -trimpath -ldflags "-s -w" -o "$bindir/$NAME" "$PKG"
echo "nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin" >"$root/etc/passwd"
echo "nonroot:x:65532:" >"$root/etc/group"
chmod 0755 "$root" "$root/etc" "$root/usr" "$root/usr/local" "$bindir" "$bindir/$NAME"
chmod 0644 "$root/etc/passwd" "$root/etc/group"
chmod 1777 "$root/tmp"
tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner --format=ustar \
  -C "$root" -cf "$WORK/layer.tar" etc tmp usr

: >"$WORK/registry.log" # exists before the server writes to it: no race with the poll below
"$CRANE" registry serve --address 127.0.0.1:0 >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$WORK/registry.log")
  [[ -z $port ]] || break
  sleep 0.1
done
[[ -n $port ]] || { cat "$WORK/registry.log"; echo "the throwaway registry did not start" >&2; exit 1; }
base=127.0.0.1:$port/$NAME:base

"$CRANE" append --insecure --oci-empty-base -f "$WORK/layer.tar" -t "$base" >/dev/null
"$CRANE" mutate --insecure "$base" \
  --set-platform "linux/$GOARCH" \
  --entrypoint "/usr/local/bin/$NAME" --user 65532:65532 --workdir / \
  -e PATH=/usr/local/bin \
  -l "org.opencontainers.image.title=$NAME" \
  -l "org.opencontainers.image.version=$VERSION" \
  -l "org.opencontainers.image.revision=$REVISION" \
  -l "org.opencontainers.image.source=$SOURCE" \
  -l "org.opencontainers.image.created=$CREATED" \
  -l "org.opencontainers.image.licenses=Apache-2.0" \
  -t "localhost/$NAME:$VERSION" -o "$OUT/$NAME.tar" >/dev/null
"$CRANE" digest --tarball "$OUT/$NAME.tar" >"$OUT/digest"
echo "localhost/$NAME:$VERSION $(cat "$OUT/digest") -> $OUT/$NAME.tar"
