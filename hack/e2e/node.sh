#!/usr/bin/env bash
# Starts the node's daemons inside the e2e network namespace (cluster-up.sh runs it there,
# in a mount namespace of its own): containerd, etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet and kube-proxy, each in the background with its PID in
# $C/pids/ and its log in $C/logs/. They share this one mount namespace, so the volumes the
# kubelet mounts are the ones runc sees, and every mount goes away with the last of them.
#
#   node.sh <control-plane-bin> <node-bin>
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CP_BIN=${1:?directory of kube-apiserver and etcd}
K8S_BIN=${2:?directory of the kubelet, kube-proxy, scheduler, controller manager and kubectl}
P=$C/pki

bg() {
  local name=$1; shift
  setsid "$@" >"$C/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$C/pids/$name.pid"
}

bg containerd containerd --config "$C/containerd/config.toml"
wait_for 30 containerd ctr --address "$CTR_ADDRESS" version
ctr_k8s images import "$C/images/pause.tar" >/dev/null

bg etcd "$CP_BIN/etcd" --name e2e --data-dir "$C/etcd" --unsafe-no-fsync \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster e2e=http://127.0.0.1:2380

bg kube-apiserver "$CP_BIN/kube-apiserver" \
  --etcd-servers=http://127.0.0.1:2379 --advertise-address="$NODE_IP" --secure-port=6443 \
  --cert-dir="$C/apiserver-certs" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
  --client-ca-file="$P/ca.crt" \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --kubelet-preferred-address-types=InternalIP \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction,PodSecurity \
  --allow-privileged=false
wait_for 120 "the API server" "$K8S_BIN/kubectl" --kubeconfig "$C/admin.kubeconfig" get --raw /readyz

bg kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$C/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$C/controller-manager.kubeconfig" --authorization-kubeconfig="$C/controller-manager.kubeconfig" \
  --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
  --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 \
  --service-cluster-ip-range="$SERVICE_CIDR" --flex-volume-plugin-dir="$C/kcm-flexvolume"

bg kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$C/scheduler.kubeconfig" \
  --authentication-kubeconfig="$C/scheduler.kubeconfig" --authorization-kubeconfig="$C/scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1

bg kubelet "$K8S_BIN/kubelet" --config="$C/kubelet-config.yaml" --kubeconfig="$C/kubelet.kubeconfig" \
  --root-dir="$C/kubelet" --cert-dir="$C/kubelet/pki" --node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --v=1

bg kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig="$C/kube-proxy.kubeconfig" --hostname-override="$NODE_NAME" \
  --cluster-cidr=10.244.0.0/16 --proxy-mode=iptables --conntrack-max-per-core=0 \
  --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
