/**
 * billing-trigger over the real broker, registry and PostgreSQL (a scratch database), with the
 * billing-engine simulator as the engine: completions published to the canonical topics come
 * out as DFT^P03 at the simulator, once.
 *
 * The service consumes the catalogue's shared topics, so its groups (the decisions' and the
 * sender's) are set to the topics' ends before it starts, and every test uses its own MRN,
 * filler order number and dispense id; other runs' records are left out of every assertion.
 */
import { transactionIdFor } from '@ancillary/billing-dft';
import { chargeEventId } from '@ancillary/billing-pricing';
import {
  ChargeEventContract,
  DeadLetterHeaders,
  deadLetterTopicOf,
  LabResultContract,
  topicCatalogue,
  Topics,
  type ChargeEvent,
  type LabResult,
  type MedicationDispensed,
  type OrderEvent,
  type TopicDefinition,
} from '@ancillary/contracts';
import {
  headersToStrings,
  Messaging,
  newMessageContext,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import { metricsRegistry } from '@ancillary/observability';
import { BillingEngineSimulator, type BillingLedgerLine } from '@ancillary/simulators';
import {
  captureLogger,
  createScratchDatabase,
  startGroupsAtEnd,
  testStack,
  uniqueName,
  waitFor,
  type ScratchDatabase,
} from '@ancillary/testing';
import type { Consumer } from 'kafkajs';
import type { Pool } from 'pg';
import { labResult, T0 } from '../test/completions.fixture';
import { startBillingTrigger, type BillingTriggerHandle } from './billing-trigger';

const stack = testStack();
const captured = captureLogger('billing-trigger-int', 'info');
const logger = captured.logger;
let messaging: Messaging;
let database: ScratchDatabase;
let pool: Pool;
let sim: BillingEngineSimulator;
let service: BillingTriggerHandle;
let dltTap: Consumer | undefined;
let chargesTap: Consumer | undefined;
/** Every ChargeEvent billing-trigger published during this run. */
const charges: ChargeEvent[] = [];

interface DeadLetter {
  headers: Record<string, string>;
  result: LabResult;
}
const resultDeadLetters: DeadLetter[] = [];

// ---------------------------------------------------------------------------------------------
// Synthetic completions: labResult and T0 from ../test/completions.fixture.ts.

function dispensed(mrn: string, dispenseId: string): MedicationDispensed {
  return {
    eventId: `billing-trigger-int:${dispenseId}`,
    sourceSystem: 'pharmacy-main',
    messageControlId: uniqueName('RX'),
    envelopeId: null,
    receivedAt: T0 + 5_400_000,
    dispenseId,
    patient: {
      identifiers: [{ value: mrn, system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Testperson',
      givenNames: ['Sam'],
      birthDate: '1958-02-02',
      administrativeSex: 'F',
    },
    placerOrderNumber: `PL-${dispenseId}`,
    fillerOrderNumber: dispenseId,
    ndc: {
      system: 'http://hl7.org/fhir/sid/ndc',
      code: '99901-0101-30',
      display: 'Amlodipine 5 mg tablet',
    },
    rxnorm: null,
    localCode: null,
    quantityValue: 30,
    quantityUnit: 'TAB',
    daysSupply: 30,
    dispenser: 'Pharmacist Example',
    dispensedAt: T0 + 5_000_000,
    status: 'COMPLETED',
    notes: [],
    visit: {
      accountNumber: `ACCT-${mrn}`,
      visitNumber: `VN-${mrn}`,
      patientClass: 'O',
      assignedLocation: null,
    },
  };
}

function orderEvent(
  mrn: string,
  placerOrderNumber: string,
  action: OrderEvent['action'],
  version: number,
): OrderEvent {
  return {
    eventId: `ServiceRequest/${placerOrderNumber}/_history/${version}`,
    action,
    category: 'LABORATORY',
    destination: 'lis-main',
    lane: 'ROUTINE',
    priority: 'routine',
    resourceType: 'ServiceRequest',
    resourceId: placerOrderNumber,
    resourceVersion: version,
    placerOrderNumber,
    placerSystem: 'urn:ehr:placer',
    fillerOrderNumber: null,
    patientId: `pat-${mrn}`,
    patient: {
      identifiers: [{ value: mrn, system: 'urn:hospital:mrn', type: 'MR' }],
      familyName: 'Testperson',
      givenNames: ['Alex'],
      birthDate: '1970-01-31',
      administrativeSex: 'F',
    },
    encounterId: null,
    code: { system: 'http://loinc.org', code: '51990-0', display: 'Basic metabolic panel' },
    orderedAt: T0 - 3_600_000,
    publishedAt: T0 - 3_600_000,
    requester: {
      identifier: '1234567893',
      familyName: 'Wilson',
      givenName: 'James',
      display: 'Dr James Wilson',
    },
    reasons: [
      {
        system: 'http://hl7.org/fhir/sid/icd-10-cm',
        code: 'E11.9',
        display: 'Type 2 diabetes mellitus without complications',
      },
      { system: 'http://snomed.info/sct', code: '44054006', display: 'Diabetes mellitus type 2' },
      {
        system: 'http://hl7.org/fhir/sid/icd-10-cm',
        code: 'I10',
        display: 'Essential (primary) hypertension',
      },
    ],
    specimenTypes: [],
    notes: [],
    medication: null,
  };
}

async function publish(
  topic: TopicDefinition,
  key: string,
  values: (LabResult | MedicationDispensed | OrderEvent)[],
): Promise<void> {
  await messaging.producer.publishBatch(
    topic,
    values.map((value) => ({ key, value, context: newMessageContext() })),
  );
}

const linesOf = (mrn: string): BillingLedgerLine[] =>
  sim.ledger().filter((l) => l.patientMrn === mrn);

const waitForLines = (mrn: string, count: number, description: string) =>
  sim.waitUntil(() => {
    const lines = linesOf(mrn);
    return lines.length >= count && lines;
  }, description);

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  database = await createScratchDatabase();
  pool = database.pool(2);
  messaging = new Messaging(
    {
      service: 'billing-trigger-int-harness',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  await messaging.connect();
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);

  sim = new BillingEngineSimulator({ port: 0 });
  await sim.start();

  const group = uniqueName('billing-trigger-int');
  const senderPrefix = uniqueName('billing-trigger-int');
  const tapGroup = uniqueName('billing-trigger-int-tap');
  const chargesTapGroup = uniqueName('billing-trigger-int-charges');
  const resultsDlt = deadLetterTopicOf(Topics.clinicalResults.name);
  await startGroupsAtEnd(messaging.kafka, [
    ...[
      Topics.clinicalResults,
      Topics.clinicalImagingReports,
      Topics.clinicalDispenses,
      Topics.clinicalOrders,
      Topics.clinicalOrdersStat,
    ].map((t) => [t.name, group] as const),
    [Topics.billingCharges.name, `${senderPrefix}-billing-sender`],
    [resultsDlt, tapGroup],
    [Topics.billingCharges.name, chargesTapGroup],
  ]);

  dltTap = messaging.kafka.consumer({ groupId: tapGroup, maxWaitTimeInMs: 100 });
  await dltTap.connect();
  await dltTap.subscribe({ topic: resultsDlt });
  await dltTap.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      resultDeadLetters.push({
        headers: headersToStrings(message.headers),
        result: await messaging.codec.decode<LabResult>(LabResultContract, message.value),
      });
    },
  });

  chargesTap = messaging.kafka.consumer({ groupId: chargesTapGroup, maxWaitTimeInMs: 100 });
  await chargesTap.connect();
  await chargesTap.subscribe({ topic: Topics.billingCharges.name });
  await chargesTap.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      charges.push(await messaging.codec.decode<ChargeEvent>(ChargeEventContract, message.value));
    },
  });

  service = await startBillingTrigger(
    {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      DATABASE_URL: database.url,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      CONSUMER_GROUP: group,
      CONSUMER_START: 'latest',
      BILLING_CONSUMER_GROUP_PREFIX: senderPrefix,
      BILLING_MLLP_PORT: String(sim.port),
      BILLING_RETRY_MAX_DELAY_MS: '1000',
      TIME_ZONE: 'America/New_York',
    },
    { logger, shutdownHooks: false },
  );
  await waitFor(async () => (await fetch(`${service.url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'billing-trigger to be ready',
  });
}, 180_000);

afterAll(async () => {
  await (service as BillingTriggerHandle | undefined)?.close();
  await (sim as BillingEngineSimulator | undefined)?.stop();
  await dltTap?.disconnect();
  await chargesTap?.disconnect();
  await (messaging as Messaging | undefined)?.close();
  await (database as ScratchDatabase | undefined)?.drop();
});

describe('billing-trigger', () => {
  it('charges a final lab result once, through replays and an unchanged correction', async () => {
    const mrn = uniqueName('MRN');
    const filler = uniqueName('FIL');
    const final = labResult(mrn, filler);
    await publish(Topics.clinicalResults, mrn, [final]);

    const [line] = await waitForLines(mrn, 1, 'the lab charge on the ledger');
    const chargeKey = `${filler}|30000101|2026-11-20`;
    expect(line).toMatchObject({
      transactionId: transactionIdFor(chargeEventId(chargeKey, 1)),
      transactionType: 'CG',
      chargeCode: '30000101',
      quantity: 1,
      extendedAmount: 42,
      department: 'LAB-CHEM',
      fillerOrderNumber: filler,
      procedureCode: '80048',
      procedureCodeSystem: 'C4',
      accountNumber: `ACCT-${mrn}`,
      visitNumber: `VN-${mrn}`,
      patientClass: 'O',
      dateOfService: '20261120',
      duplicate: false,
    });
    const arrivals = sim
      .received()
      .filter((a) => a.dft?.transactions.some((t) => t.transactionId === line!.transactionId));
    expect(arrivals).toHaveLength(1);
    expect(arrivals[0]!.message.messageType).toBe('DFT^P03');
    expect(arrivals[0]!.message.get('PID-18')).toBe(`ACCT-${mrn}`);
    expect(arrivals[0]!.message.get('PV1-19')).toBe(`VN-${mrn}`);

    // The same result again, then a correction with the same content (a new message and event),
    // then — behind them in the same partition — another order of the patient on the next day,
    // whose charge proves the first three were decided.
    const corrected = labResult(mrn, filler, { status: 'CORRECTED' });
    const nextFiller = uniqueName('FIL');
    const next = labResult(mrn, nextFiller, {
      effectiveAt: T0 + 86_400_000,
      issuedAt: T0 + 86_400_000 + 3_000_000,
    });
    await publish(Topics.clinicalResults, mrn, [final, corrected, next]);
    await sim.waitUntil(
      () => linesOf(mrn).some((l) => l.fillerOrderNumber === nextFiller),
      'the next order charged',
    );
    expect(linesOf(mrn).filter((l) => l.fillerOrderNumber === filler)).toHaveLength(1);
    expect(linesOf(mrn)).toHaveLength(2);
    expect(linesOf(mrn).some((l) => l.duplicate)).toBe(false);
    // Decided once by billing-trigger itself, not only de-duplicated by the sender downstream.
    await waitFor(() => charges.some((c) => c.fillerOrderNumber === nextFiller), {
      description: 'the next charge event',
    });
    expect(charges.filter((c) => c.chargeKey === chargeKey)).toHaveLength(1);

    const records = await pool.query<{ charge_key: string; record: { sequence: number } }>(
      'SELECT charge_key, record FROM billing.charge_records WHERE charge_key = $1',
      [chargeKey],
    );
    expect(records.rows).toHaveLength(1);
    expect(records.rows[0]!.record.sequence).toBe(1);
    expect(await metricsRegistry().getSingleMetricAsString('charges_created_total')).toContain(
      'department="LAB-CHEM",action="CHARGE"',
    );
  }, 60_000);

  it('dead-letters a result the charge master cannot price, with the reason', async () => {
    const mrn = uniqueName('MRN');
    const unpriced = labResult(mrn, uniqueName('FIL'), {
      order: {
        placerOrderNumber: uniqueName('PL'),
        fillerOrderNumber: uniqueName('FIL'),
        code: {
          system: 'http://loinc.org',
          code: '2345-7',
          display: 'Glucose [Mass/volume] in Serum or Plasma',
        },
        localCode: { system: 'urn:lis:local', code: 'GLU-ONLY', display: 'Glucose' },
        priority: 'routine',
        orderingProvider: null,
      },
    });
    await publish(Topics.clinicalResults, mrn, [unpriced]);

    const letter = await waitFor(
      () => resultDeadLetters.find((d) => d.result.eventId === unpriced.eventId),
      { timeoutMs: 30_000, description: 'the unpriced result in clinical.results.v1.dlt' },
    );
    expect(letter.headers[DeadLetterHeaders.errorMessage]).toContain('no charge defined for');
    expect(letter.headers[DeadLetterHeaders.errorMessage]).toContain('2345-7');
    expect(linesOf(mrn)).toHaveLength(0);
  }, 60_000);

  it('charges a completed dispense with its NDC and quantity', async () => {
    const mrn = uniqueName('MRN');
    const dispenseId = uniqueName('DISP');
    await publish(Topics.clinicalDispenses, mrn, [dispensed(mrn, dispenseId)]);

    const [line] = await waitForLines(mrn, 1, 'the dispense charge on the ledger');
    expect(line).toMatchObject({
      transactionType: 'CG',
      chargeCode: '50000101',
      quantity: 30,
      department: 'PHARM',
      accountNumber: `ACCT-${mrn}`,
      visitNumber: `VN-${mrn}`,
    });
    expect(line!.ndc?.replaceAll('-', '')).toBe('99901010130');
    expect(line!.extendedAmount).toBe(13.5);
    expect(linesOf(mrn)).toHaveLength(1);
  }, 60_000);
  it('takes the order context for FT1-19/21 and credits the charge when the order is cancelled', async () => {
    const mrn = uniqueName('MRN');
    const filler = uniqueName('FIL');
    const placer = `PL-${filler}`;
    await publish(Topics.clinicalOrders, mrn, [orderEvent(mrn, placer, 'NEW', 1)]);
    // Orders and results are different topics: wait until the context is stored.
    await waitFor(
      async () =>
        (
          await pool.query('SELECT 1 FROM billing.order_contexts WHERE placer_order_number = $1', [
            placer,
          ])
        ).rowCount === 1,
      { description: 'the order context stored' },
    );
    await publish(Topics.clinicalResults, mrn, [labResult(mrn, filler)]);
    const [charge] = await waitForLines(mrn, 1, 'the lab charge on the ledger');
    expect(charge).toMatchObject({
      transactionType: 'CG',
      diagnoses: ['E11.9', 'I10'],
      orderedBy: '1234567893',
    });

    await publish(Topics.clinicalOrders, mrn, [orderEvent(mrn, placer, 'CANCEL', 2)]);
    const lines = await waitForLines(mrn, 2, 'the credit on the ledger');
    expect(lines[1]).toMatchObject({
      transactionType: 'CD',
      batchId: charge!.transactionId,
      chargeCode: '30000101',
      quantity: 1,
      reversal: true,
      reverses: charge!.seq,
    });
    expect(sim.ledger().find((l) => l.seq === charge!.seq)?.fullyReversed).toBe(true);

    // A replay of the result after the cancellation charges nothing (reversed is terminal);
    // another order of the patient, next day, behind it in the partition, shows it was decided.
    const markerFiller = uniqueName('FIL');
    await publish(Topics.clinicalResults, mrn, [
      labResult(mrn, filler, { status: 'CORRECTED' }),
      labResult(mrn, markerFiller, {
        effectiveAt: T0 + 86_400_000,
        issuedAt: T0 + 86_400_000 + 3_000_000,
      }),
    ]);
    await waitFor(() => charges.some((c) => c.fillerOrderNumber === markerFiller), {
      description: 'the marker charge event',
    });
    const cancelledKey = `${filler}|30000101|2026-11-20`;
    expect(charges.filter((c) => c.chargeKey === cancelledKey).map((c) => c.action)).toEqual([
      'CHARGE',
      'CREDIT',
    ]);
  }, 60_000);

  it('credits a returned dispense', async () => {
    const mrn = uniqueName('MRN');
    const dispenseId = uniqueName('DISP');
    const completed = dispensed(mrn, dispenseId);
    await publish(Topics.clinicalDispenses, mrn, [completed]);
    const [charge] = await waitForLines(mrn, 1, 'the dispense charge');

    await publish(Topics.clinicalDispenses, mrn, [
      { ...completed, eventId: `${completed.eventId}:returned`, status: 'CANCELLED' },
    ]);
    const lines = await waitForLines(mrn, 2, 'the credit of the returned dispense');
    expect(lines[1]).toMatchObject({
      transactionType: 'CD',
      batchId: charge!.transactionId,
      chargeCode: '50000101',
      quantity: 30,
      reverses: charge!.seq,
    });
  }, 60_000);
});
