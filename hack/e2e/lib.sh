# Shared settings of the e2e scripts (sourced). Every address of the cluster lives in the
# network namespace $E2E_NETNS that cluster-up.sh creates and cluster-down.sh deletes:
#   node     $NODE_IP on a veth whose peer ($HOST_VETH, $HOST_IP) is the host's only link to it
#   pods     10.244.0.0/24 on the bridge cni0 inside the namespace
#   services 10.0.0.0/24 (kube-proxy, iptables mode, inside the namespace)
# The namespace's default route is a blackhole, so a pod that tries any other address
# sends nothing out of the namespace.
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=${E2E_DIR:-$E2E_ROOT/bin/e2e}
C=$E2E_DIR/cluster            # all state of one cluster; removed by cluster-down.sh
E2E_NETNS=switchboard-e2e
HOST_VETH=sbe2e-host
NODE_IP=10.123.45.2
HOST_IP=10.123.45.1
NODE_NAME=e2e-node
SERVICE_CIDR=10.0.0.0/24
POD_CIDR=10.244.0.0/24
SIMULATOR_IP=10.0.0.90        # fixed ClusterIP of the simulator Service (no cluster DNS)
PG_PORT=5432
CTR_ADDRESS=$C/containerd/containerd.sock

log() { printf '%s [e2e] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
# in_ns runs a command inside the cluster's network namespace. nsenter, not
# `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts from the kubelet.
in_ns() { nsenter --net="/var/run/netns/$E2E_NETNS" "$@"; }
k() { in_ns "$K8S_BIN/kubectl" --kubeconfig "$C/admin.kubeconfig" "$@"; }
ctr_k8s() { ctr --address "$CTR_ADDRESS" -n k8s.io "$@"; }
# wait_for <seconds> <what> <command...>: polls the command every 0.5 s.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -lt $end ]] || die "timed out after ${secs}s waiting for $what"
    sleep 0.5
  done
}
