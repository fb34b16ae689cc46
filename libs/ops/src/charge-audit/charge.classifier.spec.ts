import type { DeadLetterRecord } from '../dead-letter.record';
import { buildReport, DEFAULT_CHARGE_AUDIT_TOPICS } from './charge-audit';
import {
  chargeDeadLetterOf,
  ChargeDeadLetterIndex,
  type DeadLetterSubject,
} from './charge-dead-letters';
import {
  ChargeIndex,
  classifyCharge,
  classifyWork,
  formatAge,
  type WorkLookup,
} from './charge.classifier';
import {
  chargeRecord,
  medicationDispenseRecord,
  serviceRequestRecord,
  type ChargeRecord,
  type WorkRecord,
} from './charge-records';

const PLACER_SYSTEM = 'urn:ancillary:placer-order';
const NOW = new Date('2026-12-04T12:00:00Z');
const OPTIONS = { now: NOW, pendingGraceMs: 15 * 60_000 };

function order(placer: string | undefined, status = 'completed', filler?: string): WorkRecord {
  return serviceRequestRecord(
    `sr-${placer ?? filler}`,
    {
      resourceType: 'ServiceRequest',
      status,
      identifier: [
        ...(placer ? [{ system: PLACER_SYSTEM, value: placer }] : []),
        ...(filler ? [{ system: 'urn:ancillary:filler-order:LIS-MAIN', value: filler }] : []),
      ],
      subject: { reference: 'Patient/p1' },
    },
    PLACER_SYSTEM,
    new Date('2026-12-04T10:00:00Z'),
  );
}

function dispense(id: string, status = 'completed'): WorkRecord {
  return medicationDispenseRecord(`md-${id}`, {
    resourceType: 'MedicationDispense',
    status,
    identifier: [{ system: 'urn:ancillary:PHARM:dispense', value: id }],
    whenHandedOver: '2026-12-04T10:30:00Z',
  });
}

let seq = 0;
function charge(
  status: string,
  opts: { placer?: string; key?: string; eventId?: string; entered?: string; occurrence?: string },
): ChargeRecord {
  seq++;
  return chargeRecord(
    `ci-${seq}`,
    {
      resourceType: 'ChargeItem',
      status,
      identifier: [
        { system: 'urn:ancillary:billing:charge-event', value: opts.eventId ?? `ev-${seq}` },
        { system: 'urn:ancillary:billing:transaction', value: `T${seq}` },
        { system: 'urn:ancillary:billing:charge-key', value: opts.key ?? `FIL${seq}|3000|x` },
      ],
      code: { coding: [{ system: 'urn:ancillary:charge-master', code: '30000101' }] },
      occurrenceDateTime: opts.occurrence ?? '2026-12-04T09:00:00Z',
      enteredDate: opts.entered ?? '2026-12-04T10:01:00Z',
      ...(opts.placer
        ? {
            supportingInformation: [
              {
                reference: 'ServiceRequest/x',
                identifier: { system: PLACER_SYSTEM, value: opts.placer },
              },
            ],
          }
        : {}),
    },
    new Date('2026-12-04T10:02:00Z'),
  );
}

function deadLetter(
  kind: 'completion' | 'charge',
  subject: DeadLetterSubject | undefined,
  message: string,
  offset = '0',
): ReturnType<typeof chargeDeadLetterOf> {
  const record: DeadLetterRecord = {
    topic: kind === 'charge' ? 'billing.charges.v1.dlt' : 'clinical.results.v1.dlt',
    partition: 0,
    offset,
    timestamp: new Date('2026-12-04T10:05:00Z'),
    key: null,
    value: null,
    headers: {},
    service: 'billing-trigger',
    errorCode: kind === 'charge' ? 'charge-rejected' : 'PERMANENT',
    errorMessage: message,
    replayCount: 0,
  };
  return chargeDeadLetterOf(kind, record, subject);
}

function dlts(...entries: ReturnType<typeof chargeDeadLetterOf>[]): ChargeDeadLetterIndex {
  const index = new ChargeDeadLetterIndex();
  for (const e of entries) index.add(e);
  return index;
}

describe('charge records', () => {
  it('reads the ChargeItem contract: identifiers, code, dates, placer number', () => {
    const c = charge('billed', { placer: 'ORD1', key: 'FIL1|30000101|2026-12-04', eventId: 'e1' });
    expect(c).toMatchObject({
      status: 'billed',
      chargeEventId: 'e1',
      chargeKey: 'FIL1|30000101|2026-12-04',
      chargeCode: '30000101',
      placerOrderNumbers: ['ORD1'],
      occurrence: new Date('2026-12-04T09:00:00Z'),
      enteredDate: new Date('2026-12-04T10:01:00Z'),
    });
  });

  it('reads placer and filler numbers of an order, and the dispense id', () => {
    expect(order('ORD1', 'completed', 'FIL1')).toMatchObject({
      placerOrderNumber: 'ORD1',
      fillerOrderNumbers: ['FIL1'],
      subject: 'Patient/p1',
    });
    expect(dispense('D1')).toMatchObject({
      dispenseId: 'D1',
      completedAt: new Date('2026-12-04T10:30:00Z'),
    });
  });

  it('survives resources of odd shape', () => {
    const c = chargeRecord('odd', { status: 5, identifier: 'x', supportingInformation: [1] }, NOW);
    expect(c).toEqual({ id: 'odd', status: 'unknown', placerOrderNumbers: [], lastUpdated: NOW });
  });
});

