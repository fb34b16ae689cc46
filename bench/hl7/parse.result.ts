/** What one parser run reports, from a Node worker or the HAPI JVM alike. */

export type RunStatus = 'ok' | 'wrong answer' | 'failed' | 'not available';

export interface Mismatch {
  readonly message: number;
  readonly obx: number;
  readonly expected: string;
  readonly actual: string;
}

export interface ParseRunResult {
  readonly id: string;
  /** Package and version, e.g. `@medplum/core 5.2.13`. */
  readonly library: string;
  /** `Node v24.21.0` or the JVM's name and version. */
  readonly runtime: string;
  readonly api: string;
  readonly help: readonly string[];
  readonly status: RunStatus;
  /** Why it failed or is not available. */
  readonly reason?: string;
  /** OBX-5 values that differ from the expected answer (or are missing / extra). */
  readonly mismatches: number;
  /** Messages on which the parser threw. */
  readonly errors: number;
  readonly examples: readonly Mismatch[];
  readonly warmupPasses: number;
  /** Messages (and their UTF-8 bytes) in a timed pass: all but those the parser threw on. */
  readonly timedMessages?: number;
  readonly timedBytes?: number;
  /** Wall time of each timed pass over the whole corpus, ms. */
  readonly passMs: readonly number[];
  readonly medianMs?: number;
  /** Median over the rounds of (this pass time / ours's pass time in the same round). */
  readonly pairedRatioToOurs?: number;
  readonly messagesPerSecond?: number;
  /** 10^6 bytes of UTF-8 message text per second. */
  readonly megabytesPerSecond?: number;
  /** Heap held by one parsed message after its OBX-5 were read, bytes (after GC). */
  readonly retainedBytesPerMessage?: number;
  /** Peak resident set of the process that ran it, MiB. */
  readonly peakRssMiB?: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/**
 * Compares each message's values with the corpus's expected ones. A message on which the parser
 * threw (`null`) counts all its values as mismatches.
 */
export function compareValues(
  expectedPerMessage: readonly (readonly string[])[],
  actualPerMessage: readonly (readonly string[] | null)[],
  keepExamples = 3,
): { mismatches: number; examples: Mismatch[] } {
  let mismatches = 0;
  const examples: Mismatch[] = [];
  expectedPerMessage.forEach((expected, message) => {
    const actual = actualPerMessage[message] ?? null;
    const count = Math.max(expected.length, actual?.length ?? 0);
    for (let obx = 0; obx < count; obx++) {
      const want = expected[obx];
      const got = actual === null ? '(parser threw)' : actual[obx];
      if (got === want) continue;
      mismatches++;
      if (examples.length < keepExamples) {
        examples.push({
          message,
          obx,
          expected: want ?? '(no such OBX)',
          actual: got ?? '(missing)',
        });
      }
    }
  });
  return { mismatches, examples };
}

/** Figures derived from the pass times. */
export function throughput(
  passMs: readonly number[],
  messages: number,
  bytes: number,
): Pick<ParseRunResult, 'medianMs' | 'messagesPerSecond' | 'megabytesPerSecond'> {
  if (passMs.length === 0) return {};
  const medianMs = median(passMs);
  return {
    medianMs,
    messagesPerSecond: messages / (medianMs / 1000),
    megabytesPerSecond: bytes / 1e6 / (medianMs / 1000),
  };
}

/** What a parse runner (Node worker or HAPI JVM) prints, one JSON object per line. */
export type RunnerMessage =
  | { type: 'ready'; warmupPasses: number; checksum: number }
  | { type: 'pass'; ms: number; checksum: number }
  | { type: 'result'; result: ParseRunResult };

/** A result row before any pass has run: what the parser is, no figures yet. */
export function newResult(
  what: Pick<ParseRunResult, 'id' | 'library' | 'runtime' | 'api' | 'help'>,
): ParseRunResult {
  return {
    ...what,
    status: 'ok',
    mismatches: 0,
    errors: 0,
    examples: [],
    warmupPasses: 0,
    passMs: [],
  };
}

/** The result row of a parser that could not run to the end: the table says why. */
export function failedResult(id: string, runtime: string, reason: string): ParseRunResult {
  return {
    ...newResult({ id, library: id, runtime, api: '', help: [] }),
    status: 'failed',
    reason,
  };
}
