/**
 * What the replay group remembers about one dead-letter partition, so that a record is
 * replayed at most once even when runs are filtered.
 *
 * A plain committed offset cannot say it: a run filtered by error code replays records 10 and
 * 12 but not 11, and the next run must still offer 11 without replaying 10 and 12 again. So the
 * committed offset is a cursor — every record below it was replayed — and the commit's
 * metadata lists the replayed offsets at or above it as ranges. Without filters the cursor
 * simply moves to the end and the metadata stays empty.
 *
 * Metadata format `r1:<gap>.<length>,…`: base-36 numbers, each range starting `gap` offsets
 * after the end of the previous one (the first after the cursor). Kafka bounds commit
 * metadata (offset.metadata.max.bytes, 4096 by default), so a state is kept under
 * MAX_REPLAY_STATE_LENGTH characters; a run that would exceed it stops replaying.
 */
import { ReplayStateError } from '../ops.errors';

export const MAX_REPLAY_STATE_LENGTH = 3_000;

const PREFIX = 'r1:';
const FORMAT = /^r1:(?:[0-9a-z]+\.[0-9a-z]+(?:,[0-9a-z]+\.[0-9a-z]+)*)?$/;

/** Half-open range of offsets [start, end). */
type Range = [start: bigint, end: bigint];

export class ReplayState {
  private constructor(
    private cursorOffset: bigint,
    /** Sorted, disjoint, not touching each other nor the cursor, all above it. */
    private ranges: Range[],
  ) {}

  /** A partition nothing was replayed from yet, starting at `cursor`. */
  static empty(cursor: bigint): ReplayState {
    return new ReplayState(cursor, []);
  }

  /**
   * The state committed to the replay group: `committed` is the group's offset ('-1' or
   * undefined when it never committed, then the partition's low watermark is the cursor),
   * `metadata` the commit's metadata. Throws ReplayStateError for metadata this tool did not
   * write. Call forgetBelow() with the partition's low watermark afterwards.
   */
  static fromCommit(
    committed: string | undefined,
    metadata: string | null | undefined,
    lowWatermark: bigint,
    where: string,
  ): ReplayState {
    const offset = committed !== undefined && committed !== '' ? BigInt(committed) : -1n;
    if (offset < 0n) {
      if (metadata) {
        throw new ReplayStateError(
          `${where}: metadata ${JSON.stringify(metadata)} without an offset`,
        );
      }
      return ReplayState.empty(lowWatermark);
    }
    return new ReplayState(offset, metadata ? decodeRanges(metadata, offset, where) : []);
  }

  /** Every record below it was replayed (or is gone). */
  get cursor(): bigint {
    return this.cursorOffset;
  }

  /** Replayed ranges above the cursor (how fragmented a filtered history is). */
  get rangeCount(): number {
    return this.ranges.length;
  }

  has(offset: bigint): boolean {
    if (offset < this.cursorOffset) return true;
    return this.ranges.some(([start, end]) => offset >= start && offset < end);
  }

  /** Marks `offset` as replayed. */
  add(offset: bigint): void {
    if (this.has(offset)) return;
    this.ranges.push([offset, offset + 1n]);
    this.ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: Range[] = [];
    for (const range of this.ranges) {
      const previous = merged.at(-1);
      if (previous && range[0] <= previous[1])
        previous[1] = range[1] > previous[1] ? range[1] : previous[1];
      else merged.push([range[0], range[1]]);
    }
    this.ranges = merged;
    this.absorb();
  }

  /**
   * Records below `lowWatermark` were deleted by retention: they can no longer be replayed,
   * so the cursor moves past them. Returns how many of them had never been replayed.
   */
  forgetBelow(lowWatermark: bigint): bigint {
    if (lowWatermark <= this.cursorOffset) return 0n;
    let replayedBelow = 0n;
    for (const [start, end] of this.ranges) {
      if (start >= lowWatermark) break;
      replayedBelow += (end < lowWatermark ? end : lowWatermark) - start;
    }
    const lost = lowWatermark - this.cursorOffset - replayedBelow;
    this.cursorOffset = lowWatermark;
    this.ranges = this.ranges
      .filter(([, end]) => end > lowWatermark)
      .map(([start, end]): Range => [start < lowWatermark ? lowWatermark : start, end]);
    this.absorb();
    return lost;
  }

  /** The commit metadata: null when every replayed record is below the cursor. */
  encode(): string | null {
    if (this.ranges.length === 0) return null;
    let previousEnd = this.cursorOffset;
    const parts: string[] = [];
    for (const [start, end] of this.ranges) {
      parts.push(`${(start - previousEnd).toString(36)}.${(end - start).toString(36)}`);
      previousEnd = end;
    }
    return PREFIX + parts.join(',');
  }

  copy(): ReplayState {
    return new ReplayState(
      this.cursorOffset,
      this.ranges.map(([s, e]): Range => [s, e]),
    );
  }

  /** Whether marking `offset` keeps the metadata within MAX_REPLAY_STATE_LENGTH. */
  fitsAfterAdding(offset: bigint): boolean {
    if (this.has(offset)) return true;
    const copy = this.copy();
    copy.add(offset);
    return (copy.encode()?.length ?? 0) <= MAX_REPLAY_STATE_LENGTH;
  }

  /** Moves the cursor over the ranges that start at it. */
  private absorb(): void {
    for (
      let first = this.ranges[0];
      first && first[0] <= this.cursorOffset;
      first = this.ranges[0]
    ) {
      this.ranges.shift();
      if (first[1] > this.cursorOffset) this.cursorOffset = first[1];
    }
  }
}

function decodeRanges(metadata: string, cursor: bigint, where: string): Range[] {
  if (!FORMAT.test(metadata)) {
    throw new ReplayStateError(
      `${where}: committed metadata ${JSON.stringify(metadata.slice(0, 80))} is not a replay state written by this tool`,
    );
  }
  const body = metadata.slice(PREFIX.length);
  if (body === '') return [];
  const ranges: Range[] = [];
  let previousEnd = cursor;
  for (const part of body.split(',')) {
    const [gapText, lengthText] = part.split('.') as [string, string];
    const gap = parseBase36(gapText);
    const length = parseBase36(lengthText);
    if (gap < 1n || length < 1n) {
      throw new ReplayStateError(
        `${where}: replay state ${JSON.stringify(metadata.slice(0, 80))} has an empty or touching range`,
      );
    }
    const start = previousEnd + gap;
    ranges.push([start, start + length]);
    previousEnd = start + length;
  }
  return ranges;
}

function parseBase36(text: string): bigint {
  let value = 0n;
  for (const char of text) value = value * 36n + BigInt(Number.parseInt(char, 36));
  return value;
}
