/**
 * The dead letters an audit knows of, looked up by what a message is: its identity (source
 * system + MSH-10, carried in the headers of every record descending from it), the exact
 * inbound record (the provenance headers), and, for results, the LabResult event id.
 */
import { recordAddress, type DeadLetterRecord } from '../dead-letter.record';
import { identityOf } from './inbound-message';

export interface DeadLetterEntry {
  /** The dead-letter topic and the record's place in it. */
  topic: string;
  partition: number;
  offset: string;
  /** When it was dead-lettered (record timestamp). */
  timestamp: Date;
  errorCode?: string;
  errorClass?: string;
  errorMessage?: string;
  /** For a dead-lettered LabResult: its event id and order index, when the value decoded. */
  eventId?: string;
  orderIndex?: number;
  /** Set when the record that failed was itself a replay. */
  replayedFrom?: string;
}

/** What a dead-lettered LabResult says about itself. */
export interface DecodedResult {
  eventId: string;
  orderIndex: number;
  sourceSystem: string;
  messageControlId: string;
}

function entryOf(record: DeadLetterRecord, result?: DecodedResult): DeadLetterEntry {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    ...(record.errorCode !== undefined ? { errorCode: record.errorCode } : {}),
    ...(record.errorClass !== undefined ? { errorClass: record.errorClass } : {}),
    ...(record.errorMessage !== undefined ? { errorMessage: record.errorMessage } : {}),
    ...(result ? { eventId: result.eventId, orderIndex: result.orderIndex } : {}),
    ...(record.replayedFrom !== undefined ? { replayedFrom: record.replayedFrom } : {}),
  };
}

function push<K>(map: Map<K, DeadLetterEntry[]>, key: K, entry: DeadLetterEntry): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

export class DeadLetterIndex {
  private readonly inboundByIdentity = new Map<string, DeadLetterEntry[]>();
  private readonly inboundByAddress = new Map<string, DeadLetterEntry[]>();
  private readonly resultsByEventId = new Map<string, DeadLetterEntry[]>();
  /** Result dead letters whose value did not decode: only their identity is known. */
  private readonly undecodedResultsByIdentity = new Map<string, DeadLetterEntry[]>();
  private readonly resultsByIdentity = new Map<string, DeadLetterEntry[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** A dead letter of the inbound topic (the normalizer could not process the message). */
  addInbound(record: DeadLetterRecord): void {
    const entry = entryOf(record);
    this.count++;
    const identity = identityOf(record.sourceSystem, record.messageControlId);
    if (identity) push(this.inboundByIdentity, identity, entry);
    if (
      record.originalTopic !== undefined &&
      record.originalPartition !== undefined &&
      record.originalOffset !== undefined
    ) {
      push(
        this.inboundByAddress,
        recordAddress(record.originalTopic, record.originalPartition, record.originalOffset),
        entry,
      );
    }
  }

  /** A dead letter of the results topic (the writer could not apply a LabResult). */
  addResult(record: DeadLetterRecord, result?: DecodedResult): void {
    const entry = entryOf(record, result);
    this.count++;
    const identity =
      identityOf(record.sourceSystem, record.messageControlId) ??
      (result ? identityOf(result.sourceSystem, result.messageControlId) : undefined);
    if (result) push(this.resultsByEventId, result.eventId, entry);
    if (identity) {
      push(this.resultsByIdentity, identity, entry);
      if (!result) push(this.undecodedResultsByIdentity, identity, entry);
    }
  }

  /** Inbound dead letters of a message: by its identity or by its exact record. */
  inboundFor(identity: string | undefined, address: string): DeadLetterEntry[] {
    const found = new Map<string, DeadLetterEntry>();
    for (const entry of [
      ...(identity ? (this.inboundByIdentity.get(identity) ?? []) : []),
      ...(this.inboundByAddress.get(address) ?? []),
    ]) {
      found.set(recordAddress(entry.topic, entry.partition, entry.offset), entry);
    }
    return [...found.values()].sort(byTime);
  }

  /** Result dead letters of one order group (by event id, or by identity when undecodable). */
  resultsFor(identity: string | undefined, eventId: string): DeadLetterEntry[] {
    return [
      ...(this.resultsByEventId.get(eventId) ?? []),
      ...(identity ? (this.undecodedResultsByIdentity.get(identity) ?? []) : []),
    ].sort(byTime);
  }

  /** Every result dead letter of a message. */
  allResultsFor(identity: string | undefined): DeadLetterEntry[] {
    return identity ? [...(this.resultsByIdentity.get(identity) ?? [])].sort(byTime) : [];
  }
}

function byTime(a: DeadLetterEntry, b: DeadLetterEntry): number {
  return a.timestamp.getTime() - b.timestamp.getTime();
}
