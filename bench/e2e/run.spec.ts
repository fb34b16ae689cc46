/** bench:e2e's options, and its answer when the platform is not running. */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { parseBenchOptions } from './run';

const ROOT = resolve(__dirname, '..', '..');
const ENV = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/ancillary',
};

describe('bench:e2e options', () => {
  it('defaults to 100, 500 and 1,000 msg/s for 20 s each, then max, with the ceilings', () => {
    expect(parseBenchOptions([], ENV)).toMatchObject({
      host: '127.0.0.1',
      port: 2575,
      brokers: ['127.0.0.1:19092'],
      rates: [100, 500, 1000],
      max: true,
      durationSeconds: 20,
      ceilings: true,
      e2e: true,
      kafkaRecords: 200_000,
    });
  });

  it('shortens everything with --quick and reads every option', () => {
    expect(parseBenchOptions(['--quick'], ENV)).toMatchObject({
      durationSeconds: 5,
      kafkaRecords: 30_000,
      pgSeconds: 3,
      quick: true,
    });
    expect(
      parseBenchOptions(
        [
          '--mllp',
          'gw.local:3575',
          '--brokers=k1:9092,k2:9092',
          '--rates',
          '50,250',
          '--duration',
          '10',
          '--no-max',
          '--no-ceilings',
          '--connections',
          '4',
        ],
        ENV,
      ),
    ).toMatchObject({
      host: 'gw.local',
      port: 3575,
      brokers: ['k1:9092', 'k2:9092'],
      rates: [50, 250],
      durationSeconds: 10,
      max: false,
      ceilings: false,
      connections: 4,
    });
  });

  it('refuses what it cannot do', () => {
    expect(() => parseBenchOptions(['--rates', '100,x'], ENV)).toThrow(/--rates needs a positive/);
    expect(() => parseBenchOptions(['--mllp', 'nohost'], ENV)).toThrow(/HOST:PORT/);
    expect(() => parseBenchOptions(['--ceilings-only', '--no-ceilings'], ENV)).toThrow(
      /nothing to measure/,
    );
    expect(() => parseBenchOptions(['--frobnicate'], ENV)).toThrow(/unknown option/);
  });
});

describe('bench:e2e without the platform', () => {
  it('says how to start it and exits 2', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => {
      closed.close(() => {
        r();
      });
    });
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
      (resolvePromise, reject) => {
        const child = spawn(
          process.execPath,
          [
            '-r',
            '@swc-node/register',
            join(ROOT, 'bench/e2e/run.ts'),
            '--mllp',
            `127.0.0.1:${port}`,
          ],
          { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
        );
        let err = '';
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('error', reject);
        child.on('close', (exit) => {
          resolvePromise({ code: exit, stderr: err });
        });
      },
    );
    expect(code).toBe(2);
    expect(stderr).toContain(`nothing accepts MLLP connections on 127.0.0.1:${port}`);
    expect(stderr).toContain('npm start');
  });
});
