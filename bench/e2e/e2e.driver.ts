/**
 * One phase of the end-to-end benchmark: results sent to the lab gateway over MLLP at a given
 * rate (or as fast as it answers) for a given time, then each accepted result awaited on
 * `clinical.results-written.v1`, the ehr-writer's "readable in FHIR" event, matched by MSH-10.
 */
import {
  LisSender,
  summarizeLatencies,
  type GeneratedMessage,
  type LatencySummary,
  type LisTrafficGenerator,
  type ResultWrittenWatcher,
  type SendRecord,
} from '@ancillary/simulators';

export interface PhaseSpec {
  label: string;
  /** msg/s; undefined: as fast as the gateway answers. */
  rate: number | undefined;
  durationMs: number;
  connections: number;
}

export interface PhaseContext {
  host: string;
  port: number;
  generator: LisTrafficGenerator;
  watcher: ResultWrittenWatcher;
  /** How long to wait, after the last ACK, for the results still on their way to the chart. */
  settleTimeoutMs: number;
  ackTimeoutMs?: number;
  onProgress?: (text: string) => void;
}

export interface PhaseResult {
  label: string;
  offeredRate: number | undefined;
  connections: number;
  /** First send to last ACK, s. */
  sendSeconds: number;
  sent: number;
  /** AA/CA. */
  accepted: number;
  /** AE/AR/CE/CR. */
  refused: number;
  /** No ACK at all (timeout, connection error, unreadable answer). */
  noAck: number;
  /** accepted / sendSeconds. */
  acceptedPerSecond: number;
  /** ms. */
  ack: LatencySummary;
  /** Accepted messages that should reach the chart. */
  expected: number;
  /** …whose ResultWritten was seen. */
  written: number;
  /** …not seen before the settle timeout. */
  pending: number;
  /** written / (first send → last ResultWritten seen), msg/s. */
  writtenPerSecond: number;
  /** From the send to the ResultWritten event being seen, ms. */
  receiptToChart: LatencySummary;
  /** ResultWritten.writtenAt − receivedAt (gateway receipt to repository commit), ms. */
  gatewayToCommit: LatencySummary;
  /** How late sends were against their schedule (a sender that could not keep up), ms. */
  scheduleLag: LatencySummary;
}

const ACCEPTED = new Set(['AA', 'CA']);
const REFUSED = new Set(['AE', 'AR', 'CE', 'CR']);

export async function runPhase(spec: PhaseSpec, context: PhaseContext): Promise<PhaseResult> {
  const { watcher } = context;
  const sender = new LisSender<GeneratedMessage>({
    host: context.host,
    port: context.port,
    source: () => context.generator.next(),
    ...(spec.rate === undefined ? {} : { rate: spec.rate }),
    durationMs: spec.durationMs,
    connections: spec.connections,
    ackTimeoutMs: context.ackTimeoutMs ?? 30_000,
  });
  const ticker = setInterval(() => {
    const p = sender.progress();
    context.onProgress?.(
      `${spec.label}: ${p.elapsedSeconds.toFixed(0)} s, sent ${p.dispatched}, answered ${p.settled}, results written ${watcher.seenCount}`,
    );
  }, 5000);
  let records: SendRecord<GeneratedMessage>[];
  let sendSeconds: number;
  let scheduleLag: LatencySummary;
  try {
    const report = await sender.run();
    records = report.records;
    sendSeconds = report.durationSeconds;
    scheduleLag = report.lagMs;
  } finally {
    clearInterval(ticker);
  }
  const accepted = records.filter((r) => ACCEPTED.has(r.outcome));
  const expected = accepted.filter((r) => r.message.reachesChart);
  const sentAt = new Map(expected.map((r) => [r.message.controlId, r.sentAt]));
  const waitTicker = setInterval(() => {
    let seen = 0;
    for (const id of sentAt.keys()) if (watcher.get(id)) seen += 1;
    context.onProgress?.(`${spec.label}: ${seen} of ${sentAt.size} results in the chart`);
  }, 5000);
  let wait;
  try {
    wait = await watcher.waitForAll(sentAt.keys(), context.settleTimeoutMs);
  } finally {
    clearInterval(waitTicker);
  }
  const receiptToChart: number[] = [];
  const gatewayToCommit: number[] = [];
  let lastSeen = 0;
  for (const [id, sightings] of wait.seen) {
    const first = sightings.reduce((a, b) => (b.seenAt < a.seenAt ? b : a));
    const sent = sentAt.get(id);
    if (sent !== undefined) receiptToChart.push(first.seenAt - sent);
    gatewayToCommit.push(first.event.writtenAt - first.event.receivedAt);
    lastSeen = Math.max(lastSeen, first.seenAt);
  }
  // a loop, not Math.min(...): a long phase has more records than a call has arguments
  let firstSent = Infinity;
  for (const r of records) firstSent = Math.min(firstSent, r.sentAt);
  const chartSeconds = (lastSeen - firstSent) / 1000;
  return {
    label: spec.label,
    offeredRate: spec.rate,
    connections: spec.connections,
    sendSeconds,
    sent: records.length,
    accepted: accepted.length,
    refused: records.filter((r) => REFUSED.has(r.outcome)).length,
    noAck: records.filter((r) => !ACCEPTED.has(r.outcome) && !REFUSED.has(r.outcome)).length,
    acceptedPerSecond: accepted.length / sendSeconds,
    ack: summarizeLatencies(accepted.map((r) => r.latencyMs)),
    expected: expected.length,
    written: wait.seen.size,
    pending: wait.missing.length,
    writtenPerSecond: wait.seen.size > 0 && chartSeconds > 0 ? wait.seen.size / chartSeconds : 0,
    receiptToChart: summarizeLatencies(receiptToChart),
    gatewayToCommit: summarizeLatencies(gatewayToCommit),
    scheduleLag,
  };
}
