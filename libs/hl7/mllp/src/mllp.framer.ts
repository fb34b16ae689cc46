/**
 * MLLP block framing: `<SB> message bytes <EB><CR>`, SB = 0x0B, EB = 0x1C, CR = 0x0D.
 * HL7 Version 2 Transport Specification, MLLP Release 2 (and v2.5.1 Appendix C.4):
 * https://www.hl7.org/implement/standards/product_brief.cfm?product_id=55
 *
 * TCP is a byte stream: one read may hold half a frame, or three frames (CAMEL-24668,
 * node-hl7-server #60 lost messages both ways). MllpDecoder is a streaming state machine that
 * gets both right, byte by byte if need be, and keeps a big frame as a list of chunks that it
 * concatenates once (no O(n²) growth).
 *
 * Decisions where the spec leaves room (all explicit, all tested):
 * - Bytes outside a block (before SB) are discarded and reported as one `junk` event per run
 *   (a run ends at the next SB, or at end of stream). Typical culprit: a trailing LF after CR.
 * - EB must be followed by CR. EB followed by anything else is a framing error: the block is
 *   reported through `frameError` with its bytes (the server answers it with a reject ACK, so it
 *   is neither lost nor half-accepted) and the byte after EB is read as outside bytes. Treating
 *   EB+X as data could glue two messages into one; treating it as a normal end could accept a
 *   truncated message.
 * - At end of stream, a block whose last byte is EB (the final CR missing) is accepted as a frame,
 *   with `missingTrailingCr` set: the content is complete, only the trailer is short.
 * - SB inside a block means the sender gave up on the block and started another: the partial
 *   block is reported as a framing error (never processed) and the new block starts.
 * - A block that grows past maxFrameBytes is reported once through `frameError`
 *   (MllpFrameTooLargeError, with the block's first bytes so a reject ACK can name MSH-10), and the
 *   rest of it is skipped up to its EB CR. The server then closes the connection.
 */
import { EventEmitter } from 'node:events';
import { MllpFramingError, MllpFrameTooLargeError } from './mllp.errors';

export const MLLP_START_BLOCK = 0x0b;
export const MLLP_END_BLOCK = 0x1c;
export const MLLP_CARRIAGE_RETURN = 0x0d;

/**
 * Default largest frame: 1 MiB. It matches Kafka's default record limit (message.max.bytes ≈ 1 MB),
 * so a frame we accept can be published by the gateway; the worst-case memory is
 * maxConnections × maxFrameBytes. Senders that embed PDFs (OBX-5 ED) need both raised together.
 */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

/** How many leading bytes of a refused block are kept for the reject ACK (MSH lives there). */
const HEAD_BYTES = 8 * 1024;

/** Wraps a message in an MLLP block. Refuses content that would break the framing. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const bytes = toBuffer(payload);
  if (bytes.includes(MLLP_START_BLOCK) || bytes.includes(MLLP_END_BLOCK)) {
    throw new MllpFramingError(
      'message contains an MLLP start (0x0B) or end (0x1C) block byte and cannot be framed',
    );
  }
  const frame = Buffer.allocUnsafe(bytes.length + 3);
  frame[0] = MLLP_START_BLOCK;
  bytes.copy(frame, 1);
  frame[bytes.length + 1] = MLLP_END_BLOCK;
  frame[bytes.length + 2] = MLLP_CARRIAGE_RETURN;
  return frame;
}

export interface FrameInfo {
  /** The stream ended right after EB: the block was accepted without its final CR. */
  missingTrailingCr: boolean;
}

/** A block that could not be delivered; `bytes` is what was received of it (possibly its head only). */
export interface FrameErrorInfo {
  error: MllpFramingError | MllpFrameTooLargeError;
  reason: 'oversize' | 'missing-cr' | 'abandoned' | 'truncated';
  bytes: Buffer;
}

export interface MllpDecoderEvents {
  frame: [frame: Buffer, info: FrameInfo];
  junk: [bytes: number];
  frameError: [info: FrameErrorInfo];
}

type State = 'outside' | 'inside' | 'inside-after-eb' | 'skipping' | 'skipping-after-eb';

export interface MllpDecoderOptions {
  maxFrameBytes?: number;
}

export class MllpDecoder extends EventEmitter<MllpDecoderEvents> {
  readonly maxFrameBytes: number;
  private state: State = 'outside';
  private parts: Buffer[] = [];
  private size = 0;
  private junk = 0;
  private ended = false;

