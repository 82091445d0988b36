#!/usr/bin/env bash
# Tears the e2e cluster down completely, whatever state it is in (safe to run twice, or
# after a failure or Ctrl-C half-way through cluster-up.sh): stops every process it
# started, the pods' containers and their cgroups, PostgreSQL, deletes the network
# namespace (and with it the veth, the bridge, the pods' interfaces and every iptables
# chain kube-proxy and the CNI plugins wrote), restores the sysctls the kubelet changed,
# and removes the host paths that were created and the cluster's state directory.
#
#   cluster-down.sh [quiet]
set -uo pipefail
source "$(dirname "$0")/lib.sh"
say() { [[ ${1:-} == quiet ]] || log "$2"; }
MODE=${1:-}

# stop <name>: SIGTERM (or $STOP_SIGNAL), then SIGKILL after 10 s, of the PID in
# $C/pids/<name>.pid.
stop() {
  local f=$C/pids/$1.pid pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -s "${STOP_SIGNAL:-TERM}" "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

[[ -d $C || -e /var/run/netns/$E2E_NETNS ]] || exit 0
say "$MODE" "tearing the cluster down"
# 1. nothing may restart containers: the kubelet and kube-proxy go first.
stop kubelet; stop kube-proxy
# 2. every container and sandbox, through containerd while it still runs.
if [[ -S $CTR_ADDRESS ]]; then
  for t in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s KILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete -f "$t" >/dev/null 2>&1; done
fi
# 3. whatever still runs in the pods' cgroups, then the cgroups themselves.
for root in /sys/fs/cgroup/*/kubepods; do
  [[ -d $root ]] || continue
  find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
done
sleep 0.5
find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null
# 4. the control plane, containerd and PostgreSQL.
for n in kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do stop "$n"; done
# PostgreSQL: a fast shutdown (SIGINT) of the postmaster named in its data directory.
if [[ -f $C/pgdata && -f $(cat "$C/pgdata")/postmaster.pid ]]; then
  head -1 "$(cat "$C/pgdata")/postmaster.pid" >"$C/pids/postgres.pid"
  STOP_SIGNAL=INT stop postgres
fi
# 5. any process left in the namespace (containerd's shims, port-forwards...).
if [[ -e /var/run/netns/$E2E_NETNS ]]; then
  ip netns pids "$E2E_NETNS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  sleep 0.5
  ip netns del "$E2E_NETNS"
fi
ip link del "$HOST_VETH" 2>/dev/null
# the pods' namespace files (their mounts lived in the node's private mount namespace)
for f in /run/netns/cni-*; do
  [[ -e $f ]] || continue
  grep -qx "${f##*/}" "$C/netns-before" 2>/dev/null || rm -f "$f"
done
# 6. host state: sysctls and the paths the components hardcode.
[[ -f $C/sysctls ]] && sysctl -q -w $(cat "$C/sysctls") >/dev/null
[[ -f $C/created-paths ]] && xargs -r rm -rf <"$C/created-paths"
# 7. mounts that leaked into the host's mount namespace (none expected: the node's
# processes share a private one), then the state directory.
grep -F " $C/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
rm -rf "$C"
say "$MODE" "cluster down: no process, namespace, cgroup or mount left"
