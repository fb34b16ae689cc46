/**
 * MLLP round trips on loopback: a server process that ACKs at once (mllp.server.worker.ts) and,
 * in this process, C clients (connections) each sending its share of M messages one after the
 * other (each waits for its ACK: the closed loop MLLP prescribes). Every ACK is checked: code AA
 * (original mode) and MSA-2 equal to the message's MSH-10.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { Corpus } from './corpus.generator';

export type MllpImplementation = 'ours' | 'simple-hl7';

export const MLLP_IMPLEMENTATIONS: Record<MllpImplementation, { library: string; api: string }> = {
  ours: {
    library: '@ancillary/hl7-mllp',
    api: 'MllpServer (handler returns MllpResult.accept()) ↔ MllpClient.send()',
  },
  'simple-hl7': {
    library: 'simple-hl7',
    api: 'Server.createTcpServer (res.end() sends its AA) ↔ Server.createTcpClient({ keepalive }).send()',
  },
};

export interface MllpScenario {
  readonly implementation: MllpImplementation;
  readonly connections: number;
  readonly messages: number;
  readonly warmupMessages: number;
  /** The scenario stops (and says so) after this long. */
  readonly maxSeconds: number;
}

export interface MllpRunResult {
  readonly implementation: MllpImplementation;
  readonly library: string;
  readonly api: string;
  readonly connections: number;
  readonly status: 'ok' | 'wrong answer' | 'failed' | 'not available' | 'timed out';
  readonly reason?: string;
  /** Round trips completed in the timed part, and how many ACKs were wrong. */
  readonly messages: number;
  readonly badAcks: number;
  readonly seconds?: number;
  readonly roundTripsPerSecond?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly maxMs?: number;
  /** Server process CPU time per message (user + system), µs. */
  readonly serverCpuMicrosPerMessage?: number;
}

/** A client connection: send one message, resolve with the ACK's MSA-1 and MSA-2. */
interface BenchClient {
  send(text: string): Promise<{ code: string; controlId: string }>;
  close(): Promise<void>;
}

async function oursClient(port: number): Promise<BenchClient> {
  const { MllpClient } = await import('@ancillary/hl7-mllp');
  const client = new MllpClient({ host: '127.0.0.1', port, retry: { maxAttempts: 1 } });
  return {
    async send(text) {
      const result = await client.send(text);
      return { code: result.code, controlId: result.ack.get('MSA-2') ?? '' };
    },
    close: () => client.close(),
  };
}

async function simpleHl7Client(port: number): Promise<BenchClient> {
  const { Server } = await import('simple-hl7');
  const client = Server.createTcpClient({ host: '127.0.0.1', port, keepalive: true });
  return {
    send(text) {
      return new Promise((resolve, reject) => {
        client.send(text, (error, ack) => {
          if (error || !ack) {
            reject(error ?? new Error('no ACK'));
            return;
          }
          const msa = ack.getSegment('MSA');
          resolve({ code: msa?.getField(1) ?? '', controlId: msa?.getField(2) ?? '' });
        });
      });
    },
    close() {
      client.close();
      return Promise.resolve();
    },
  };
}

interface ServerProcess {
  readonly port: number;
  stop(): Promise<{ cpuMicros: number; messages: number } | undefined>;
}

