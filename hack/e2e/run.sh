#!/usr/bin/env bash
# The end-to-end test (`make e2e`, docs/e2e.md): a real single-node cluster in a network
# namespace (cluster-up.sh), PostgreSQL on the node, the simulator as a pod, `helm install`
# of charts/switchboard with the image just built under the restricted Pod Security
# Standard, the samples, and the checks below. On failure it collects the cluster's state
# and logs into bin/e2e/artifacts/; on any exit (Ctrl-C included) cluster-down.sh removes
# everything.
#
#   run.sh <control-plane-bin> <node-bin> <helm> <crane> <image-tar> <image-ref>
#
# E2E_UPGRADE_FROM names the commit or tag the upgrade test starts from.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CP_BIN=$(cd "${1:?directory of kube-apiserver and etcd}" && pwd)
K8S_BIN=$(cd "${2:?directory of the node binaries and kubectl}" && pwd)
HELM=${3:?helm}
CRANE=${4:?crane}
IMAGE_TAR=${5:?image tarball}
IMAGE_REF=${6:?image reference, e.g. localhost/switchboard:v0.1.0}
ARTIFACTS=$E2E_DIR/artifacts
NS_SYSTEM=switchboard-system
NS_SIM=simulator
NS_APP=acme
DSN="postgres://postgres@$NODE_IP:$PG_PORT/postgres?sslmode=disable"
SIM_URL=http://$SIMULATOR_IP:8090

