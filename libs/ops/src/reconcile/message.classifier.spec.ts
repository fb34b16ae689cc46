import { DeadLetterHeaders, labResultEventId, MessageHeaders } from '@ancillary/contracts';
import { readDeadLetter, type DeadLetterRecord } from '../dead-letter.record';
import { reportKey, type ChartLookup, type LedgerRow } from './chart.ledger';
import { DeadLetterIndex } from './dead-letter.index';
import type { InboundMessage } from './inbound-message';
import { classifyMessage } from './message.classifier';

const INBOUND = 'lab.hl7-inbound.v1';
const SOURCE = 'LIS-MAIN';

function message(controlId: string, orders: number, offset = '10'): InboundMessage {
  return {
    partition: 2,
    offset,
    timestamp: new Date('2026-11-26T08:00:00Z'),
    sourceSystem: SOURCE,
    messageControlId: controlId,
    messageType: 'ORU^R01',
    receivedAt: new Date('2026-11-26T08:00:00Z'),
    expectedEventIds: Array.from({ length: orders }, (_v, i) =>
      labResultEventId(SOURCE, controlId, i, `digest-${controlId}`),
    ),
  };
}

/** A chart holding `versions` of each event's report (the ledger names version 1 unless told). */
function chart(
  entries: { eventId: string; version?: number; inHistory?: boolean; reportId?: string | null }[],
): ChartLookup {
  const ledger = new Map<string, LedgerRow>();
  const reports = new Set<string>();
  for (const e of entries) {
    const reportId = e.reportId === undefined ? `dr-${e.eventId.slice(0, 8)}` : e.reportId;
    ledger.set(e.eventId, {
      eventId: e.eventId,
      orderIndex: 0,
      reportId,
      reportVersion: reportId === null ? null : (e.version ?? 1),
      outcome: 'applied',
    });
    if (reportId !== null && e.inHistory !== false)
      reports.add(reportKey(reportId, e.version ?? 1));
  }
  return { ledger, reports };
}

function deadLetter(
  topic: string,
  headers: Record<string, string>,
  offset = '0',
  at = '2026-11-26T08:01:00Z',
): DeadLetterRecord {
  return readDeadLetter(topic, 0, {
    key: null,
    value: null,
    timestamp: String(Date.parse(at)),
    attributes: 0,
    offset,
    headers,
  });
}

function inboundDeadLetter(controlId: string, reason: string, offset = '0', at?: string) {
  return deadLetter(
    `${INBOUND}.dlt`,
    {
      [MessageHeaders.sourceSystem]: SOURCE,
      [MessageHeaders.messageControlId]: controlId,
      [DeadLetterHeaders.originalTopic]: INBOUND,
      [DeadLetterHeaders.originalPartition]: '2',
      [DeadLetterHeaders.originalOffset]: '10',
      [DeadLetterHeaders.errorCode]: 'UNMAPPED_CODE',
      [DeadLetterHeaders.errorMessage]: reason,
    },
    offset,
    at,
  );
}

