/**
 * What the reconcile command prints: the summary table, the dead letters with their reasons,
 * the discrepancy table (MISSING) and the informational findings. Pure functions of the
 * report. Rows name messages by MSH-10, source system and topic position, never by content.
 */
import type { AuditedMessage, ReconcileReport } from '@ancillary/ops';
import { renderTable, type Cell } from '../common/text-table';

const CLASS_LABELS = [
  ['in-chart', 'in chart'],
  ['replayed', 'replayed (in chart after a dead letter)'],
  ['dead-lettered', 'dead-lettered'],
  ['not-a-result', 'not a result'],
  ['missing', 'MISSING'],
] as const;

function place(message: AuditedMessage): string {
  return `${message.partition}/${message.offset}`;
}

function received(message: AuditedMessage): string {
  return (message.receivedAt ?? message.timestamp).toISOString();
}

export function formatSummary(report: ReconcileReport): string {
  const window = `${report.since.toISOString()} to ${report.until ? report.until.toISOString() : `the end of the topic at ${report.startedAt.toISOString()}`}`;
  const scope =
    report.sample !== undefined
      ? `a random sample of ${report.examined} of ${report.messagesInWindow} message(s)`
      : `all ${report.messagesInWindow} message(s)`;
  const source = report.sourceSystem !== undefined ? `, source system ${report.sourceSystem}` : '';
  const rows: Cell[][] = CLASS_LABELS.map(([cls, label]) => [label, report.counts[cls]]);
  const notResults = Object.entries(report.notAResultByType)
    .map(([type, n]) => `${type} ${n}`)
    .join(', ');
  const lines = [
    `Reconcile of ${report.topics.inbound}, ${window}: ${scope}${source}`,
    renderTable(['messages', 'count'], rows),
  ];
  if (notResults) lines.push(`not a result by type: ${notResults}`);
  lines.push(
    `informational: ${report.duplicatesTotal} duplicate message(s), ` +
      `${report.ledgerRowsWithoutMessageTotal} ledger row(s) whose message is not on the topic, ` +
      `${report.replayRecords} replay record(s) on the topic, ${report.deadLettersIndexed} dead letter(s) read`,
  );
  return lines.join('\n');
}

export function formatDeadLettered(messages: readonly AuditedMessage[]): string {
  return renderTable(
    ['MSH-10', 'source', 'partition/offset', 'received', 'dead letter', 'reason'],
    messages.map((m) => {
      const latest = m.deadLetters.at(-1);
      return [
        m.messageControlId,
        m.sourceSystem,
        place(m),
        received(m),
        latest ? `${latest.topic}/${latest.partition}/${latest.offset}` : '',
        m.detail,
      ];
    }),
  );
}

export function formatMissing(messages: readonly AuditedMessage[]): string {
  return renderTable(
    ['MSH-10', 'source', 'partition/offset', 'received', 'what is missing'],
    messages.map((m) => [m.messageControlId, m.sourceSystem, place(m), received(m), m.detail]),
    { maxCellWidth: 400 },
  );
}

export function formatReport(report: ReconcileReport): string {
  const sections = [formatSummary(report)];
  if (report.deadLettered.length > 0) {
    sections.push(
      `Dead-lettered (${report.deadLettered.length}):\n${formatDeadLettered(report.deadLettered)}`,
    );
  }
  if (report.duplicates.length > 0) {
    sections.push(
      `Duplicates on the topic (${report.duplicatesTotal}, informational):\n` +
        renderTable(
          ['MSH-10', 'source', 'records (partition/offset)'],
          report.duplicates.map((d) => [
            d.messageControlId,
            d.sourceSystem,
            d.records.map((r) => `${r.partition}/${r.offset}`).join(', '),
          ]),
        ),
    );
  }
  if (report.ledgerRowsWithoutMessage.length > 0) {
    sections.push(
      `Ledger rows whose message is not on the topic (${report.ledgerRowsWithoutMessageTotal}, informational):\n` +
        renderTable(
          ['event id', 'source', 'MSH-10', 'order', 'received'],
          report.ledgerRowsWithoutMessage.map((r) => [
            r.eventId,
            r.sourceSystem,
            r.messageControlId,
            r.orderIndex,
            r.receivedAt?.toISOString(),
          ]),
        ),
    );
  }
  if (report.missing.length > 0) {
    sections.push(`MISSING (${report.missing.length}):\n${formatMissing(report.missing)}`);
  }
  sections.push(
    report.ok
      ? 'Result: every message is accounted for (in the chart or dead-lettered with its reason).'
      : `Result: ${report.counts.missing} message(s) MISSING: neither in the chart nor in a dead-letter topic.`,
  );
  return sections.join('\n\n');
}
