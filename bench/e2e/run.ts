/**
 * End-to-end benchmark: drives the running platform (lab-gateway → normalizer → ehr-writer)
 * through MLLP at fixed rates and then as fast as it goes, times every message from its send to
 * its `ResultWritten` event, and measures in the same run the machine's ceilings for the same
 * work: Kafka's own producer benchmark and raw PostgreSQL inserts of the same FHIR rows.
 * Prints tables; asserts nothing. See bench/e2e/README.md.
 *
 *   npm run bench:e2e                      # 100, 500, 1,000 msg/s × 20 s, then max; ceilings
 *   npm run bench:e2e -- --quick           # 5 s phases, small ceilings: to try the harness
 *   npm run bench:e2e -- --ceilings-only   # no platform needed
 */
import { DEFAULT_TERMINOLOGY_DIR, loadTerminology } from '@ancillary/terminology';
import {
  labCatalogueFromTerminology,
  LisTrafficGenerator,
  RESULTS_ONLY_MIX,
  ResultWrittenWatcher,
} from '@ancillary/simulators';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { runPhase, type PhaseResult, type PhaseSpec } from './e2e.driver';
import { averageEnvelopeBytes } from './envelope.size';
import { measureKafkaCeiling } from './kafka.ceiling';
import { measurePostgresCeiling } from './postgres.ceiling';
import { ceilingTable, phaseTable, verdict, type Ceilings } from './report';

const ROOT = resolve(__dirname, '..', '..');

export interface BenchOptions {
  host: string;
  port: number;
  brokers: string[];
  registryUrl: string;
  databaseUrl: string;
  rates: number[];
  max: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  settleSeconds: number;
  connections: number;
  maxConnections: number;
  e2e: boolean;
  ceilings: boolean;
  kafkaRecords: number;
  pgSeconds: number;
  pgBatch: number;
  pgConnections: number;
  seed: number;
  java: string | undefined;
  report: string;
  quick: boolean;
}

export class UsageError extends Error {}

/** Options that take a value. */
const VALUED = new Set([
  'mllp',
  'brokers',
  'registry',
  'database-url',
  'rates',
  'duration',
  'warmup',
  'settle',
  'connections',
  'max-connections',
  'kafka-records',
  'pg-seconds',
  'pg-batch',
  'pg-connections',
  'seed',
  'java',
  'report',
]);

export const USAGE = `Usage: npm run bench:e2e -- [options]

  --mllp HOST:PORT       the lab gateway's MLLP listener (default 127.0.0.1:2575)
  --brokers LIST         Kafka brokers (default: .stack/env, else 127.0.0.1:19092)
  --registry URL         schema registry (default: .stack/env)
  --database-url URL     PostgreSQL for the ceiling's scratch database (default: .stack/env)
  --rates LIST           fixed rates in msg/s (default 100,500,1000)
  --no-max               skip the as-fast-as-it-goes phase
  --duration S           seconds per phase (default 20; --quick 5)
  --connections N        MLLP connections for the fixed rates (default 8)
  --max-connections N    MLLP connections for the max phase (default 16)
  --warmup S             untimed warm-up at 50 msg/s before the phases (default 3; --quick 1)
  --settle S             wait this long after a phase for results still on their way (default 60)
  --quick                short phases and small ceilings: to try the harness, not to quote
  --no-ceilings          skip the Kafka and PostgreSQL ceilings
  --ceilings-only        only the ceilings (no platform needed)
  --kafka-records N      records for ProducerPerformance (default 200000; --quick 30000)
  --pg-seconds S         seconds of PostgreSQL inserts (default 10; --quick 3)
  --pg-batch N           messages per transaction (default 25)
  --pg-connections N     concurrent inserting connections (default 4)
  --seed N               traffic seed (default 20261126)
  --java PATH            JVM for ProducerPerformance (default: as tools/stack/stack.sh finds it)
  --report FILE          JSON report (default reports/bench-e2e.json)

Exit status: 0 measured; 1 a measurement failed; 2 bad options, or nothing listens on the
MLLP port (start the platform with \`npm start\`).`;

/** .stack/env, written by tools/stack/stack.sh: the defaults for the stack's addresses. */
function stackEnv(): Record<string, string | undefined> {
  const file = join(ROOT, '.stack', 'env');
  return existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
}

