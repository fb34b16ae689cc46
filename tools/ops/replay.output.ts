/**
 * What the replay command prints: the plan, one row per dead letter, progress and the final
 * summary. Pure functions of the library's results, so that they are tested without a broker.
 * Rows never show keys or values (patient identifiers, results): only where a dead letter is,
 * its MSH-10, source system and reason.
 */
import type {
  DeadLetterRecord,
  ReplayFailure,
  ReplayPlan,
  ReplayProgress,
  ReplayReport,
} from '@ancillary/ops';
import { renderTable, type Cell } from '../common/text-table';

export const RECORD_HEADERS = [
  'partition',
  'offset',
  'dead-lettered at',
  'MSH-10',
  'source',
  'error code',
  'reason',
] as const;

export function recordRow(record: DeadLetterRecord): Cell[] {
  return [
    record.partition,
    record.offset,
    record.timestamp.toISOString(),
    record.messageControlId,
    record.sourceSystem,
    record.errorCode ?? record.errorClass,
    record.errorMessage,
  ];
}

export function formatRecords(records: readonly DeadLetterRecord[]): string {
  return renderTable(RECORD_HEADERS, records.map(recordRow), { alignRight: [0, 1] });
}

export function formatPlan(plan: ReplayPlan): string {
  const ranges = plan.partitions
    .map((p) =>
      p.from === p.to
        ? `p${p.partition} nothing new`
        : `p${p.partition} ${p.from}..${BigInt(p.to) - 1n}`,
    )
    .join(', ');
  const byCode = Object.entries(plan.byErrorCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const window =
    plan.firstDeadLetteredAt && plan.lastDeadLetteredAt
      ? `, dead-lettered ${plan.firstDeadLetteredAt.toISOString()} to ${plan.lastDeadLetteredAt.toISOString()}`
      : '';
  const lines = [
    'Replay plan',
    `  from        ${plan.deadLetterTopic}  (group ${plan.groupId})`,
    `  to          ${plan.targetTopic}`,
    `  offsets     ${ranges || '(no partitions)'}`,
    `  replay      ${plan.toReplay} record(s)${window}`,
  ];
  if (byCode) lines.push(`  by error    ${byCode}`);
  lines.push(
    `  skip        ${plan.alreadyReplayed} already replayed, ${plan.skippedByFilter} not matching the filter`,
  );
  if (plan.invalid.length > 0) {
    lines.push(`  cannot      ${plan.invalid.length} record(s) cannot be replayed (listed below)`);
    lines.push(formatFailures(plan.invalid));
  }
  return lines.join('\n');
}

export function formatProgress(progress: ReplayProgress): string {
  const of = progress.planned !== undefined ? `/${progress.planned}` : '';
  return `replayed ${progress.replayed}${of} (examined ${progress.examined}, ${progress.ratePerSecond.toFixed(1)} records/s)`;
}

export function formatFailures(failures: readonly ReplayFailure[]): string {
  return renderTable(
    ['partition', 'offset', 'MSH-10', 'failure', 'reason'],
    failures.map((f) => [f.partition, f.offset, f.messageControlId, f.code, f.reason]),
    { alignRight: [0, 1] },
  );
}

const STOP_REASONS: Record<ReplayReport['stopReason'], string> = {
  completed: 'read to the end offsets captured at start',
  limit: 'stopped at --limit',
  aborted: 'interrupted; what was published is committed',
  declined: 'not confirmed; nothing was published',
  'state-full':
    'stopped: the replay state of a filtered history is full; run without filters (or with --all) to continue',
  'publish-failed': 'stopped: Kafka did not acknowledge a publish; nothing after it was sent',
};

export function formatSummary(report: ReplayReport): string {
  const rows: Cell[][] = report.dryRun
    ? [['would replay', report.wouldReplay]]
    : [['replayed', report.replayed]];
  rows.push(
    ['already replayed', report.alreadyReplayed],
    ['skipped by filter', report.skippedByFilter],
    ['failed', report.failed],
  );
  if (report.expiredUnreplayed > 0) rows.push(['expired unreplayed', report.expiredUnreplayed]);
  const seconds = (report.durationMs / 1000).toFixed(1);
  const lines = [
    `${report.dryRun ? 'Dry run' : 'Replay'} of ${report.deadLetterTopic} -> ${report.targetTopic}: ${STOP_REASONS[report.stopReason]} (${seconds} s)`,
    renderTable(['records', 'count'], rows),
  ];
  if (report.failures.length > 0) lines.push('', 'Failed:', formatFailures(report.failures));
  return lines.join('\n');
}
