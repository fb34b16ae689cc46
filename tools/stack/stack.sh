#!/usr/bin/env bash
# Local infrastructure stack without a Docker engine: Apache Kafka (KRaft, single combined node,
# on the JVM from Maven Central jars), Apicurio Registry (Confluent-compatible schema registry,
# schemas kept in a Kafka topic) and PostgreSQL (the machine's own server if it answers, else one
# started from Debian's binaries). See docs/adr/0001-local-stack.md.
#
# Usage: tools/stack/stack.sh up|down|status|env|logs <component> [-f]|reset
#   up      start what is not running (idempotent), write .stack/env, print the time taken
#   down    stop what this script started (never the system PostgreSQL)
#   status  one line per component; exits non-zero if any is down
#   env     print .stack/env (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL)
#   logs    print the tail of .stack/logs/<component>.log (-f to follow)
#   reset   down, then delete the stack's data (Kafka log, registry journal, own PostgreSQL)
#
# Environment (all optional):
#   STACK_DIR                  state directory (default <repo>/.stack)
#   STACK_KAFKA_PORT           broker listener            (default 19092)
#   STACK_KAFKA_CONTROLLER_PORT KRaft controller listener (default 19093)
#   STACK_REGISTRY_PORT        Apicurio HTTP              (default 18081)
#   STACK_REGISTRY_MGMT_PORT   Apicurio management/health (default 19000)
#   STACK_PG                   auto | system | own        (default auto: system if it answers)
#   STACK_PG_SYSTEM_HOST/PORT  the machine's PostgreSQL   (default 127.0.0.1 / 5432)
#   STACK_PG_PORT              our own PostgreSQL         (default 55432)
#   STACK_PG_DATA              our own PostgreSQL's data directory (default .stack/data/postgres)
#   STACK_DB_NAME              platform database          (default ancillary)
#   STACK_REGISTRY_STORAGE     kafkasql | postgresql      (default kafkasql)
#   KAFKA_JAVA_HOME            JDK >= 17 for Kafka        (else JAVA_HOME, java on PATH, scan)
#   APICURIO_JAVA_HOME         JDK >= 21 for Apicurio     (else JAVA_HOME, java on PATH, scan)
#   STACK_KAFKA_HEAP           default "-Xms128m -Xmx512m"
#   STACK_REGISTRY_HEAP        default "-Xmx384m"
#   STACK_START_TIMEOUT        seconds per component health wait (default 180)
#   STACK_STOP_GRACE           seconds between TERM and KILL (default 30)
#   STACK_MVN_ARGS             extra arguments for mvn (e.g. "-o" when offline)
set -euo pipefail

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd -P)"

