#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries that envtest and `make dev` need
# (kube-apiserver and etcd; dev mode also kube-controller-manager, for its garbage
# collector and namespace controller) from the Go module proxy, because setup-envtest
# cannot download its archives on machines without general internet access.
#
#   hack/build-control-plane.sh <k8s-version> <out-dir> [component...]
#
# The components default to kube-apiserver, etcd and kube-controller-manager; the e2e
# cluster (hack/e2e/) asks for kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy and kubectl, any command under k8s.io/kubernetes/cmd/.
#
# etcd's version is the one that Kubernetes release requires in its own go.mod.
# The binaries land in <out-dir> (the Makefile passes bin/k8s/<k8s-version>) and are
# reused when present, so only the first run pays the build (~5 minutes on 2 cores, and
# ~2.5 more warm, 7 cold, for kube-controller-manager).
set -euo pipefail

K8S_VERSION=${1:?k8s version, e.g. v1.37.2}
OUT=${2:?output directory}
shift 2
COMPONENTS=("$@")
[[ $# -gt 0 ]] || COMPONENTS=(kube-apiserver etcd kube-controller-manager)

missing=()
for c in "${COMPONENTS[@]}"; do [[ -x "$OUT/$c" ]] || missing+=("$c"); done
[[ ${#missing[@]} -gt 0 ]] || exit 0

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGING_VERSION=v0${K8S_VERSION#v1}  # v1.37.2 -> v0.37.2
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# k8s.io/kubernetes replaces its staging modules with local paths, which do not exist
# in the module cache: point each of them at the published module of the same release.
modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
ETCD_VERSION=$(sed -n 's#^\s*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' "$modfile")
echo ">> building ${missing[*]} ($K8S_VERSION, etcd $ETCD_VERSION) into $OUT (first run only, several minutes)"
{
  echo "module switchboard.local/control-plane"
  echo
  echo "go $(sed -n 's/^go //p' "$modfile")"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $K8S_VERSION"
  echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  echo ")"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$modfile"
  echo ")"
} > "$WORK/go.mod"
pkgs=()
for c in "${missing[@]}"; do
  if [[ $c == etcd ]]; then pkgs+=(go.etcd.io/etcd/server/v3); else pkgs+=("k8s.io/kubernetes/cmd/$c"); fi
done
{
  echo "//go:build tools"; echo; echo "package tools"; echo; echo "import ("
  printf '\t_ "%s"\n' "${pkgs[@]}"
  echo ")"
} > "$WORK/tools.go"

cd "$WORK"
go mod tidy >/dev/null
ver=k8s.io/component-base/version
ldflags="-s -w -X $ver.gitVersion=$K8S_VERSION -X $ver.gitMajor=1 -X $ver.gitMinor=$MINOR -X $ver.gitTreeState=clean"
for i in "${!missing[@]}"; do
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$OUT/${missing[$i]}.tmp" "${pkgs[$i]}"
done
for c in "${missing[@]}"; do
  mv "$OUT/$c.tmp" "$OUT/$c"
  { "$OUT/$c" --version 2>/dev/null || "$OUT/$c" version --client; } | sed -n 1p
done
