/**
 * What the missed-charge audit prints: the counts per category, the discrepancy table, the
 * charges still within their grace period, and a one-line result. Pure functions of the
 * report. Rows name work by FHIR reference and order/dispense number, never by clinical content.
 */
import {
  CHARGE_AUDIT_CATEGORIES,
  DISCREPANCY_CATEGORIES,
  type ChargeAuditReport,
  type ChargeFinding,
} from '@ancillary/ops';
import { renderTable, type Cell } from '../common/text-table';
import { formatDuration } from './audit-charges.args';

const LABELS: Record<(typeof CHARGE_AUDIT_CATEGORIES)[number], string> = {
  OK: 'OK (billed)',
  PENDING: 'PENDING (within the grace period)',
  PENDING_OVERDUE: 'PENDING_OVERDUE',
  DEAD_LETTERED: 'DEAD_LETTERED',
  REVERSED: 'REVERSED (work still completed)',
  MISSING: 'MISSING',
  CHARGE_WITHOUT_WORK: 'CHARGE_WITHOUT_WORK',
};

/** `OK 12, PENDING 1, …`: every category, in the table's order. */
export function formatCounts(report: ChargeAuditReport): string {
  return CHARGE_AUDIT_CATEGORIES.map((c) => `${c} ${report.counts[c]}`).join(', ');
}

export function formatSummary(report: ChargeAuditReport): string {
  const rows: Cell[][] = CHARGE_AUDIT_CATEGORIES.map((c) => [
    LABELS[c],
    report.counts[c],
    DISCREPANCY_CATEGORIES.has(c) ? 'yes' : 'no',
  ]);
  return [
    `Charge audit ${report.since.toISOString()} to ${report.until.toISOString()}: ` +
      `${report.serviceRequests} completed order(s), ${report.dispenses} completed dispense(s), ` +
      `${report.chargesChecked} charge(s) dated in the window; pending grace ${formatDuration(report.pendingGraceMs)}`,
    renderTable(['category', 'count', 'discrepancy'], rows),
    `dead letters read: ${report.deadLettersRead}` +
      (report.deadLettersUndecodable > 0
        ? ` (${report.deadLettersUndecodable} undecodable, matched to nothing)`
        : ''),
  ].join('\n');
}

export function formatFindings(findings: readonly ChargeFinding[]): string {
  return renderTable(
    ['category', 'resource', 'order / dispense', 'completed / dated', 'detail'],
    findings.map((f) => [f.category, f.reference, f.label, f.at?.toISOString(), f.detail]),
    { maxCellWidth: 400 },
  );
}

export function formatReport(report: ChargeAuditReport): string {
  const sections = [formatSummary(report)];
  if (report.pending.length > 0) {
    sections.push(
      `Pending, within the grace period (${report.pending.length}, informational):\n${formatFindings(report.pending)}`,
    );
  }
  if (report.discrepancies.length > 0) {
    sections.push(
      `Discrepancies (${report.discrepancies.length}):\n${formatFindings(report.discrepancies)}`,
    );
  }
  sections.push(`Summary: ${formatCounts(report)}`);
  sections.push(
    report.ok
      ? 'Result: every completed item has its charge and every charge has its completed work.'
      : `Result: ${report.discrepancies.length} discrepancy(ies): revenue not captured or charged without work.`,
  );
  return sections.join('\n\n');
}
