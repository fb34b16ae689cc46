/**
 * The missed-charge audit against the real stack: a scratch database migrated by the
 * fhir-store (completed and cancelled orders, dispenses and ChargeItems in it), dead letters
 * written through the platform's DeadLetterPublisher by a "billing-trigger" and an "ehr-writer"
 * on test topics, then every category of auditCharges(), the window, and the command as an
 * operator runs it (exit statuses, the table).
 *
 * It lives beside the command rather than in libs/ops because it migrates the schema with
 * FhirStore (a clinical library the shared ops library may not import). ChargeItems are
 * inserted with the SQL the store writes (current row + history): the audit reads only
 * fhir.resource for them, and ChargeItem support in the store is being built alongside.
 */
import {
  ChargeEventContract,
  deadLetterTopicOf,
  ImagingReportContract,
  LabResultContract,
  MedicationDispensedContract,
  type TopicDefinition,
} from '@ancillary/contracts';
import { DEFAULT_PLACER_ORDER_SYSTEM, FhirStore } from '@ancillary/fhir-store';
import { deleteTopics, Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { auditCharges, type ChargeAuditOptions, type ChargeAuditReport } from '@ancillary/ops';
import {
  captureLogger,
  createScratchDatabase,
  testStack,
  testTopic,
  type ScratchDatabase,
} from '@ancillary/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Pool } from 'pg';
import { labResult } from '../../libs/ops/test/chart.helpers';
import {
  chargeEvent,
  chargeItem,
  imagingReport,
  medicationDispense,
  medicationDispensed,
  serviceRequest,
  type ChargeItemSpec,
} from '../../libs/ops/test/charge.fixtures';
import { deadLetterLatest, publishValue } from '../../libs/ops/test/kafka.helpers';

const root = resolve(__dirname, '../..');
const stack = testStack();
const { logger } = captureLogger('charge-audit-int', 'warn');
const PLACER = DEFAULT_PLACER_ORDER_SYSTEM;
/** Unique numbers per run: the topics are new, but keep the chart rows recognisable. */
const RUN = randomBytes(3).toString('hex').toUpperCase();
const n = (name: string) => `${name}-${RUN}`;

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
let billing: Messaging;
let writer: Messaging;
let topics: Record<'charges' | 'results' | 'imaging' | 'dispenses', TopicDefinition>;
let since: Date;
let okUntil: Date;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function order(placer: string, status = 'completed') {
  await store.save(serviceRequest(`sr-${placer}`, PLACER, placer, status), {
    source: 'urn:test',
  });
}

async function dispense(dispenseId: string, status = 'completed') {
  await store.save(medicationDispense(`md-${dispenseId}`, dispenseId, status), {
    source: 'urn:test',
  });
}

async function charge(spec: Omit<ChargeItemSpec, 'placerSystem'>) {
  const content = chargeItem({ ...spec, placerSystem: PLACER });
  await pool.query(
    `INSERT INTO fhir.resource (resource_type, id, version_id, last_updated, content)
     VALUES ('ChargeItem', $1, 1, now(), $2)`,
    [spec.id, JSON.stringify(content)],
  );
  await pool.query(
    `INSERT INTO fhir.resource_history (resource_type, id, version_id, last_updated, content, source)
     VALUES ('ChargeItem', $1, 1, now(), $2, 'urn:test')`,
    [spec.id, JSON.stringify(content)],
  );
}

/** Publishes `value` and dead-letters it through `by`'s DeadLetterPublisher (x-dlt-service). */
async function deadLetter(
  by: Messaging,
  topic: TopicDefinition,
  value: unknown,
  controlId: string,
  code: string,
  reason: string,
) {
  await publishValue(by, topic, value, { messageControlId: controlId, sourceSystem: 'TEST' });
  await deadLetterLatest(by, topic, controlId, code, reason);
}

function audit(options: Partial<ChargeAuditOptions> = {}): Promise<ChargeAuditReport> {
  return auditCharges({
    kafka: billing.kafka,
    codec: billing.codec,
    pool,
    logger,
    placerOrderSystem: PLACER,
    since,
    topics: {
      chargeDeadLetters: deadLetterTopicOf(topics.charges.name),
      resultsDeadLetters: deadLetterTopicOf(topics.results.name),
      imagingReportsDeadLetters: deadLetterTopicOf(topics.imaging.name),
      dispensesDeadLetters: deadLetterTopicOf(topics.dispenses.name),
    },
    clockSkewMs: 0,
    idleTimeoutMs: 20_000,
    ...options,
  });
}

function topicArgs(): string[] {
  return [
    '--charges-dead-letter-topic',
    deadLetterTopicOf(topics.charges.name),
    '--results-dead-letter-topic',
    deadLetterTopicOf(topics.results.name),
    '--imaging-dead-letter-topic',
    deadLetterTopicOf(topics.imaging.name),
    '--dispenses-dead-letter-topic',
    deadLetterTopicOf(topics.dispenses.name),
  ];
}

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(3);
  store = new FhirStore(pool, { placerOrderSystem: PLACER });
  await store.migrate();
  const connect = async (service: string) => {
    const m = new Messaging(
      { service, brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
      logger,
    );
    await m.connect();
    return m;
  };
  billing = await connect('billing-trigger');
  writer = await connect('ehr-writer');
  topics = {
    charges: testTopic(ChargeEventContract),
    results: testTopic(LabResultContract),
    imaging: testTopic(ImagingReportContract),
    dispenses: testTopic(MedicationDispensedContract),
  };
  await provisionContracts(billing.kafka, billing.codec, Object.values(topics), logger);

  // Before the window: completed, never charged — outside the audit.
  await order(n('P-OLD'));
  await sleep(20);
  since = new Date();

  // OK: billed.
  await order(n('P-OK'));
  await charge({
    id: 'ci-ok',
    status: 'billed',
    chargeEventId: 'ev-ok',
    chargeKey: 'F-OK|30000101|d',
    placer: n('P-OK'),
  });
  await sleep(20);
  okUntil = new Date();
  await sleep(20);

  // PENDING (just decided) and PENDING_OVERDUE (decided an hour ago).
  await order(n('P-PEND'));
  await charge({
    id: 'ci-pend',
    status: 'billable',
    chargeEventId: 'ev-pend',
    chargeKey: 'F-PEND|30000101|d',
    placer: n('P-PEND'),
  });
  await order(n('P-OVER'));
  await charge({
    id: 'ci-over',
    status: 'billable',
    chargeEventId: 'ev-over',
    chargeKey: 'F-OVER|30000101|d',
    placer: n('P-OVER'),
    enteredDate: new Date(Date.now() - 3_600_000),
  });

  // DEAD_LETTERED: the engine rejected the charge (AR), it sits in billing.charges.v1.dlt.
  await order(n('P-AR'));
  await charge({
    id: 'ci-ar',
    status: 'aborted',
    chargeEventId: n('ev-ar'),
    chargeKey: 'F-AR|30000101|d',
    placer: n('P-AR'),
  });
  await deadLetter(
    billing,
    topics.charges,
    chargeEvent(n('ev-ar'), n('P-AR'), 'F-AR'),
    n('ev-ar'),
    'charge-rejected',
    'billing engine rejected transaction EV-AR (AR): account closed',
  );

  // DEAD_LETTERED: no charge master row; billing-trigger dead-lettered the completions.
  await order(n('P-NOCHG'));
  const result = labResult('LIS-TEST', n('ORU-NOCHG'), 0);
  result.order.placerOrderNumber = n('P-NOCHG');
  await deadLetter(
    billing,
    topics.results,
    result,
    n('ORU-NOCHG'),
    'PERMANENT',
    'no charge defined for LOINC 9999-9',
  );
  await order(n('P-IMG'));
  await deadLetter(
    billing,
    topics.imaging,
    imagingReport(n('P-IMG'), 'F-IMG'),
    n('ORU-IMG'),
    'PERMANENT',
    'no charge defined for CPT 99999',
  );
  await dispense(n('D-NOCHG'));
  await deadLetter(
    billing,
    topics.dispenses,
    medicationDispensed(n('D-NOCHG')),
    n('RDS-NOCHG'),
    'PERMANENT',
    'no charge defined for NDC 99999-0000-00',
  );

  // MISSING: dead-lettered by the ehr-writer only (not billing's), and nothing at all.
  await order(n('P-EHR'));
  const ehrOnly = labResult('LIS-TEST', n('ORU-EHR'), 0);
  ehrOnly.order.placerOrderNumber = n('P-EHR');
  await deadLetter(
    writer,
    topics.results,
    ehrOnly,
    n('ORU-EHR'),
    'PATIENT_CONFLICT',
    'two patients',
  );
  await order(n('P-MISS'));

  // REVERSED: credited, yet the order is still completed.
  await order(n('P-REV'));
  await charge({
    id: 'ci-rev',
    status: 'entered-in-error',
    chargeEventId: 'ev-rev',
    chargeKey: 'F-REV|30000101|d',
    placer: n('P-REV'),
  });

  // OK: a dispense charged by its key.
  await dispense(n('D-OK'));
  await charge({
    id: 'ci-d-ok',
    status: 'billed',
    chargeEventId: 'ev-d-ok',
    chargeKey: `dispense:${n('D-OK')}`,
    placer: `RX-${n('D-OK')}`,
  });

  // CHARGE_WITHOUT_WORK: a cancelled order still charged, and a charge for no order at all.
  await order(n('P-CANC'), 'revoked');
  await charge({
    id: 'ci-canc',
    status: 'billed',
    chargeEventId: 'ev-canc',
    chargeKey: 'F-CANC|30000101|d',
    placer: n('P-CANC'),
  });
  await charge({
    id: 'ci-ghost',
    status: 'billable',
    chargeEventId: 'ev-ghost',
    chargeKey: 'F-GHOST|30000101|d',
    placer: n('P-GHOST'),
  });
  await sleep(20);
});

