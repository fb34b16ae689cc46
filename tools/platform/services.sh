#!/usr/bin/env bash
# The platform's services as local processes, for the demo and the end-to-end benchmark:
#   services.sh up [service...]     start (idempotent), wait until each answers /ready
#                                   (no service named: all six)
#   services.sh down [service...]   SIGTERM (graceful: finish, commit, disconnect), then wait;
#                                   with no service named, also the demo's simulated ancillaries
#   services.sh status
# Each runs on the pinned Node 24 (node_modules/.bin) from its TypeScript sources, with the
# stack's addresses from .stack/env; logs in .stack/logs/<service>.log (JSON lines).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:$PATH"
RUN_DIR="$ROOT/.stack/run"
LOG_DIR="$ROOT/.stack/logs"
mkdir -p "$RUN_DIR" "$LOG_DIR"

# Gateways first: `down` stops what accepts messages before what processes them. The
# billing-trigger (DFT^P03 to the billing engine, 127.0.0.1:2593 by default: `npm run sim:billing`;
# with no engine there, charges wait in Kafka and are resent) comes last.
ALL=(lab-gateway radiology-gateway pharmacy-gateway normalizer ehr-writer billing-trigger)
declare -A HTTP_PORTS=(
  [lab-gateway]=8081 [normalizer]=8082 [ehr-writer]=8083
  [radiology-gateway]=8084 [pharmacy-gateway]=8085 [billing-trigger]=8086
)

say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

pid_of() { # service -> pid if running
  local f="$RUN_DIR/$1.pid" pid
  [[ -f $f ]] || return 1
  pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null || return 1
  # A pid file outlives its process; the number may now belong to something else.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "apps/$1/src/main.ts" || return 1
  echo "$pid"
}

start_one() {
  local svc=$1 pid port="${HTTP_PORTS[$1]}"
  if pid="$(pid_of "$svc")"; then
    say "$svc: already running (pid $pid, http://127.0.0.1:$port)"
    return 0
  fi
  [[ -f .stack/env ]] || die "no .stack/env: start the stack first (npm run stack:up)"
  [[ -f $LOG_DIR/$svc.log ]] && mv -f "$LOG_DIR/$svc.log" "$LOG_DIR/$svc.log.1"
  (
    set -a
    # shellcheck disable=SC1091
    . .stack/env
    set +a
    export SERVICE_NAME="$svc" HTTP_PORT="$port" HTTP_HOST=127.0.0.1 LOG_LEVEL="${LOG_LEVEL:-info}"
    export NODE_OPTIONS="--disable-warning=TimeoutNegativeWarning ${NODE_OPTIONS:-}"
    exec node -r @swc-node/register "apps/$svc/src/main.ts"
  ) >>"$LOG_DIR/$svc.log" 2>&1 &
  echo $! >"$RUN_DIR/$svc.pid"
  say "$svc: starting (pid $!, log $LOG_DIR/$svc.log)"
}

wait_ready() {
  local svc=$1 port="${HTTP_PORTS[$1]}" deadline=$((SECONDS + ${SERVICES_START_TIMEOUT:-120}))
  until curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; do
    if ! pid_of "$svc" >/dev/null; then
      tail -n 20 "$LOG_DIR/$svc.log" >&2 || true
      die "$svc exited during start-up; log: $LOG_DIR/$svc.log"
    fi
    ((SECONDS < deadline)) || die "$svc not ready after ${SERVICES_START_TIMEOUT:-120}s; log: $LOG_DIR/$svc.log"
    sleep 1
  done
  say "$svc: ready on http://127.0.0.1:$port"
}

stop_one() {
  local svc=$1 pid
  if ! pid="$(pid_of "$svc")"; then
    rm -f "$RUN_DIR/$svc.pid"
    return 0
  fi
  say "$svc: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true # it may have ended on its own meanwhile
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$svc: still running after 30s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$svc.pid"
}

# The demo's simulated ancillaries (tools/demo/start.sh starts them, pid in $RUN_DIR): stopped
# with the services, before them, so that they stop sending results first.
stop_simulators() {
  local f="$RUN_DIR/sim-ancillaries.pid" pid
  [[ -f $f ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "tools/simulators/ancillaries.ts"; then
    say "simulated ancillaries: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd="${1:-status}"
shift || true
services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=("${ALL[@]}")
for s in "${services[@]}"; do
  [[ -n ${HTTP_PORTS[$s]:-} ]] || die "unknown service '$s' (known: ${ALL[*]})"
done
case "$cmd" in
  up)
    for s in "${services[@]}"; do start_one "$s"; done
    for s in "${services[@]}"; do wait_ready "$s"; done
    ;;
  down)
    # The gateways first (ALL's order): no new messages are accepted; what is in Kafka waits
    # for the rest.
    [[ $# -gt 0 ]] || stop_simulators
    for s in "${services[@]}"; do stop_one "$s"; done
    ;;
  status)
    printf '%-18s %-8s %-24s %s\n' SERVICE STATE HTTP PID
    for s in "${services[@]}"; do
      if pid="$(pid_of "$s")"; then state=running; else state=stopped; pid=-; fi
      printf '%-18s %-8s %-24s %s\n' "$s" "$state" "http://127.0.0.1:${HTTP_PORTS[$s]}" "$pid"
    done
    ;;
  *) die "usage: services.sh up|down|status [service...]" ;;
esac