describe('classifyWork', () => {
  it('OK when every standing charge is billed; a reversed one beside it does not matter', () => {
    const index = new ChargeIndex([
      charge('billed', { placer: 'ORD-OK' }),
      charge('entered-in-error', { placer: 'ORD-OK' }),
    ]);
    const audited = classifyWork(order('ORD-OK'), index, dlts(), OPTIONS);
    expect(audited.category).toBe('OK');
    expect(audited.charges).toHaveLength(2);
  });

  it('PENDING within the grace period, PENDING_OVERDUE past it', () => {
    const fresh = new ChargeIndex([
      charge('billable', { placer: 'ORD-P', entered: '2026-12-04T11:50:00Z' }),
    ]);
    expect(classifyWork(order('ORD-P'), fresh, dlts(), OPTIONS)).toMatchObject({
      category: 'PENDING',
      detail: expect.stringMatching(/billable for 10m 00s$/) as unknown,
    });
    const stale = new ChargeIndex([
      charge('billable', { placer: 'ORD-P', entered: '2026-12-04T10:00:00Z' }),
    ]);
    expect(classifyWork(order('ORD-P'), stale, dlts(), OPTIONS)).toMatchObject({
      category: 'PENDING_OVERDUE',
      detail: expect.stringContaining('2h 00m, not billed within the grace period') as unknown,
    });
  });

  it('DEAD_LETTERED with the billing engine ERR text when the charge was rejected', () => {
    const index = new ChargeIndex([charge('aborted', { placer: 'ORD-AR', eventId: 'ev-ar' })]);
    const dead = dlts(
      deadLetter(
        'charge',
        { chargeEventId: 'ev-ar', placerOrderNumber: 'ORD-AR', action: 'CHARGE' },
        'billing engine rejected transaction T1 (AR): unknown account',
        '7',
      ),
    );
    const audited = classifyWork(order('ORD-AR'), index, dead, OPTIONS);
    expect(audited.category).toBe('DEAD_LETTERED');
    expect(audited.detail).toBe(
      'billing.charges.v1.dlt/0/7: charge-rejected: billing engine rejected transaction T1 (AR): unknown account',
    );
  });

  it('MISSING when a rejected charge is in no dead-letter topic', () => {
    const index = new ChargeIndex([charge('aborted', { placer: 'ORD-AB', eventId: 'ev-ab' })]);
    expect(classifyWork(order('ORD-AB'), index, dlts(), OPTIONS)).toMatchObject({
      category: 'MISSING',
      detail: expect.stringContaining('is in no dead-letter topic') as unknown,
    });
  });

  it('DEAD_LETTERED when no charge exists but billing-trigger dead-lettered the completion', () => {
    const dead = dlts(
      deadLetter(
        'completion',
        { placerOrderNumber: 'ORD-NC', fillerOrderNumber: 'F' },
        'no charge defined for LOINC 9999-9',
      ),
    );
    expect(classifyWork(order('ORD-NC'), new ChargeIndex(), dead, OPTIONS)).toMatchObject({
      category: 'DEAD_LETTERED',
      detail: 'clinical.results.v1.dlt/0/0: PERMANENT: no charge defined for LOINC 9999-9',
    });
  });

  it('MISSING with no charge and no dead letter; a dead letter of other work does not count', () => {
    const dead = dlts(deadLetter('completion', { placerOrderNumber: 'OTHER' }, 'x'));
    expect(classifyWork(order('ORD-M'), new ChargeIndex(), dead, OPTIONS)).toMatchObject({
      category: 'MISSING',
      detail: 'no ChargeItem for placer ORD-M and no billing dead letter',
    });
  });

  it('REVERSED when the only charge was credited but the work is still completed', () => {
    const index = new ChargeIndex([charge('entered-in-error', { placer: 'ORD-R' })]);
    expect(classifyWork(order('ORD-R'), index, dlts(), OPTIONS)).toMatchObject({
      category: 'REVERSED',
      detail: expect.stringContaining('is still completed') as unknown,
    });
  });

  it('the worst charge of several decides', () => {
    const index = new ChargeIndex([
      charge('billed', { placer: 'ORD-W' }),
      charge('billable', { placer: 'ORD-W', entered: '2026-12-04T08:00:00Z' }),
    ]);
    expect(classifyWork(order('ORD-W'), index, dlts(), OPTIONS).category).toBe('PENDING_OVERDUE');
  });

  it('matches a dispense by its charge key, not by the MedicationRequest placer number', () => {
    const index = new ChargeIndex([charge('billed', { placer: 'RX-1', key: 'dispense:D1' })]);
    expect(classifyWork(dispense('D1'), index, dlts(), OPTIONS).category).toBe('OK');
    // The prescription's placer number names no completed order.
    expect(classifyWork(order('RX-1'), index, dlts(), OPTIONS).category).toBe('MISSING');
    const dead = dlts(
      deadLetter(
        'completion',
        { dispenseId: 'D2', placerOrderNumber: 'RX-2' },
        'no charge for NDC',
      ),
    );
    expect(classifyWork(dispense('D2'), index, dead, OPTIONS).category).toBe('DEAD_LETTERED');
  });

  it('an order without a placer number is matched by the filler number of the charge key', () => {
    const index = new ChargeIndex([charge('billed', { key: 'FIL-9|30000101|2026-12-04' })]);
    expect(
      classifyWork(order(undefined, 'completed', 'FIL-9'), index, dlts(), OPTIONS).category,
    ).toBe('OK');
  });

  it('a failed CREDIT is not the dead letter of the work', () => {
    const dead = dlts(
      deadLetter(
        'charge',
        { placerOrderNumber: 'ORD-C', action: 'CREDIT', chargeEventId: 'cr' },
        'x',
      ),
    );
    expect(classifyWork(order('ORD-C'), new ChargeIndex(), dead, OPTIONS).category).toBe('MISSING');
  });

  it('an undecodable dead letter is counted and matches nothing', () => {
    const dead = dlts(deadLetter('completion', undefined, 'garbage'));
    expect(dead.size).toBe(1);
    expect(dead.undecodable).toBe(1);
    expect(classifyWork(order('ORD-U'), new ChargeIndex(), dead, OPTIONS).category).toBe('MISSING');
  });
});