async function startServer(implementation: MllpImplementation): Promise<ServerProcess> {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, 'mllp.server.worker.ts'), implementation],
    { cwd: process.cwd(), stdio: 'pipe' },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`server exited (${String(code)}): ${stderr.trim()}`));
    });
  });
  exited.catch(() => undefined);
  const first = await Promise.race([lines.next(), exited]);
  if (first.done) throw new Error(`server printed no port: ${stderr.trim()}`);
  const { port } = JSON.parse(first.value) as { port: number };
  return {
    port,
    async stop() {
      child.stdin.write('stop\n');
      const timer = setTimeout(() => child.kill(), 10_000);
      try {
        const last = await Promise.race([lines.next(), exited]);
        return last.done
          ? undefined
          : (JSON.parse(last.value) as {
              cpuMicros: number;
              messages: number;
            });
      } catch {
        return undefined;
      } finally {
        clearTimeout(timer);
        child.stdin.end();
      }
    },
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

/**
 * A corpus message made ready to send: MSH-10 unique per send (the ACK's MSA-2 must echo it) and
 * MSH-15/16 emptied, so every server answers in original mode (AA), the one mode all support.
 */
function prepareMessage(text: string, n: number): { text: string; controlId: string } {
  const end = text.indexOf('\r');
  const fields = text.slice(0, end).split('|');
  const controlId = `R${n.toString(36).toUpperCase().padStart(8, '0')}`;
  fields[9] = controlId;
  if (fields.length > 15) {
    fields[14] = '';
    fields[15] = '';
  }
  return { text: fields.join('|') + text.slice(end), controlId };
}

export async function runMllpScenario(
  corpus: Corpus,
  scenario: MllpScenario,
): Promise<MllpRunResult> {
  const { library, api } = MLLP_IMPLEMENTATIONS[scenario.implementation];
  const base = {
    implementation: scenario.implementation,
    library,
    api,
    connections: scenario.connections,
    messages: 0,
    badAcks: 0,
  };
  let server: ServerProcess;
  try {
    server = await startServer(scenario.implementation);
  } catch (error: unknown) {
    return { ...base, status: 'not available', reason: String(error) };
  }
  const connect = scenario.implementation === 'ours' ? oursClient : simpleHl7Client;
  const clients: BenchClient[] = [];
  let outcome: Omit<MllpRunResult, keyof typeof base> & Partial<typeof base>;
  try {
    for (let c = 0; c < scenario.connections; c++) clients.push(await connect(server.port));

    const total = scenario.warmupMessages + scenario.messages;
    const prepared = Array.from({ length: total }, (_, n) =>
      prepareMessage(corpus.messages[n % corpus.messages.length]?.text ?? '', n),
    );
    const latencies = new Float64Array(scenario.messages);
    let next = 0;
    let timed = 0;
    let badAcks = 0;
    let firstBad: string | undefined;
    let timedStart = performance.now();
    const deadline = performance.now() + scenario.maxSeconds * 1000;
    const state = { timedOut: false };

    const loop = async (client: BenchClient): Promise<void> => {
      while (next < total) {
        if (performance.now() > deadline) {
          state.timedOut = true;
          return;
        }
        const n = next++;
        if (n === scenario.warmupMessages) timedStart = performance.now();
        const message = prepared[n];
        if (!message) return;
        const t0 = performance.now();
        const ack = await client.send(message.text);
        const ms = performance.now() - t0;
        if (ack.code !== 'AA' || ack.controlId !== message.controlId) {
          badAcks++;
          firstBad ??= `message ${n}: ACK ${ack.code} for ${ack.controlId}, expected AA for ${message.controlId}`;
        }
        if (n >= scenario.warmupMessages) latencies[timed++] = ms;
      }
    };
    await Promise.all(clients.map(loop));
    const seconds = (performance.now() - timedStart) / 1000;
    const done = latencies.subarray(0, timed).sort();
    outcome = {
      status: state.timedOut ? 'timed out' : badAcks > 0 ? 'wrong answer' : 'ok',
      ...(firstBad ? { reason: firstBad } : {}),
      messages: timed,
      badAcks,
      seconds,
      roundTripsPerSecond: timed / seconds,
      p50Ms: percentile(done, 50),
      p99Ms: percentile(done, 99),
      maxMs: done[done.length - 1] ?? Number.NaN,
    };
  } catch (error: unknown) {
    outcome = { status: 'failed', reason: String(error) };
  }
  // Clients first: a server's close waits for its connections to end.
  await Promise.all(clients.map((c) => c.close()));
  const cpu = await server.stop();
  return {
    ...base,
    ...outcome,
    ...(cpu && cpu.messages > 0 ? { serverCpuMicrosPerMessage: cpu.cpuMicros / cpu.messages } : {}),
  };
}