afterAll(async () => {
  await billing.close();
  await writer.close();
  await deleteTopics(billing.kafka, stack.registryUrl, Object.values(topics));
  await db.drop();
});

describe('auditCharges', () => {
  let report: ChargeAuditReport;
  const find = (reference: string) => report.discrepancies.find((d) => d.reference === reference);

  beforeAll(async () => {
    report = await audit();
  });

  it('judges every completed item of the window and every charge dated in it', () => {
    expect(report.serviceRequests).toBe(9);
    expect(report.dispenses).toBe(2);
    expect(report.counts).toEqual({
      OK: 2,
      PENDING: 1,
      PENDING_OVERDUE: 1,
      DEAD_LETTERED: 4,
      REVERSED: 1,
      MISSING: 2,
      CHARGE_WITHOUT_WORK: 2,
    });
    expect(report.discrepancies).toHaveLength(10);
    expect(report.pending.map((p) => p.reference)).toEqual([`ServiceRequest/sr-${n('P-PEND')}`]);
    expect(report.ok).toBe(false);
  });

  it('gives the reason of every dead-lettered item', () => {
    expect(find(`ServiceRequest/sr-${n('P-AR')}`)).toMatchObject({
      category: 'DEAD_LETTERED',
      detail: expect.stringContaining(
        'charge-rejected: billing engine rejected transaction EV-AR (AR): account closed',
      ) as unknown,
      chargeItems: ['ChargeItem/ci-ar'],
    });
    expect(find(`ServiceRequest/sr-${n('P-NOCHG')}`)?.detail).toMatch(
      /\.dlt\/0\/\d+: PERMANENT: no charge defined for LOINC 9999-9$/,
    );
    expect(find(`ServiceRequest/sr-${n('P-IMG')}`)?.detail).toContain(
      'no charge defined for CPT 99999',
    );
    expect(find(`MedicationDispense/md-${n('D-NOCHG')}`)).toMatchObject({
      category: 'DEAD_LETTERED',
      label: `dispense ${n('D-NOCHG')}`,
      detail: expect.stringContaining('no charge defined for NDC 99999-0000-00') as unknown,
    });
  });

  it('counts only billing-trigger dead letters of the completion topics', () => {
    expect(find(`ServiceRequest/sr-${n('P-EHR')}`)?.category).toBe('MISSING');
    expect(find(`ServiceRequest/sr-${n('P-MISS')}`)?.detail).toBe(
      `no ChargeItem for placer ${n('P-MISS')} and no billing dead letter`,
    );
    expect(report.deadLettersRead).toBe(4);
  });

  it('names reversed charges, overdue ones and charges without completed work', () => {
    expect(find(`ServiceRequest/sr-${n('P-REV')}`)?.category).toBe('REVERSED');
    expect(find(`ServiceRequest/sr-${n('P-OVER')}`)?.detail).toMatch(/billable for 1h 00m/);
    expect(find('ChargeItem/ci-canc')).toMatchObject({
      category: 'CHARGE_WITHOUT_WORK',
      detail: expect.stringContaining(`ServiceRequest/sr-${n('P-CANC')} is revoked`) as unknown,
    });
    expect(find('ChargeItem/ci-ghost')?.detail).toContain(
      `no ServiceRequest with placer number ${n('P-GHOST')} in the chart`,
    );
    expect(find(`ServiceRequest/sr-${n('P-OLD')}`)).toBeUndefined();
  });

  it('is clean for a window where every completed item was billed', async () => {
    const clean = await audit({ until: okUntil });
    expect(clean.ok).toBe(true);
    expect(clean.counts).toMatchObject({ OK: 1, MISSING: 0, CHARGE_WITHOUT_WORK: 0 });
    expect(clean.serviceRequests).toBe(1);
  });
});

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the tool the way `npm run audit:charges` does, with the stack in its environment. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [
        '--disable-warning=TimeoutNegativeWarning',
        '-r',
        '@swc-node/register',
        join(root, 'tools/ops/audit-charges.ts'),
        ...args,
      ],
      {
        cwd: root,
        timeout: 60_000,
        env: {
          PATH: process.env['PATH'] ?? '',
          KAFKA_BROKERS: stack.kafkaBrokers.join(','),
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          DATABASE_URL: db.url,
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

describe('npm run audit:charges', () => {
  it('exits 0 when clean, 1 with the discrepancy table, 2 on a usage or infrastructure error', async () => {
    const clean = await run([
      '--since',
      since.toISOString(),
      '--until',
      okUntil.toISOString(),
      ...topicArgs(),
    ]);
    expect(clean.stderr).toBe('');
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/OK \(billed\)\s+1\s+no/);
    expect(clean.stdout).toContain('Result: every completed item has its charge');

    const dirty = await run(['--since', since.toISOString(), ...topicArgs()]);
    expect(dirty.status).toBe(1);
    expect(dirty.stdout).toContain(
      'Summary: OK 2, PENDING 1, PENDING_OVERDUE 1, DEAD_LETTERED 4, REVERSED 1, MISSING 2, CHARGE_WITHOUT_WORK 2',
    );
    expect(dirty.stdout).toMatch(
      new RegExp(
        `MISSING\\s+ServiceRequest/sr-${n('P-MISS')}\\s+placer ${n('P-MISS')}\\s+\\S+\\s+no ChargeItem`,
      ),
    );
    expect(dirty.stdout).toMatch(/CHARGE_WITHOUT_WORK\s+ChargeItem\/ci-canc\s+key F-CANC/);

    const json = await run(['--since', since.toISOString(), '--json', ...topicArgs()]);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, counts: { MISSING: 2, OK: 2 } });

    const usage = await run(['--since', since.toISOString(), '--pending-grace', 'soon']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('is not a duration');

    const noTopic = await run([
      '--since',
      since.toISOString(),
      ...topicArgs(),
      '--charges-dead-letter-topic',
      'no.such-topic.v1.dlt',
    ]);
    expect(noTopic.status).toBe(2);
    expect(noTopic.stderr).toContain('not found on the cluster: no.such-topic.v1.dlt');
  });
});
