#!/usr/bin/env bash
# `npm start`: the whole platform on this machine, with a demo. Today that is the stack
# (Kafka, schema registry, PostgreSQL) and the platform's contracts (every schema registered,
# every topic created); the services and simulated ancillaries join as their issues land
# (lab results end to end, orders for every ancillary, billing).
set -euo pipefail
cd "$(dirname "$0")/../.."

bash tools/stack/stack.sh up
echo
echo "Provisioning contracts (schemas -> registry, topics -> Kafka):"
npm run --silent contracts:provision
# shellcheck disable=SC1091
. .stack/env
registry_root="${SCHEMA_REGISTRY_URL%/apis/ccompat/v7}"
cat <<TXT

The platform's infrastructure is up.

  Kafka bootstrap        ${KAFKA_BROKERS}
  Schema registry        ${SCHEMA_REGISTRY_URL}/subjects   (Confluent-compatible API)
  Registry UI/API root   ${registry_root}/apis/registry/v3
  Clinical repository    ${DATABASE_URL}

Look around:
  npm run stack:status                                     components, pids, memory
  curl -s ${SCHEMA_REGISTRY_URL}/subjects                  registered subjects
  npm run topic:tail -- lab.hl7-inbound.v1 --from-beginning   records of a topic, decoded
  bash tools/stack/stack.sh logs kafka                     broker log (also: registry)

Services (lab, radiology and pharmacy gateways, normalizer, ehr-writer, billing-trigger) are
not built yet; this command will start them with simulated ancillaries as they land.
Stop everything with: npm run stack:down
TXT
