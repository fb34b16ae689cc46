import fc from 'fast-check';
import { MllpFramingError, MllpFrameTooLargeError } from './mllp.errors';
import {
  encodeFrame,
  MllpDecoder,
  type FrameErrorInfo,
  type FrameInfo,
  type MllpDecoderOptions,
} from './mllp.framer';

const SB = 0x0b;
const EB = 0x1c;
const CR = 0x0d;

type Event =
  | { type: 'frame'; bytes: string; missingTrailingCr: boolean }
  | { type: 'junk'; count: number }
  | { type: 'error'; reason: FrameErrorInfo['reason']; bytes: string };

/** Feeds the chunks to a fresh decoder and records everything it reports, in order. */
function decode(chunks: Uint8Array[], options?: MllpDecoderOptions, end = true): Event[] {
  const decoder = new MllpDecoder(options);
  const events: Event[] = [];
  decoder.on('frame', (frame: Buffer, info: FrameInfo) =>
    events.push({
      type: 'frame',
      bytes: frame.toString('latin1'),
      missingTrailingCr: info.missingTrailingCr,
    }),
  );
  decoder.on('junk', (count) => events.push({ type: 'junk', count }));
  decoder.on('frameError', (info) =>
    events.push({ type: 'error', reason: info.reason, bytes: info.bytes.toString('latin1') }),
  );
  for (const chunk of chunks) decoder.push(chunk);
  if (end) decoder.end();
  return events;
}

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const frameOf = (text: string): Buffer => encodeFrame(bytes(text));
const framed = (text: string): Event => ({ type: 'frame', bytes: text, missingTrailingCr: false });

/** Cuts a buffer at the given offsets (sorted, deduplicated, clamped). */
function splitAt(buffer: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(c, buffer.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(buffer.subarray(from, point));
    from = point;
  }
  chunks.push(buffer.subarray(from));
  return chunks;
}

const MSG1 =
  'MSH|^~\\&|LIS|LAB|EHR|HOSP|20261125120000||ORU^R01|MSG00001|P|2.5.1\rPID|1||12345^^^HOSP^MR||DOE^JANE\r';
const MSG2 = MSG1.replace('MSG00001', 'MSG00002');
const MSG3 = MSG1.replace('MSG00001', 'MSG00003');

describe('encodeFrame', () => {
  it('wraps the payload in SB … EB CR', () => {
    expect([...encodeFrame(bytes('AB'))]).toEqual([SB, 0x41, 0x42, EB, CR]);
  });

  it('refuses content that contains a block byte, which would break the framing', () => {
    expect(() => encodeFrame(bytes('A\x1cB'))).toThrow(MllpFramingError);
    expect(() => encodeFrame(bytes('A\x0bB'))).toThrow(MllpFramingError);
  });
});

