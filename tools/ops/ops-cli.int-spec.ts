/**
 * The two operations commands run as an operator runs them — a child process, configured by
 * the environment — against the real stack: exit statuses, the tables they print, and that the
 * replay asks before publishing.
 */
import {
  deadLetterTopicOf,
  LabResultContract,
  RawHl7EnvelopeContract,
  type TopicDefinition,
  type ValueContract,
} from '@ancillary/contracts';
import { deleteTopics, Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { replayGroupOf } from '@ancillary/ops';
import { captureLogger, testStack, testTopic } from '@ancillary/testing';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createScratchChart, type ScratchChart } from '../../libs/ops/test/chart.helpers';
import { envelopeOf, oruR01 } from '../../libs/ops/test/hl7.fixtures';
import {
  deleteGroups,
  publishAndDeadLetter,
  publishValue,
  readRecords,
  recordCount,
} from '../../libs/ops/test/kafka.helpers';

const root = resolve(__dirname, '../..');
const stack = testStack();
const { logger } = captureLogger('ops-cli-int', 'warn');
let messaging: Messaging;
let chart: ScratchChart;
const topics: TopicDefinition[] = [];

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool the way `npm run` does (pinned node, swc), with the stack in its environment. */
function run(tool: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [
        '--disable-warning=TimeoutNegativeWarning',
        '-r',
        '@swc-node/register',
        join(root, tool),
        ...args,
      ],
      {
        cwd: root,
        timeout: 60_000,
        env: {
          PATH: process.env['PATH'] ?? '',
          KAFKA_BROKERS: stack.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          DATABASE_URL: chart.url,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ status, stdout, stderr });
      },
    );
  });
}

async function newTopic(
  contract: ValueContract = RawHl7EnvelopeContract,
): Promise<TopicDefinition> {
  const topic = testTopic(contract);
  topics.push(topic);
  await provisionContracts(messaging.kafka, messaging.codec, [topic], logger);
  return topic;
}

beforeAll(async () => {
  messaging = new Messaging(
    { service: 'ops-cli-int', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await messaging.connect();
  chart = await createScratchChart(stack.databaseUrl);
});

afterAll(async () => {
  await messaging.close();
  await deleteGroups(
    messaging.kafka,
    topics.map((t) => replayGroupOf(deadLetterTopicOf(t.name))),
  );
  await deleteTopics(messaging.kafka, stack.registryUrl, topics);
  await chart.drop();
});

describe('npm run reconcile', () => {
  it('exits 0 when every message is accounted for, 1 with the MISSING table, 2 on a usage or infrastructure error', async () => {
    const inbound = await newTopic();
    const results = await newTopic(LabResultContract);
    const since = new Date();
    const ok = envelopeOf(oruR01('CLI-OK', 1), 'LIS-CLI');
    await publishValue(messaging, inbound, ok, ok);
    await chart.applied({
      sourceSystem: 'LIS-CLI',
      messageControlId: 'CLI-OK',
      orderIndex: 0,
      receivedAt: new Date(ok.receivedAt),
    });
    await new Promise((r) => setTimeout(r, 20));
    const until = new Date();
    await new Promise((r) => setTimeout(r, 20));
    const lost = envelopeOf(oruR01('CLI-LOST', 1), 'LIS-CLI');
    await publishValue(messaging, inbound, lost, lost);
    await readRecords(messaging.kafka, inbound.name, 2);

    const topicArgs = [
      '--inbound-topic',
      inbound.name,
      '--results-dead-letter-topic',
      deadLetterTopicOf(results.name),
    ];
    const clean = await run('tools/ops/reconcile.ts', [
      '--since',
      since.toISOString(),
      '--until',
      until.toISOString(),
      ...topicArgs,
    ]);
    expect(clean.stderr).toBe('');
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain('Result: every message is accounted for');
    expect(clean.stdout).toMatch(/in chart\s+1/);

    const missing = await run('tools/ops/reconcile.ts', [
      '--since',
      since.toISOString(),
      ...topicArgs,
    ]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/MISSING\s+1/);
    expect(missing.stdout).toMatch(
      /MISSING \(1\):\nMSH-10\s+source\s+partition\/offset\s+received\s+what is missing/,
    );
    expect(missing.stdout).toMatch(
      /CLI-LOST\s+LIS-CLI\s+0\/1\s+\S+\s+order 0 \(event [0-9a-f-]+\): no ledger row/,
    );

    const json = await run('tools/ops/reconcile.ts', [
      '--since',
      since.toISOString(),
      '--json',
      ...topicArgs,
    ]);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      counts: { missing: 1, 'in-chart': 1 },
    });

    const usage = await run('tools/ops/reconcile.ts', ['--until', until.toISOString()]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--since is required');

    const noTopic = await run('tools/ops/reconcile.ts', [
      '--since',
      since.toISOString(),
      '--inbound-topic',
      'no.such-topic.v1',
    ]);
    expect(noTopic.status).toBe(2);
    expect(noTopic.stderr).toContain('not found on the cluster: no.such-topic.v1');

    const noDatabase = await run(
      'tools/ops/reconcile.ts',
      ['--since', since.toISOString(), ...topicArgs],
      {
        DATABASE_URL: `${stack.databaseUrl}_does_not_exist`,
      },
    );
    expect(noDatabase.status).toBe(2);
    expect(noDatabase.stderr).toContain('reconcile failed');
  });
});

describe('npm run dlt:replay', () => {
  it('lists with --dry-run, refuses without a confirmation, replays with --yes', async () => {
    const topic = await newTopic();
    const dlt = deadLetterTopicOf(topic.name);
    await publishAndDeadLetter(messaging, topic, [
      {
        envelope: envelopeOf(oruR01('CLI-DLT-1'), 'LIS-CLI'),
        code: 'UNMAPPED_CODE',
        reason: 'no mapping for GLU-X',
      },
      {
        envelope: envelopeOf(oruR01('CLI-DLT-2'), 'LIS-CLI'),
        code: 'HL7_PARSE',
        reason: 'OBX before OBR',
      },
    ]);

    const dry = await run('tools/ops/dlt-replay.ts', ['--topic', dlt, '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(/CLI-DLT-1\s+LIS-CLI\s+UNMAPPED_CODE\s+no mapping for GLU-X/);
    expect(dry.stdout).toMatch(/CLI-DLT-2\s+LIS-CLI\s+HL7_PARSE\s+OBX before OBR/);
    expect(dry.stdout).toMatch(/would replay\s+2/);

    const unconfirmed = await run('tools/ops/dlt-replay.ts', ['--topic', dlt]);
    expect(unconfirmed.status).toBe(2);
    expect(unconfirmed.stderr).toContain('not replaying without a confirmation');
    expect(await recordCount(messaging.kafka, topic.name)).toBe(2);

    const replayed = await run('tools/ops/dlt-replay.ts', [
      '--topic',
      dlt,
      '--yes',
      '--error-code',
      'UNMAPPED_CODE',
    ]);
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toMatch(/replayed\s+1\n/);
    expect(replayed.stdout).toMatch(/skipped by filter\s+1/);
    expect(replayed.stderr).toMatch(/replayed 1 \(examined 2/);
    expect(await recordCount(messaging.kafka, topic.name)).toBe(3);

    const usage = await run('tools/ops/dlt-replay.ts', ['--topic', topic.name, '--dry-run']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('is not a dead-letter topic');
  });
});
