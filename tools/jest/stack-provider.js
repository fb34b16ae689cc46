// The one stack provider for integration tests (ARCHITECTURE.md, "Real components"):
// testcontainers starts Kafka, the schema registry and PostgreSQL as containers where a Docker
// engine answers; where none does (the development and CI machines of this project), the
// project's own tools/stack/stack.sh runs them on the JVM and the local PostgreSQL.
// Both write the same env file (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, DATABASE_URL), which
// libs/testing's testStack() reads. Neither path is a mock.
'use strict';

const { execFileSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
// Kept in step with tools/stack/stack.sh and docker-compose.yml.
const KAFKA_IMAGE = 'apache/kafka:4.4.0';
const REGISTRY_IMAGE = 'apicurio/apicurio-registry:3.3.3';
const POSTGRES_IMAGE = 'postgres:15';

function log(message) {
  process.stderr.write(`[stack] ${message}\n`);
}

async function dockerEngineAnswers() {
  const wanted = process.env.ANCILLARY_STACK_PROVIDER;
  if (wanted === 'local') return false;
  if (wanted === 'testcontainers') return true;
  let timer;
  try {
    const { getContainerRuntimeClient } = require('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), 5000);
        timer.unref(); // a pending probe timer must not hold Jest open after the run
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the stack as containers; returns the env file path and a stop function. */
async function startContainers() {
  const { GenericContainer, Wait } = require('testcontainers');
  const kafkaPort = await freePort();
  log(`Docker engine found: starting ${KAFKA_IMAGE}, ${REGISTRY_IMAGE}, ${POSTGRES_IMAGE}`);
  const [kafka, registry, postgres] = await Promise.all([
    new GenericContainer(KAFKA_IMAGE)
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start(),
    new GenericContainer(REGISTRY_IMAGE)
      .withExposedPorts(8080)
      // These settings are only honoured as system properties (see docs/adr/0001-local-stack.md).
      .withEnvironment({
        JAVA_OPTS_APPEND: [
          '-Dapicurio.rules.global.compatibility=BACKWARD',
          '-Dapicurio.rest.deletion.group.enabled=true',
          '-Dapicurio.rest.deletion.artifact.enabled=true',
          '-Dapicurio.rest.deletion.artifact-version.enabled=true',
        ].join(' '),
      })
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080))
      .start(),
    new GenericContainer(POSTGRES_IMAGE)
      .withExposedPorts(5432)
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'ancillary' })
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
  ]);
  const envFile = path.join(ROOT, '.stack', 'testcontainers.env');
  mkdirSync(path.dirname(envFile), { recursive: true });
  writeFileSync(
    envFile,
    [
      `KAFKA_BROKERS=127.0.0.1:${kafkaPort}`,
      `SCHEMA_REGISTRY_URL=http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      `DATABASE_URL=postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/ancillary`,
      '',
    ].join('\n'),
  );
  return {
    envFile,
    stop: async () => {
      await Promise.all([kafka.stop(), registry.stop(), postgres.stop()]);
    },
  };
}

/** Brings the local stack up (idempotent: a running stack is reused). */
function startLocalStack() {
  log(
    'no Docker engine: using tools/stack/stack.sh (Kafka and Apicurio on the JVM, local PostgreSQL)',
  );
  execFileSync('bash', [path.join(ROOT, 'tools/stack/stack.sh'), 'up'], {
    stdio: ['ignore', 2, 2],
  });
  return { envFile: path.join(ROOT, '.stack', 'env'), stop: async () => undefined };
}

async function startStack() {
  return (await dockerEngineAnswers()) ? startContainers() : startLocalStack();
}

module.exports = { startStack };
