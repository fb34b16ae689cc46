#!/usr/bin/env bash
# `npm start`: the whole platform on this machine, with a demo.
#   1. the stack: Kafka (KRaft, JVM, jars from Maven Central), Apicurio Registry, PostgreSQL
#   2. the contracts: every Avro schema registered, every topic and dead-letter topic created
#   3. the services: lab-, radiology- and pharmacy-gateway (MLLP :2575 :2576 :2577), normalizer,
#      ehr-writer (FHIR R4 :8083/fhir), billing-trigger (:8086)
#   4. the simulated LIS, RIS and pharmacy that take orders (MLLP :2590 :2591 :2592), and the
#      simulated billing engine that takes the charges (DFT^P03 on MLLP :2593, its ledger
#      read-only on http://127.0.0.1:2594/ledger) — one process, tools/simulators/ancillaries.ts
#   5. a simulated LIS streaming a few hundred unsolicited ORU^R01 results (panels, abnormal and
#      critical values, corrections, duplicates, the odd malformed message) — DEMO_COUNT, DEMO_RATE
#   6. the EHR placing lab, imaging and medication orders through the FHIR API (some STAT, one
#      cancelled) and waiting for their results, reports and dispenses — DEMO_ORDERS (lab orders;
#      half as many imaging and medication orders); prints order-to-result times per ancillary,
#      then waits for each completed order's charge at the billing engine and prints, per loop,
#      the charges received, their total, duplicates flagged and the ledger net of credits
#   7. where to look
# Stop: npm run stack:down
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

# The ancillaries that take orders and the billing engine, in the background (services.sh down /
# stack:down stop them).
sim_pid_file=.stack/run/sim-ancillaries.pid
sim_log=.stack/logs/sim-ancillaries.log
if [[ -f $sim_pid_file ]] && kill -0 "$(cat "$sim_pid_file")" 2>/dev/null; then
  echo "Simulated LIS, RIS, pharmacy and billing engine: already running (pid $(cat "$sim_pid_file"), log $sim_log)"
