/**
 * Runs one parser on the corpus in a process of its own, so no library's JIT state, heap or
 * megamorphic call sites affect another's. Started by run.ts as
 *   node --expose-gc -r @swc-node/register bench/hl7/parse.worker.ts <options JSON>
 * it checks the answer, warms up, prints `ready`, then answers run.ts over stdin/stdout (one JSON
 * object per line, see RunnerMessage): `pass` → one timed pass over the corpus; `finish` → the
 * retained-heap figure and the result, then it exits. run.ts times every parser's passes in turn,
 * so a burst of other work on the machine hits all of them alike.
 */
import { generateCorpus } from './corpus.generator';
import type { CorpusOptions } from './corpus.generator';
import { ALL_ADAPTERS } from './parse.adapters.all';
import type { ParseAdapter, ReadObx5 } from './parse.adapters';
import { installedVersion } from './parse.adapters';
import type { RunnerMessage } from './parse.result';
import { compareValues, newResult } from './parse.result';
import { createInterface } from 'node:readline';

export interface WorkerOptions {
  readonly adapter: string;
  readonly corpus: CorpusOptions;
  readonly warmupSeconds: number;
}

/** Reads message `i` of the prepared inputs (text or bytes, whatever the adapter takes). */
type ReadAt = (index: number, out: string[]) => unknown;

function bind<Input>(read: ReadObx5<Input>, inputs: readonly Input[]): ReadAt {
  return (index, out) => read(inputs[index] as Input, out);
}

async function load(adapter: ParseAdapter, texts: readonly string[]): Promise<ReadAt> {
  if (adapter.input === 'bytes') {
    return bind(
      await adapter.load(),
      texts.map((t) => Buffer.from(t, 'utf8')),
    );
  }
  return bind(await adapter.load(), texts);
}

function runPass(read: ReadAt, indices: readonly number[]): number {
  const out: string[] = [];
  let checksum = 0;
  for (const i of indices) {
    out.length = 0;
    read(i, out);
    checksum += out.length;
    for (const v of out) checksum += v.length;
  }
  return checksum;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;
  const adapter = ALL_ADAPTERS.find((a) => a.id === options.adapter);
  if (!adapter) throw new Error(`no adapter ${options.adapter}`);
  const version = installedVersion(adapter.packageName);
  const base = newResult({
    id: adapter.id,
    library: version ? `${adapter.packageName} ${version}` : adapter.packageName,
    runtime: `Node ${process.version}`,
    api: adapter.api,
    help: adapter.help,
  });
  const send = (message: RunnerMessage): void => {
    process.stdout.write(JSON.stringify(message) + '\n');
  };

  const corpus = generateCorpus(options.corpus);
  const texts = corpus.messages.map((m) => m.text);
  let read: ReadAt;
  try {
    read = await load(adapter, texts);
  } catch (error: unknown) {
    send({ type: 'result', result: { ...base, status: 'not available', reason: String(error) } });
    return;
  }

  // The answer: one untimed pass, every value kept and compared.
  const actual: (string[] | null)[] = [];
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < texts.length; i++) {
    const out: string[] = [];
    try {
      read(i, out);
      actual.push(out);
    } catch (error: unknown) {
      errors++;
      firstError ??= `message ${String(i)}: ${String(error)}`;
      actual.push(null);
    }
  }
  const { mismatches, examples } = compareValues(
    corpus.messages.map((m) => m.expected),
    actual,
  );
  if (errors === texts.length) {
    send({
      type: 'result',
      result: { ...base, status: 'failed', errors, reason: firstError ?? 'every message threw' },
    });
    return;
  }
  // Messages on which the parser threw are left out of the timing (and reported).
  const indices = texts.map((_, i) => i).filter((i) => actual[i] !== null);
  const bytes = indices.reduce((n, i) => n + Buffer.byteLength(texts[i] ?? '', 'utf8'), 0);

  // JIT warm-up: whole passes until the time is spent.
  const warmupEnd = performance.now() + options.warmupSeconds * 1000;
  let warmupPasses = 0;
  let checksum: number;
  do {
    checksum = runPass(read, indices);
    warmupPasses++;
  } while (performance.now() < warmupEnd);
  send({ type: 'ready', warmupPasses, checksum });

  for await (const line of createInterface({ input: process.stdin })) {
    const command = line.trim();
    if (command === 'pass') {
      gc();
      const t0 = performance.now();
      const sum = runPass(read, indices);
      send({ type: 'pass', ms: performance.now() - t0, checksum: sum });
    } else if (command === 'finish') {
      break;
    }
  }

  // Retained heap: every parsed message kept alive after its OBX-5 were read (lazy parsers
  // hold what they materialised; the values themselves are dropped).
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: unknown[] = [];
  const scratch: string[] = [];
  for (const i of indices) {
    scratch.length = 0;
    kept.push(read(i, scratch));
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  send({
    type: 'result',
    result: {
      ...base,
      status: mismatches > 0 || errors > 0 ? 'wrong answer' : 'ok',
      ...(firstError ? { reason: firstError } : {}),
      mismatches,
      errors,
      examples,
      warmupPasses,
      timedMessages: indices.length,
      timedBytes: bytes,
      retainedBytesPerMessage: kept.length > 0 ? Math.max(0, after - before) / kept.length : 0,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    },
  });
  process.stdin.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
