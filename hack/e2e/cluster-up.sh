#!/usr/bin/env bash
# Brings up a single-node Kubernetes cluster inside a network namespace that it creates
# (see lib.sh for the addresses), and waits until the node is Ready. Installs containerd,
# runc and the CNI plugins from Debian's packages when they are missing. cluster-down.sh
# undoes all of it; run.sh calls both.
#
#   cluster-up.sh <control-plane-bin> <node-bin> <crane>
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CP_BIN=$(cd "${1:?directory of kube-apiserver and etcd}" && pwd)
K8S_BIN=$(cd "${2:?directory of the node binaries and kubectl}" && pwd)
CRANE=${3:?crane}
HERE=$(cd "$(dirname "$0")" && pwd)

if ! command -v containerd >/dev/null || ! command -v runc >/dev/null || [[ ! -x /usr/lib/cni/bridge ]]; then
  log "installing containerd, runc and the CNI plugins (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd runc containernetworking-plugins >/dev/null
fi

"$HERE/cluster-down.sh" quiet # what an interrupted earlier run may have left
mkdir -p "$C"/{logs,pids,images,containerd,cni/net.d,kubelet/pki,pod-logs}

# Host state the node changes, for cluster-down.sh to restore: the sysctls the kubelet
# sets (global ones; the network ones belong to the namespace) and the host paths that
# kubelet, containerd and the CNI plugins hardcode.
sysctl kernel.panic kernel.panic_on_oops vm.overcommit_memory kernel.keys.root_maxkeys kernel.keys.root_maxbytes \
  | sed 's/ = /=/' >"$C/sysctls"
for d in /var/lib/kubelet /var/lib/cni /var/log/containers /var/log/pods /run/containerd /etc/cni /run/netns; do
  [[ -e $d ]] || echo "$d"
done >"$C/created-paths"
# containerd names each pod's network namespace in /run/netns (cni-*).
ls /run/netns 2>/dev/null | grep '^cni-' >"$C/netns-before" || true

log "network namespace $E2E_NETNS: node $NODE_IP, host side $HOST_IP ($HOST_VETH)"
ip netns add "$E2E_NETNS"
ip link add "$HOST_VETH" type veth peer name eth0 netns "$E2E_NETNS"
ip addr add "$HOST_IP/24" dev "$HOST_VETH"
ip link set "$HOST_VETH" up
in_ns ip link set lo up
in_ns ip addr add "$NODE_IP/24" dev eth0
in_ns ip link set eth0 up
# Anything but the node, its pods and its Services goes nowhere; the route to the Service
# range lets the node's own clients reach ClusterIPs (kube-proxy rewrites them to pods).
in_ns ip route add blackhole default
in_ns ip route add "$SERVICE_CIDR" dev eth0

log "PKI, configs and the pause image"
"$HERE/pki.sh" "$K8S_BIN/kubectl"
render() { sed -e "s#@C@#$C#g" -e "s#@POD_CIDR@#$POD_CIDR#g" "$HERE/$1" >"$2"; }
render containerd.toml "$C/containerd/config.toml"
render cni.conflist "$C/cni/net.d/10-e2e.conflist"
render kubelet.yaml "$C/kubelet-config.yaml"
(cd "$E2E_ROOT" && "$E2E_ROOT/hack/build-image.sh" "$CRANE" "$C/images" e2e pause ./hack/e2e/pause >"$C/logs/pause-image.log" 2>&1)

log "starting containerd and the node's Kubernetes components"
in_ns unshare --mount --propagation slave "$HERE/node.sh" "$CP_BIN" "$K8S_BIN"
node_ready() { [[ $(k get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]; }
wait_for 120 "node $NODE_NAME Ready" node_ready
wait_for 60 "the default ServiceAccount" k get serviceaccount default
log "cluster up: node $NODE_NAME Ready"
