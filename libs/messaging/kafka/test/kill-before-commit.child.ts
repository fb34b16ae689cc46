/**
 * A consumer process that receives a record and is killed (SIGKILL, by the test) while its
 * handler runs, i.e. before it can commit. Prints one line per record it receives.
 */
import { Messaging } from '../src';
import { createLogger } from '@ancillary/observability';
import { TestEventV1, type TestEvent } from './test-contracts';

const [brokers, registryUrl, topicName, groupId] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const logger = createLogger({ service: 'kill-test-child', level: 'warn' });
const messaging = new Messaging(
  { service: 'kill-test-child', brokers: brokers.split(','), registryUrl },
  logger,
);
const topic = {
  name: topicName,
  description: 'kill test',
  value: TestEventV1,
  key: 'test',
  partitions: 1,
  retentionMs: 3_600_000,
};

void (async () => {
  await messaging.connect();
  const runner = messaging.consumer({
    groupId,
    commitIntervalMs: 0,
    // Short, so that the group notices the killed member quickly and hands its partition on.
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 1_000,
    subscriptions: [
      {
        topic,
        handler: async (message) => {
          const value = message.value as TestEvent;
          process.stdout.write(`received ${value.id} at offset ${message.offset}\n`);
          // The work "never finishes": the test kills this process here, before any commit.
          await new Promise(() => undefined);
        },
      },
    ],
  });
  await runner.start();
})();