function positive(name: string, value: string, integer = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} needs a positive ${integer ? 'integer' : 'number'}, got ${value}`,
    );
  }
  return n;
}

export function parseBenchOptions(
  argv: readonly string[],
  env: Record<string, string | undefined> = stackEnv(),
): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    host: '127.0.0.1',
    port: 2575,
    brokers: (env['KAFKA_BROKERS'] ?? '127.0.0.1:19092').split(','),
    registryUrl: env['SCHEMA_REGISTRY_URL'] ?? 'http://127.0.0.1:18081/apis/ccompat/v7',
    databaseUrl: env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/ancillary',
    rates: [100, 500, 1000],
    max: true,
    durationSeconds: quick ? 5 : 20,
    warmupSeconds: quick ? 1 : 3,
    settleSeconds: quick ? 20 : 60,
    connections: 8,
    maxConnections: 16,
    e2e: true,
    ceilings: true,
    kafkaRecords: quick ? 30_000 : 200_000,
    pgSeconds: quick ? 3 : 10,
    pgBatch: 25,
    pgConnections: 4,
    seed: 20261126,
    java: undefined,
    report: join(ROOT, 'reports', 'bench-e2e.json'),
    quick,
  };
  const args = [...argv];
  while (args.length > 0) {
    const arg = args.shift() ?? '';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const flags: Record<string, () => void> = {
      help: () => {
        throw new UsageError('');
      },
      quick: () => undefined,
      'no-max': () => {
        options.max = false;
      },
      'no-ceilings': () => {
        options.ceilings = false;
      },
      'ceilings-only': () => {
        options.e2e = false;
      },
    };
    const flag = flags[name];
    if (flag) {
      flag();
      continue;
    }
    if (!VALUED.has(name)) throw new UsageError(`unknown option --${name}`);
    const value = inline ?? args.shift();
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    switch (name) {
      case 'mllp': {
        const match = /^(.+):(\d{1,5})$/.exec(value);
        if (!match) throw new UsageError(`--mllp needs HOST:PORT, got ${value}`);
        options.host = match[1] ?? '';
        options.port = Number(match[2]);
        break;
      }
      case 'brokers':
        options.brokers = value.split(',').filter((b) => b !== '');
        break;
      case 'registry':
        options.registryUrl = value;
        break;
      case 'database-url':
        options.databaseUrl = value;
        break;
      case 'rates':
        options.rates = value
          .split(',')
          .filter((r) => r !== '')
          .map((r) => positive(name, r));
        break;
      case 'duration':
        options.durationSeconds = positive(name, value);
        break;
      case 'warmup':
        options.warmupSeconds = value === '0' ? 0 : positive(name, value);
        break;
      case 'settle':
        options.settleSeconds = positive(name, value);
        break;
      case 'connections':
        options.connections = positive(name, value, true);
        break;
      case 'max-connections':
        options.maxConnections = positive(name, value, true);
        break;
      case 'kafka-records':
        options.kafkaRecords = positive(name, value, true);
        break;
      case 'pg-seconds':
        options.pgSeconds = positive(name, value);
        break;
      case 'pg-batch':
        options.pgBatch = positive(name, value, true);
        break;
      case 'pg-connections':
        options.pgConnections = positive(name, value, true);
        break;
      case 'seed':
        options.seed = positive(name, value, true);
        break;
      case 'java':
        options.java = value;
        break;
      case 'report':
        options.report = resolve(value);
        break;
      default:
        throw new UsageError(`unknown option --${name}`);
    }
  }
  if (!options.e2e && !options.ceilings) {
    throw new UsageError('--ceilings-only and --no-ceilings leave nothing to measure');
  }
  return options;
}

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function progress(text: string): void {
  process.stderr.write(`… ${text}\n`);
}

function mllpListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(ok);
    };
    const timer = setTimeout(() => {
      done(false);
    }, 3000);
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

function revision(): string {
  const git = (args: string[]): string =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const commit = git(['rev-parse', '--short', 'HEAD']) || '?';
  return git(['status', '--porcelain', '--', 'apps', 'libs']) === ''
    ? commit
    : `${commit} + uncommitted changes in apps/ or libs/`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) process.stderr.write(`bench:e2e: ${error.message}\n\n`);
    process.stderr.write(`${USAGE}\n`);
    return error.message ? 2 : 0;
  }
  if (options.e2e && !(await mllpListening(options.host, options.port))) {
    process.stderr.write(
      `bench:e2e: nothing accepts MLLP connections on ${options.host}:${options.port}.\n` +
        'Start the platform first — `npm start` brings up the stack, lab-gateway (MLLP 127.0.0.1:2575), ' +
        'normalizer and ehr-writer — then run this again; or pass --mllp HOST:PORT, ' +
        'or --ceilings-only to measure the ceilings alone.\n',
    );
    return 2;
  }
  const started = new Date();
  const terminology = loadTerminology(DEFAULT_TERMINOLOGY_DIR);
  const catalogue = labCatalogueFromTerminology(terminology, 'NWH-LAB');
  // The sample sizes the ceilings' records and rows: the same generator, seed and mix.
  const sample = new LisTrafficGenerator({
    catalogue,
    seed: options.seed,
    runId: 'SIZE',
    mix: RESULTS_ONLY_MIX,
  }).take(2000);
  const recordSize = averageEnvelopeBytes(sample);
  const observations = sample.reduce((s, m) => s + m.order.observations.length, 0) / sample.length;
  const loadSamples: number[] = [];
  const sampler = setInterval(() => loadSamples.push(loadavg()[0] ?? 0), 5000);
  sampler.unref();

  say(`# End-to-end benchmark — ${started.toISOString()}`);
  say();
  say(
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  say(`Code: commit ${revision()}`);
  say(
    `Traffic: ORU^R01 v2.5.1 from SIMLIS@NWH-LAB (terminology ${terminology.version}), results only, ` +
      `${(RESULTS_ONLY_MIX.critical * 100).toFixed(0)} % with a critical value; ${observations.toFixed(1)} OBX per message on average; ` +
      `raw envelope ${recordSize} B on average; seed ${options.seed}${options.quick ? '; --quick (not for quoting)' : ''}`,
  );

  const phases: PhaseResult[] = [];
  let failed = false;
  if (options.e2e) {
    const runId = `E${Date.now().toString(36).toUpperCase().slice(-7)}`;
    const generator = new LisTrafficGenerator({
      catalogue,
      seed: options.seed,
      runId,
      mix: RESULTS_ONLY_MIX,
      clock: () => new Date(),
    });
    const watcher = new ResultWrittenWatcher({
      brokers: options.brokers,
      registryUrl: options.registryUrl,
    });
    progress(`watching ${watcher.topic} (run id ${runId})`);
    await watcher.start();
    try {
      const context = {
        host: options.host,
        port: options.port,
        generator,
        watcher,
        settleTimeoutMs: options.settleSeconds * 1000,
        onProgress: progress,
      };
      if (options.warmupSeconds > 0) {
        progress(`warm-up: 50 msg/s for ${options.warmupSeconds} s (not in the table)`);
        await runPhase(
          { label: 'warm-up', rate: 50, durationMs: options.warmupSeconds * 1000, connections: 2 },
          context,
        );
      }
      const specs: PhaseSpec[] = options.rates.map((rate) => ({
        label: `${rate} msg/s`,
        rate,
        durationMs: options.durationSeconds * 1000,
        connections: options.connections,
      }));
      if (options.max) {
        specs.push({
          label: 'max',
          rate: undefined,
          durationMs: options.durationSeconds * 1000,
          connections: options.maxConnections,
        });
      }
      for (const spec of specs) {
        progress(
          `phase ${spec.label}: ${options.durationSeconds} s over ${spec.connections} connections`,
        );
        const result = await runPhase(spec, context);
        phases.push(result);
        progress(
          `phase ${spec.label}: ${result.accepted} acknowledged, ${result.written} in the chart, ${result.pending} pending`,
        );
      }
    } finally {
      await watcher.stop();
    }
    say();
    say(
      `## Through the platform (MLLP → lab-gateway → normalizer → ehr-writer → ResultWritten), ${options.durationSeconds} s per phase`,
    );
    say();
    say(phaseTable(phases));
  }

  const ceilings: Ceilings = {};
  if (options.ceilings) {
    progress(
      `Kafka ceiling: ProducerPerformance, ${options.kafkaRecords} records of ${recordSize} B, acks=all`,
    );
    try {
      ceilings.kafka = await measureKafkaCeiling({
        brokers: options.brokers,
        recordSize,
        records: options.kafkaRecords,
        ...(options.java ? { java: options.java } : {}),
        onProgress: (line) => {
          progress(`  ${line}`);
        },
      });
    } catch (error) {
      failed = true;
      ceilings.kafka = { error: message(error) };
    }
    progress(
      `PostgreSQL ceiling: ${options.pgSeconds} s of inserts, batches of ${options.pgBatch}, ${options.pgConnections} connections`,
    );
    try {
      ceilings.postgres = await measurePostgresCeiling({
        databaseUrl: options.databaseUrl,
        messages: sample,
        terminology,
        durationMs: options.pgSeconds * 1000,
        batchSize: options.pgBatch,
        connections: options.pgConnections,
        onProgress: (filed, seconds) => {
          progress(`  ${filed} messages in ${seconds.toFixed(0)} s`);
        },
        onWarning: (text) => {
          progress(`WARNING: ${text}`);
        },
      });
    } catch (error) {
      failed = true;
      ceilings.postgres = { error: message(error) };
    }
    say();
    say('## Ceilings of this machine for the same work, same run');
    say();
    say(ceilingTable(ceilings));
  }
  const result = verdict(phases, ceilings);
  say();
  say(result.text);

  clearInterval(sampler);
  loadSamples.push(loadavg()[0] ?? 0);
  const finished = new Date();
  say();
  say(
    `1-minute load average during the run (every 5 s): min ${Math.min(...loadSamples).toFixed(2)}, max ${Math.max(...loadSamples).toFixed(2)} on ${cpus().length} CPUs; took ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s.`,
  );
  mkdirSync(dirname(options.report), { recursive: true });
  writeFileSync(
    options.report,
    JSON.stringify(
      {
        started: started.toISOString(),
        finished: finished.toISOString(),
        command: argv,
        options,
        commit: revision(),
        traffic: { recordSize, observationsPerMessage: observations },
        phases,
        ceilings,
        verdict: result,
        loadSamples,
      },
      null,
      2,
    ),
  );
  say(`JSON: ${options.report}`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench:e2e: ${message(error)}\n`);
      process.exitCode = 1;
    },
  );
}
