/**
 * Charges out against the real broker, registry and PostgreSQL, with the billing-engine
 * simulator as the engine.
 *
 * The consumer is bound to the catalogue's `billing.charges.v1`, so each sender gets its own
 * consumer group, set to the topic's end before it starts, and each test its own patients
 * (other runs' charges on the shared topic reach our simulator too, and are left out of every
 * assertion by MRN). `billing.sent_transactions` lives in a scratch database of this file.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { transactionIdFor } from '@ancillary/billing-dft';
import {
  ChargeEventContract,
  ChargeStatusEventContract,
  type ChargeStatusEvent,
  DeadLetterHeaders,
  deadLetterTopicOf,
  topicCatalogue,
  Topics,
  type ChargeEvent,
} from '@ancillary/contracts';
import {
  headersToStrings,
  Messaging,
  newMessageContext,
  provisionContracts,
} from '@ancillary/messaging-kafka';
import { MessagingModule } from '@ancillary/messaging-nest';
import { metricsRegistry, type Logger } from '@ancillary/observability';
import { ObservabilityModule } from '@ancillary/observability-nest';
import { startService, type ServiceHandle } from '@ancillary/service-kit';
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
import type { BillingSenderOptions } from './billing-sender.config';
import { BillingSenderModule } from './billing-sender.module';

const stack = testStack();
const captured = captureLogger('billing-sender-int', 'info');
const logger = captured.logger;
let messaging: Messaging;
let database: ScratchDatabase;
let pool: Pool;

// ---------------------------------------------------------------------------------------------
// Dead letters of billing.charges.v1 since the start of the topic, decoded.

interface DeadLetter {
  headers: Record<string, string>;
  charge: ChargeEvent;
}
const deadLetters: DeadLetter[] = [];
let dltTap: Consumer | undefined;
/** billing.charge-status.v1 since the start of the topic, decoded. */
const statusRecords = new Map<string, ChargeStatusEvent>(); // by partition:offset (a rejoin re-reads)
const statuses = () => [...statusRecords.values()];
let statusTap: Consumer | undefined;
const statusesOf = (c: ChargeEvent) => statuses().filter((s) => s.chargeEventId === c.eventId);

// ---------------------------------------------------------------------------------------------
// The sender under test.

@Module({})
class SenderTestModule {
  static forRoot(options: BillingSenderOptions, log: Logger): DynamicModule {
    return {
      module: SenderTestModule,
      imports: [
        ObservabilityModule.forRoot({ logger: log }),
        MessagingModule.forRoot({
          service: 'billing-sender-int',
          brokers: stack.kafkaBrokers,
          registryUrl: stack.registryUrl,
          groupId: uniqueName('unused'),
          consumer: { partitionsConsumedConcurrently: 6, fromBeginning: false },
        }),
        BillingSenderModule.forRoot(options),
      ],
    };
  }
}

const services: ServiceHandle[] = [];
const simulators: BillingEngineSimulator[] = [];

/** A consumer group positioned at the topic's current end (before anything is published). */
async function groupAtEnd(): Promise<string> {
  const prefix = uniqueName('billing-sender-int');
  await startGroupsAtEnd(messaging.kafka, [
    [Topics.billingCharges.name, `${prefix}-billing-sender`],
  ]);
  return prefix;
}

