#!/usr/bin/env bash
# run-kafka.sh - a real single-node Apache Kafka (KRaft combined mode: broker and
# controller in one JVM) built from Maven Central jars. No Docker, no tarball.
#
#   run-kafka.sh start        resolve jars if needed, format storage once, start in the
#                             background, wait until the broker serves; prints on stdout
#                               KAFKA_SEED_BROKERS=127.0.0.1:<port>
#                               KAFKA_VERSION=<version>
#                             (eval-able; all progress goes to stderr)
#   run-kafka.sh stop         SIGTERM (controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT
#   run-kafka.sh kill         SIGKILL at once (simulates a crash; next start recovers the logs)
#   run-kafka.sh restart      stop + start (same data dir, same port)
#   run-kafka.sh status       exit 0 and print the seed line if running, else exit 1
#   run-kafka.sh foreground   run the broker in the foreground (debugging, service managers)
#   run-kafka.sh clean        stop and delete the work dir (data, logs, config)
#   run-kafka.sh fetch        only resolve the jars
#   run-kafka.sh props        print the generated server.properties
#   run-kafka.sh logs [N]     print the last N (default 200) lines of the broker log
#
# Environment (all optional):
#   KAFKA_VERSION          default 4.4.0 (any 4.x on Maven Central)
#   KAFKA_PORT             client listener on 127.0.0.1; default: the port this work dir
#                          last ran with, else 9092
#   KAFKA_CONTROLLER_PORT  controller listener on 127.0.0.1; default likewise, else 9093
#   KAFKA_WORK_DIR         data/, logs/, config/, pid file; default <this dir>/work
#   KAFKA_LIBS_DIR         jar folder; default <this dir>/libs/<version>
#   KAFKA_HEAP_OPTS        default "-Xms256m -Xmx512m"
#   KAFKA_EXTRA_PROPS      extra server.properties lines (newline separated), appended last
#   KAFKA_STOP_TIMEOUT     seconds before stop escalates to SIGKILL, default 20
#   READY_TIMEOUT          seconds to wait for the broker to serve, default 120
#   MVN                    maven command, default "mvn"
#
# Works from any cwd. See README.md beside this file for what was measured.
set -euo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
HOST=127.0.0.1
WORK=${KAFKA_WORK_DIR:-$HERE/work}
LIBS=${KAFKA_LIBS_DIR:-$HERE/libs/$KAFKA_VERSION}
DATA=$WORK/data
LOGS=$WORK/logs
CONF=$WORK/config
# Ports: KAFKA_PORT / KAFKA_CONTROLLER_PORT, else the ones this work dir last ran with
# (so a test that runs `stop` + `start` without the variables gets its broker back on
# the same address), else 9092 / 9093.
saved_port() {  # $1 = PLAINTEXT | CONTROLLER
  [[ -f $CONF/server.properties ]] || return 0
  sed -n -E "s/^listeners=.*$1:\/\/[^,]*:([0-9]+).*/\1/p" "$CONF/server.properties" | head -1
}
PORT=${KAFKA_PORT:-$(saved_port PLAINTEXT)}; PORT=${PORT:-9092}
# where PORT came from, said at start: a port chosen once must not stick silently
PORT_FROM="KAFKA_PORT"
[[ -n ${KAFKA_PORT:-} ]] || PORT_FROM=$([[ -n $(saved_port PLAINTEXT) ]] && echo "the port this work dir last ran with ($CONF/server.properties); KAFKA_PORT=<port> picks another" || echo "the default")
CPORT=${KAFKA_CONTROLLER_PORT:-$(saved_port CONTROLLER)}; CPORT=${CPORT:-9093}
PIDFILE=$WORK/kafka.pid
MVN=${MVN:-mvn}
READY_TIMEOUT=${READY_TIMEOUT:-120}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-20}
HEAP=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}

