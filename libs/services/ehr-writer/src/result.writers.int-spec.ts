/**
 * The ehr-writer's imaging, dispense and order-status handlers against a real repository (the
 * stack's PostgreSQL, a database of their own), called as the consumer calls them: what they
 * write, the order-to-result histogram observed once per order, and their log lines; and the
 * lab handler's order-to-result observation from a real lab receipt. (Kafka delivery and
 * dead-lettering are the messaging module's, tested there; the lab flow end to end in tests/e2e.)
 */
import type {
  ImagingReport,
  LabResult,
  MedicationDispensed,
  OrderStatusChanged,
} from '@ancillary/contracts';
import { DEFAULT_PLACER_ORDER_SYSTEM, FhirStore, UnknownOrderError } from '@ancillary/fhir-store';
import { metricsRegistry } from '@ancillary/observability';
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import { DispenseWriter } from './dispense.writer';
import { ImagingReportWriter } from './imaging-report.writer';
import { OrderStatusWriter } from './order-status.writer';
import { observeOrderToResult } from './order-to-result.metric';

let db: ScratchDatabase;
let store: FhirStore;
const captured = captureLogger('ehr-writer-handlers', 'debug');

beforeAll(async () => {
  db = await createScratchDatabase();
  store = new FhirStore(db.pool(4), { logger: captured.logger });
  await store.migrate();
});

afterAll(async () => {
  await db.drop();
});

const AUTHORED = Date.parse('2026-03-05T08:00:00.000Z');
const patient = (mrn: string) => ({
  identifiers: [{ value: mrn, system: 'urn:hospital:mrn', type: 'MR' }],
  familyName: 'Testperson',
  givenNames: ['Kim'],
  birthDate: '1980-01-01',
  administrativeSex: 'U',
});

async function order(type: 'ServiceRequest' | 'MedicationRequest', id: string, placer: string) {
  await store.save(
    {
      resourceType: type,
      id,
      identifier: [{ system: DEFAULT_PLACER_ORDER_SYSTEM, value: placer }],
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/ehr' },
      authoredOn: new Date(AUTHORED).toISOString(),
    } as never,
    { source: 'urn:ancillary:fhir-api' },
  );
}

/** Count and sum of order_to_result_seconds for one ancillary and kind. */
async function observed(ancillary: string, kind: string): Promise<{ count: number; sum: number }> {
  const metric = await metricsRegistry().getSingleMetric('order_to_result_seconds')?.get();
  const value = (suffix: string) =>
    metric?.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === `order_to_result_seconds_${suffix}` &&
        v.labels['ancillary'] === ancillary &&
        v.labels['kind'] === kind,
    )?.value ?? 0;
  return { count: value('count'), sum: value('sum') };
}

function imaging(overrides: Partial<ImagingReport> = {}): ImagingReport {
  return {
    eventId: 'h-img-1',
    sourceSystem: 'ris-handlers',
    messageControlId: 'H-IMG-1',
    orderIndex: 0,
    envelopeId: null,
    receivedAt: AUTHORED + 1_800_000,
    patient: patient('MRN-H1'),
    placerOrderNumber: 'PLC-H1',
    fillerOrderNumber: 'RAD-H1',
    accessionNumber: null,
    studyInstanceUid: null,
    procedure: { system: null, code: '70450', display: 'CT head without contrast' },
    localProcedure: null,
    modality: 'CT',
    priority: 'stat',
    status: 'FINAL',
    highPriority: true,
    effectiveAt: null,
    issuedAt: null,
    reportText: 'No acute intracranial abnormality.',
    findings: null,
    impression: 'No acute intracranial abnormality.',
    interpreter: null,
    visit: null,
    ...overrides,
  };
}

describe('ImagingReportWriter', () => {
  it('writes the report and observes order-to-result once, for the first final report', async () => {
    await order('ServiceRequest', 'sr-h1', 'PLC-H1');
    const handler = new ImagingReportWriter(store, captured.logger);
    const before = await observed('ris-handlers', 'imaging');
    await handler.onImagingReport(imaging());
    const after = await observed('ris-handlers', 'imaging');
    expect(after.count - before.count).toBe(1);
    // authoredOn → the write (now, long after the synthetic order time).
    expect(after.sum - before.sum).toBeGreaterThan(1_800);
    expect((await store.read('ServiceRequest', 'sr-h1'))?.resource['status']).toBe('completed');

    await handler.onImagingReport(imaging()); // redelivery
    await handler.onImagingReport(
      imaging({
        eventId: 'h-img-2',
        messageControlId: 'H-IMG-2',
        status: 'CORRECTED',
        receivedAt: AUTHORED + 3_600_000,
      }),
    );
    expect((await observed('ris-handlers', 'imaging')).count).toBe(after.count);
    const line = captured
      .lines()
      .find((l) => l['msg'] === 'imaging report written' && l['eventId'] === 'h-img-1');
    expect(line).toMatchObject({ outcome: 'CREATED', order: 'ServiceRequest/sr-h1' });
    expect(line?.['orderToResultSeconds']).toEqual(expect.any(Number));
  });
});