  constructor(options: MllpDecoderOptions = {}) {
    super();
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 1) {
      throw new RangeError('maxFrameBytes must be a positive integer');
    }
  }

  /** Bytes held for the block being received. */
  get bufferedBytes(): number {
    return this.size;
  }

  /** Whether a block has started and not yet ended (used to tell an idle peer from a slow one). */
  get inFrame(): boolean {
    return this.state !== 'outside';
  }

  /**
   * Feeds bytes from the stream. Listeners run synchronously, in stream order. The decoder keeps
   * no reference to `chunk` past a frame's completion (frames are fresh copies).
   */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('MllpDecoder: push() after end()');
    const buf = toBuffer(chunk);
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'outside': {
          const start = buf.indexOf(MLLP_START_BLOCK, pos);
          if (start === -1) {
            this.junk += buf.length - pos;
            pos = buf.length;
          } else {
            this.junk += start - pos;
            this.flushJunk();
            this.beginBlock();
            pos = start + 1;
          }
          break;
        }
        case 'inside':
        case 'skipping': {
          const endBlock = buf.indexOf(MLLP_END_BLOCK, pos);
          const limit = endBlock === -1 ? buf.length : endBlock;
          const restart = buf.subarray(pos, limit).indexOf(MLLP_START_BLOCK);
          if (restart !== -1) {
            this.append(buf.subarray(pos, pos + restart));
            this.abandon('abandoned');
            this.beginBlock();
            pos += restart + 1;
          } else {
            this.append(buf.subarray(pos, limit));
            if (endBlock === -1) {
              pos = buf.length;
            } else {
              this.state = this.state === 'inside' ? 'inside-after-eb' : 'skipping-after-eb';
              pos = endBlock + 1;
            }
          }
          break;
        }
        case 'inside-after-eb':
        case 'skipping-after-eb': {
          const skipping = this.state === 'skipping-after-eb';
          if (buf[pos] === MLLP_CARRIAGE_RETURN) {
            pos += 1;
            if (skipping) this.reset();
            else this.emitFrame(false);
          } else if (skipping) {
            // the refused block ended (badly); what follows is outside bytes again
            this.reset();
          } else {
            // do not consume: the byte after EB is read again as outside (it may be an SB)
            this.abandon('missing-cr');
          }
          break;
        }
      }
    }
  }

  /** The stream ended: settle whatever is pending (see the class comment for the rules). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    switch (this.state) {
      case 'outside':
        this.flushJunk();
        break;
      case 'inside-after-eb':
        this.emitFrame(true);
        break;
      case 'inside':
        this.abandon('truncated');
        break;
      case 'skipping':
      case 'skipping-after-eb':
        this.reset();
        break;
    }
  }

  private beginBlock(): void {
    this.state = 'inside';
    this.parts = [];
    this.size = 0;
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    if (this.state === 'skipping') return;
    if (this.size + part.length > this.maxFrameBytes) {
      const received = this.size + part.length;
      const head = headOf([...this.parts, part], Math.min(HEAD_BYTES, this.maxFrameBytes));
      this.parts = [];
      this.size = 0;
      this.state = 'skipping';
      this.emit('frameError', {
        error: new MllpFrameTooLargeError(this.maxFrameBytes, received),
        reason: 'oversize',
        bytes: head,
      });
      return;
    }
    this.parts.push(part);
    this.size += part.length;
  }

  private emitFrame(missingTrailingCr: boolean): void {
    const frame = Buffer.concat(this.parts, this.size);
    this.reset();
    this.emit('frame', frame, { missingTrailingCr });
  }

  private abandon(reason: 'missing-cr' | 'abandoned' | 'truncated'): void {
    const wasSkipping = this.state === 'skipping' || this.state === 'skipping-after-eb';
    const bytes = Buffer.concat(this.parts, this.size);
    this.reset();
    if (wasSkipping) return; // already reported as oversize
    const why = {
      'missing-cr': 'MLLP end block (0x1C) not followed by carriage return (0x0D)',
      abandoned: 'MLLP start block (0x0B) inside a block: the partial block was abandoned',
      truncated: 'the stream ended inside an MLLP block',
    }[reason];
    this.emit('frameError', {
      error: new MllpFramingError(`${why} (${bytes.length} bytes)`),
      reason,
      bytes,
    });
  }

  private reset(): void {
    this.state = 'outside';
    this.parts = [];
    this.size = 0;
  }

  private flushJunk(): void {
    if (this.junk === 0) return;
    const bytes = this.junk;
    this.junk = 0;
    this.emit('junk', bytes);
  }
}

/** A copy of the first `limit` bytes of a list of chunks, without concatenating all of them. */
function headOf(parts: Buffer[], limit: number): Buffer {
  const taken: Buffer[] = [];
  let size = 0;
  for (const part of parts) {
    if (size >= limit) break;
    const slice = part.subarray(0, limit - size);
    taken.push(slice);
    size += slice.length;
  }
  return Buffer.concat(taken, size);
}

export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