else
  [[ -f $sim_log ]] && mv -f "$sim_log" "$sim_log.1"
  node --disable-warning=TimeoutNegativeWarning -r @swc-node/register tools/simulators/ancillaries.ts \
    --result-delay 1000-4000 --log-level warn >"$sim_log" 2>&1 &
  echo $! >"$sim_pid_file"
  for port in 2590 2591 2592 2593 2594; do
    for _ in $(seq 1 60); do
      (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      kill -0 "$(cat "$sim_pid_file")" 2>/dev/null || { cat "$sim_log" >&2; echo "the simulated ancillaries did not start" >&2; exit 1; }
      sleep 0.5
    done
  done
  echo "Simulated LIS, RIS and pharmacy: taking orders on 127.0.0.1:2590, :2591, :2592 (pid $(cat "$sim_pid_file"), log $sim_log)"
  echo "Simulated billing engine: taking charges (DFT^P03) on 127.0.0.1:2593, ledger on http://127.0.0.1:2594/ledger"
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
echo "whose results, reports and dispenses come back into the chart; the billing trigger charges each"
echo "completed order at the simulated billing engine:"
order_summary=.stack/logs/demo-orders.txt
orders_ok=true
npm run --silent demo:orders -- --fhir "$fhir" --lab "$orders" --imaging $(((orders + 1) / 2)) \
  --pharmacy $(((orders + 1) / 2)) --timeout 180 --billing-timeout 60 | tee "$order_summary" || orders_ok=false

# Revenue integrity: every completed order and dispense of the demo (the unsolicited results
# included) has its charge, and every charge its completed work. Charges of the last results may
# still be on their way, so the audit is asked again for up to a minute.
echo
echo "Missed-charge audit of the demo's window (npm run audit:charges):"
charge_audit=.stack/logs/demo-charge-audit.txt
charges_ok=false
for _ in $(seq 1 20); do
  if npm run --silent audit:charges -- --since "$since" >"$charge_audit" 2>&1; then
    charges_ok=true
    break
  fi
  sleep 3
done
sed -n '1,40p' "$charge_audit"

total=$(curl -fsS "$fhir/DiagnosticReport?_count=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).total??0)}catch{console.log(0)}})')
patient=$(curl -fsS "$fhir/Patient?_count=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).entry[0].resource.id)}catch{console.log("")}})')

cat <<TXT

The platform is running: ${total:-0} diagnostic reports in the chart (results audit: $audit,
order-to-result and charges summary: $order_summary, charge audit: $charge_audit).

  Ancillaries -> MLLP     lab 127.0.0.1:2575, radiology :2576, pharmacy :2577 (send your own: npm run sim:lis -- --rate 10 --count 20)
  Orders -> ancillaries   simulated LIS :2590, RIS :2591, pharmacy :2592 (log $sim_log)
  Charges -> billing      billing-trigger sends DFT^P03 to the simulated billing engine :2593 (log $sim_log)
  Billing ledger          http://127.0.0.1:2594/ledger   http://127.0.0.1:2594/ledger/totals
  Place more orders       npm run demo:orders -- --lab 20 --imaging 10 --pharmacy 10 --stat 30
  FHIR R4 API             $fhir/metadata
  Orders                  $fhir/ServiceRequest?_sort=-_lastUpdated   $fhir/MedicationRequest
  A patient's reports     $fhir/DiagnosticReport?patient=${patient}&_include=DiagnosticReport:result
  Imaging reports         $fhir/DiagnosticReport?category=RAD
  Dispenses               $fhir/MedicationDispense
  Metrics                 http://127.0.0.1:8081/metrics (lab gw) :8084 (radiology gw) :8085 (pharmacy gw) :8082 (normalizer) :8083 (ehr-writer) :8086 (billing-trigger)
                          order_to_result_seconds (ehr-writer), orders_sent_total / orders_waiting (gateways),
                          charges_created_total / charges_sent_total / charge_lag_seconds (billing-trigger)
  Health / readiness      http://127.0.0.1:808{1,2,3,4,5,6}/health  /ready
  Service logs            .stack/logs/{lab-gateway,radiology-gateway,pharmacy-gateway,normalizer,ehr-writer,billing-trigger}.log  (JSON lines)

Look around:
  npm run topic:tail -- clinical.orders.v1 --from-beginning        orders routed to the ancillaries, decoded
  npm run topic:tail -- clinical.order-status.v1 --from-beginning  accepted / rejected / completed, per order
  npm run topic:tail -- clinical.results.v1 --from-beginning       canonical results, decoded
  npm run topic:tail -- clinical.alerts.v1 --from-beginning        critical-value alerts
  npm run topic:tail -- lab.hl7-inbound.v1.dlt --from-beginning    what could not be mapped, and why
  npm run topic:tail -- billing.charges.v1 --from-beginning        charge events (and credits), decoded
  npm run topic:tail -- billing.charges.v1.dlt --from-beginning    charges the billing engine refused or that could not be sent
  npm run reconcile -- --since $since --source-system lis-main   go-live audit: every message in the chart or a DLT
  npm run audit:charges -- --since $since                         missed-charge audit: all completed work charged
  npm run dlt:replay -- --topic lab.hl7-inbound.v1.dlt --dry-run   what a replay would resend
  bash tools/platform/services.sh status ; npm run stack:status

Stop everything with: npm run stack:down
TXT
if [[ $charges_ok != true ]]; then
  echo "The missed-charge audit found discrepancies (table above, $charge_audit): see docs/runbooks/charge-audit.md." >&2
  exit 1
fi
if [[ $orders_ok != true ]]; then
  echo "Some orders did not settle, or were not charged exactly once, in time (tables above, $order_summary): see .stack/logs/*.log." >&2
  exit 1
fi
