/**
 * The sim:lis command: its options, and whole runs as a child process against a real MLLP
 * server on an ephemeral port (exit status, ACK table, JSON report).
 */
import { MllpResult, MllpServer, type MllpHandler } from '@ancillary/hl7-mllp';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCliOptions } from './lis';

const ROOT = resolve(__dirname, '..', '..');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'tools/simulators/lis.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolvePromise({ code, stdout, stderr });
    });
  });
}

describe('sim:lis options', () => {
  it('has the documented defaults', () => {
    const options = parseCliOptions([], 1_767_600_000_000);
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: 2575,
      rate: 50,
      count: 100,
      connections: 1,
      version: '2.5.1',
      ackMode: 'original',
      facility: 'NWH-LAB',
      strict: false,
    });
    expect(options.runId).toMatch(/^[A-Z0-9]{1,8}$/);
  });

  it('reads every flag, as --flag value or --flag=value, shares as fractions or percentages', () => {
    const options = parseCliOptions([
      '--host=10.0.0.5',
      '--port',
      '3000',
      '--rate',
      '0',
      '--duration',
      '20',
      '--connections=4',
      '--seed',
      '7',
      '--run-id',
      'BENCH1',
      '--malformed',
      '5%',
      '--critical',
      '0.2',
      '--duplicates=0',
      '--version',
      '2.3',
      '--ack-mode',
      'enhanced',
      '--strict',
    ]);
    expect(options).toMatchObject({
      host: '10.0.0.5',
      port: 3000,
      rate: undefined,
      count: undefined,
      durationSeconds: 20,
      connections: 4,
      seed: 7,
      runId: 'BENCH1',
      version: '2.3',
      ackMode: 'enhanced',
      strict: true,
    });
    expect(options.mix).toMatchObject({ malformed: 0.05, critical: 0.2, duplicates: 0 });
  });

  it('refuses bad values with a reason', () => {
    expect(() => parseCliOptions(['--rate', '-1'])).toThrow(/--rate must be a number ≥ 0/);
    expect(() => parseCliOptions(['--malformed', '1.5'])).toThrow(/--malformed must be a share/);
    expect(() => parseCliOptions(['--version', '2.4'])).toThrow(/--version must be 2.5.1 or 2.3/);
    expect(() => parseCliOptions(['--run-id', 'lower'])).toThrow(/--run-id/);
    expect(() => parseCliOptions(['--bogus', '1'])).toThrow(/unknown option --bogus/);
    expect(() => parseCliOptions(['--bogus'])).toThrow(/unknown option --bogus/);
    expect(() => parseCliOptions(['--count'])).toThrow(/--count needs a value/);
    expect(() =>
      parseCliOptions(['--corrections', '0.5', '--duplicates', '0.4', '--malformed', '0.2']),
    ).toThrow(/exceed 1/);
  });
});

describe('sim:lis runs', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function server(handler: MllpHandler = () => MllpResult.accept()): Promise<number> {
    const mllp = new MllpServer({ host: '127.0.0.1', port: 0, handler, closeTimeoutMs: 2000 });
    const { port } = await mllp.listen();
    cleanups.push(() => mllp.close());
    return port;
  }

  it('sends, prints the ACK table, writes the report and exits 0 when every message got an ACK', async () => {
    const port = await server();
    const dir = mkdtempSync(join(tmpdir(), 'sim-lis-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    const report = join(dir, 'report.json');
    const { code, stdout, stderr } = await runCli([
      '--port',
      String(port),
      '--count',
      '120',
      '--rate',
      '0',
      '--connections',
      '2',
      '--seed',
      '99',
      '--malformed',
      '0.1',
      '--report',
      report,
    ]);
    expect(stderr).toContain('seed 99');
    expect(code).toBe(0);
    expect(stdout).toMatch(/\| kind\s+\| sent \|/);
    expect(stdout).toMatch(/\| malformed\s+\|\s+\d+ \|/);
    expect(stdout).toMatch(/\| all\s+\|\s+120 \|/);
    expect(stdout).toContain('ACK latency ms: p50');
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      messages: { kind: string; outcome: string; asExpected: boolean }[];
    };
    expect(json.messages).toHaveLength(120);
    expect(json.messages.every((m) => m.asExpected)).toBe(true);
    expect(
      json.messages.filter((m) => m.kind === 'malformed').every((m) => m.outcome === 'AR'),
    ).toBe(true);
  });

  it('exits 1 when a message got no ACK, and with --strict when an answer was unexpected', async () => {
    const port = await server((message) =>
      message.controlId.endsWith('2')
        ? new Promise((r) => {
            setTimeout(() => {
              r(MllpResult.accept());
            }, 1500);
          })
        : message.controlId.endsWith('3')
          ? MllpResult.error()
          : MllpResult.accept(),
    );
    const common = ['--port', String(port), '--rate', '0', '--seed', '5'];
    const mix = ['--corrections', '0', '--duplicates', '0', '--malformed', '0', '--unmapped', '0'];
    const timedOut = await runCli([...common, ...mix, '--count', '3', '--ack-timeout', '0.3']);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stdout).toMatch(/1 message\(s\) got no ACK/);
    const loose = await runCli([...common, ...mix, '--count', '1', '--run-id', 'X3']);
    // …X300000001 ends in 1: accepted
    expect(loose.code).toBe(0);
    const nacked = await runCli([...common, ...mix, '--count', '3', '--run-id', 'Y', '--strict']);
    // Y00000001 AA, Y00000002 slow but within 30 s, Y00000003 AE
    expect(nacked.code).toBe(1);
    expect(nacked.stdout).toMatch(/answer\(s\) differ from the expected one/);
  });

  it('says how to start the platform and exits 2 when nothing listens', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => {
      closed.close(() => {
        r();
      });
    });
    const { code, stderr } = await runCli(['--port', String(port), '--count', '1']);
    expect(code).toBe(2);
    expect(stderr).toContain('npm start');
  });
});
