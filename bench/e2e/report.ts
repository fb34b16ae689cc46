/** The e2e benchmark's tables: phases, ceilings, and the ratio that counts. */
import { formatNumber as fmt, markdownTable } from '@ancillary/simulators';
import type { PhaseResult } from './e2e.driver';
import type { KafkaCeilingResult } from './kafka.ceiling';
import type { PgCeilingResult } from './postgres.ceiling';

/** Kafka records one lab message costs across the pipeline: raw envelope, LabResult, ResultWritten. */
export const KAFKA_RECORDS_PER_MESSAGE = 3;

export function phaseTable(phases: readonly PhaseResult[]): string {
  return markdownTable(
    [
      'phase',
      'offered msg/s',
      'conns',
      'sent',
      'acked msg/s',
      'ACK p50 ms',
      'ACK p99 ms',
      'in chart',
      'chart msg/s',
      'send→FHIR p50 ms',
      'send→FHIR p99 ms',
      'gateway→commit p50 ms',
      'gateway→commit p99 ms',
      'pending',
      'not AA',
    ],
    phases.map((p) => [
      p.label,
      p.offeredRate === undefined ? 'max' : fmt(p.offeredRate),
      String(p.connections),
      fmt(p.sent),
      fmt(p.acceptedPerSecond, 1),
      fmt(p.ack.p50, 1),
      fmt(p.ack.p99, 1),
      fmt(p.written),
      fmt(p.writtenPerSecond, 1),
      fmt(p.receiptToChart.p50, 0),
      fmt(p.receiptToChart.p99, 0),
      fmt(p.gatewayToCommit.p50, 0),
      fmt(p.gatewayToCommit.p99, 0),
      fmt(p.pending),
      p.refused + p.noAck === 0 ? '0' : `${fmt(p.refused)} NACK, ${fmt(p.noAck)} no ACK`,
    ]),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
  );
}

export interface Ceilings {
  kafka?: KafkaCeilingResult | { error: string };
  postgres?: PgCeilingResult | { error: string };
}

export function kafkaMessagesPerSecond(kafka: KafkaCeilingResult): number {
  return kafka.recordsPerSecond / KAFKA_RECORDS_PER_MESSAGE;
}

export function ceilingTable(ceilings: Ceilings): string {
  const rows: string[][] = [];
  const { kafka, postgres } = ceilings;
  if (kafka && 'error' in kafka)
    rows.push(['Kafka producer', `failed: ${kafka.error}`, '', '', '']);
  else if (kafka) {
    rows.push([
      `Kafka ${kafka.kafkaVersion} ProducerPerformance, acks=all, idempotent, no compression`,
      `${fmt(kafka.records)} records of ${fmt(kafka.recordSize)} B on ${kafka.partitions} partitions`,
      `${fmt(kafka.recordsPerSecond)} records/s (${fmt(kafka.megabytesPerSecond, 1)} MB/s), p99 ${fmt(kafka.p99Ms)} ms`,
      `${KAFKA_RECORDS_PER_MESSAGE} records`,
      fmt(kafkaMessagesPerSecond(kafka)),
    ]);
  }
  if (postgres && 'error' in postgres)
    rows.push(['PostgreSQL', `failed: ${postgres.error}`, '', '', '']);
  else if (postgres) {
    const s = postgres.settings;
    rows.push([
      `PostgreSQL ${s.serverVersion.split(' ')[0] ?? '?'}, synchronous_commit=${s.synchronousCommit}, fsync=${s.fsync}`,
      `${fmt(postgres.resourcesPerMessage, 1)} resources × (resource + history) + ledger, ${fmt(postgres.jsonBytesPerMessage / 1000, 1)} kB JSON; batches of ${postgres.batchSize}, ${postgres.connections} connections, ${fmt(postgres.seconds, 0)} s`,
      `${fmt(postgres.rowsPerSecond)} rows/s`,
      `${fmt(postgres.rowsPerMessage, 1)} rows`,
      fmt(postgres.messagesPerSecond),
    ]);
  }
  return markdownTable(
    ['ceiling', 'work', 'measured', 'one message costs', 'messages/s'],
    rows,
    [4],
  );
}

export interface Verdict {
  sustained: number | undefined;
  ceiling: { name: string; messagesPerSecond: number } | undefined;
  ratio: number | undefined;
  text: string;
}

/** Sustained end-to-end msg/s (the best phase's rate into the chart) over the tighter ceiling. */
export function verdict(phases: readonly PhaseResult[], ceilings: Ceilings): Verdict {
  const best = phases.reduce<PhaseResult | undefined>(
    (a, p) => (a === undefined || p.writtenPerSecond > a.writtenPerSecond ? p : a),
    undefined,
  );
  const candidates: { name: string; messagesPerSecond: number }[] = [];
  if (ceilings.kafka && !('error' in ceilings.kafka)) {
    candidates.push({ name: 'Kafka', messagesPerSecond: kafkaMessagesPerSecond(ceilings.kafka) });
  }
  if (ceilings.postgres && !('error' in ceilings.postgres)) {
    candidates.push({ name: 'PostgreSQL', messagesPerSecond: ceilings.postgres.messagesPerSecond });
  }
  const ceiling = candidates.reduce<(typeof candidates)[number] | undefined>(
    (a, c) => (a === undefined || c.messagesPerSecond < a.messagesPerSecond ? c : a),
    undefined,
  );
  const sustained = best && best.writtenPerSecond > 0 ? best.writtenPerSecond : undefined;
  if (sustained === undefined || ceiling === undefined) {
    return {
      sustained,
      ceiling,
      ratio: undefined,
      text:
        sustained === undefined
          ? 'The figure that counts: not measured (no end-to-end phase wrote results to the chart).'
          : 'The figure that counts: not measured (no ceiling was measured).',
    };
  }
  const ratio = sustained / ceiling.messagesPerSecond;
  return {
    sustained,
    ceiling,
    ratio,
    text:
      `The figure that counts: ${fmt(sustained, 1)} msg/s sustained into the chart (phase ${best?.label ?? '?'}) ` +
      `= ${(100 * ratio).toFixed(1)} % of the tighter ceiling, ${ceiling.name} at ${fmt(ceiling.messagesPerSecond)} msg/s.`,
  };
}
