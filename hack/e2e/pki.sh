#!/usr/bin/env bash
# Writes the cluster's PKI (openssl) and the kubeconfigs of its components into $C:
# a CA, the service-account key pair, the API server's serving certificate, and client
# certificates for the admin (system:masters), the controller manager, the scheduler,
# the kubelet (system:node:$NODE_NAME) and kube-proxy. Valid for 2 days: a test cluster.
#
#   pki.sh <kubectl>
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KUBECTL=${1:?kubectl}
P=$C/pki
mkdir -p "$P"
cd "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=switchboard-e2e-ca" 2>/dev/null
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null

# cert <file> <CN> <O> [<subjectAltName>]: a client certificate, or a serving one with SANs.
cert() {
  local n=$1 cn=$2 o=$3 san=${4:-}
  openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$cn${o:+/O=$o}" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=digitalSignature,keyEncipherment"
    if [[ -n $san ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$n.ext"
  openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$n.crt" -days 2 -extfile "$n.ext" 2>/dev/null
}
svc=kubernetes.default.svc
cert apiserver kube-apiserver "" "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:$svc,DNS:$svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1,IP:$NODE_IP"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
cert admin kubernetes-admin system:masters
cert controller-manager system:kube-controller-manager ""
cert scheduler system:kube-scheduler ""
cert kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,IP:$NODE_IP"
cert kube-proxy system:kube-proxy ""

for u in admin controller-manager scheduler kubelet kube-proxy; do
  f=$C/$u.kubeconfig
  "$KUBECTL" --kubeconfig "$f" config set-cluster e2e --server=https://127.0.0.1:6443 --certificate-authority="$P/ca.crt" --embed-certs >/dev/null
  "$KUBECTL" --kubeconfig "$f" config set-credentials "$u" --client-certificate="$P/$u.crt" --client-key="$P/$u.key" --embed-certs >/dev/null
  "$KUBECTL" --kubeconfig "$f" config set-context default --cluster=e2e --user="$u" >/dev/null
  "$KUBECTL" --kubeconfig "$f" config use-context default >/dev/null
done
