#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, one node acting as broker and controller) for tests, CI and the demo.
#
#   scripts/kafka.sh fetch          jars from Maven Central into kafka-broker/lib/ (kafka-broker/pom.xml;
#                                   ~/.m2 is the cache); nothing to do when kafka-broker/lib/ holds them
#   scripts/kafka.sh start DIR      fetch, then in DIR: server.properties with free ports on 127.0.0.1, storage
#                                   formatted (random cluster id), broker in the background; waits until it
#                                   answers a metadata request, writes DIR/pid and DIR/bootstrap, prints host:port.
#                                   A DIR that already holds a broker's data is started again as it was.
#   scripts/kafka.sh stop DIR       SIGTERM, up to 30 s for a clean shutdown, then SIGKILL
#   scripts/kafka.sh restart DIR    stop, then start with the same ports and data
#   scripts/kafka.sh status DIR     exit 0 and print host:port when that broker is running
#
# Logs: DIR/server.log (log4j2), DIR/stdout.log (JVM output). Works from any cwd. Its parts: the
# configuration files in scripts/kafka-broker/config.sh, the readiness check and the port picker beside it.
# Environment:
#   KAFKA_VERSION     broker version to fetch (default: kafka-broker/pom.xml's; 3.9.1 is the fallback
#                     if a client/broker protocol mismatch ever shows)
#   KAFKA_HEAP_OPTS   default -Xms128m -Xmx512m
#   KAFKA_JVM_OPTS    replaces the GC and JIT options (default: G1, JIT at C1 only, see set_java_opts)
#   JAVA_HOME         the JVM to run (default: java on the PATH)
#   KAFKA_OVERRIDES   extra server.properties lines (key=value, one per line), written on first start
#   KAFKA_OWNER_PID   if set, a watchdog stops the broker once that process is gone (tests set it, so that a
#                     killed test run cannot leave a broker behind)
#   KAFKA_START_TIMEOUT  seconds to wait for the broker to answer (default 90)
#   PYTHON            interpreter with kafka-python for the readiness check (default: the repo's .venv)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA_HOME=$ROOT/kafka-broker
LIB=$KAFKA_HOME/lib
STAMP=$LIB/.fetched
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
HELPERS=$ROOT/scripts/kafka-broker # the broker's config files (config.sh) and two Python helpers
# shellcheck source=kafka-broker/config.sh
. "$HELPERS/config.sh"

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

pom_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_HOME/pom.xml" | head -n1
}

python_bin() {
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
  elif [ -x "$ROOT/.venv/bin/python" ]; then
    echo "$ROOT/.venv/bin/python"
  else
    echo python3
  fi
}

cmd_fetch() {
  local version want log
  version=${KAFKA_VERSION:-$(pom_version)}
  [ -n "$version" ] || die "no <kafka.version> in $KAFKA_HOME/pom.xml"
  # The stamp names the version and the POM's checksum: a changed POM or version fetches again.
  want="$version $(cksum <"$KAFKA_HOME/pom.xml" | cut -d' ' -f1)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn (Maven) is needed to fetch the broker's jars"
  # One fetch at a time (test workers may start brokers together); the one that waited finds it done.
  exec 9>"$KAFKA_HOME/.lib.lock"
  flock 9
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exec 9>&-
    return 0
  fi
  echo "kafka.sh: fetching Apache Kafka $version jars into $LIB ..." >&2
  rm -rf "$LIB"
  log=$(mktemp)
  if ! mvn -B -q -f "$KAFKA_HOME/pom.xml" -Dkafka.version="$version" dependency:copy-dependencies >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "mvn dependency:copy-dependencies failed"
  fi
  rm -f "$log"
  ls "$LIB"/kafka_2.13-"$version".jar >/dev/null 2>&1 || die "no kafka_2.13-$version.jar in $LIB after the copy"
  echo "$want" >"$STAMP"
  exec 9>&-
}

# DIR as an absolute path; created unless $2 = existing, when a missing DIR prints nothing.
abs_dir() {
  [ -n "${1:-}" ] || die "missing DIR (usage: $0 start|stop|restart|status DIR)"
  if [ "${2:-}" = existing ]; then
    [ -d "$1" ] || return 0
  else
    mkdir -p "$1"
  fi
  (cd "$1" && pwd)
}

# Whether process $1 runs. Not `kill -0` alone: an exited broker stays a zombie until init reaps it,
# which on some machines takes a second or more.
alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# The pid in DIR/pid if that process is alive and is a Kafka broker; empty otherwise.
running_pid() {
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  [ -n "$pid" ] || return 0
  if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
    echo "$pid"
  fi
}

# Two distinct free ports on 127.0.0.1 (the broker's and the controller's).
free_ports() {
  "$(python_bin)" "$HELPERS/free_ports.py"
}

