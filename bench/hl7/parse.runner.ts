/**
 * A parser under test as the harness drives it: started and warmed up one at a time, then timed
 * one pass at a time, round-robin with all the others (run.ts), then asked for its result.
 */
import { join, resolve } from 'node:path';
import { JsonLineProcess } from './json-line.process';
import { failedResult, type ParseRunResult, type RunnerMessage } from './parse.result';
import type { WorkerOptions } from './parse.worker';

export interface ParseRunner {
  readonly id: string;
  /**
   * Starts the runner and waits until it has checked its answer and warmed up. Resolves with a
   * result instead when it cannot be timed (library not available, every message threw).
   */
  start(): Promise<ParseRunResult | undefined>;
  /** One timed pass over the corpus, ms. */
  pass(): Promise<number>;
  /** Its result (pass times are the harness's); the runner ends. */
  finish(): Promise<ParseRunResult>;
  /** Ends it at once (after a failure). */
  stop(): void;
}

const ROOT = resolve(__dirname, '..', '..');
const START_TIMEOUT_MS = 300_000;
const PASS_TIMEOUT_MS = 120_000;

/** Drives a process speaking RunnerMessage lines; `toResult` maps its final line. */
export class LineRunner<Final extends { type: 'result' }> implements ParseRunner {
  private process: JsonLineProcess | undefined;
  private warmupPasses = 0;

  constructor(
    readonly id: string,
    private readonly launch: () => JsonLineProcess,
    private readonly toResult: (final: Final, warmupPasses: number) => ParseRunResult,
    private readonly failed: (reason: string) => ParseRunResult,
  ) {}

  async start(): Promise<ParseRunResult | undefined> {
    try {
      this.process = this.launch();
      const first = await this.process.next<RunnerMessage | Final>(START_TIMEOUT_MS);
      if (first.type === 'ready') {
        this.warmupPasses = first.warmupPasses;
        return undefined;
      }
      this.stop();
      return first.type === 'result' ? this.toResult(first as Final, 0) : this.failed('no ready');
    } catch (error: unknown) {
      this.stop();
      return this.failed(String(error));
    }
  }

  async pass(): Promise<number> {
    const process = this.running();
    process.send('pass');
    const answer = await process.next<RunnerMessage>(PASS_TIMEOUT_MS);
    if (answer.type !== 'pass') throw new Error(`${this.id}: expected a pass, got ${answer.type}`);
    return answer.ms;
  }

  async finish(): Promise<ParseRunResult> {
    const process = this.running();
    process.send('finish');
    try {
      const final = await process.next<Final>(START_TIMEOUT_MS);
      return this.toResult(final, this.warmupPasses);
    } finally {
      this.stop();
    }
  }

  stop(): void {
    this.process?.stop();
  }

  private running(): JsonLineProcess {
    if (!this.process) throw new Error(`${this.id} is not started`);
    return this.process;
  }
}

/** A JavaScript parser in its own Node process (parse.worker.ts). */
export function nodeParseRunner(options: WorkerOptions): ParseRunner {
  return new LineRunner<Extract<RunnerMessage, { type: 'result' }>>(
    options.adapter,
    () =>
      JsonLineProcess.start(
        process.execPath,
        [
          '--expose-gc',
          '--max-old-space-size=4096',
          '-r',
          '@swc-node/register',
          join(__dirname, 'parse.worker.ts'),
          JSON.stringify(options),
        ],
        ROOT,
      ),
    (final) => final.result,
    (reason) => failedResult(options.adapter, `Node ${process.version}`, reason),
  );
}
