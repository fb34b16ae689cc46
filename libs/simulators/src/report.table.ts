/**
 * Plain-text reports of a simulator run, for the CLI and the benchmarks: Markdown tables padded
 * to line up in a terminal (and pasteable into docs as they are).
 */
import type { ReceivedOrderRecord, SimAncillaryKind, SimOrderRecord } from './ancillary-orders';
import { percentile } from './latency.stats';
import { ACK_OUTCOMES, type AckOutcome, type LisSendReport, type SendRecord } from './lis.sender';
import type { GeneratedKind, GeneratedMessage } from './oru-r01.generator';

/** A Markdown table; `numeric` columns are right-aligned. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly number[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = (i: number): boolean => numeric.includes(i);
  const line = (cells: readonly string[]): string =>
    '| ' +
    header
      .map((_, i) => {
        const c = cells[i] ?? '';
        return right(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0);
      })
      .join(' | ') +
    ' |';
  const rule =
    '|' +
    widths.map((w, i) => (right(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') +
    '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A number for a table: grouped thousands, fixed decimals, `–` for none. */
export function formatNumber(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

const KINDS: readonly GeneratedKind[] = [
  'result',
  'correction',
  'duplicate',
  'unmapped',
  'malformed',
];

/**
 * Outcome × kind: how many messages of each kind got each answer, with the expected answer of
 * the kind and how many got it. Only outcomes that occurred get a column.
 */
export function ackTable(records: readonly SendRecord<GeneratedMessage>[]): string {
  const seen = ACK_OUTCOMES.filter((o) => records.some((r) => r.outcome === o));
  const rows: string[][] = [];
  const count = (list: readonly SendRecord<GeneratedMessage>[], outcome: AckOutcome): number =>
    list.filter((r) => r.outcome === outcome).length;
  const row = (label: string, list: readonly SendRecord<GeneratedMessage>[]): string[] => {
    const expected = [...new Set(list.map((r) => r.message.expectedAck))].sort().join('/');
    const asExpected = list.filter((r) => r.asExpected === true).length;
    return [
      label,
      formatNumber(list.length),
      ...seen.map((o) => formatNumber(count(list, o))),
      expected || '–',
      `${formatNumber(asExpected)} (${list.length > 0 ? ((100 * asExpected) / list.length).toFixed(1) : '–'} %)`,
    ];
  };
  for (const kind of KINDS) {
    const list = records.filter((r) => r.message.kind === kind);
    if (list.length > 0) rows.push(row(kind, list));
  }
  rows.push(row('all', records));
  return markdownTable(['kind', 'sent', ...seen, 'expected', 'as expected'], rows, [
    1,
    ...seen.map((_, i) => i + 2),
  ]);
}

/** One paragraph: rate, latency, schedule lag. */
export function sendSummary(report: LisSendReport): string {
  const l = report.latencyMs;
  const offered =
    report.offeredRate === undefined
      ? 'unpaced'
      : `${formatNumber(report.offeredRate)} msg/s offered`;
  return [
    `${formatNumber(report.sent)} sent over ${report.connections} connection(s) in ${report.durationSeconds.toFixed(1)} s (${offered}); ` +
      `${formatNumber(report.achievedRate, 1)} answers/s, ${formatNumber(report.acceptedRate, 1)} accepted (AA/CA)/s.`,
    `ACK latency ms: p50 ${formatNumber(l.p50, 2)}, p95 ${formatNumber(l.p95, 2)}, p99 ${formatNumber(l.p99, 2)}, max ${formatNumber(l.max, 2)} (${formatNumber(l.count)} answers).`,
    `Behind schedule ms: p99 ${formatNumber(report.lagMs.p99, 1)}, max ${formatNumber(report.lagMs.max, 1)}.`,
  ].join('\n');
}

const ANCILLARY_ORDER: readonly SimAncillaryKind[] = ['lis', 'ris', 'pharmacy'];

/**
 * Per simulated ancillary: order messages received, orders taken, refused, cancelled, resulted
 * (acknowledged by the gateway), failed and still pending, and the seconds from an order's
 * arrival to its result's acknowledgment (p50 / p95 / max; STAT p50 apart).
 */
export function ancillarySummaryTable(
  orders: readonly SimOrderRecord[],
  received: readonly ReceivedOrderRecord[] = [],
): string {
  const kinds = ANCILLARY_ORDER.filter(
    (k) => orders.some((o) => o.ancillary === k) || received.some((r) => r.ancillary === k),
  );
  const seconds = (list: readonly SimOrderRecord[]): number[] =>
    list
      .filter((o) => o.resultAcknowledgedAt)
      .map((o) => ((o.resultAcknowledgedAt?.getTime() ?? 0) - o.receivedAt.getTime()) / 1000)
      .sort((a, b) => a - b);
  const rows = kinds.map((kind) => {
    const mine = orders.filter((o) => o.ancillary === kind);
    const count = (...statuses: SimOrderRecord['status'][]): string =>
      formatNumber(mine.filter((o) => statuses.includes(o.status)).length);
    const all = seconds(mine);
    const stat = seconds(mine.filter((o) => o.stat));
    return [
      kind,
      formatNumber(received.filter((r) => r.ancillary === kind).length),
      formatNumber(mine.filter((o) => o.acceptedAt).length),
      count('rejected'),
      count('cancelled'),
      count('resulted'),
      count('result-failed'),
      count('accepted', 'resulting'),
      formatNumber(mine.filter((o) => o.stat && o.acceptedAt).length),
      formatNumber(percentile(all, 50), 1),
      formatNumber(percentile(all, 95), 1),
      formatNumber(all[all.length - 1], 1),
      formatNumber(percentile(stat, 50), 1),
    ];
  });
  return markdownTable(
    [
      'ancillary',
      'messages',
      'taken',
      'refused',
      'cancelled',
      'resulted',
      'failed',
      'pending',
      'STAT',
      'to result p50 s',
      'p95 s',
      'max s',
      'STAT p50 s',
    ],
    rows,
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  );
}
