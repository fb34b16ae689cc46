#!/usr/bin/env bash
# `npm start`: the whole lab results flow on this machine, with a demo.
#   1. the stack: Kafka (KRaft, JVM, jars from Maven Central), Apicurio Registry, PostgreSQL
#   2. the contracts: every Avro schema registered, every topic and dead-letter topic created
#   3. the services: lab-gateway (MLLP :2575), normalizer, ehr-writer (FHIR R4 :8083/fhir)
#   4. a simulated LIS streaming a few hundred ORU^R01 results (panels, abnormal and critical
#      values, corrections, duplicates, the odd malformed message) — DEMO_COUNT, DEMO_RATE
#   5. where to look
# Radiology, pharmacy and billing join as their issues land. Stop: npm run stack:down
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
count="${DEMO_COUNT:-300}"
rate="${DEMO_RATE:-50}"

bash tools/stack/stack.sh up
echo
echo "Provisioning contracts (schemas -> registry, topics -> Kafka):"
npm run --silent contracts:provision
echo
bash tools/platform/services.sh up
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
total=$(curl -fsS "$fhir/DiagnosticReport?_count=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).total??0)}catch{console.log(0)}})')
patient=$(curl -fsS "$fhir/Patient?_count=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).entry[0].resource.id)}catch{console.log("")}})')

cat <<TXT

The lab results flow is running: ${total:-0} diagnostic reports in the chart (full audit: $audit).

  LIS -> MLLP             127.0.0.1:2575  (send your own: npm run sim:lis -- --rate 10 --count 20)
  FHIR R4 API             $fhir/metadata
  A patient's reports     $fhir/DiagnosticReport?patient=${patient}&_include=DiagnosticReport:result
  Observations            $fhir/Observation?patient=${patient}&category=laboratory
  Metrics                 http://127.0.0.1:8081/metrics  (gateway)   :8082/metrics (normalizer)   :8083/metrics (ehr-writer)
  Health / readiness      http://127.0.0.1:808{1,2,3}/health  /ready
  Service logs            .stack/logs/{lab-gateway,normalizer,ehr-writer}.log  (JSON lines)

Look around:
  npm run topic:tail -- clinical.results.v1 --from-beginning       canonical results, decoded
  npm run topic:tail -- clinical.alerts.v1 --from-beginning        critical-value alerts
  npm run topic:tail -- lab.hl7-inbound.v1.dlt --from-beginning    what could not be mapped, and why
  npm run reconcile -- --since $since --source-system lis-main   go-live audit: every message in the chart or a DLT
  npm run dlt:replay -- --topic lab.hl7-inbound.v1.dlt --dry-run   what a replay would resend
  bash tools/platform/services.sh status ; npm run stack:status

Stop everything with: npm run stack:down
TXT