storage_tool_class() {
  if grep -qa 'org/apache/kafka/tools/StorageTool.class' "$LIB"/*.jar; then
    echo org.apache.kafka.tools.StorageTool
  else
    echo kafka.tools.StorageTool
  fi
}

# The JVM's options, in the array JAVA_OPTS. By default the JIT stops at C1: start-up is most of a test
# broker's life, and so it starts ~2 s sooner, uses less than half the CPU time, and serves kafka-python
# clients no slower. KAFKA_JVM_OPTS replaces these defaults (KAFKA_JVM_OPTS= for the JVM's own).
set_java_opts() {
  local dir=$1
  # shellcheck disable=SC2206  # the option strings are split into words on purpose
  JAVA_OPTS=(${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
    ${KAFKA_JVM_OPTS--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1}
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$dir/log4j2.properties" "-Dkafka.logs.dir=$dir")
}

format_storage() {
  local dir=$1 cluster_id
  # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding; drawn again while it starts with
  # "-" (1 in 64), which the storage tool would read as an option (Kafka's Uuid.randomUuid does the same).
  cluster_id=-
  while [[ $cluster_id == -* ]]; do
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  set_java_opts "$dir"
  "$JAVA" "${JAVA_OPTS[@]}" -cp "$LIB/*" "$(storage_tool_class)" format -t "$cluster_id" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 \
    || die "formatting storage failed: $(cat "$dir/format.log")"
}

launch() {
  local dir=$1
  set_java_opts "$dir"
  # setsid: the broker gets its own session, so a Ctrl-C in the terminal reaches the test run, whose
  # teardown stops the broker, and not the broker itself mid-test. The shell writes its own pid and
  # then becomes java, so DIR/pid is the broker's pid whether or not setsid forked.
  # shellcheck disable=SC2016  # expanded by the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' launch "$dir/pid" \
    "$JAVA" "${JAVA_OPTS[@]}" -cp "$LIB/*" kafka.Kafka "$dir/server.properties" \
    >"$dir/stdout.log" 2>&1 </dev/null &
  for _ in $(seq 100); do
    [ -s "$dir/pid" ] && break
    sleep 0.05
  done
  [ -s "$dir/pid" ] || die "the broker's process did not start"
  if [ -n "${KAFKA_OWNER_PID:-}" ]; then
    # The watchdog: once the owner is gone, the broker gets what `stop` would give it.
    # shellcheck disable=SC2016  # expanded by the inner shell
    setsid bash -c '
      alive() { local s; { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1; s=${s##*) }; [ "${s:0:1}" != Z ]; }
      while alive "$1" && alive "$2"; do sleep 1; done
      if alive "$2"; then
        kill -TERM "$2"
        for _ in $(seq 30); do alive "$2" || exit 0; sleep 1; done
        kill -KILL "$2"
      fi' watchdog "$KAFKA_OWNER_PID" "$(cat "$dir/pid")" >/dev/null 2>&1 </dev/null &
    echo $! >"$dir/watchdog.pid"
  fi
}

# Waits until broker $1 answers at $2; fails (exit 3 if a port is taken, as its log $3 says past byte $4).
wait_ready() {
  "$(python_bin)" "$HELPERS/wait_ready.py" "$1" "$2" "${KAFKA_START_TIMEOUT:-90}" "$3" "$4"
}

cmd_start() {
  local dir pid attempt fresh port cport log_size rc
  dir=$(abs_dir "${1:-}")
  if [ -n "$(running_pid "$dir")" ]; then
    cat "$dir/bootstrap"
    return 0
  fi
  cmd_fetch
  command -v "$JAVA" >/dev/null || die "java (17 or later) is needed to run the broker"
  for attempt in 1 2 3; do
    fresh=0
    if [ ! -f "$dir/data/meta.properties" ]; then
      # A new broker: free ports, new storage. Otherwise the same ports and data as before.
      fresh=1
      rm -rf "$dir/data"
      read -r port cport < <(free_ports)
      write_config "$dir" "$port" "$cport"
      echo "127.0.0.1:$port" >"$dir/bootstrap"
      format_storage "$dir"
    fi
    log_size=$(stat -c %s "$dir/server.log" 2>/dev/null || echo 0)
    rm -f "$dir/pid"
    launch "$dir"
    pid=$(cat "$dir/pid")
    rc=0
    wait_ready "$pid" "$(cat "$dir/bootstrap")" "$dir/server.log" "$log_size" || rc=$?
    if [ "$rc" = 0 ]; then
      cat "$dir/bootstrap"
      return 0
    fi
    cmd_stop "$dir"
    # Another process took a port between our choice and the broker's bind: a new broker takes other
    # ports, a restarted one (whose clients know its port) tries the same again.
    if [ "$rc" = 3 ] && [ "$attempt" -lt 3 ]; then
      echo "kafka.sh: trying again" >&2
      if [ "$fresh" = 1 ]; then rm -rf "$dir/data"; else sleep 2; fi
      continue
    fi
    break
  done
  echo "kafka.sh: the broker did not start; the end of $dir/server.log and $dir/stdout.log:" >&2
  tail -n 30 "$dir/server.log" "$dir/stdout.log" >&2 2>/dev/null || true
  exit 1
}

cmd_stop() {
  local dir pid
  dir=$(abs_dir "${1:-}" existing)
  [ -n "$dir" ] || return 0
  pid=$(running_pid "$dir")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "kafka.sh: broker $pid still running after 30 s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      while alive "$pid"; do sleep 0.1; done
    fi
  fi
  if [ -f "$dir/watchdog.pid" ]; then
    kill "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
    rm -f "$dir/watchdog.pid"
  fi
  rm -f "$dir/pid"
}

cmd_restart() {
  local dir
  dir=$(abs_dir "${1:-}" existing)
  if [ -z "$dir" ] || [ ! -f "$dir/data/meta.properties" ]; then
    die "no broker data in ${1:-} to restart"
  fi
  cmd_stop "$dir"
  cmd_start "$dir"
}

cmd_status() {
  local dir
  dir=$(abs_dir "${1:-}" existing)
  if [ -z "$dir" ] || [ -z "$(running_pid "$dir")" ]; then
    exit 1
  fi
  cat "$dir/bootstrap"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  restart) cmd_restart "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *)
    echo "usage: $0 fetch | start DIR | stop DIR | restart DIR | status DIR" >&2
    exit 2
    ;;
esac
