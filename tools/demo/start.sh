#!/usr/bin/env bash
# `npm start`: the whole platform on this machine, with a demo.
#   1. the stack: Kafka (KRaft, JVM, jars from Maven Central), Apicurio Registry, PostgreSQL
#   2. the contracts: every Avro schema registered, every topic and dead-letter topic created
#   3. the services: lab-, radiology- and pharmacy-gateway (MLLP :2575 :2576 :2577), normalizer,
#      ehr-writer (FHIR R4 :8083/fhir)
#   4. the simulated LIS, RIS and pharmacy that take orders (MLLP :2590 :2591 :2592)
#   5. a simulated LIS streaming a few hundred unsolicited ORU^R01 results (panels, abnormal and
#      critical values, corrections, duplicates, the odd malformed message) — DEMO_COUNT, DEMO_RATE
#   6. the EHR placing lab, imaging and medication orders through the FHIR API (some STAT, one
#      cancelled) and waiting for their results, reports and dispenses — DEMO_ORDERS (lab orders;
#      half as many imaging and medication orders); prints order-to-result times per ancillary
#   7. where to look
# Billing joins when its issue lands. Stop: npm run stack:down
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
count="${DEMO_COUNT:-300}"
rate="${DEMO_RATE:-50}"
orders="${DEMO_ORDERS:-12}"

bash tools/stack/stack.sh up
echo
echo "Provisioning contracts (schemas -> registry, topics -> Kafka):"
npm run --silent contracts:provision
echo
bash tools/platform/services.sh up
echo

# The ancillaries that take orders, in the background (services.sh down / stack:down stop them).
sim_pid_file=.stack/run/sim-ancillaries.pid
sim_log=.stack/logs/sim-ancillaries.log
if [[ -f $sim_pid_file ]] && kill -0 "$(cat "$sim_pid_file")" 2>/dev/null; then
  echo "Simulated LIS, RIS and pharmacy: already running (pid $(cat "$sim_pid_file"), log $sim_log)"
else
  [[ -f $sim_log ]] && mv -f "$sim_log" "$sim_log.1"
  node --disable-warning=TimeoutNegativeWarning -r @swc-node/register tools/simulators/ancillaries.ts \
    --result-delay 1000-4000 --log-level warn >"$sim_log" 2>&1 &
  echo $! >"$sim_pid_file"
  for port in 2590 2591 2592; do
    for _ in $(seq 1 60); do
      (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      kill -0 "$(cat "$sim_pid_file")" 2>/dev/null || { cat "$sim_log" >&2; echo "the simulated ancillaries did not start" >&2; exit 1; }
      sleep 0.5
    done
  done
  echo "Simulated LIS, RIS and pharmacy: taking orders on 127.0.0.1:2590, :2591, :2592 (pid $(cat "$sim_pid_file"), log $sim_log)"
fi
echo
since="$(date -u -d '-5 seconds' +%Y-%m-%dT%H:%M:%SZ)"
echo "Simulated LIS: $count results at $rate/s over MLLP to 127.0.0.1:2575"
npm run --silent sim:lis -- --port 2575 --rate "$rate" --count "$count" || true

# shellcheck disable=SC1091
. .stack/env
fhir=http://127.0.0.1:8083/fhir
echo
echo "Waiting until every message sent is in the chart or a dead-letter topic (npm run reconcile)..."
audit=.stack/logs/demo-reconcile.txt
accounted=false
for _ in $(seq 1 40); do
  if npm run --silent reconcile -- --since "$since" --source-system lis-main >"$audit" 2>/dev/null; then
    accounted=true
    break
  fi
  sleep 3
done
sed -n '1,30p' "$audit"
if [[ $accounted != true ]]; then
  echo
  echo "Not every message reached the chart or a dead-letter topic within 2 minutes (table above, $audit)."
  echo "Look at .stack/logs/{normalizer,ehr-writer}.log and bash tools/platform/services.sh status."
  exit 1
fi
echo
echo "The EHR places orders through the FHIR API; the gateways send them to the simulated ancillaries,"
echo "whose results, reports and dispenses come back into the chart:"
order_summary=.stack/logs/demo-orders.txt
orders_ok=true
npm run --silent demo:orders -- --fhir "$fhir" --lab "$orders" --imaging $(((orders + 1) / 2)) \
  --pharmacy $(((orders + 1) / 2)) --timeout 180 | tee "$order_summary" || orders_ok=false

total=$(curl -fsS "$fhir/DiagnosticReport?_count=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).total??0)}catch{console.log(0)}})')
patient=$(curl -fsS "$fhir/Patient?_count=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).entry[0].resource.id)}catch{console.log("")}})')

cat <<TXT

The platform is running: ${total:-0} diagnostic reports in the chart (results audit: $audit,
order-to-result summary: $order_summary).

  Ancillaries -> MLLP     lab 127.0.0.1:2575, radiology :2576, pharmacy :2577 (send your own: npm run sim:lis -- --rate 10 --count 20)
  Orders -> ancillaries   simulated LIS :2590, RIS :2591, pharmacy :2592 (log $sim_log)
  Place more orders       npm run demo:orders -- --lab 20 --imaging 10 --pharmacy 10 --stat 30
  FHIR R4 API             $fhir/metadata
  Orders                  $fhir/ServiceRequest?_sort=-_lastUpdated   $fhir/MedicationRequest
  A patient's reports     $fhir/DiagnosticReport?patient=${patient}&_include=DiagnosticReport:result
  Imaging reports         $fhir/DiagnosticReport?category=RAD
  Dispenses               $fhir/MedicationDispense
  Metrics                 http://127.0.0.1:8081/metrics (lab gw) :8084 (radiology gw) :8085 (pharmacy gw) :8082 (normalizer) :8083 (ehr-writer)
                          order_to_result_seconds (ehr-writer), orders_sent_total / orders_waiting (gateways)
  Health / readiness      http://127.0.0.1:808{1,2,3,4,5}/health  /ready
  Service logs            .stack/logs/{lab-gateway,radiology-gateway,pharmacy-gateway,normalizer,ehr-writer}.log  (JSON lines)

Look around:
  npm run topic:tail -- clinical.orders.v1 --from-beginning        orders routed to the ancillaries, decoded
  npm run topic:tail -- clinical.order-status.v1 --from-beginning  accepted / rejected / completed, per order
  npm run topic:tail -- clinical.results.v1 --from-beginning       canonical results, decoded
  npm run topic:tail -- clinical.alerts.v1 --from-beginning        critical-value alerts
  npm run topic:tail -- lab.hl7-inbound.v1.dlt --from-beginning    what could not be mapped, and why
  npm run reconcile -- --since $since --source-system lis-main   go-live audit: every message in the chart or a DLT
  npm run dlt:replay -- --topic lab.hl7-inbound.v1.dlt --dry-run   what a replay would resend
  bash tools/platform/services.sh status ; npm run stack:status

Stop everything with: npm run stack:down
TXT
if [[ $orders_ok != true ]]; then
  echo "Some orders did not settle in time (table above, $order_summary): see .stack/logs/*.log." >&2
  exit 1
fi
