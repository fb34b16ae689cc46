/**
 * A child process that answers commands written to its stdin with one JSON object per stdout
 * line. The parse runners (parse.worker.ts, HapiBench.java) speak it, so the harness can keep
 * them all alive and time one pass of each in turn (see run.ts).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export class JsonLineProcess {
  private readonly lines: AsyncIterator<string>;
  private stderrText = '';
  private exitCode: number | null | undefined;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrText = (this.stderrText + chunk.toString()).slice(-4000);
    });
    child.once('exit', (code) => {
      this.exitCode = code;
    });
  }

  static start(command: string, args: readonly string[], cwd: string): JsonLineProcess {
    return new JsonLineProcess(spawn(command, args, { cwd, stdio: 'pipe' }));
  }

  /** The next JSON line; rejects with the process's stderr if it ends first. */
  async next<T>(timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no answer within ${String(timeoutMs)} ms`));
      }, timeoutMs);
    });
    try {
      for (;;) {
        const line = await Promise.race([this.lines.next(), timeout]);
        if (line.done) {
          throw new Error(
            `process ended (exit ${String(this.exitCode)}) before answering: ${this.stderrText.trim()}`,
          );
        }
        const text = line.value.trim();
        if (text.startsWith('{')) return JSON.parse(text) as T;
        // anything else on stdout (a library's own output) is ignored
      }
    } finally {
      clearTimeout(timer);
    }
  }

  send(command: string): void {
    this.child.stdin.write(`${command}\n`);
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Ends the process if it is still running. */
  stop(): void {
    this.child.stdin.end();
    if (this.exitCode === undefined) this.child.kill();
  }
}
