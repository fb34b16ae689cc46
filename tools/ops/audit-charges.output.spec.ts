import { DEFAULT_CHARGE_AUDIT_TOPICS, type ChargeAuditReport } from '@ancillary/ops';
import { UsageError } from '../common/tool-bootstrap';
import { formatDuration, parseDuration } from './audit-charges.args';
import { formatReport } from './audit-charges.output';

function report(overrides: Partial<ChargeAuditReport> = {}): ChargeAuditReport {
  return {
    topics: DEFAULT_CHARGE_AUDIT_TOPICS,
    since: new Date('2026-12-04T00:00:00Z'),
    until: new Date('2026-12-05T00:00:00Z'),
    startedAt: new Date('2026-12-05T01:00:00Z'),
    durationMs: 900,
    pendingGraceMs: 900_000,
    serviceRequests: 3,
    dispenses: 1,
    chargesChecked: 3,
    counts: {
      OK: 2,
      PENDING: 1,
      PENDING_OVERDUE: 0,
      DEAD_LETTERED: 1,
      REVERSED: 0,
      MISSING: 0,
      CHARGE_WITHOUT_WORK: 0,
    },
    discrepancies: [
      {
        category: 'DEAD_LETTERED',
        reference: 'ServiceRequest/sr-1',
        label: 'placer ORD1',
        at: new Date('2026-12-04T10:00:00Z'),
        chargeItems: [],
        deadLetter: 'clinical.results.v1.dlt/0/3',
        detail: 'clinical.results.v1.dlt/0/3: PERMANENT: no charge defined for LOINC 9999-9',
      },
    ],
    pending: [
      {
        category: 'PENDING',
        reference: 'MedicationDispense/md-1',
        label: 'dispense D1',
        at: new Date('2026-12-04T23:55:00Z'),
        chargeItems: ['ChargeItem/ci-1'],
        detail: 'ChargeItem/ci-1 (30000101) billable for 5m 00s',
      },
    ],
    deadLettersRead: 2,
    deadLettersUndecodable: 0,
    ok: false,
    ...overrides,
  };
}

describe('formatReport', () => {
  it('prints the counts, the pending list, the discrepancy table and the summary line', () => {
    const text = formatReport(report());
    expect(text).toContain(
      'Charge audit 2026-12-04T00:00:00.000Z to 2026-12-05T00:00:00.000Z: 3 completed order(s), 1 completed dispense(s), 3 charge(s) dated in the window; pending grace 15m',
    );
    expect(text).toMatch(/DEAD_LETTERED\s+1\s+yes\n/);
    expect(text).toMatch(/PENDING \(within the grace period\)\s+1\s+no\n/);
    expect(text).toMatch(
      /Discrepancies \(1\):\n.*\n.*\nDEAD_LETTERED\s+ServiceRequest\/sr-1\s+placer ORD1\s+2026-12-04T10:00:00.000Z\s+clinical.results.v1.dlt\/0\/3: PERMANENT: no charge defined for LOINC 9999-9/,
    );
    expect(text).toMatch(
      /Pending, within the grace period \(1, informational\):\n.*\n.*\nPENDING\s+MedicationDispense\/md-1/,
    );
    expect(text).toContain(
      'Summary: OK 2, PENDING 1, PENDING_OVERDUE 0, DEAD_LETTERED 1, REVERSED 0, MISSING 0, CHARGE_WITHOUT_WORK 0',
    );
    expect(
      text.endsWith('Result: 1 discrepancy(ies): revenue not captured or charged without work.'),
    ).toBe(true);
  });

  it('says so when there is nothing to act on', () => {
    const text = formatReport(report({ discrepancies: [], pending: [], ok: true }));
    expect(text).not.toContain('Discrepancies (');
    expect(
      text.endsWith(
        'Result: every completed item has its charge and every charge has its completed work.',
      ),
    ).toBe(true);
  });
});

describe('durations', () => {
  it('parses s, m, h and bare minutes; refuses anything else', () => {
    expect(parseDuration('pending-grace', '900s')).toBe(900_000);
    expect(parseDuration('pending-grace', '15')).toBe(900_000);
    expect(parseDuration('pending-grace', '1.5h')).toBe(5_400_000);
    expect(() => parseDuration('pending-grace', 'soon')).toThrow(UsageError);
    expect(() => parseDuration('pending-grace', '-5m')).toThrow(/is not a duration/);
  });

  it('formats in the largest whole unit', () => {
    expect(formatDuration(900_000)).toBe('15m');
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(45_000)).toBe('45s');
  });
});