describe('DispenseWriter', () => {
  it('writes the dispense and observes the first completed dispense of the order', async () => {
    await order('MedicationRequest', 'mr-h2', 'PLC-H2');
    const handler = new DispenseWriter(store, captured.logger);
    const event: MedicationDispensed = {
      eventId: 'h-rx-1',
      sourceSystem: 'rx-handlers',
      messageControlId: null,
      envelopeId: null,
      receivedAt: AUTHORED + 600_000,
      dispenseId: 'H2-1',
      patient: patient('MRN-H2'),
      placerOrderNumber: 'PLC-H2',
      fillerOrderNumber: null,
      ndc: { system: null, code: '00000-2222-01', display: null },
      rxnorm: null,
      localCode: null,
      quantityValue: 30,
      quantityUnit: null,
      daysSupply: 30,
      dispenser: null,
      dispensedAt: AUTHORED + 500_000,
      status: 'COMPLETED',
      notes: [],
      visit: null,
    };
    const before = await observed('rx-handlers', 'pharmacy');
    await handler.onDispense(event);
    await handler.onDispense({ ...event, eventId: 'h-rx-2', dispenseId: 'H2-2' }); // a refill
    expect((await observed('rx-handlers', 'pharmacy')).count - before.count).toBe(1);
    expect(
      captured.lines().find((l) => l['msg'] === 'dispense written' && l['eventId'] === 'h-rx-1'),
    ).toMatchObject({ outcome: 'CREATED', order: 'MedicationRequest/mr-h2' });
  });
});

describe('OrderStatusWriter', () => {
  const status = (overrides: Partial<OrderStatusChanged>): OrderStatusChanged => ({
    eventId: 'h-st-1',
    sourceSystem: 'lis-handlers',
    status: 'ACCEPTED',
    placerOrderNumber: 'PLC-H3',
    fillerOrderNumber: 'F-H3',
    orderEventId: null,
    orderResourceType: null,
    orderResourceId: null,
    patientIdentifier: 'MRN-H3',
    ackCode: 'AA',
    reason: null,
    messageControlId: 'OUR-1',
    occurredAt: AUTHORED,
    ...overrides,
  });

  it('applies the status and logs it without the reason text', async () => {
    await order('ServiceRequest', 'sr-h3', 'PLC-H3');
    const handler = new OrderStatusWriter(store, captured.logger);
    await handler.onOrderStatus(
      status({ status: 'REJECTED', ackCode: 'AR', reason: 'Patient Kim unknown' }),
    );
    expect((await store.read('ServiceRequest', 'sr-h3'))?.resource['status']).toBe('revoked');
    const line = captured
      .lines()
      .find((l) => l['msg'] === 'order status applied' && l['eventId'] === 'h-st-1');
    expect(line).toMatchObject({
      orderStatus: 'REJECTED',
      ackCode: 'AR',
      order: 'ServiceRequest/sr-h3',
      fhirStatus: 'revoked',
      outcome: 'UPDATED',
    });
    expect(JSON.stringify(line)).not.toContain('Kim');
  });

  it('lets an unknown order fail as permanent, for the dead-letter topic', async () => {
    const handler = new OrderStatusWriter(store, captured.logger);
    await expect(
      handler.onOrderStatus(status({ eventId: 'h-st-2', placerOrderNumber: 'PLC-UNKNOWN' })),
    ).rejects.toBeInstanceOf(UnknownOrderError);
  });
});

describe('observeOrderToResult (the lab handler)', () => {
  it('observes the first final lab result of an EHR order, and not its replay', async () => {
    await order('ServiceRequest', 'sr-h4', 'PLC-H4');
    const result: LabResult = {
      eventId: 'h-lab-1',
      sourceSystem: 'lis-handlers',
      messageControlId: 'H-LAB-1',
      orderIndex: 0,
      envelopeId: null,
      receivedAt: AUTHORED + 900_000,
      patient: patient('MRN-H4'),
      order: {
        placerOrderNumber: 'PLC-H4',
        fillerOrderNumber: 'FIL-H4',
        code: { system: 'http://loinc.org', code: '2345-7', display: null },
        localCode: null,
        priority: 'routine',
        orderingProvider: null,
      },
      specimen: null,
      status: 'FINAL',
      highPriority: false,
      effectiveAt: null,
      issuedAt: null,
      observations: [],
      notes: [],
      visit: null,
    };
    const before = await observed('lis-handlers', 'lab');
    const receipt = await store.writeLabResult(result);
    const seconds = observeOrderToResult('lab', result.sourceSystem, receipt);
    expect(seconds).toBeGreaterThan(900);
    const replay = await store.writeLabResult(result);
    expect(observeOrderToResult('lab', result.sourceSystem, replay)).toBeUndefined();
    const after = await observed('lis-handlers', 'lab');
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBeCloseTo(seconds!, 3);
  });
});