log() { echo "[run-kafka] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

check_java() {
  command -v java >/dev/null || die "java not found (Kafka 4.x needs Java 17+; Debian: apt-get install openjdk-17-jre-headless)"
  local major
  major=$(java -version 2>&1 | sed -E -n 's/.* version "([0-9]+).*/\1/p' | head -1)
  [[ -n $major && $major -ge 17 ]] || die "Java 17+ required (found '${major:-?}')"
}

have_libs() { compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; }

fetch() {
  have_libs && return 0
  [[ -z ${KAFKA_LIBS_DIR:-} ]] || die "no kafka_2.13 jar in KAFKA_LIBS_DIR=$KAFKA_LIBS_DIR"
  command -v "$MVN" >/dev/null || die "maven ($MVN) not found (Debian: apt-get install maven)"
  local t0=$SECONDS tmp="$LIBS.tmp.$$"
  log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central into $LIBS"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # copy into a temp dir and rename, so an interrupted resolve never leaves a half-filled libs dir
  # (maven 3.8 prints bare ANSI resets even with -B; strip them)
  if ! "$MVN" -q -B -Dstyle.color=never -f "$HERE/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; then
    rm -rf "$tmp"
    die "dependency resolution failed for kafka $KAFKA_VERSION"
  fi
  rm -rf "$LIBS"; mv "$tmp" "$LIBS"
  log "$(find "$LIBS" -name '*.jar' | wc -l) jars in $LIBS ($((SECONDS - t0))s)"
}

# the version actually on the classpath (KAFKA_LIBS_DIR may hold another one)
libs_version() {
  local j
  j=$(compgen -G "$LIBS/kafka_2.13-*.jar" | head -1)
  j=${j##*/kafka_2.13-}; echo "${j%.jar}"
}

gen_cluster_id() {  # like org.apache.kafka.common.Uuid.randomUuid(): 16 random bytes, base64url, no padding, no leading '-'
  local id
  while :; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ ${#id} -eq 22 && $id != -* ]] && { echo "$id"; return; }
  done
}

write_props() {
  mkdir -p "$CONF" "$DATA" "$LOGS"
  cat >"$CONF/server.properties" <<EOF
# generated by run-kafka.sh - single node, KRaft combined mode, loopback only
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

# single node: every internal topic has one replica, so transactions and
# idempotent producers work (the defaults of 3 would make them fail)
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.partitions=1

# tests create their topics explicitly (deploy/kafkatest.Topic); a typo'd or
# missing topic must fail loudly instead of being auto-created with defaults
auto.create.topics.enable=false

# consumer groups: no 3s wait before the first rebalance; allow short session timeouts
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000

# log compaction really runs: the cleaner is on (also the default) and looks for
# work every second instead of every 15s. Topics opt in with cleanup.policy=compact
# and small segment.ms / min.cleanable.dirty.ratio.
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.backoff.ms=1000
log.cleaner.dedupe.buffer.size=33554432
log.retention.check.interval.ms=5000

# restart after a crash (run-kafka.sh kill): the controller keeps the dead incarnation's broker
# registration until its session times out (default 9s, measured: restart took 16s);
# with 4s a restart after SIGKILL serves a few seconds sooner
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000

# small machine (2 cores, 512 MiB heap)
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
num.replica.fetchers=1
EOF
  if [[ -n ${KAFKA_EXTRA_PROPS:-} ]]; then
    printf '\n# KAFKA_EXTRA_PROPS\n%s\n' "$KAFKA_EXTRA_PROPS" >>"$CONF/server.properties"
  fi
}

format_storage() {
  if [[ -f $DATA/meta.properties ]]; then
    log "storage already formatted ($(grep -E '^cluster.id' "$DATA/meta.properties"))"
    return
  fi
  local cid=${CLUSTER_ID:-$(gen_cluster_id)}
  log "formatting $DATA with cluster id $cid"
  java -Xmx256m "-Dlog4j2.configurationFile=$HERE/config/tools-log4j2.properties" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$cid" -c "$CONF/server.properties" >&2
}

build_java_cmd() {  # fills the global array JAVA_CMD (no word splitting / globbing of the classpath)
  # JVM flags follow bin/kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS, with a small heap.
  local heap=()
  read -r -a heap <<<"$HEAP"
  JAVA_CMD=(java -server "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
    "-Dkafka.logs.dir=$LOGS" "-Dlog4j2.configurationFile=$HERE/config/log4j2.properties"
    -cp "$LIBS/*" kafka.Kafka "$CONF/server.properties")
}

# alive: the process exists and is not a zombie waiting to be reaped
alive() {
  local st
  st=$(sed -E 's/^.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# running: the pid file names a live kafka.Kafka process of this work dir (not a recycled pid)
running() {
  [[ -f $PIDFILE ]] || return 1
  local pid; pid=$(cat "$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $CONF/server.properties"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

print_env() {
  echo "KAFKA_SEED_BROKERS=$HOST:$PORT"
  echo "KAFKA_VERSION=$(libs_version)"
}

prepare() {
  check_java
  fetch
  write_props
  format_storage
}

# serialise start/stop/clean of one work dir (two test processes may race to start it)
lock() {
  mkdir -p "$WORK"
  exec 9>"$WORK/.lock"
  flock -w 300 9 || die "could not lock $WORK/.lock"
}

start() {
  lock
  if running; then
    local p; p=$(saved_port PLAINTEXT)
    [[ -z ${KAFKA_PORT:-} || $KAFKA_PORT == "$p" ]] || log "WARNING: KAFKA_PORT=$KAFKA_PORT ignored: this work dir's broker already runs on $p"
    PORT=$p
    log "already running (pid $(cat "$PIDFILE"))"; print_env; return
  fi
  log "client port $PORT: $PORT_FROM"
  for p in "$PORT" "$CPORT"; do
    port_open "$p" && die "port $HOST:$p is already in use by another process: pick free ports, e.g. KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 make kafka-start"
  done
  prepare
  local out=$LOGS/kafka.out t0
  t0=$(date +%s.%N)
  build_java_cmd
  : >"$out"
  rm -f "$PIDFILE"
  # setsid -f: the broker runs in its own session, so a Ctrl-C / SIGINT aimed at the
  # caller's process group (make, go test) does not take it down; only `stop` does.
  # The inner bash writes its pid and execs java, so the pid file holds the JVM's pid.
  # fd 9 (the lock) is not inherited, or the broker would hold the lock forever.
  # shellcheck disable=SC2016
  setsid -f bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$PIDFILE" "${JAVA_CMD[@]}" \
    >>"$out" 2>&1 </dev/null 9>&-
  local i
  for (( i = 0; i < 100; i++ )); do [[ -s $PIDFILE ]] && break; sleep 0.05; done
  [[ -s $PIDFILE ]] || die "broker process did not start (see $out)"
  log "started pid $(cat "$PIDFILE"), kafka $(libs_version); waiting until it serves on $HOST:$PORT (log: $out)"
  until grep -q "Kafka Server started" "$out" 2>/dev/null && port_open "$PORT"; do
    if ! running; then tail -50 "$out" >&2; rm -f "$PIDFILE"; die "broker exited during startup"; fi
    if (( $(date +%s) - ${t0%.*} >= READY_TIMEOUT )); then
      tail -50 "$out" >&2; log "not ready after ${READY_TIMEOUT}s; stopping it"
      exec 9>&-; stop KILL; die "broker did not become ready in ${READY_TIMEOUT}s (log: $out)"
    fi
    sleep 0.1
  done
  log "ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
  print_env
}

foreground() {
  lock
  running && die "already running in the background (pid $(cat "$PIDFILE"))"
  prepare
  build_java_cmd
  echo $$ >"$PIDFILE"   # exec keeps the pid, so status/stop work
  exec 9>&-
  exec "${JAVA_CMD[@]}"
}

stop() {  # $1 = TERM (controlled shutdown) | KILL (crash)
  lock
  if ! running; then log "not running"; rm -f "$PIDFILE"; return 0; fi
  local pid sig=${1:-TERM} t0; pid=$(cat "$PIDFILE"); t0=$(date +%s.%N)
  kill "-$sig" "$pid"
  local i
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    log "pid $pid did not stop in ${STOP_TIMEOUT}s; SIGKILL"
    kill -KILL "$pid"
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  log "stopped (SIG$sig) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
}

case ${1:-start} in
  fetch) check_java; fetch ;;
  props) write_props; cat "$CONF/server.properties" ;;
  start) start ;;
  restart) stop TERM; exec 9>&-; start ;;
  foreground) foreground ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  status) if running; then PORT=$(saved_port PLAINTEXT); log "running pid $(cat "$PIDFILE")"; print_env; else echo "stopped"; exit 1; fi ;;
  logs) tail -n "${2:-200}" "$LOGS/kafka.out" 2>/dev/null || log "no log at $LOGS/kafka.out" ;;
  clean) stop TERM; rm -rf "$WORK"; log "removed $WORK" ;;
  cmd) build_java_cmd; printf '%q ' "${JAVA_CMD[@]}"; echo ;;
  *) sed -n '2,30p' "$0"; exit 2 ;;
esac
