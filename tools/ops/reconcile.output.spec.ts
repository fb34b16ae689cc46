import type { AuditedMessage, ReconcileReport } from '@ancillary/ops';
import { formatReport } from './reconcile.output';

function audited(controlId: string, detail: string, cls: AuditedMessage['class']): AuditedMessage {
  return {
    partition: 1,
    offset: '42',
    timestamp: new Date('2026-11-26T08:00:01Z'),
    receivedAt: new Date('2026-11-26T08:00:00Z'),
    sourceSystem: 'LIS-MAIN',
    messageControlId: controlId,
    messageType: 'ORU^R01',
    class: cls,
    orders: [],
    deadLetters:
      cls === 'dead-lettered'
        ? [{ topic: 'lab.hl7-inbound.v1.dlt', partition: 0, offset: '7', timestamp: new Date() }]
        : [],
    detail,
  };
}

function report(overrides: Partial<ReconcileReport> = {}): ReconcileReport {
  return {
    topics: {
      inbound: 'lab.hl7-inbound.v1',
      inboundDeadLetters: 'lab.hl7-inbound.v1.dlt',
      resultsDeadLetters: 'clinical.results.v1.dlt',
    },
    since: new Date('2026-11-26T00:00:00Z'),
    until: new Date('2026-11-27T00:00:00Z'),
    startedAt: new Date('2026-11-27T01:00:00Z'),
    durationMs: 1200,
    recordsRead: 10,
    messagesInWindow: 10,
    examined: 10,
    counts: { 'in-chart': 7, replayed: 0, 'dead-lettered': 1, 'not-a-result': 1, missing: 1 },
    notAResultByType: { 'ADT^A08': 1 },
    missing: [audited('LOST-1', 'order 0 (event e-1): no ledger row', 'missing')],
    deadLettered: [
      audited('DLT-1', 'lab.hl7-inbound.v1.dlt: UNMAPPED_CODE: GLU-X', 'dead-lettered'),
    ],
    replayed: [],
    replayRecords: 0,
    duplicates: [],
    duplicatesTotal: 0,
    ledgerRowsWithoutMessage: [],
    ledgerRowsWithoutMessageTotal: 0,
    deadLettersIndexed: 1,
    ok: false,
    ...overrides,
  };
}

describe('formatReport', () => {
  it('prints the counts, the dead letters with their reason and the discrepancy table', () => {
    const text = formatReport(report());
    expect(text).toContain(
      'Reconcile of lab.hl7-inbound.v1, 2026-11-26T00:00:00.000Z to 2026-11-27T00:00:00.000Z: all 10 message(s)',
    );
    expect(text).toMatch(/in chart\s+7\n/);
    expect(text).toMatch(/MISSING\s+1\n/);
    expect(text).toContain('not a result by type: ADT^A08 1');
    expect(text).toMatch(
      /DLT-1\s+LIS-MAIN\s+1\/42\s+2026-11-26T08:00:00.000Z\s+lab.hl7-inbound.v1.dlt\/0\/7\s+lab.hl7-inbound.v1.dlt: UNMAPPED_CODE: GLU-X/,
    );
    expect(text).toMatch(
      /MISSING \(1\):\n.*\n.*\nLOST-1\s+LIS-MAIN\s+1\/42\s+2026-11-26T08:00:00.000Z\s+order 0 \(event e-1\): no ledger row/,
    );
    expect(
      text.endsWith(
        'Result: 1 message(s) MISSING: neither in the chart nor in a dead-letter topic.',
      ),
    ).toBe(true);
  });

  it('says so when everything is accounted for, and describes a sample', () => {
    const text = formatReport(
      report({
        sample: 3,
        examined: 3,
        counts: { 'in-chart': 3, replayed: 0, 'dead-lettered': 0, 'not-a-result': 0, missing: 0 },
        missing: [],
        deadLettered: [],
        ok: true,
      }),
    );
    expect(text).toContain('a random sample of 3 of 10 message(s)');
    expect(text).not.toContain('MISSING (');
    expect(
      text.endsWith(
        'Result: every message is accounted for (in the chart or dead-lettered with its reason).',
      ),
    ).toBe(true);
  });
});