# --- timing and cleanup ----------------------------------------------------------------
T0=$SECONDS
TLAST=$SECONDS
TIMINGS=()
stage() { # stage <name>: ends the current stage under that name
  TIMINGS+=("$(printf '%-52s %4ds' "$1" $((SECONDS - TLAST)))")
  log "done: $1 ($((SECONDS - TLAST))s)"
  TLAST=$SECONDS
}
finish() {
  local rc=$?
  trap - EXIT INT TERM
  set +e # every cleanup step runs, whatever fails before it
  [[ -z ${MONITOR_PID:-} ]] || kill "$MONITOR_PID" 2>/dev/null
  if [[ $rc -ne 0 ]]; then collect_artifacts; fi
  "$HERE/cluster-down.sh"
  printf '%s\n' "${TIMINGS[@]}" >&2
  if [[ $rc -eq 0 ]]; then log "PASS in $((SECONDS - T0))s"; else log "FAIL (exit $rc) after $((SECONDS - T0))s; artifacts: $ARTIFACTS"; fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

collect_artifacts() {
  log "collecting artifacts into $ARTIFACTS"
  mkdir -p "$ARTIFACTS/pods"
  cp -r "$C/logs" "$ARTIFACTS/node-logs" 2>/dev/null
  [[ -S $CTR_ADDRESS ]] || return 0
  k get all,numbers,routingpolicies,keywordrules,retentionpolicies,inboxes -A -o wide >"$ARTIFACTS/get-all.txt" 2>&1
  k get events -A --sort-by=.lastTimestamp >"$ARTIFACTS/events.txt" 2>&1
  k describe pods -A >"$ARTIFACTS/describe-pods.txt" 2>&1
  k get numbers,routingpolicies,keywordrules,retentionpolicies,inboxes -A -o yaml >"$ARTIFACTS/custom-resources.yaml" 2>&1
  k get pods -A --no-headers -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name 2>/dev/null |
    while read -r ns pod; do
      k logs -n "$ns" "$pod" --all-containers --prefix >"$ARTIFACTS/pods/$ns.$pod.log" 2>&1
      k logs -n "$ns" "$pod" --all-containers --prefix --previous >>"$ARTIFACTS/pods/$ns.$pod.log" 2>/dev/null
    done
}

# --- the cluster and its services ------------------------------------------------------
rm -rf "$ARTIFACTS"
(cd "$E2E_ROOT" && go build -o "$E2E_DIR/kstatus" ./hack/e2e/kstatus && go build -o "$E2E_DIR/switchboard" .)
"$HERE/cluster-up.sh" "$CP_BIN" "$K8S_BIN" "$CRANE"
stage "cluster up (netns, PKI, containerd, control plane, node Ready)"

ctr_k8s images import "$IMAGE_TAR" >/dev/null
ctr_k8s images ls -q | grep -qx "$IMAGE_REF" || die "$IMAGE_TAR did not hold $IMAGE_REF"
stage "image imported into the node's containerd"

# start_postgres: PostgreSQL from Debian's binaries on the node's address, as an
# unprivileged user, trusting only the pods and the node's loopback.
start_postgres() {
  local bin user data
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  user=nobody; id postgres >/dev/null 2>&1 && user=postgres
  data=$(mktemp -d /tmp/switchboard-e2e-pg.XXXXXX)
  echo "$data" >>"$C/created-paths"
  echo "$data" >"$C/pgdata"
  chown "$user" "$data"; chmod 0700 "$data"
  runuser -u "$user" -- "$bin/initdb" -D "$data" -U postgres --auth=trust >"$C/logs/initdb.log" 2>&1
  printf 'host all all %s trust\nhost all all %s/32 trust\n' "$POD_CIDR" "$NODE_IP" >"$data/pg_hba.conf"
  in_ns setsid runuser -u "$user" -- "$bin/postgres" -D "$data" -h "$NODE_IP" -p "$PG_PORT" -k "$data" \
    >"$C/logs/postgres.log" 2>&1 </dev/null &
  disown
  wait_for 60 PostgreSQL in_ns "$bin/pg_isready" -q -h "$NODE_IP" -p "$PG_PORT"
}
start_postgres
stage "PostgreSQL on the node ($NODE_IP:$PG_PORT)"

# restricted_ns <name>: a namespace that enforces the restricted Pod Security Standard.
restricted_ns() {
  k create namespace "$1" --dry-run=client -o yaml | k apply -f - >/dev/null
  k label namespace "$1" --overwrite pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/warn=restricted >/dev/null
}
for ns in $NS_SIM $NS_SYSTEM $NS_APP; do restricted_ns "$ns"; done

k -n "$NS_SIM" create configmap simulator --from-file=simulator.yaml="$E2E_ROOT/config/dev/simulator.yaml" \
  --dry-run=client -o yaml | k apply -f - >/dev/null
sed -e "s#@IMAGE@#$IMAGE_REF#" -e "s#@SIMULATOR_IP@#$SIMULATOR_IP#" "$HERE/simulator.yaml" | k -n "$NS_SIM" apply -f - >/dev/null
k -n "$NS_SIM" rollout status deployment/simulator --timeout=120s >/dev/null
wait_for 30 "the simulator Service" in_ns curl -sf "$SIM_URL/_sim/healthz"
stage "simulator pod Running, Service $SIM_URL answers"

# --- the chart -------------------------------------------------------------------------
helm() { in_ns "$HELM" --kubeconfig "$C/admin.kubeconfig" "$@"; }
helm install switchboard "$E2E_ROOT/charts/switchboard" -n "$NS_SYSTEM" \
  --set image.repository="${IMAGE_REF%:*}" --set-string image.tag="${IMAGE_REF##*:}" --set image.pullPolicy=Never \
  --set qualityPollInterval=10s --wait --timeout 180s >/dev/null
k -n "$NS_SYSTEM" get pods -o wide
stage "helm install (manager Available under restricted PSS)"

# --- the samples -----------------------------------------------------------------------
k -n "$NS_APP" create secret generic switchboard-database --from-literal=dsn="$DSN" \
  --dry-run=client -o yaml | k apply -f - >/dev/null
# The samples point at dev mode's loopback simulator: here it is the simulator Service.
for f in "$E2E_ROOT"/config/samples/*.yaml; do echo "---"; cat "$f"; done | sed "s#http://127.0.0.1:18090#$SIM_URL#" | k apply -f - >/dev/null
KINDS=numbers,routingpolicies,keywordrules,retentionpolicies
for kind in ${KINDS//,/ } inboxes; do
  k -n "$NS_APP" wait "$kind" --all --for=condition=Ready=True --timeout=180s >/dev/null
done
k -n "$NS_APP" get "$KINDS,inboxes" -o json | in_ns "$E2E_DIR/kstatus"
k -n "$NS_APP" rollout status deployment/inbox-support --timeout=120s >/dev/null
NUMBERS=$(k -n "$NS_APP" get numbers -o jsonpath='{.items[*].metadata.name}')
for n in $NUMBERS; do
  k -n "$NS_APP" rollout status "deployment/sender-$n" --timeout=120s >/dev/null
done
k -n "$NS_APP" get pods -o wide
stage "samples: every Number, policy and Inbox Ready, kstatus Current, senders and inbox Running"

# --- a customer message through the inbox, the keyword auto-reply through the sender -----
# The simulator sends the numbers' webhooks to the inbox Service; a customer writes
# "precio" to sales-es; the KeywordRule precios-es replies through sender-sales-es.
inbox_ip=$(k -n "$NS_APP" get service inbox-support -o jsonpath='{.spec.clusterIP}')
inbox_port=$(k -n "$NS_APP" get service inbox-support -o jsonpath='{.spec.ports[0].port}')
for id in $(k -n "$NS_APP" get numbers -o jsonpath='{.items[*].spec.phoneNumberID}'); do
  in_ns curl -sf -X PATCH "$SIM_URL/_sim/numbers/$id" \
    -d "{\"webhookURL\":\"http://$inbox_ip:$inbox_port/webhooks/whatsapp\"}" >/dev/null
done
sales_es_id=$(k -n "$NS_APP" get number sales-es -o jsonpath='{.spec.phoneNumberID}')
in_ns curl -sf -X POST "$SIM_URL/_sim/events" \
  -d "{\"number\":\"$sales_es_id\",\"inbound\":{\"from\":\"34622222222\",\"text\":\"¿cuál es el precio?\"}}" >/dev/null
replied() { in_ns curl -sf "$SIM_URL/_sim/numbers/$sales_es_id/messages?limit=50" | grep -q "lista de precios"; }
wait_for 90 "the keyword auto-reply of precios-es to reach the simulator through sender-sales-es" replied
stage "a customer message reached the inbox Service; the auto-reply came back through the sender"

# --- an inbox pod deleted during a stream of inbound messages loses none ---------------
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
inbound_stored() {
  in_ns "$PG_BIN/psql" -h "$NODE_IP" -p "$PG_PORT" -U postgres -tAc \
    "SELECT count(DISTINCT wamid) FROM messages WHERE direction = 'in' AND namespace = '$NS_APP'"
}
before=$(inbound_stored)
# 100 inbound messages over 10 s from 20 customers with Spanish numbers (the simulator's
# `traffic` event makes up wa_ids without a country code, which the inbox refuses).
stream=$(for i in $(seq 0 99); do
  printf '{"number":"%s","after":"%dms","inbound":{"from":"346110000%02d","text":"hola %d"}},' \
    "$sales_es_id" $((i * 100)) $((i % 20)) "$i"
done)
in_ns curl -sf -X POST "$SIM_URL/_sim/events" -d "[${stream%,}]" >/dev/null
sleep 3
victim_pod=$(k -n "$NS_APP" get pods -l switchboard.dev/inbox=support -o jsonpath='{.items[0].metadata.name}')
k -n "$NS_APP" delete pod "$victim_pod" --wait=false >/dev/null
log "deleted inbox pod $victim_pod during the stream"
all_stored() { [[ $(($(inbound_stored) - before)) -ge 100 ]]; }
wait_for 120 "the 100 streamed messages to be stored by the inbox (stored: $(inbound_stored) - $before)" all_stored
sleep 3 # a late duplicate would show here
stored=$(($(inbound_stored) - before))
[[ $stored -eq 100 ]] || die "the inbox stored $stored distinct messages of the 100 streamed"
k -n "$NS_APP" rollout status deployment/inbox-support --timeout=120s >/dev/null
stage "inbox pod deleted during a 100-message stream: all 100 stored once"

# --- a message through a sender pod --------------------------------------------------
# `switchboard send` enqueues in PostgreSQL; the sender pod of sales-es drains it to the
# simulator, which records what it accepted.
in_ns env SWITCHBOARD_DATABASE_URL="$DSN" "$E2E_DIR/switchboard" send --number "$NS_APP/sales-es" \
  --to 34600000001 --template hello_world --wait 90s
in_ns curl -sf "$SIM_URL/_sim/numbers/$sales_es_id/messages?limit=50" | grep -q hello_world ||
  die "the simulator did not record the hello_world template sent through sender-sales-es"
stage "a template sent through sender-sales-es reached the simulator"

# --- the garbage collector -------------------------------------------------------------
victim=sales-pt
sel="switchboard.dev/number=$victim"
[[ -n $(k -n "$NS_APP" get replicaset,pod -l "$sel" -o name) ]] || die "no ReplicaSet or pod of $victim before deleting it"
k -n "$NS_APP" delete number "$victim" --timeout=60s >/dev/null
k -n "$NS_APP" wait --for=delete "deployment/sender-$victim" --timeout=60s >/dev/null 2>&1 || true
gone() { [[ -z $(k -n "$NS_APP" get deployment,replicaset,pod -l "$sel" -o name) ]]; }
wait_for 90 "the garbage collector to remove sender-$victim's Deployment, ReplicaSet and pods" gone
stage "kubectl delete number: its Deployment, ReplicaSet and pods are gone"

# --- uninstall -------------------------------------------------------------------------
helm uninstall switchboard -n "$NS_SYSTEM" --wait --timeout 120s >/dev/null
for crd in numbers routingpolicies keywordrules retentionpolicies inboxes; do
  k get crd "$crd.switchboard.dev" >/dev/null || die "helm uninstall deleted the CRD $crd.switchboard.dev"
done
left=$(k -n "$NS_APP" get numbers -o jsonpath='{.items[*].metadata.name}')
want=$(echo "$NUMBERS" | tr ' ' '\n' | grep -vx "$victim" | xargs)
[[ $left == "$want" ]] || die "after helm uninstall the Numbers are '$left', want those before it less $victim"
stage "helm uninstall: CRDs and custom resources kept"

# --- helm upgrade from an earlier release ----------------------------------------------
# From the last release tag; with none yet, from 854c5c7, the first commit with the chart
# and a sender that builds, so that its Numbers can be Ready (8d2dd02 added the chart but
# does not compile alone; until 51decc0 the manager declares senders its binary cannot run,
# and 51decc0 and 96f9f8d do not compile).
FROM=${E2E_UPGRADE_FROM:-$(git -C "$E2E_ROOT" describe --tags --abbrev=0 2>/dev/null || echo 854c5c7)}
CRDS=(numbers routingpolicies keywordrules retentionpolicies inboxes)
k delete namespace "$NS_APP" --timeout=120s >/dev/null
k delete crd "${CRDS[@]/%/.switchboard.dev}" --ignore-not-found --timeout=120s >/dev/null
"$HERE/release-image.sh" "$CRANE" "$FROM" "$E2E_DIR/release/$FROM"
ctr_k8s images import "$E2E_DIR/release/$FROM/switchboard.tar" >/dev/null
mkdir -p "$C/release"
git -C "$E2E_ROOT" archive "$FROM" charts/switchboard config/samples | tar -x -C "$C/release"
restricted_ns "$NS_APP"
k -n "$NS_APP" create secret generic switchboard-database --from-literal=dsn="$DSN" >/dev/null
helm install switchboard "$C/release/charts/switchboard" -n "$NS_SYSTEM" \
  --set image.repository=localhost/switchboard --set-string image.tag="$FROM" --set image.pullPolicy=Never \
  --wait --timeout 180s >/dev/null
for f in "$C"/release/config/samples/*.yaml; do echo "---"; cat "$f"; done | sed "s#http://127.0.0.1:18090#$SIM_URL#" | k apply -f - >/dev/null
k -n "$NS_APP" wait numbers --all --for=condition=Ready=True --timeout=180s >/dev/null
stage "helm install of $FROM (its chart, image and samples), Numbers Ready"

uids() { k -n "$NS_APP" get "$KINDS" -o jsonpath='{range .items[*]}{.kind}/{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
crd_schema() { k get crd numbers.switchboard.dev -o jsonpath='{.spec.versions}' | sha256sum; }
uids_before=$(uids)
schema_before=$(crd_schema)
# Every second, each Number's Ready status, to find the longest time one was not Ready.
(while true; do
  k -n "$NS_APP" get numbers -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
    sed "s/^/$SECONDS /"
  sleep 1
done) >"$C/ready-during-upgrade.txt" &
MONITOR_PID=$!
helm upgrade switchboard "$E2E_ROOT/charts/switchboard" -n "$NS_SYSTEM" \
  --set image.repository="${IMAGE_REF%:*}" --set-string image.tag="${IMAGE_REF##*:}" --set image.pullPolicy=Never \
  --wait --timeout 180s >/dev/null
k -n "$NS_APP" wait numbers --all --for=condition=Ready=True --timeout=180s >/dev/null
for n in $(k -n "$NS_APP" get numbers -o jsonpath='{.items[*].metadata.name}'); do
  k -n "$NS_APP" rollout status "deployment/sender-$n" --timeout=120s >/dev/null
done
sleep 2
kill "$MONITOR_PID"; wait "$MONITOR_PID" 2>/dev/null || true
[[ $(uids) == "$uids_before" ]] || die "the upgrade replaced custom resources: before $uids_before, after $(uids)"
[[ $(crd_schema) != "$schema_before" ]] || die "the upgrade left the Number CRD's schema as $FROM had it"
k get crd inboxes.switchboard.dev >/dev/null || die "the upgrade did not install the Inbox CRD"
k -n "$NS_APP" get numbers -o json | in_ns "$E2E_DIR/kstatus"
# longest run of consecutive samples in which a Number was not Ready, in seconds
longest=$(awk '$3 != "True" { if (!($2 in since)) since[$2] = $1; d = $1 - since[$2]; if (d > max) max = d; next }
  { delete since[$2] } END { print max + 0 }' "$C/ready-during-upgrade.txt")
samples=$(awk '{print $1}' "$C/ready-during-upgrade.txt" | sort -u | wc -l)
[[ $samples -ge 5 ]] || die "only $samples samples of the Numbers' readiness during the upgrade"
log "longest time a Number was not Ready during the upgrade: ${longest}s ($samples samples, one a second)"
[[ $longest -le 120 ]] || die "a Number was not Ready for ${longest}s during the upgrade (more than a rollout)"
stage "helm upgrade $FROM -> working tree: CRDs upgraded, objects kept, Numbers Ready"