describe('classifyMessage', () => {
  it('in chart: every order group has a ledger row and its report version', () => {
    const m = message('C1', 2);
    const result = classifyMessage(
      m,
      INBOUND,
      chart(m.expectedEventIds!.map((eventId) => ({ eventId }))),
      new DeadLetterIndex(),
    );
    expect(result.class).toBe('in-chart');
    expect(result.orders.map((o) => o.state)).toEqual(['in-chart', 'in-chart']);
  });

  it('MISSING: names the order group without a ledger row', () => {
    const m = message('C2', 2);
    const result = classifyMessage(
      m,
      INBOUND,
      chart([{ eventId: m.expectedEventIds![0]! }]),
      new DeadLetterIndex(),
    );
    expect(result.class).toBe('missing');
    expect(result.detail).toBe(`order 1 (event ${m.expectedEventIds![1]}): no ledger row`);
  });

  it('MISSING: names the report version the history lacks', () => {
    const m = message('C3', 1);
    const eventId = m.expectedEventIds![0]!;
    const result = classifyMessage(
      m,
      INBOUND,
      chart([{ eventId, version: 2, inHistory: false, reportId: 'dr-1' }]),
      new DeadLetterIndex(),
    );
    expect(result.class).toBe('missing');
    expect(result.detail).toContain('DiagnosticReport/dr-1 version 2 not in resource_history');
    expect(result.orders[0]).toMatchObject({
      state: 'report-version-absent',
      reportId: 'dr-1',
      reportVersion: 2,
    });
  });

  it('MISSING: a ledger row that names no report', () => {
    const m = message('C3b', 1);
    const result = classifyMessage(
      m,
      INBOUND,
      chart([{ eventId: m.expectedEventIds![0]!, reportId: null }]),
      new DeadLetterIndex(),
    );
    expect(result.class).toBe('missing');
    expect(result.detail).toContain('names no DiagnosticReport');
  });

  it('dead-lettered: in the inbound dead-letter topic, with the latest reason', () => {
    const m = message('C4', 1);
    const index = new DeadLetterIndex();
    index.addInbound(inboundDeadLetter('C4', 'first failure', '0', '2026-11-26T08:01:00Z'));
    index.addInbound(
      inboundDeadLetter('C4', 'local code GLU-X unmapped', '5', '2026-11-26T09:00:00Z'),
    );
    const result = classifyMessage(m, INBOUND, chart([]), index);
    expect(result.class).toBe('dead-lettered');
    expect(result.detail).toBe(`${INBOUND}.dlt: UNMAPPED_CODE: local code GLU-X unmapped`);
    expect(result.deadLetters).toHaveLength(2);
  });

  it('dead-lettered: found by its record address when the headers lack the identity', () => {
    const m = message('C5', 1);
    const index = new DeadLetterIndex();
    index.addInbound(
      deadLetter(`${INBOUND}.dlt`, {
        [DeadLetterHeaders.originalTopic]: INBOUND,
        [DeadLetterHeaders.originalPartition]: '2',
        [DeadLetterHeaders.originalOffset]: '10',
        [DeadLetterHeaders.errorCode]: 'SCHEMA_VIOLATION',
        [DeadLetterHeaders.errorMessage]: 'not an envelope',
      }),
    );
    expect(classifyMessage(m, INBOUND, chart([]), index).class).toBe('dead-lettered');
    // Another record of the topic is not matched by that address.
    expect(classifyMessage(message('C5', 1, '11'), INBOUND, chart([]), index).class).toBe(
      'missing',
    );
  });

  it('dead-lettered: order groups not in the chart are in the results dead-letter topic', () => {
    const m = message('C6', 2);
    const [first, second] = m.expectedEventIds as [string, string];
    const index = new DeadLetterIndex();
    index.addResult(
      deadLetter('clinical.results.v1.dlt', {
        [MessageHeaders.sourceSystem]: SOURCE,
        [MessageHeaders.messageControlId]: 'C6',
        [DeadLetterHeaders.errorCode]: 'PATIENT_CONFLICT',
        [DeadLetterHeaders.errorMessage]: 'two patients match',
      }),
      { eventId: second, orderIndex: 1, sourceSystem: SOURCE, messageControlId: 'C6' },
    );
    const result = classifyMessage(m, INBOUND, chart([{ eventId: first }]), index);
    expect(result.class).toBe('dead-lettered');
    expect(result.detail).toBe('clinical.results.v1.dlt: PATIENT_CONFLICT: two patients match');
    expect(result.orders.map((o) => o.state)).toEqual(['in-chart', 'dead-lettered']);
  });

  it('replayed: dead-lettered once, in the chart now', () => {
    const m = message('C7', 1);
    const index = new DeadLetterIndex();
    index.addInbound(inboundDeadLetter('C7', 'unmapped'));
    const result = classifyMessage(
      m,
      INBOUND,
      chart([{ eventId: m.expectedEventIds![0]! }]),
      index,
    );
    expect(result.class).toBe('replayed');
    expect(result.detail).toBe(`in the chart after dead letter ${INBOUND}.dlt/0/0`);
  });

  it('not a result: any message type but ORU^R01', () => {
    const m: InboundMessage = { ...message('A1', 0), messageType: 'ADT^A08' };
    delete m.expectedEventIds;
    const result = classifyMessage(m, INBOUND, chart([]), new DeadLetterIndex());
    expect(result.class).toBe('not-a-result');
    expect(result.detail).toBe('ADT^A08');
  });

  it('MISSING: an unreadable message that is in no dead-letter topic', () => {
    const m: InboundMessage = { ...message('C8', 0), problem: 'the HL7 payload cannot be read' };
    delete m.expectedEventIds;
    const result = classifyMessage(m, INBOUND, chart([]), new DeadLetterIndex());
    expect(result.class).toBe('missing');
    expect(result.detail).toBe('the HL7 payload cannot be read, and it is in no dead-letter topic');
  });
});
