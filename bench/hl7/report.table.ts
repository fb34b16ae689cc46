/** Markdown tables for the terminal and docs/benchmarks.md. */
import type { MllpRunResult } from './mllp.bench';
import { showCanonical } from './obx5.value';
import type { ParseRunResult } from './parse.result';

/** A Markdown table padded to line up in a terminal; `numeric` columns are right-aligned. */
function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly number[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = (i: number): boolean => numeric.includes(i);
  const line = (cells: readonly string[]): string =>
    '| ' +
    cells
      .map((c, i) => (right(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join(' | ') +
    ' |';
  const rule =
    '|' +
    widths.map((w, i) => (right(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') +
    '|';
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

const RANKED = new Set(['ok']);

/** Error texts (stack traces) on one table line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ⏎ ');
}

/** Correct answers first, by throughput; the rest after, with what went wrong. */
export function sortParseResults(results: readonly ParseRunResult[]): ParseRunResult[] {
  return [...results].sort((a, b) => {
    const ra = RANKED.has(a.status) ? 0 : 1;
    const rb = RANKED.has(b.status) ? 0 : 1;
    if (ra !== rb) return ra - rb;
    return (b.messagesPerSecond ?? -1) - (a.messagesPerSecond ?? -1);
  });
}

export function parseTable(results: readonly ParseRunResult[], oursId: string): string {
  const ours = results.find((r) => r.id === oursId && r.status === 'ok');
  const rows = sortParseResults(results).map((r, i) => {
    const answer =
      r.status === 'ok'
        ? 'same answer'
        : r.status === 'wrong answer'
          ? `wrong answer (${r.mismatches} mismatches${r.errors ? `, threw on ${r.errors}` : ''})`
          : r.status;
    // Paired within each round when both were timed in the same rounds; else of the medians.
    const ratio =
      r.id === oursId
        ? '×1.00'
        : r.pairedRatioToOurs !== undefined
          ? `×${fmt(r.pairedRatioToOurs, 2)}`
          : ours?.messagesPerSecond && r.messagesPerSecond
            ? `×${fmt(ours.messagesPerSecond / r.messagesPerSecond, 2)}`
            : '–';
    return [
      String(i + 1),
      r.id,
      r.library,
      shortRuntime(r.runtime),
      fmt(r.messagesPerSecond),
      fmt(r.megabytesPerSecond, 1),
      ratio,
      fmt(r.medianMs, 1),
      fmt(
        r.retainedBytesPerMessage === undefined ? undefined : r.retainedBytesPerMessage / 1024,
        1,
      ),
      fmt(r.peakRssMiB),
      answer,
    ];
  });
  return table(
    [
      '#',
      'id',
      'library',
      'runtime',
      'msgs/s',
      'MB/s',
      'ours is',
      'pass ms',
      'heap KiB/msg',
      'peak RSS MiB',
      'answer',
    ],
    rows,
    [0, 4, 5, 6, 7, 8, 9],
  );
}

/** `Node v24.21.0`, `Java 25.0.3+9-LTS` → `Node 24.21.0`, `Java 25.0.3`. */
function shortRuntime(runtime: string): string {
  return runtime.replace(/^Node v/, 'Node ').replace(/^(Java [\d.]+).*$/, '$1');
}

export function parseNotes(results: readonly ParseRunResult[]): string {
  const lines: string[] = [];
  for (const r of sortParseResults(results)) {
    const help = r.help.length > 0 ? ` Harness help: ${r.help.join('; ')}.` : '';
    lines.push(`- **${r.id}** (${r.library}): ${r.api}.${help}`);
    if (r.reason && r.status !== 'ok')
      lines.push(`  - ${r.status}: ${oneLine(r.reason).slice(0, 300)}`);
    for (const e of r.examples) {
      lines.push(
        `  - message ${e.message}, OBX ${e.obx + 1}: expected ${showCanonical(e.expected)}, got ${showCanonical(e.actual)}`,
      );
    }
  }
  return lines.join('\n');
}

export function mllpTable(results: readonly MllpRunResult[]): string {
  const rows = results.map((r, i) => [
    String(i + 1),
    r.implementation,
    r.library,
    String(r.connections),
    fmt(r.messages),
    fmt(r.roundTripsPerSecond),
    fmt(r.p50Ms, 3),
    fmt(r.p99Ms, 3),
    fmt(r.maxMs, 2),
    fmt(r.serverCpuMicrosPerMessage),
    r.status === 'ok'
      ? 'all AA, MSA-2 matches'
      : `${r.status}${r.reason ? `: ${oneLine(r.reason).slice(0, 120)}` : ''}`,
  ]);
  return table(
    [
      '#',
      'id',
      'library',
      'connections',
      'messages',
      'round trips/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'server CPU µs/msg',
      'ACKs',
    ],
    rows,
    [0, 3, 4, 5, 6, 7, 8, 9],
  );
}
