/**
 * A dead-letter record as the operations tools see it: the original key, value bytes and
 * headers, and the provenance the DeadLetterPublisher added (ADR 0003), parsed into fields.
 */
import { DeadLetterHeaders, MessageHeaders, ReplayHeaders } from '@ancillary/contracts';
import { headersToStrings, type StringHeaders } from '@ancillary/messaging-kafka';
import type { KafkaMessage } from 'kafkajs';

export { ReplayHeaders };

export interface DeadLetterRecord {
  /** Where the dead letter itself is. */
  topic: string;
  partition: number;
  offset: string;
  /** When the dead letter was written (its record timestamp). */
  timestamp: Date;
  key: Buffer | null;
  value: Buffer | null;
  /** Every header, provenance included. */
  headers: StringHeaders;
  originalTopic?: string;
  originalPartition?: number;
  originalOffset?: string;
  originalTimestamp?: Date;
  errorClass?: string;
  errorCode?: string;
  errorMessage?: string;
  attempts?: number;
  service?: string;
  failedAt?: Date;
  messageControlId?: string;
  sourceSystem?: string;
  /** Set when the failing record was itself a replay. */
  replayedFrom?: string;
  replayCount: number;
}

export function readDeadLetter(
  topic: string,
  partition: number,
  message: KafkaMessage,
): DeadLetterRecord {
  const headers = headersToStrings(message.headers);
  const text = (name: string): string | undefined => {
    const value = headers[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const int = (name: string): number | undefined => {
    const value = text(name);
    if (value === undefined || !/^-?\d+$/.test(value)) return undefined;
    return Number(value);
  };
  const epochMs = (value: string | undefined): Date | undefined =>
    value !== undefined && /^\d+$/.test(value) ? new Date(Number(value)) : undefined;
  const iso = (value: string | undefined): Date | undefined => {
    if (value === undefined) return undefined;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  };
  const record: DeadLetterRecord = {
    topic,
    partition,
    offset: message.offset,
    timestamp: new Date(Number(message.timestamp)),
    key: message.key ?? null,
    value: message.value ?? null,
    headers,
    replayCount: int(ReplayHeaders.replayCount) ?? 0,
  };
  const assign = <K extends keyof DeadLetterRecord>(
    field: K,
    value: DeadLetterRecord[K] | undefined,
  ) => {
    if (value !== undefined) record[field] = value;
  };
  assign('originalTopic', text(DeadLetterHeaders.originalTopic));
  assign('originalPartition', int(DeadLetterHeaders.originalPartition));
  assign('originalOffset', text(DeadLetterHeaders.originalOffset));
  assign('originalTimestamp', epochMs(text(DeadLetterHeaders.originalTimestamp)));
  assign('errorClass', text(DeadLetterHeaders.errorClass));
  assign('errorCode', text(DeadLetterHeaders.errorCode));
  assign('errorMessage', text(DeadLetterHeaders.errorMessage));
  assign('attempts', int(DeadLetterHeaders.attempts));
  assign('service', text(DeadLetterHeaders.service));
  assign('failedAt', iso(text(DeadLetterHeaders.failedAt)));
  assign('messageControlId', text(MessageHeaders.messageControlId));
  assign('sourceSystem', text(MessageHeaders.sourceSystem));
  assign('replayedFrom', text(ReplayHeaders.replayedFrom));
  return record;
}

/** `<topic>/<partition>/<offset>`: how a dead letter (or any record) is named in headers and tables. */
export function recordAddress(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}/${offset}`;
}

/** The headers a replay sends: the original ones, without provenance, plus the replay's own. */
export function replayHeaders(record: DeadLetterRecord): StringHeaders {
  const headers: StringHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    if (!name.startsWith('x-dlt-')) headers[name] = value;
  }
  headers[ReplayHeaders.replayedFrom] = recordAddress(
    record.topic,
    record.partition,
    record.offset,
  );
  headers[ReplayHeaders.replayCount] = String(record.replayCount + 1);
  return headers;
}
