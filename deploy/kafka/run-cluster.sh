#!/usr/bin/env bash
# run-cluster.sh - a real 3-node Apache Kafka cluster on loopback: KRaft combined mode
# (every node is broker and controller, 3 controller voters), from the same Maven jars
# as run-kafka.sh. Each node is one run-kafka.sh work dir; this script only chooses the
# node ids, ports and the cluster-wide settings, and runs run-kafka.sh for each node.
#
#   run-cluster.sh start            start every node (in parallel: a node is ready only
#                                   once a quorum of controllers runs); prints on stdout
#                                     KAFKA_SEED_BROKERS=127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>
#                                     KAFKA_VERSION=<version>
#   run-cluster.sh start N          start node N (1..3) alone, e.g. after kill N
#   run-cluster.sh stop [N]         SIGTERM (controlled shutdown) of node N, or of every node
#   run-cluster.sh kill N           SIGKILL of node N (a crash)
#   run-cluster.sh restart N        stop + start of node N (a rolling-upgrade step)
#   run-cluster.sh status           one line per node; exit 1 unless every node runs
#   run-cluster.sh pid N            the JVM pid of node N
#   run-cluster.sh port N           the client port of node N
#   run-cluster.sh logs N [L]       the last L (default 200) lines of node N's log
#   run-cluster.sh clean            stop every node and delete the cluster's work dir
#
# Environment (all optional):
#   KAFKA_CLUSTER_WORK_DIR   work dir; node N lives in <dir>/node<N>; default <this dir>/work-cluster
#   KAFKA_CLUSTER_BASE_PORT  node N listens for clients on BASE+2(N-1) and for controllers on
#                            BASE+2(N-1)+1; default 19192 (19192..19197). Keep it away from
#                            the single broker's 9092/9093.
#   KAFKA_CLUSTER_EXTRA_PROPS  extra server.properties lines for every node
#   and every variable of run-kafka.sh (KAFKA_LIBS_DIR, KAFKA_HEAP_OPTS, READY_TIMEOUT, ...),
#   except KAFKA_WORK_DIR, KAFKA_PORT and KAFKA_CONTROLLER_PORT, which this script sets.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
NODE=$HERE/run-kafka.sh
NODES=3
WORK=${KAFKA_CLUSTER_WORK_DIR:-$HERE/work-cluster}
BASE=${KAFKA_CLUSTER_BASE_PORT:-19192}
HOST=127.0.0.1
# three JVMs on a small machine: a smaller heap than the single node's unless set
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms192m -Xmx384m}

log() { echo "[run-cluster] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $BASE =~ ^[0-9]+$ ]] || die "KAFKA_CLUSTER_BASE_PORT=$BASE is not a port"
port() { echo $((BASE + 2 * ($1 - 1))); }
cport() { echo $((BASE + 2 * ($1 - 1) + 1)); }
node_ok() { [[ ${1:-} =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"; }

voters() {
  local i v=()
  for (( i = 1; i <= NODES; i++ )); do v+=("$i@$HOST:$(cport "$i")"); done
  local IFS=,; echo "${v[*]}"
}
seeds() {
  local i s=()
  for (( i = 1; i <= NODES; i++ )); do s+=("$HOST:$(port "$i")"); done
  local IFS=,; echo "${s[*]}"
}

# Appended after run-kafka.sh's single-node settings; in a properties file the last
# value of a key wins, so these replace node.id, the voters and the replication.
cluster_props() {
  cat <<EOF
# run-cluster.sh: node $1 of a $NODES-node cluster
node.id=$1
controller.quorum.voters=$(voters)
# three replicas of everything, two in sync for an acks=all write: one node may be
# down (killed, or restarting in a rolling upgrade) without refusing writes
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
# a restarted node leads its preferred partitions again within seconds (default 300s)
leader.imbalance.check.interval.seconds=10
${KAFKA_CLUSTER_EXTRA_PROPS:-}
EOF
}

# node N runs run-kafka.sh with its own work dir, ports and properties
node() {
  local n=$1; shift
  KAFKA_WORK_DIR=$WORK/node$n KAFKA_PORT=$(port "$n") KAFKA_CONTROLLER_PORT=$(cport "$n") \
    KAFKA_EXTRA_PROPS=$(cluster_props "$n") "$NODE" "$@"
}

cluster_id() {  # one id for every node, kept in the work dir
  mkdir -p "$WORK"
  if [[ ! -s $WORK/cluster.id ]]; then
    head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | sed 's/^-/A/' >"$WORK/cluster.id"
  fi
  cat "$WORK/cluster.id"
}

print_env() {
  echo "KAFKA_SEED_BROKERS=$(seeds)"
  local j
  j=$(compgen -G "${KAFKA_LIBS_DIR:-$HERE/libs/${KAFKA_VERSION:-4.4.0}}/kafka_2.13-*.jar" | head -1) || true
  j=${j##*/kafka_2.13-}; echo "KAFKA_VERSION=${j%.jar}"
}

start_all() {
  local cid i rc=0 pids=()
  cid=$(cluster_id)
  "$NODE" fetch
  for (( i = 1; i <= NODES; i++ )); do
    CLUSTER_ID=$cid node "$i" start >/dev/null &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  (( rc == 0 )) || die "a node did not start (logs: $WORK/node*/logs/kafka.out)"
  log "3 nodes ready: $(seeds)"
  print_env
}

case ${1:-start} in
  start)
    if [[ -n ${2:-} ]]; then node_ok "$2"; CLUSTER_ID=$(cluster_id) node "$2" start >/dev/null; print_env
    else start_all; fi ;;
  stop)
    if [[ -n ${2:-} ]]; then node_ok "$2"; node "$2" stop
    else for (( i = 1; i <= NODES; i++ )); do node "$i" stop & done; wait; fi ;;
  kill) node_ok "${2:-}"; node "$2" kill ;;
  restart) node_ok "${2:-}"; node "$2" stop; CLUSTER_ID=$(cluster_id) node "$2" start >/dev/null; print_env ;;
  status)
    rc=0
    for (( i = 1; i <= NODES; i++ )); do
      if node "$i" status >/dev/null 2>&1; then echo "node $i running on $HOST:$(port "$i") pid $(cat "$WORK/node$i/kafka.pid")"
      else echo "node $i stopped"; rc=1; fi
    done
    exit $rc ;;
  pid) node_ok "${2:-}"; cat "$WORK/node$2/kafka.pid" ;;
  port) node_ok "${2:-}"; port "$2" ;;
  logs) node_ok "${2:-}"; node "$2" logs "${3:-200}" ;;
  clean) for (( i = 1; i <= NODES; i++ )); do node "$i" stop & done; wait; rm -rf "$WORK"; log "removed $WORK" ;;
  *) sed -n '2,26p' "$0"; exit 2 ;;
esac