async function startSender(
  enginePort: number,
  overrides: Partial<BillingSenderOptions> = {},
): Promise<ServiceHandle> {
  const consumerGroupPrefix = overrides.consumerGroupPrefix ?? (await groupAtEnd());
  const service = await startService({
    module: SenderTestModule.forRoot(
      {
        enabled: true,
        consumerGroupPrefix,
        destination: 'billing',
        host: '127.0.0.1',
        port: enginePort,
        ackTimeoutMs: 10_000,
        connectTimeoutMs: 2_000,
        version: '2.5',
        reversalStyle: 'credit',
        sendingApplication: 'ANCILLARY-HUB',
        sendingFacility: 'NWH',
        receivingApplication: 'SIMBILL',
        receivingFacility: 'NWH-BILL',
        databaseUrl: database.url,
        retry: { maxDelayMs: 1_000 },
        ...overrides,
      },
      logger,
    ),
    logger,
    host: '127.0.0.1',
    port: 0,
    shutdownHooks: false,
  });
  services.push(service);
  await waitFor(async () => (await fetch(`${service.url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'the billing sender to join its group',
  });
  return service;
}

async function startEngine(script?: string): Promise<BillingEngineSimulator> {
  const sim = new BillingEngineSimulator({ port: 0, ...(script ? { script } : {}) });
  await sim.start();
  simulators.push(sim);
  return sim;
}

// ---------------------------------------------------------------------------------------------
// Synthetic charges (codes and prices after the charge-master starter set).

let sequence = 0;
function charge(mrn: string, fields: Partial<ChargeEvent> = {}): ChargeEvent {
  sequence += 1;
  const filler = fields.fillerOrderNumber ?? uniqueName(`F${sequence}`);
  // A day of its own per charge: two charges of one patient, code and day would be flagged by
  // the engine as suspected duplicates, which the tests assert there are none of.
  const dateOfService = Date.UTC(2026, 10, 1 + (sequence % 28), 9, 15);
  const chargeKey = `${filler}|30000101|${new Date(dateOfService).toISOString().slice(0, 10)}`;
  const eventId = `charge:${chargeKey}:1`;
  return {
    eventId,
    chargeKey,
    action: 'CHARGE',
    transactionId: transactionIdFor(eventId),
    reversesTransactionId: null,
    reversesEventId: null,
    sourceKind: 'LAB',
    patient: {
      identifiers: [{ value: mrn, system: 'NWH', type: 'MR' }],
      familyName: 'Rivera',
      givenNames: ['Ana'],
      birthDate: '1970-03-15',
      administrativeSex: 'F',
    },
    accountNumber: `ACC-${mrn}`,
    visitNumber: `V-${mrn}`,
    patientClass: 'O',
    placerOrderNumber: `PL-${filler}`,
    fillerOrderNumber: filler,
    dateOfService,
    chargeCode: '30000101',
    description: 'Basic metabolic panel',
    cptHcpcs: '80048',
    modifiers: [],
    revenueCode: '0301',
    department: 'LAB-CHEM',
    quantity: 1,
    unitPriceCents: 4200,
    extendedPriceCents: 4200,
    orderingProvider: { id: '1234567893', familyName: 'Okafor', givenName: 'Ngozi' },
    performingProvider: null,
    diagnoses: [{ code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' }],
    ndc: null,
    sourceEventIds: [`lab-result-${sequence}`],
    chargeMasterVersion: '2026.12.0',
    createdAt: Date.now(),
    ...fields,
  };
}

function creditFor(original: ChargeEvent): ChargeEvent {
  const eventId = `${original.chargeKey}:credit:2`;
  return {
    ...original,
    eventId,
    action: 'CREDIT',
    transactionId: transactionIdFor(eventId),
    reversesTransactionId: original.transactionId,
    reversesEventId: original.eventId,
  };
}

async function publish(charges: ChargeEvent[]): Promise<void> {
  await messaging.producer.publishBatch<ChargeEvent>(
    Topics.billingCharges,
    charges.map((c) => ({
      key: c.patient.identifiers[0]!.value,
      value: c,
      context: newMessageContext(),
    })),
  );
}

const linesOf = (sim: BillingEngineSimulator, mrn: string): BillingLedgerLine[] =>
  sim.ledger().filter((l) => l.patientMrn === mrn);

const arrivalsOf = (sim: BillingEngineSimulator, c: ChargeEvent) =>
  sim
    .received()
    .filter((a) => a.dft?.transactions.some((t) => t.transactionId === c.transactionId));

async function sentRows(transactionIds: string[]) {
  const result = await pool.query<{
    transaction_id: string;
    charge_key: string;
    event_id: string;
    ack_code: string;
    control_id: string;
  }>('SELECT * FROM billing.sent_transactions WHERE transaction_id = ANY($1) ORDER BY sent_at', [
    transactionIds,
  ]);
  return result.rows;
}

const logsFor = (c: ChargeEvent, msg: string) =>
  captured.lines().filter((l) => l['chargeEventId'] === c.eventId && l['msg'] === msg);

beforeAll(async () => {
  database = await createScratchDatabase();
  pool = database.pool(2);
  messaging = new Messaging(
    {
      service: 'billing-sender-int-harness',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  await messaging.connect();
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);
  dltTap = messaging.kafka.consumer({ groupId: uniqueName('tap'), maxWaitTimeInMs: 100 });
  await dltTap.connect();
  await dltTap.subscribe({
    topic: deadLetterTopicOf(Topics.billingCharges.name),
    fromBeginning: true,
  });
  await dltTap.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      deadLetters.push({
        headers: headersToStrings(message.headers),
        charge: await messaging.codec.decode<ChargeEvent>(ChargeEventContract, message.value),
      });
    },
  });
  statusTap = messaging.kafka.consumer({ groupId: uniqueName('status-tap'), maxWaitTimeInMs: 100 });
  await statusTap.connect();
  await statusTap.subscribe({ topic: Topics.billingChargeStatus.name, fromBeginning: true });
  await statusTap.run({
    eachMessage: async ({ partition, message }) => {
      if (!message.value) return;
      statusRecords.set(
        `${partition}:${message.offset}`,
        await messaging.codec.decode<ChargeStatusEvent>(ChargeStatusEventContract, message.value),
      );
    },
  });
}, 120_000);

afterAll(async () => {
  for (const s of services) await s.close();
  for (const sim of simulators) await sim.stop();
  await dltTap?.disconnect();
  await statusTap?.disconnect();
  await messaging.close();
  await database.drop();
});

describe('charges to the billing engine (credit reversals)', () => {
  let sim: BillingEngineSimulator;
  let sender: ServiceHandle;

  beforeAll(async () => {
    sim = await startEngine();
    sender = await startSender(sim.port);
  }, 120_000);

  afterAll(async () => {
    await sender.close();
  });

  it('sends an accepted charge as one DFT^P03 with its FT1 fields and records the transaction', async () => {
    const mrn = uniqueName('MRN');
    const lab = charge(mrn);
    await publish([lab]);

    const [line] = await sim.waitUntil(() => {
      const lines = linesOf(sim, mrn);
      return lines.length > 0 && lines;
    }, 'the charge on the ledger');
    expect(line).toMatchObject({
      transactionId: lab.transactionId,
      batchId: null,
      transactionType: 'CG',
      chargeCode: '30000101',
      chargeDescription: 'Basic metabolic panel',
      quantity: 1,
      extendedAmount: 42,
      unitAmount: 42,
      department: 'LAB-CHEM',
      diagnoses: ['E11.9'],
      orderedBy: '1234567893',
      fillerOrderNumber: lab.fillerOrderNumber,
      procedureCode: '80048',
      procedureCodeSystem: 'C4',
      accountNumber: `ACC-${mrn}`,
      visitNumber: `V-${mrn}`,
      patientClass: 'O',
      duplicate: false,
    });
    expect(line!.dateOfService).toBe(
      new Date(lab.dateOfService).toISOString().slice(0, 10).replaceAll('-', ''),
    );
    const [arrival] = arrivalsOf(sim, lab);
    expect(arrival!.message.messageType).toBe('DFT^P03');
    expect(arrival!.message.get('MSH-12')).toBe('2.5');
    expect(arrival!.message.get('MSH-5')).toBe('SIMBILL');

    const rows = await waitFor(
      async () => {
        const found = await sentRows([lab.transactionId]);
        return found.length > 0 && found;
      },
      { description: 'the sent transaction recorded' },
    );
    expect(rows).toEqual([
      {
        transaction_id: lab.transactionId,
        charge_key: lab.chargeKey,
        event_id: lab.eventId,
        ack_code: 'AA',
        control_id: arrival!.controlId,
        sent_at: expect.any(Date) as Date,
      },
    ]);
    // counted right after the row is committed (the test may read the row first)
    await waitFor(
      async () =>
        /charges_sent_total\{department="LAB-CHEM",outcome="accepted"\} [1-9]/.test(
          await metricsRegistry().getSingleMetricAsString('charges_sent_total'),
        ),
      { description: 'the accepted charge counted' },
    );
  });

  it('sends a charge published twice once: the second is skipped, never reaching the engine', async () => {
    const mrn = uniqueName('MRN');
    const lab = charge(mrn);
    const next = charge(mrn);
    await publish([lab]);
    await publish([lab, next]); // the replay, and a later charge to know it was read

    await sim.waitUntil(() => linesOf(sim, mrn).length >= 2, 'both charges on the ledger');
    await waitFor(() => logsFor(lab, 'charge already sent: skipped').length === 1, {
      description: 'the replay skipped',
    });
    expect(linesOf(sim, mrn).map((l) => l.transactionId)).toEqual([
      lab.transactionId,
      next.transactionId,
    ]);
    // not the engine's de-duplication by MSH-10: the replay was never sent
    expect(arrivalsOf(sim, lab)).toHaveLength(1);
    // BILLED is published again for the skipped replay, with the same event id
    await waitFor(() => statusesOf(lab).length === 2, { description: 'BILLED twice' });
    const [first, again] = statusesOf(lab);
    expect(again).toEqual(first);
    expect(first).toMatchObject({ status: 'BILLED', transactionId: lab.transactionId });
  });

  it('skips a replay of the topic by another consumer group on the same table', async () => {
    const mrn = uniqueName('MRN');
    const lab = charge(mrn);
    const replayGroup = await groupAtEnd(); // a group that will read `lab` later: the replay
    await publish([lab]);
    await sim.waitUntil(() => linesOf(sim, mrn).length === 1, 'the charge on the ledger');
    await waitFor(async () => (await sentRows([lab.transactionId])).length === 1, {
      description: 'the transaction recorded',
    });

    const replaying = await startSender(sim.port, { consumerGroupPrefix: replayGroup });
    try {
      await waitFor(() => logsFor(lab, 'charge already sent: skipped').length === 1, {
        description: 'the replayed charge skipped',
      });
    } finally {
      await replaying.close();
    }
    expect(arrivalsOf(sim, lab)).toHaveLength(1);
    expect(linesOf(sim, mrn)).toHaveLength(1);
  });

  it('dead-letters a charge the engine rejects (AR) with its ERR text, and goes on with the next', async () => {
    const mrn = uniqueName('MRN');
    const rejected = charge(mrn);
    const next = charge(mrn);
    sim.setScript(
      `reject:Charge code 30000101 not active for account ACC-${mrn}@placer=${rejected.fillerOrderNumber!}`,
    );
    await publish([rejected, next]);

    const dead = await waitFor(
      () => deadLetters.find((d) => d.charge.eventId === rejected.eventId),
      { description: 'the rejected charge on billing.charges.v1.dlt' },
    );
    expect(dead.charge).toEqual(rejected);
    expect(dead.headers[DeadLetterHeaders.originalTopic]).toBe('billing.charges.v1');
    expect(dead.headers[DeadLetterHeaders.errorCode]).toBe('charge-rejected');
    expect(dead.headers[DeadLetterHeaders.errorClass]).toBe('ChargeRejectedError');
    expect(dead.headers[DeadLetterHeaders.errorMessage]).toBe(
      `billing engine rejected transaction ${rejected.transactionId} (AR): Charge code 30000101 not active for account ACC-${mrn}`,
    );
    expect(dead.headers[DeadLetterHeaders.attempts]).toBe('1');

    await sim.waitUntil(() => linesOf(sim, mrn).length === 1, 'the next charge on the ledger');
    expect(linesOf(sim, mrn)[0]!.transactionId).toBe(next.transactionId);
    expect(arrivalsOf(sim, rejected)).toHaveLength(1); // a rejection is final
    expect(await sentRows([rejected.transactionId])).toEqual([]); // so a fixed replay sends it
    const metrics = await metricsRegistry().getSingleMetricAsString('charges_rejected_total');
    expect(metrics).toMatch(/charges_rejected_total\{reason="AR:207"\} [1-9]/);
    // billing.charge-status.v1: REJECTED with the engine's words, BILLED for the next one
    await waitFor(() => statusesOf(next).length > 0, { description: 'the status of the next' });
    expect(statusesOf(rejected)).toEqual([
      expect.objectContaining({
        status: 'REJECTED',
        ackCode: 'AR',
        transactionId: rejected.transactionId,
        reason: `Charge code 30000101 not active for account ACC-${mrn}`,
      }),
    ]);
    expect(statusesOf(next)).toEqual([
      expect.objectContaining({ status: 'BILLED', ackCode: 'AA', action: 'CHARGE' }),
    ]);
    sim.setScript('accept');
  });

  it('resends a charge the engine answered AE, and posts it once', async () => {
    const mrn = uniqueName('MRN');
    const lab = charge(mrn);
    sim.setScript(`1*error:Ledger locked for month end@placer=${lab.fillerOrderNumber!}`);
    await publish([lab]);

    // posted as it arrives, answered just after: wait for the answer too
    await sim.waitUntil(
      () => arrivalsOf(sim, lab).filter((a) => a.answer !== null).length >= 2,
      'the resend answered',
    );
    expect(arrivalsOf(sim, lab).map((a) => a.answer)).toEqual(['AE', 'AA']);
    expect(linesOf(sim, mrn).map((l) => l.transactionId)).toEqual([lab.transactionId]);
    expect(deadLetters.some((d) => d.charge.eventId === lab.eventId)).toBe(false);
    sim.setScript('accept');
  });
});

describe('reversal style negative-charge', () => {
  it('sends a CREDIT as a CG line with negative quantity and amount, netting the charge to zero', async () => {
    const sim = await startEngine();
    const sender = await startSender(sim.port, { reversalStyle: 'negative-charge' });
    try {
      const mrn = uniqueName('MRN');
      const original = charge(mrn, { quantity: 2, extendedPriceCents: 8400 });
      const credit = creditFor(original);
      await publish([original, credit]);

      const lines = await sim.waitUntil(() => {
        const found = linesOf(sim, mrn);
        return found.length >= 2 && found;
      }, 'the charge and its reversal');
      expect(
        lines.map((l) => [l.transactionId, l.transactionType, l.quantity, l.extendedAmount]),
      ).toEqual([
        [original.transactionId, 'CG', 2, 84],
        [credit.transactionId, 'CG', -2, -84],
      ]);
      expect(lines[1]).toMatchObject({
        batchId: original.transactionId,
        reversal: true,
        reverses: lines[0]!.seq,
        duplicate: false,
      });
      const [net] = sim.netByChargeKey().filter((n) => n.patientMrn === mrn);
      expect(net).toMatchObject({ lines: 2, quantity: 0, amount: 0 });
    } finally {
      await sender.close();
    }
  });
});

describe('the billing engine down', () => {
  it('keeps every charge while the engine is down and sends each once after it is up', async () => {
    const sim = await startEngine();
    await sim.down();
    const sender = await startSender(sim.port, { ackTimeoutMs: 1_500 });
    try {
      const patients = [uniqueName('MRN-A'), uniqueName('MRN-B')];
      const charges = patients.flatMap((mrn) => [charge(mrn), charge(mrn)]);
      await publish(charges);

      await waitFor(
        () =>
          charges.some(
            (c) =>
              logsFor(c, 'charge not delivered: the billing engine gave no answer; will resend')
                .length >= 2,
          ),
        { timeoutMs: 30_000, description: 'refused attempts while the engine is down' },
      );
      expect(patients.flatMap((mrn) => linesOf(sim, mrn))).toEqual([]);

      await sim.up();
      const lines = await sim.waitUntil(
        () => {
          const found = patients.flatMap((mrn) => linesOf(sim, mrn));
          return found.length >= charges.length && found;
        },
        'every charge on the ledger',
        { timeoutMs: 60_000 },
      );
      expect(lines.map((l) => l.transactionId).sort()).toEqual(
        charges.map((c) => c.transactionId).sort(),
      );
      // in order per patient (one partition per patient), none twice
      for (const mrn of patients) {
        expect(linesOf(sim, mrn).map((l) => l.transactionId)).toEqual(
          charges
            .filter((c) => c.patient.identifiers[0]!.value === mrn)
            .map((c) => c.transactionId),
        );
      }
      expect(lines.some((l) => l.duplicate)).toBe(false);
      await waitFor(
        async () => (await sentRows(charges.map((c) => c.transactionId))).length === charges.length,
        { description: 'every transaction recorded' },
      );
    } finally {
      await sender.close();
    }
  });
});