describe('classifyCharge', () => {
  const completed = order('ORD-1');
  const revoked = order('ORD-2', 'revoked');
  const returned = dispense('D9', 'entered-in-error');
  const lookup: WorkLookup = {
    byPlacer: (p) => [completed, revoked].filter((w) => w.placerOrderNumber === p),
    byFiller: () => [],
    byDispenseId: (d) => (d === 'D9' ? [returned] : []),
  };

  it('passes a charge whose order is completed; ignores reversed and rejected charges', () => {
    expect(classifyCharge(charge('billed', { placer: 'ORD-1' }), lookup)).toBeUndefined();
    expect(classifyCharge(charge('entered-in-error', { placer: 'ORD-2' }), lookup)).toBeUndefined();
    expect(classifyCharge(charge('aborted', { placer: 'ORD-X' }), lookup)).toBeUndefined();
  });

  it('CHARGE_WITHOUT_WORK for a cancelled order, a returned dispense, an unknown order', () => {
    expect(classifyCharge(charge('billed', { placer: 'ORD-2' }), lookup)).toMatchObject({
      category: 'CHARGE_WITHOUT_WORK',
      detail: expect.stringContaining(
        'but ServiceRequest/sr-ORD-2 is revoked (not reversed)',
      ) as unknown,
    });
    expect(classifyCharge(charge('billable', { key: 'dispense:D9' }), lookup)).toMatchObject({
      detail: expect.stringContaining('MedicationDispense/md-D9 is entered-in-error') as unknown,
    });
    expect(classifyCharge(charge('billed', { placer: 'ORD-404' }), lookup)).toMatchObject({
      detail: expect.stringContaining(
        'no ServiceRequest with placer number ORD-404 in the chart',
      ) as unknown,
    });
  });
});

describe('buildReport', () => {
  it('counts every category, lists discrepancies and pending charges, ok only without discrepancies', () => {
    const index = new ChargeIndex([
      charge('billed', { placer: 'A' }),
      charge('billable', { placer: 'B', entered: '2026-12-04T11:59:00Z' }),
    ]);
    const audited = ['A', 'B', 'C'].map((p) => classifyWork(order(p), index, dlts(), OPTIONS));
    const report = buildReport({
      topics: DEFAULT_CHARGE_AUDIT_TOPICS,
      since: new Date('2026-12-04T00:00:00Z'),
      until: NOW,
      startedAt: NOW,
      pendingGraceMs: OPTIONS.pendingGraceMs,
      orders: 3,
      dispenses: 0,
      chargesChecked: 2,
      audited,
      unworked: [],
      deadLetters: dlts(),
    });
    expect(report.counts).toEqual({
      OK: 1,
      PENDING: 1,
      PENDING_OVERDUE: 0,
      DEAD_LETTERED: 0,
      REVERSED: 0,
      MISSING: 1,
      CHARGE_WITHOUT_WORK: 0,
    });
    expect(report.discrepancies.map((d) => [d.category, d.reference, d.label])).toEqual([
      ['MISSING', 'ServiceRequest/sr-C', 'placer C'],
    ]);
    expect(report.pending.map((p) => p.label)).toEqual(['placer B']);
    expect(report.ok).toBe(false);
  });

  it('formats ages', () => {
    expect(formatAge(45_000)).toBe('45s');
    expect(formatAge(750_000)).toBe('12m 30s');
    expect(formatAge(3_900_000)).toBe('1h 05m');
  });
});