KAFKA_PORT="${STACK_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${STACK_KAFKA_CONTROLLER_PORT:-19093}"
REGISTRY_PORT="${STACK_REGISTRY_PORT:-18081}"
REGISTRY_MGMT_PORT="${STACK_REGISTRY_MGMT_PORT:-19000}"
PG_MODE_WANTED="${STACK_PG:-auto}"
PG_SYSTEM_HOST="${STACK_PG_SYSTEM_HOST:-127.0.0.1}"
PG_SYSTEM_PORT="${STACK_PG_SYSTEM_PORT:-5432}"
PG_OWN_PORT="${STACK_PG_PORT:-55432}"
PG_DATA="${STACK_PG_DATA:-$STACK_DIR/data/postgres}"
[[ $PG_DATA == /* ]] || PG_DATA="$PWD/$PG_DATA"
DB_NAME="${STACK_DB_NAME:-ancillary}"
REGISTRY_DB_NAME="apicurio_registry"
REGISTRY_STORAGE="${STACK_REGISTRY_STORAGE:-kafkasql}"
KAFKA_HEAP="${STACK_KAFKA_HEAP:--Xms128m -Xmx512m}"
REGISTRY_HEAP="${STACK_REGISTRY_HEAP:--Xmx384m}"
START_TIMEOUT="${STACK_START_TIMEOUT:-180}"
STOP_GRACE="${STACK_STOP_GRACE:-30}"
read -r -a MVN_EXTRA <<<"${STACK_MVN_ARGS:-}"
read -r -a KAFKA_HEAP_ARGS <<<"$KAFKA_HEAP"
read -r -a REGISTRY_HEAP_ARGS <<<"$REGISTRY_HEAP"

# Keep in step with docker-compose.yml.
APICURIO_VERSION="3.3.3"
APICURIO_ARTIFACT="io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all"
# Apicurio's kafkasql topics, named so that they stand out from the platform's own topics.
REGISTRY_TOPIC_JOURNAL="_apicurio-kafkasql-journal"
REGISTRY_TOPIC_SNAPSHOTS="_apicurio-kafkasql-snapshots"
REGISTRY_TOPIC_EVENTS="_apicurio-registry-events"

HOST="127.0.0.1"
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LIB="$STACK_DIR/lib/kafka"
KAFKA_DATA="$STACK_DIR/data/kafka"
KAFKA_CONF="$STACK_DIR/conf/kafka-server.properties"
APICURIO_HOME="$STACK_DIR/apicurio/$APICURIO_VERSION"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"
ENV_FILE="$STACK_DIR/env"
COMPONENTS=(postgres kafka registry)

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
say() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[stack] ERROR: %s\n' "$*" >&2
  exit 1
}
now_ms() { date +%s%3N; }
elapsed() { # start_ms -> "12.3s"
  local d=$(($(now_ms) - $1))
  printf '%d.%ds' $((d / 1000)) $(((d % 1000) / 100))
}

port_open() { # host port -> 0 when something accepts a TCP connection
  # shellcheck disable=SC2016 # $0 and $1 are expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

port_owner() { # port -> description of the listener, if ss can tell
  if command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | awk '{print $4, $6}' | head -n 3
  fi
}

require_free_port() { # component port
  if port_open "$HOST" "$2"; then
    local owner
    owner="$(port_owner "$2")"
    die "$1: port $HOST:$2 is already taken by a process this script did not start${owner:+ ($owner)}. Stop it or choose another port (see the STACK_*_PORT variables at the top of $0)."
  fi
}

pid_file() { echo "$RUN_DIR/$1.pid"; }
log_file() { echo "$LOG_DIR/$1.log"; }

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

is_ours() { # component pid -> 0 when pid is alive and is the process we started
  local c=$1 pid=$2 cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(cmdline_of "$pid")"
  case "$c" in
    postgres) [[ $cmd == *"$PG_DATA"* ]] ;;
    *) [[ $cmd == *"-Dstack.component=$c "* && $cmd == *"-Dstack.home=$STACK_DIR "* ]] ;;
  esac
}

running_pid() { # component -> prints pid and returns 0 when our process runs
  local f pid
  f="$(pid_file "$1")"
  [[ -f $f ]] || return 1
  pid="$(head -n 1 "$f" 2>/dev/null || true)"
  if is_ours "$1" "$pid"; then
    echo "$pid"
    return 0
  fi
  return 1
}

find_marked_pid() { # component -> pid of a process carrying our markers
  local p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    if is_ours "$1" "$p"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

rss_kib() { # pid [with-children] -> resident set size in KiB
  local pid=$1 total=0 v p
  v="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  total=${v:-0}
  if [[ ${2:-} == with-children ]]; then
    for p in /proc/[0-9]*/stat; do
      # field 4 of /proc/<pid>/stat is the parent pid (the command name in field 2 has no spaces
      # for postgres' children: "postgres").
      read -r _ _ _ ppid _ <"$p" 2>/dev/null || continue
      if [[ ${ppid:-} == "$pid" ]]; then
        v="$(awk '/^VmRSS:/ {print $2}' "${p%/stat}/status" 2>/dev/null || true)"
        total=$((total + ${v:-0}))
      fi
    done
  fi
  echo "$total"
}

show_log_tail() { # component [lines]
  local f
  f="$(log_file "$1")"
  printf '[stack] --- last %s lines of %s ---\n' "${2:-40}" "$f" >&2
  tail -n "${2:-40}" "$f" >&2 2>/dev/null || true
  printf '[stack] --- end of %s ---\n' "$f" >&2
}

rotate_log() { # component
  local f
  f="$(log_file "$1")"
  [[ -f $f ]] && mv -f "$f" "$f.1"
  : >"$f"
}

java_major() { # java binary -> major version (8, 17, 21, 25, ...)
  local v
  v="$("$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  v="${v#1.}"
  v="${v%%[.+_-]*}"
  [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

find_java() { # min_major candidate_home... -> java binary; first candidate that fits, else the
  # newest JDK found under the usual install roots.
  local min=$1 home bin m best="" bestm=0
  shift
  for home in "$@"; do
    [[ -n $home ]] || continue
    bin="$home"
    [[ -x $bin/bin/java ]] && bin="$bin/bin/java"
    [[ -x $bin && ! -d $bin ]] || continue
    m="$(java_major "$bin")"
    if ((m >= min)); then
      echo "$bin"
      return 0
    fi
  done
  for bin in /usr/lib/jvm/*/bin/java /usr/java/*/bin/java /opt/java/*/bin/java /opt/*/bin/java; do
    [[ -x $bin ]] || continue
    m="$(java_major "$bin")"
    if ((m >= min && m > bestm)); then
      best="$bin"
      bestm=$m
    fi
  done
  [[ -n $best ]] && echo "$best"
}

path_java() { command -v java 2>/dev/null || true; }

mvn_run() {
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed to fetch Kafka and Apicurio from Maven Central; install it (Debian: apt-get install -y maven)."
  mvn -B -q "${MVN_EXTRA[@]}" -f "$KAFKA_POM" -Dstack.build.dir="$STACK_DIR/maven" "$@"
}

stop_pid() { # component pid grace_seconds
  local c=$1 pid=$2 grace=$3 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  warn "$c (pid $pid) did not stop within ${grace}s after TERM; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  warn "$c (pid $pid) is still alive after KILL"
}

launch() { # component workdir command... -> starts in the background, writes the pid file
  local c=$1 dir=$2 pid
  shift 2
  rotate_log "$c"
  # fd 9 holds the stack lock: the long-running child must not inherit it.
  (
    exec 9>&-
    cd "$dir" && exec setsid nohup "$@" >>"$(log_file "$c")" 2>&1 </dev/null
  ) &
  pid=$!
  sleep 0.2
  if ! is_ours "$c" "$pid"; then
    pid="$(find_marked_pid "$c" || true)"
  fi
  if [[ -z $pid ]]; then
    show_log_tail "$c"
    die "$c exited right after its start; log: $(log_file "$c")"
  fi
  echo "$pid" >"$(pid_file "$c")"
}

wait_until() { # component timeout pid check_fn -> waits for check_fn to succeed
  local c=$1 t=$2 pid=$3 check=$4 deadline
  deadline=$(($(date +%s) + t))
  while :; do
    if "$check"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail "$c"
      die "$c (pid $pid) exited during start-up; log: $(log_file "$c")"
    fi
    if (($(date +%s) >= deadline)); then
      show_log_tail "$c"
      stop_pid "$c" "$pid" 10
      rm -f "$(pid_file "$c")"
      die "$c did not become ready within ${t}s (stopped it again); log: $(log_file "$c")"
    fi
    sleep 0.25
  done
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
PG_BIN=""
pg_find_bin() { # sets PG_BIN to the newest /usr/lib/postgresql/<v>/bin holding initdb
  local d best="" bestv=0 v
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
    v="$(basename "$(dirname "$d")")"
    v="${v%%.*}"
    if [[ $v =~ ^[0-9]+$ ]] && ((v > bestv)); then
      best=$d
      bestv=$v
    fi
  done
  PG_BIN=$best
}

pg_client() { # name -> path of psql/pg_isready/createdb
  if command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    pg_find_bin
    [[ -n $PG_BIN && -x $PG_BIN/$1 ]] && echo "$PG_BIN/$1"
  fi
}

pg_ready() { # host port
  local isready
  isready="$(pg_client pg_isready || true)"
  if [[ -n $isready ]]; then
    "$isready" -q -h "$1" -p "$2" -U postgres -d postgres -t 2 >/dev/null 2>&1
  else
    port_open "$1" "$2"
  fi
}

as_pg_user() { # runs a command as the postgres OS user when we are root
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' OS user to run our own PostgreSQL server"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_mode() { # -> system | own (what `up` would use now / what `status` should look at)
  case "$PG_MODE_WANTED" in
    system | own) echo "$PG_MODE_WANTED" ;;
    auto)
      if running_pid postgres >/dev/null || [[ -f $(pid_file postgres) ]]; then
        echo own
      elif pg_ready "$PG_SYSTEM_HOST" "$PG_SYSTEM_PORT"; then
        echo system
      else
        echo own
      fi
      ;;
    *) die "STACK_PG must be auto, system or own (got '$PG_MODE_WANTED')" ;;
  esac
}

pg_port_for() { [[ $1 == system ]] && echo "$PG_SYSTEM_PORT" || echo "$PG_OWN_PORT"; }
pg_host_for() { [[ $1 == system ]] && echo "$PG_SYSTEM_HOST" || echo "$HOST"; }

pg_install_if_missing() {
  pg_find_bin
  [[ -n $PG_BIN ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "postgres: no server binaries under /usr/lib/postgresql; installing Debian's postgresql package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >"$LOG_DIR/postgres-install.log" 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$LOG_DIR/postgres-install.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >>"$LOG_DIR/postgres-install.log" 2>&1; } ||
      die "apt-get install postgresql failed; see $LOG_DIR/postgres-install.log"
    pg_find_bin
  fi
  [[ -n $PG_BIN ]] || die "no PostgreSQL server binaries (/usr/lib/postgresql/<v>/bin) and none could be installed; install Debian's postgresql package or start a server on $PG_SYSTEM_HOST:$PG_SYSTEM_PORT"
}

pg_up_own() {
  local t0 pid log
  t0=$(now_ms)
  if pid="$(running_pid postgres)"; then
    if pg_ready "$HOST" "$PG_OWN_PORT"; then
      say "postgres: already running (own server, pid $pid, $HOST:$PG_OWN_PORT)"
      return 0
    fi
  fi
  rm -f "$(pid_file postgres)"
  require_free_port postgres "$PG_OWN_PORT"
  pg_install_if_missing
  log="$(log_file postgres)"
  mkdir -p "$PG_DATA"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$PG_DATA"
    chmod 700 "$PG_DATA"
    as_pg_user test -w "$PG_DATA" ||
      die "the postgres OS user cannot reach $PG_DATA (a parent directory is not traversable by others); set STACK_PG_DATA to a directory it can use"
  fi
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    say "postgres: initdb into $PG_DATA"
    as_pg_user "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale \
      >"$LOG_DIR/postgres-initdb.log" 2>&1 || {
      tail -n 20 "$LOG_DIR/postgres-initdb.log" >&2
      die "initdb failed; log: $LOG_DIR/postgres-initdb.log"
    }
    # Loopback TCP only, no Unix socket (its path length limit would bite in deep checkouts).
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- added by tools/stack/stack.sh ---
listen_addresses = '$HOST'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  rotate_log postgres
  [[ $(id -u) -eq 0 ]] && chown postgres: "$log"
  say "postgres: starting own server on $HOST:$PG_OWN_PORT"
  # 9>&-: the postmaster must not inherit the stack lock.
  if ! as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$log" -w -t "$START_TIMEOUT" -o "-p $PG_OWN_PORT" start >/dev/null 9>&-; then
    show_log_tail postgres
    die "postgres did not start; log: $log"
  fi
  pid="$(head -n 1 "$PG_DATA/postmaster.pid")"
  echo "$pid" >"$(pid_file postgres)"
  local deadline=$(($(date +%s) + START_TIMEOUT))
  until pg_ready "$HOST" "$PG_OWN_PORT"; do
    (($(date +%s) < deadline)) || {
      show_log_tail postgres
      die "postgres is not accepting connections on $HOST:$PG_OWN_PORT; log: $log"
    }
    sleep 0.25
  done
  say "postgres: ready (own server, pid $pid) in $(elapsed "$t0")"
}

pg_ensure_db() { # host port dbname
  local psql exists
  psql="$(pg_client psql || true)"
  [[ -n $psql ]] || die "psql not found (Debian: apt-get install -y postgresql-client)"
  exists="$("$psql" -h "$1" -p "$2" -U postgres -d postgres -XtAc "SELECT 1 FROM pg_database WHERE datname = '$3'" 2>&1)" ||
    die "cannot query PostgreSQL on $1:$2 as user postgres: $exists"
  if [[ $exists != 1 ]]; then
    "$psql" -h "$1" -p "$2" -U postgres -d postgres -Xqc "CREATE DATABASE \"$3\"" >/dev/null ||
      die "cannot create database $3 on $1:$2"
    say "postgres: created database $3 on $1:$2"
  fi
}

pg_up() {
  local mode host port
  mode="$(pg_mode)"
  if [[ $mode == system ]]; then
    pg_ready "$PG_SYSTEM_HOST" "$PG_SYSTEM_PORT" ||
      die "STACK_PG=system, but no PostgreSQL answers on $PG_SYSTEM_HOST:$PG_SYSTEM_PORT"
    say "postgres: using the machine's server on $PG_SYSTEM_HOST:$PG_SYSTEM_PORT (not managed by this script)"
  else
    pg_up_own
  fi
  host="$(pg_host_for "$mode")"
  port="$(pg_port_for "$mode")"
  pg_ensure_db "$host" "$port" "$DB_NAME"
  [[ $REGISTRY_STORAGE == postgresql ]] && pg_ensure_db "$host" "$port" "$REGISTRY_DB_NAME"
  PG_URL_HOST=$host
  PG_URL_PORT=$port
}

pg_down() {
  local pid
  if pid="$(running_pid postgres)"; then
    say "postgres: stopping own server (pid $pid)"
    pg_find_bin
    if [[ -n $PG_BIN ]]; then
      as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_GRACE" stop >/dev/null 2>&1 || true
    fi
    is_ours postgres "$pid" && stop_pid postgres "$pid" "$STOP_GRACE"
  fi
  rm -f "$(pid_file postgres)"
}

# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------
kafka_java() {
  local j
  j="$(find_java 17 "${KAFKA_JAVA_HOME:-}" "${JAVA_HOME:-}" "$(path_java)" || true)"
  [[ -n $j ]] || die "Kafka 4 needs Java 17 or newer: none found (set KAFKA_JAVA_HOME)"
  echo "$j"
}

kafka_fetch_jars() {
  local want have t0
  want="$(sha256sum "$KAFKA_POM" | awk '{print $1}')"
  have="$(cat "$KAFKA_LIB/.pom.sha256" 2>/dev/null || true)"
  if [[ $want == "$have" ]] && compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  t0=$(now_ms)
  say "kafka: resolving jars from $KAFKA_POM into $KAFKA_LIB"
  rm -rf "$KAFKA_LIB"
  mkdir -p "$KAFKA_LIB"
  mvn_run dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB" >"$LOG_DIR/maven-kafka.log" 2>&1 || {
    tail -n 30 "$LOG_DIR/maven-kafka.log" >&2
    die "Maven could not resolve the Kafka jars; log: $LOG_DIR/maven-kafka.log"
  }
  echo "$want" >"$KAFKA_LIB/.pom.sha256"
  say "kafka: $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $(elapsed "$t0")"
}

kafka_tool() { # main-class args... -> runs one of Kafka's CLI classes from the same jars
  local java
  java="$(kafka_java)"
  "$java" -Xmx256m -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/tools-log4j2.properties" \
    -cp "$KAFKA_LIB/*" "$@"
}

kafka_write_config() {
  mkdir -p "$(dirname "$KAFKA_CONF")"
  cat >"$KAFKA_CONF" <<EOF
# Generated by tools/stack/stack.sh; edits are overwritten at the next 'up'.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
EOF
}

kafka_format() {
  local id stamp="$KAFKA_DATA/.stack-controller"
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    # The standalone format records the controller's endpoint in the metadata log.
    if [[ -f $stamp && $(cat "$stamp") != "$HOST:$KAFKA_CONTROLLER_PORT" ]]; then
      die "kafka: $KAFKA_DATA was formatted for controller $(cat "$stamp"), not $HOST:$KAFKA_CONTROLLER_PORT; keep the old STACK_KAFKA_CONTROLLER_PORT or run 'stack.sh reset'"
    fi
    return 0
  fi
  mkdir -p "$KAFKA_DATA"
  id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$(log_file kafka)" | tail -n 1)"
  [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: StorageTool random-uuid printed '$id', not a cluster id"
  say "kafka: formatting $KAFKA_DATA (cluster id $id)"
  kafka_tool kafka.tools.StorageTool format --standalone -t "$id" -c "$KAFKA_CONF" -g \
    >>"$(log_file kafka)" 2>&1 || {
    show_log_tail kafka
    die "kafka: storage format failed; log: $(log_file kafka)"
  }
  echo "$HOST:$KAFKA_CONTROLLER_PORT" >"$stamp"
}

kafka_ready() {
  port_open "$HOST" "$KAFKA_PORT" && grep -q "Kafka Server started" "$(log_file kafka)" 2>/dev/null
}

kafka_up() {
  local t0 pid java
  t0=$(now_ms)
  if pid="$(running_pid kafka)"; then
    if port_open "$HOST" "$KAFKA_PORT"; then
      say "kafka: already running (pid $pid, $HOST:$KAFKA_PORT)"
      return 0
    fi
    say "kafka: pid $pid is ours but not answering yet; waiting"
    wait_until kafka "$START_TIMEOUT" "$pid" kafka_ready
    say "kafka: ready (pid $pid)"
    return 0
  fi
  rm -f "$(pid_file kafka)"
  require_free_port kafka "$KAFKA_PORT"
  require_free_port kafka "$KAFKA_CONTROLLER_PORT"
  kafka_fetch_jars
  java="$(kafka_java)"
  kafka_write_config
  rotate_log kafka
  kafka_format
  say "kafka: starting Kafka $(basename "$(compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" | head -n 1)" .jar | sed 's/kafka_2.13-//') with $java (Java $(java_major "$java"))"
  # launch() rotates the log again: keep the format output in kafka.log.1.
  launch kafka "$STACK_DIR" "$java" "${KAFKA_HEAP_ARGS[@]}" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dstack.component=kafka -Dstack.home="$STACK_DIR" \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONF"
  pid="$(cat "$(pid_file kafka)")"
  wait_until kafka "$START_TIMEOUT" "$pid" kafka_ready
  say "kafka: ready on $HOST:$KAFKA_PORT (pid $pid) in $(elapsed "$t0")"
}

kafka_down() {
  local pid
  if pid="$(running_pid kafka)"; then
    say "kafka: stopping (pid $pid)"
    stop_pid kafka "$pid" "$STOP_GRACE"
  fi
  rm -f "$(pid_file kafka)"
}

# ---------------------------------------------------------------------------------------------
# Apicurio Registry
# ---------------------------------------------------------------------------------------------
registry_java() {
  local j
  j="$(find_java 21 "${APICURIO_JAVA_HOME:-}" "${JAVA_HOME:-}" "$(path_java)" || true)"
  [[ -n $j ]] || die "Apicurio Registry $APICURIO_VERSION needs Java 21 or newer and none was found (looked at APICURIO_JAVA_HOME, JAVA_HOME, java on PATH, /usr/lib/jvm/*). Install a JDK >= 21 (Debian 12's archive has none; e.g. a Temurin JDK) and set APICURIO_JAVA_HOME."
  echo "$j"
}

registry_fetch() {
  local t0 tmp
  [[ -f $APICURIO_HOME/.unpacked && -f $APICURIO_HOME/quarkus-run.jar ]] && return 0
  t0=$(now_ms)
  say "registry: fetching and unpacking $APICURIO_ARTIFACT (about 160 MB, cached in Maven's local repository)"
  tmp="$APICURIO_HOME.tmp"
  rm -rf "$tmp" "$APICURIO_HOME"
  mkdir -p "$tmp"
  mvn_run dependency:unpack -Dartifact="$APICURIO_ARTIFACT" -DoutputDirectory="$tmp" \
    -DmarkersDirectory="$STACK_DIR/maven/markers" -Dmdep.overWriteReleases=true >"$LOG_DIR/maven-apicurio.log" 2>&1 || {
    tail -n 30 "$LOG_DIR/maven-apicurio.log" >&2
    die "Maven could not fetch $APICURIO_ARTIFACT; log: $LOG_DIR/maven-apicurio.log"
  }
  [[ -f $tmp/quarkus-run.jar ]] || die "the Apicurio archive has no quarkus-run.jar at its top level"
  touch "$tmp/.unpacked"
  mv "$tmp" "$APICURIO_HOME"
  say "registry: unpacked into $APICURIO_HOME in $(elapsed "$t0")"
}

registry_ready() {
  curl -fsS -o /dev/null --max-time 2 "http://$HOST:$REGISTRY_MGMT_PORT/health/ready" 2>/dev/null
}

registry_check_compat() {
  local cfg
  cfg="$(curl -fsS --max-time 5 "http://$HOST:$REGISTRY_PORT/apis/ccompat/v7/config" 2>&1)" ||
    die "registry: GET /apis/ccompat/v7/config failed: $cfg"
  [[ $cfg == *'"BACKWARD"'* ]] ||
    die "registry: the global compatibility level is not BACKWARD ($cfg); @kafkajs/confluent-schema-registry would refuse existing subjects"
}

registry_up() {
  local t0 pid java storage_args=()
  t0=$(now_ms)
  command -v curl >/dev/null 2>&1 || die "curl is needed for the registry's health check (Debian: apt-get install -y curl)"
  if pid="$(running_pid registry)"; then
    if registry_ready; then
      registry_check_compat
      say "registry: already running (pid $pid, http://$HOST:$REGISTRY_PORT)"
      return 0
    fi
    say "registry: pid $pid is ours but not ready yet; waiting"
    wait_until registry "$START_TIMEOUT" "$pid" registry_ready
    registry_check_compat
    say "registry: ready (pid $pid)"
    return 0
  fi
  rm -f "$(pid_file registry)"
  require_free_port registry "$REGISTRY_PORT"
  require_free_port registry "$REGISTRY_MGMT_PORT"
  java="$(registry_java)"
  registry_fetch
  mkdir -p "$STACK_DIR/tmp/apicurio"
  case "$REGISTRY_STORAGE" in
    kafkasql)
      storage_args=(
        -Dapicurio.storage.kind=kafkasql
        -Dapicurio.kafkasql.bootstrap.servers="$HOST:$KAFKA_PORT"
        -Dapicurio.kafkasql.topic="$REGISTRY_TOPIC_JOURNAL"
        -Dapicurio.kafkasql.snapshots.topic="$REGISTRY_TOPIC_SNAPSHOTS"
        # The default 5 s poll timeout costs about 20 s at every start (journal + snapshots).
        -Dapicurio.kafkasql.consumer.poll.timeout=500
      )
      ;;
    postgresql)
      storage_args=(
        -Dapicurio.storage.kind=sql
        -Dapicurio.storage.sql.kind=postgresql
        -Dapicurio.datasource.url="jdbc:postgresql://$PG_URL_HOST:$PG_URL_PORT/$REGISTRY_DB_NAME"
        -Dapicurio.datasource.username=postgres
        -Dapicurio.datasource.password=
        -Dapicurio.datasource.jdbc.initial-size=2
        -Dapicurio.datasource.jdbc.min-size=2
        -Dapicurio.datasource.jdbc.max-size=10
      )
      ;;
    *) die "STACK_REGISTRY_STORAGE must be kafkasql or postgresql (got '$REGISTRY_STORAGE')" ;;
  esac
  say "registry: starting Apicurio Registry $APICURIO_VERSION ($REGISTRY_STORAGE storage) with $java (Java $(java_major "$java"))"
  launch registry "$APICURIO_HOME" "$java" "${REGISTRY_HEAP_ARGS[@]}" -XX:+ExitOnOutOfMemoryError \
    -Dstack.component=registry -Dstack.home="$STACK_DIR" \
    -Djava.util.logging.manager=org.jboss.logmanager.LogManager \
    -Djava.io.tmpdir="$STACK_DIR/tmp/apicurio" \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host="$HOST" -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
    -Dquarkus.http.access-log.enabled=false \
    '-Dquarkus.log.category."org.apache.kafka".level=WARN' \
    "${storage_args[@]}" \
    -Dapicurio.events.kafka.topic="$REGISTRY_TOPIC_EVENTS" \
    -Dapicurio.storage.snapshot.location="$STACK_DIR/tmp/apicurio" \
    -Dapicurio.import.work-dir="$STACK_DIR/tmp/apicurio" \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dapicurio.ccompat.use-canonical-hash=true \
    -Dapicurio.rest.deletion.group.enabled=true \
    -Dapicurio.rest.deletion.artifact.enabled=true \
    -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -jar quarkus-run.jar
  pid="$(cat "$(pid_file registry)")"
  echo "$REGISTRY_STORAGE" >"$RUN_DIR/registry.storage"
  wait_until registry "$START_TIMEOUT" "$pid" registry_ready
  registry_check_compat
  say "registry: ready on http://$HOST:$REGISTRY_PORT (pid $pid) in $(elapsed "$t0")"
}

registry_down() {
  local pid
  if pid="$(running_pid registry)"; then
    say "registry: stopping (pid $pid)"
    stop_pid registry "$pid" "$STOP_GRACE"
  fi
  rm -f "$(pid_file registry)" "$RUN_DIR/registry.storage"
}

# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------
lock() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$RUN_DIR/stack.lock"
    flock -w 600 9 || die "another stack.sh is still running (lock $RUN_DIR/stack.lock)"
  fi
}

write_env() {
  local tmp="$ENV_FILE.tmp"
  cat >"$tmp" <<EOF
# Written by tools/stack/stack.sh up; read by tests and services.
KAFKA_BROKERS=$HOST:$KAFKA_PORT
SCHEMA_REGISTRY_URL=http://$HOST:$REGISTRY_PORT/apis/ccompat/v7
DATABASE_URL=postgres://postgres@$PG_URL_HOST:$PG_URL_PORT/$DB_NAME
EOF
  mv -f "$tmp" "$ENV_FILE"
}

cmd_up() {
  local t0
  t0=$(now_ms)
  lock
  mkdir -p "$STACK_DIR/data" "$STACK_DIR/tmp"
  PG_URL_HOST="" PG_URL_PORT=""
  pg_up
  kafka_up
  registry_up
  write_env
  say "env written to $ENV_FILE:"
  grep -v '^#' "$ENV_FILE" | sed 's/^/[stack]   /'
  say "up took $(elapsed "$t0")"
}

cmd_down() {
  local t0
  t0=$(now_ms)
  lock
  registry_down
  kafka_down
  pg_down
  say "down took $(elapsed "$t0") (the machine's own PostgreSQL, if used, was left alone)"
}

cmd_status() {
  local down=0 pid mode port host rss
  printf '%-9s %-8s %-34s %-8s %s\n' COMPONENT STATE ADDRESS PID RSS
  # PostgreSQL
  mode="$(pg_mode)"
  host="$(pg_host_for "$mode")"
  port="$(pg_port_for "$mode")"
  if [[ $mode == own ]]; then
    if pid="$(running_pid postgres)" && pg_ready "$host" "$port"; then
      rss="$(rss_kib "$pid" with-children)"
      printf '%-9s %-8s %-34s %-8s %s\n' postgres running "$host:$port (own)" "$pid" "$((rss / 1024)) MiB (with children)"
    else
      printf '%-9s %-8s %-34s %-8s %s\n' postgres stopped "$host:$port (own)" - -
      down=1
    fi
  else
    if pg_ready "$host" "$port"; then
      printf '%-9s %-8s %-34s %-8s %s\n' postgres running "$host:$port (system)" - "- (not managed)"
    else
      printf '%-9s %-8s %-34s %-8s %s\n' postgres stopped "$host:$port (system)" - -
      down=1
    fi
  fi
  # Kafka
  if pid="$(running_pid kafka)" && port_open "$HOST" "$KAFKA_PORT"; then
    printf '%-9s %-8s %-34s %-8s %s\n' kafka running "$HOST:$KAFKA_PORT" "$pid" "$(($(rss_kib "$pid") / 1024)) MiB"
  else
    printf '%-9s %-8s %-34s %-8s %s\n' kafka stopped "$HOST:$KAFKA_PORT" "${pid:--}" -
    down=1
  fi
  # Registry
  if pid="$(running_pid registry)" && command -v curl >/dev/null 2>&1 && registry_ready; then
    printf '%-9s %-8s %-34s %-8s %s\n' registry running "http://$HOST:$REGISTRY_PORT ($(cat "$RUN_DIR/registry.storage" 2>/dev/null || echo "?"))" "$pid" "$(($(rss_kib "$pid") / 1024)) MiB"
  else
    printf '%-9s %-8s %-34s %-8s %s\n' registry stopped "http://$HOST:$REGISTRY_PORT" "${pid:--}" -
    down=1
  fi
  return $down
}

cmd_env() {
  [[ -f $ENV_FILE ]] || die "$ENV_FILE does not exist yet: run '$0 up' first"
  cat "$ENV_FILE"
}

cmd_logs() {
  local c=${1:-} f
  [[ -n $c ]] || die "usage: $0 logs <$(
    IFS='|'
    echo "${COMPONENTS[*]}"
  )> [-f]"
  f="$(log_file "$c")"
  [[ -f $f ]] || die "no log for '$c' at $f"
  if [[ ${2:-} == -f ]]; then
    exec tail -n 100 -f "$f"
  fi
  tail -n "${STACK_LOG_LINES:-100}" "$f"
}

cmd_reset() {
  cmd_down
  say "deleting $STACK_DIR/data, $PG_DATA and $ENV_FILE (downloads are kept)"
  rm -rf "$STACK_DIR/data" "$PG_DATA" "$ENV_FILE" "$STACK_DIR/tmp" "$STACK_DIR/conf"
}

usage() {
  sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