describe('MllpDecoder', () => {
  it('decodes one frame from one chunk', () => {
    expect(decode([frameOf(MSG1)])).toEqual([framed(MSG1)]);
  });

  it('decodes a frame written byte by byte', () => {
    const frame = frameOf(MSG1);
    const chunks = [...frame].map((b) => Uint8Array.of(b));
    expect(decode(chunks)).toEqual([framed(MSG1)]);
  });

  it('decodes several frames arriving in one chunk, in order', () => {
    const chunk = Buffer.concat([frameOf(MSG1), frameOf(MSG2), frameOf(MSG3)]);
    expect(decode([chunk])).toEqual([framed(MSG1), framed(MSG2), framed(MSG3)]);
  });

  it('reports a frame as soon as its CR arrives, before the stream ends', () => {
    expect(decode([frameOf(MSG1), bytes('\x0bMSH|')], {}, false)).toEqual([framed(MSG1)]);
  });

  it('accepts an empty block as an empty frame (the server then rejects it as unparseable)', () => {
    expect(decode([Uint8Array.of(SB, EB, CR)])).toEqual([framed('')]);
  });

  it('discards bytes outside a block and counts each run once', () => {
    const stream = Buffer.concat([
      bytes('noise'),
      frameOf(MSG1),
      bytes('\n'),
      frameOf(MSG2),
      bytes('\r\n'),
    ]);
    expect(decode(splitAt(stream, [2, 3, 40, 300]))).toEqual([
      { type: 'junk', count: 5 },
      framed(MSG1),
      { type: 'junk', count: 1 },
      framed(MSG2),
      { type: 'junk', count: 2 },
    ]);
  });

  it('reports EB not followed by CR as a framing error with the block bytes, then reads on', () => {
    // a sender that forgets the CR and pipelines the next frame straight after
    const stream = Buffer.concat([bytes(`\x0b${MSG1}\x1c`), frameOf(MSG2)]);
    expect(decode([stream])).toEqual([
      { type: 'error', reason: 'missing-cr', bytes: MSG1 },
      framed(MSG2),
    ]);
    // and when the odd byte after EB is not an SB, it is junk
    expect(decode([bytes(`\x0b${MSG1}\x1cX`), frameOf(MSG2)])).toEqual([
      { type: 'error', reason: 'missing-cr', bytes: MSG1 },
      { type: 'junk', count: 1 },
      framed(MSG2),
    ]);
  });

  it('accepts a block whose final CR is missing when the stream ends right after EB', () => {
    expect(decode([bytes(`\x0b${MSG1}\x1c`)])).toEqual([
      { type: 'frame', bytes: MSG1, missingTrailingCr: true },
    ]);
  });

  it('waits for the byte after EB before deciding, even across chunks', () => {
    expect(decode([bytes(`\x0b${MSG1}\x1c`)], {}, false)).toEqual([]);
    expect(decode([bytes(`\x0b${MSG1}\x1c`), Uint8Array.of(CR)], {}, false)).toEqual([
      framed(MSG1),
    ]);
  });

  it('reports a block cut short by the end of the stream and never delivers it', () => {
    expect(decode([frameOf(MSG1), bytes(`\x0b${MSG2.slice(0, 30)}`)])).toEqual([
      framed(MSG1),
      { type: 'error', reason: 'truncated', bytes: MSG2.slice(0, 30) },
    ]);
  });

  it('abandons a partial block when a new SB starts another', () => {
    expect(decode([bytes(`\x0b${MSG1.slice(0, 20)}`), frameOf(MSG2)])).toEqual([
      { type: 'error', reason: 'abandoned', bytes: MSG1.slice(0, 20) },
      framed(MSG2),
    ]);
  });

  describe('maximum frame size', () => {
    it('accepts a frame of exactly maxFrameBytes', () => {
      expect(decode([frameOf('x'.repeat(64))], { maxFrameBytes: 64 })).toEqual([
        framed('x'.repeat(64)),
      ]);
    });

    it('refuses a bigger one once, keeps its head, skips the rest and decodes what follows', () => {
      const decoder = new MllpDecoder({ maxFrameBytes: 64 });
      const errors: FrameErrorInfo[] = [];
      const frames: string[] = [];
      decoder.on('frameError', (info) => errors.push(info));
      decoder.on('frame', (f) => frames.push(f.toString('latin1')));
      const big = frameOf(`${MSG1}${'OBX|1|ED|PDF||'.padEnd(500, 'A')}\r`);
      for (let i = 0; i < big.length; i += 7) decoder.push(big.subarray(i, i + 7));
      decoder.push(frameOf('MSH|next'));
      decoder.end();

      expect(errors).toHaveLength(1);
      expect(errors[0]!.reason).toBe('oversize');
      expect(errors[0]!.error).toBeInstanceOf(MllpFrameTooLargeError);
      expect(errors[0]!.error.retriable).toBe(false);
      expect(errors[0]!.bytes.toString('latin1')).toBe(MSG1.slice(0, 64));
      expect(frames).toEqual(['MSH|next']);
    });

    it('does not hold more than maxFrameBytes for a block, however long it runs', () => {
      const decoder = new MllpDecoder({ maxFrameBytes: 1024 });
      decoder.on('frameError', () => undefined);
      decoder.push(Uint8Array.of(SB));
      for (let i = 0; i < 100; i++) {
        decoder.push(Buffer.alloc(1000, 0x41));
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(1024);
      }
    });
  });

  it('assembles a large frame from many chunks with one final copy', () => {
    const payload = Buffer.alloc(8 * 1024 * 1024, 0x41);
    const frame = encodeFrame(payload);
    const decoder = new MllpDecoder({ maxFrameBytes: 16 * 1024 * 1024 });
    let received: Buffer | undefined;
    decoder.on('frame', (f) => (received = f));
    const started = performance.now();
    for (let i = 0; i < frame.length; i += 1024) decoder.push(frame.subarray(i, i + 1024));
    expect(received?.equals(payload)).toBe(true);
    // 8192 chunks: quadratic concatenation would copy ~32 GiB; linear takes milliseconds
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('does not alias the caller’s chunks', () => {
    const chunk = Buffer.from(frameOf(MSG1));
    let frame: Buffer | undefined;
    const decoder = new MllpDecoder();
    decoder.on('frame', (f) => (frame = f));
    decoder.push(chunk);
    chunk.fill(0);
    expect(frame?.toString('latin1')).toBe(MSG1);
  });

  describe('properties', () => {
    /** HL7-like payloads: any bytes except the two block bytes. */
    const payload = fc
      .uint8Array({ maxLength: 200 })
      .map((a) => Buffer.from(a.map((b) => (b === SB || b === EB ? 0x41 : b))));
    /** What sloppy senders put between frames: anything but an SB. */
    const junk = fc
      .uint8Array({ maxLength: 5 })
      .map((a) => Buffer.from(a.map((b) => (b === SB ? 0x0a : b))));

    it('any split of a stream of frames into chunks decodes to the same frames', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(junk, payload), { maxLength: 12 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          (items, cuts) => {
            const stream = Buffer.concat(items.flatMap(([j, p]) => [j, encodeFrame(p)]));
            const events = decode(splitAt(stream, cuts));
            expect(events.filter((e) => e.type === 'frame')).toEqual(
              items.map(([, p]) => framed(p.toString('latin1'))),
            );
            expect(events.filter((e) => e.type === 'error')).toEqual([]);
            const junkCount = events.reduce((n, e) => n + (e.type === 'junk' ? e.count : 0), 0);
            expect(junkCount).toBe(items.reduce((n, [j]) => n + j.length, 0));
          },
        ),
        { numRuns: 300 },
      );
    });

    it('random bytes never throw, and every split reports exactly the same events', () => {
      // biased towards the framing bytes so that every state transition is exercised
      const byte = fc.oneof(
        fc.constantFrom(SB, EB, CR),
        fc.integer({ min: 0, max: 255 }),
        fc.constant(0x41),
      );
      fc.assert(
        fc.property(
          fc.array(byte, { maxLength: 300 }),
          fc.array(fc.nat(), { maxLength: 30 }),
          fc.integer({ min: 1, max: 64 }),
          (raw, cuts, maxFrameBytes) => {
            const stream = Buffer.from(raw);
            const whole = decode([stream], { maxFrameBytes });
            const split = decode(splitAt(stream, cuts), { maxFrameBytes });
            expect(split).toEqual(whole);
            for (const e of whole) {
              if (e.type !== 'junk') expect(e.bytes.length).toBeLessThanOrEqual(maxFrameBytes);
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});
