import type { ReplayPlan, ReplayReport } from '@ancillary/ops';
import { formatPlan, formatProgress, formatSummary } from './replay.output';

const plan: ReplayPlan = {
  deadLetterTopic: 'lab.hl7-inbound.v1.dlt',
  targetTopic: 'lab.hl7-inbound.v1',
  groupId: 'ops.replay.lab.hl7-inbound.v1.dlt',
  partitions: [{ partition: 0, from: '12', to: '40' }],
  toReplay: 25,
  alreadyReplayed: 2,
  skippedByFilter: 1,
  invalid: [],
  byErrorCode: { HL7_PARSE: 5, UNMAPPED_CODE: 20 },
  firstDeadLetteredAt: new Date('2026-11-26T08:00:00Z'),
  lastDeadLetteredAt: new Date('2026-11-26T09:00:00Z'),
};

describe('replay output', () => {
  it('shows the plan: where from, where to, how many, why', () => {
    const text = formatPlan(plan);
    expect(text).toContain(
      'from        lab.hl7-inbound.v1.dlt  (group ops.replay.lab.hl7-inbound.v1.dlt)',
    );
    expect(text).toContain('to          lab.hl7-inbound.v1');
    expect(text).toContain('offsets     p0 12..39');
    expect(text).toContain(
      'replay      25 record(s), dead-lettered 2026-11-26T08:00:00.000Z to 2026-11-26T09:00:00.000Z',
    );
    expect(text).toContain('by error    UNMAPPED_CODE 20, HL7_PARSE 5');
    expect(text).toContain('skip        2 already replayed, 1 not matching the filter');
  });

  it('reports progress and the summary with the failures', () => {
    expect(
      formatProgress({
        examined: 40,
        replayed: 30,
        planned: 50,
        elapsedMs: 2000,
        ratePerSecond: 15,
      }),
    ).toBe('replayed 30/50 (examined 40, 15.0 records/s)');
    const report: ReplayReport = {
      deadLetterTopic: plan.deadLetterTopic,
      targetTopic: plan.targetTopic,
      groupId: plan.groupId,
      dryRun: false,
      stopReason: 'completed',
      examined: 4,
      replayed: 3,
      wouldReplay: 0,
      alreadyReplayed: 0,
      skippedByFilter: 0,
      failed: 1,
      failures: [{ partition: 0, offset: '9', code: 'NO_ORIGINAL_TOPIC', reason: 'no header' }],
      expiredUnreplayed: 0,
      durationMs: 1500,
    };
    const text = formatSummary(report);
    expect(text).toContain(
      'Replay of lab.hl7-inbound.v1.dlt -> lab.hl7-inbound.v1: read to the end offsets captured at start (1.5 s)',
    );
    expect(text).toMatch(/replayed\s+3\n/);
    expect(text).toMatch(/failed\s+1/);
    expect(text).toMatch(/Failed:\n.*\n.*\n\s*0\s+9\s+NO_ORIGINAL_TOPIC\s+no header/);
  });
});
