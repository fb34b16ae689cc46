/**
 * The simulated laboratory information system: sends generated ORU^R01 results to the lab
 * gateway over MLLP and reports the ACKs it got.
 *
 *   npm run sim:lis -- --rate 50 --count 300
 *   npm run sim:lis -- --duration 60 --rate 200 --connections 4 --malformed 0.02 --critical 0.1
 *   npm run sim:lis -- --help
 *
 * Exit status: 0 when every message got an ACK (whatever its code: malformed messages are meant
 * to get AR, and the table shows any answer that differs from the expected one); 1 when any
 * message got no ACK at all (timeout, connection lost or refused, an answer that is not an ACK)
 * — the one case where the LIS cannot know whether the message was stored — or, with --strict,
 * when any answer differs from the expected one; 2 for bad options or when nothing listens on
 * the MLLP port.
 */
import { createLogger } from '@ancillary/observability';
import {
  ackTable,
  DEFAULT_TRAFFIC_MIX,
  labCatalogueFromTerminology,
  LisSender,
  LisTrafficGenerator,
  sendSummary,
  type GeneratedMessage,
  type SimHl7Version,
  type TrafficMix,
} from '@ancillary/simulators';
import { DEFAULT_TERMINOLOGY_DIR, loadTerminology } from '@ancillary/terminology';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';

interface CliOptions {
  host: string;
  port: number;
  rate: number | undefined;
  count: number | undefined;
  durationSeconds: number | undefined;
  connections: number;
  seed: number;
  runId: string;
  mix: TrafficMix;
  version: SimHl7Version;
  ackMode: 'original' | 'enhanced';
  facility: string;
  terminologyDir: string;
  patients: number;
  ackTimeoutSeconds: number;
  maxAttempts: number;
  strict: boolean;
  report: string | undefined;
  logLevel: string;
}

const USAGE = `Usage: npm run sim:lis -- [options]

Sends generated lab results (ORU^R01) over MLLP and prints the ACKs received.

  --host H             MLLP host (default 127.0.0.1)
  --port N             MLLP port (default 2575, the lab gateway)
  --rate R             messages per second; 0 = as fast as the gateway answers (default 50)
  --count N            messages to send (default 100 unless --duration is given)
  --duration S         send for S seconds (with --count: whichever ends first)
  --connections N      concurrent MLLP connections (default 1)
  --seed N             generator seed (default: printed, from the clock) — same seed, same traffic
  --run-id ID          1–8 of A-Z0-9 in every MSH-10 (default from the clock; reuse it only to
                       resend the very same messages, which the gateway then treats as duplicates)
  --corrections F      share of corrected results (default ${DEFAULT_TRAFFIC_MIX.corrections})
  --duplicates F       share of exact resends (default ${DEFAULT_TRAFFIC_MIX.duplicates})
  --malformed F        share of malformed messages, answered AR (default ${DEFAULT_TRAFFIC_MIX.malformed})
  --unmapped F         share of results with a local code missing from the terminology (default ${DEFAULT_TRAFFIC_MIX.unmapped})
  --critical F         share of results with a critical value (default ${DEFAULT_TRAFFIC_MIX.critical})
                       (shares are fractions 0–1, or percentages such as 5%)
  --version V          HL7 version: 2.5.1 (default, UTF-8) or 2.3 (Latin-1)
  --ack-mode M         original (AA/AR, default) or enhanced (MSH-15 AL: CA/CR)
  --facility F         sending facility of the terminology table (default NWH-LAB)
  --terminology DIR    terminology tables (default ${DEFAULT_TERMINOLOGY_DIR})
  --patients N         size of the synthetic patient pool (default 200)
  --ack-timeout S      seconds to wait for each ACK (default 30)
  --max-attempts N     attempts per message, resending the same bytes on AE/timeout (default 1)
  --strict             exit 1 also when an answer differs from the expected one
  --report FILE        write every message's outcome as JSON
  --log-level L        error (default), warn (one line per unexpected answer), info, silent

Exit status: 0 every message got an ACK; 1 some message got none (or, with --strict, an
unexpected one); 2 bad options or nothing listening.`;

class UsageError extends Error {}

/** Options that take a value. */
const VALUED = new Set([
  'host',
  'port',
  'rate',
  'count',
  'duration',
  'connections',
  'seed',
  'run-id',
  'corrections',
  'duplicates',
  'malformed',
  'unmapped',
  'critical',
  'version',
  'ack-mode',
  'facility',
  'terminology',
  'patients',
  'ack-timeout',
  'max-attempts',
  'report',
  'log-level',
]);

function parseShare(name: string, text: string): number {
  const percent = text.endsWith('%');
  const value = Number(percent ? text.slice(0, -1) : text) / (percent ? 100 : 1);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new UsageError(`--${name} must be a share between 0 and 1 (or 0%–100%), got ${text}`);
  }
  return value;
}

function parseNumber(name: string, text: string, { integer = false, min = 0 } = {}): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${text}`,
    );
  }
  return value;
}

export function parseCliOptions(argv: readonly string[], now = Date.now()): CliOptions {
  const options: CliOptions = {
    host: '127.0.0.1',
    port: 2575,
    rate: 50,
    count: undefined,
    durationSeconds: undefined,
    connections: 1,
    seed: now % 2_147_483_647,
    runId: now.toString(36).toUpperCase().slice(-8),
    mix: { ...DEFAULT_TRAFFIC_MIX },
    version: '2.5.1',
    ackMode: 'original',
    facility: 'NWH-LAB',
    terminologyDir: DEFAULT_TERMINOLOGY_DIR,
    patients: 200,
    ackTimeoutSeconds: 30,
    maxAttempts: 1,
    strict: false,
    report: undefined,
    logLevel: 'error',
  };
  const args = [...argv];
  while (args.length > 0) {
    const arg = args.shift() ?? '';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${arg}`);
    const [flag, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (flag === 'help') throw new UsageError('');
    if (flag === 'strict') {
      options.strict = true;
      continue;
    }
    if (!VALUED.has(flag)) throw new UsageError(`unknown option --${flag}`);
    const value = inline ?? args.shift();
    if (value === undefined) throw new UsageError(`--${flag} needs a value`);
    switch (flag) {
      case 'host':
        options.host = value;
        break;
      case 'port':
        options.port = parseNumber(flag, value, { integer: true, min: 1 });
        if (options.port > 65535) throw new UsageError(`--port must be ≤ 65535, got ${value}`);
        break;
      case 'rate': {
        const rate = parseNumber(flag, value);
        options.rate = rate === 0 ? undefined : rate;
        break;
      }
      case 'count':
        options.count = parseNumber(flag, value, { integer: true, min: 1 });
        break;
      case 'duration':
        options.durationSeconds = parseNumber(flag, value, { min: 0.001 });
        break;
      case 'connections':
        options.connections = parseNumber(flag, value, { integer: true, min: 1 });
        break;
      case 'seed':
        options.seed = parseNumber(flag, value, { integer: true });
        break;
      case 'run-id':
        if (!/^[A-Z0-9]{1,8}$/.test(value)) {
          throw new UsageError(`--run-id must be 1–8 characters A-Z or 0-9, got ${value}`);
        }
        options.runId = value;
        break;
      case 'corrections':
      case 'duplicates':
      case 'malformed':
      case 'unmapped':
      case 'critical':
        options.mix[flag] = parseShare(flag, value);
        break;
      case 'version':
        if (value !== '2.5.1' && value !== '2.3') {
          throw new UsageError(`--version must be 2.5.1 or 2.3, got ${value}`);
        }
        options.version = value;
        break;
      case 'ack-mode':
        if (value !== 'original' && value !== 'enhanced') {
          throw new UsageError(`--ack-mode must be original or enhanced, got ${value}`);
        }
        options.ackMode = value;
        break;
      case 'facility':
        options.facility = value;
        break;
      case 'terminology':
        options.terminologyDir = value;
        break;
      case 'patients':
        options.patients = parseNumber(flag, value, { integer: true, min: 1 });
        break;
      case 'ack-timeout':
        options.ackTimeoutSeconds = parseNumber(flag, value, { min: 0.001 });
        break;
      case 'max-attempts':
        options.maxAttempts = parseNumber(flag, value, { integer: true, min: 1 });
        break;
      case 'report':
        options.report = value;
        break;
      case 'log-level':
        if (!['silent', 'error', 'warn', 'info', 'debug'].includes(value)) {
          throw new UsageError(`--log-level must be silent, error, warn, info or debug`);
        }
        options.logLevel = value;
        break;
      default:
        throw new UsageError(`unknown option --${flag}`);
    }
  }
  if (options.count === undefined && options.durationSeconds === undefined) options.count = 100;
  const { corrections, duplicates, malformed, unmapped } = options.mix;
  if (corrections + duplicates + malformed + unmapped > 1) {
    throw new UsageError('--corrections + --duplicates + --malformed + --unmapped exceed 1');
  }
  return options;
}

/** Whether something accepts TCP connections on host:port. */
export function listening(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => {
      done(false);
    }, timeoutMs);
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

async function main(): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCliOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) console.error(`sim:lis: ${error.message}\n`);
    console.error(USAGE);
    return error.message ? 2 : 0;
  }
  const catalogue = labCatalogueFromTerminology(
    loadTerminology(options.terminologyDir),
    options.facility,
  );
  if (!(await listening(options.host, options.port))) {
    console.error(
      `sim:lis: nothing accepts connections on ${options.host}:${options.port}.\n` +
        'Start the platform with `npm start` (the lab gateway listens for MLLP on 127.0.0.1:2575), ' +
        'or point --host/--port at another MLLP receiver.',
    );
    return 2;
  }
  const generator = new LisTrafficGenerator({
    catalogue,
    seed: options.seed,
    runId: options.runId,
    version: options.version,
    mix: options.mix,
    patients: options.patients,
    ackMode: options.ackMode,
    clock: () => new Date(),
  });
  const logger = createLogger({
    service: 'sim-lis',
    level: options.logLevel,
    destination: process.stderr,
  });
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nsim:lis: stopping (waiting for the answers in flight)…');
    abort.abort();
  });
  console.error(
    `sim:lis: ${catalogue.sendingApplication}@${catalogue.facility} → ${options.host}:${options.port}, ` +
      `HL7 ${options.version}, seed ${options.seed}, run id ${options.runId}, ` +
      `${options.rate === undefined ? 'unpaced' : `${options.rate} msg/s`}, ${options.connections} connection(s), ` +
      `${options.count !== undefined ? `${options.count} messages` : ''}${options.count !== undefined && options.durationSeconds !== undefined ? ' or ' : ''}${options.durationSeconds !== undefined ? `${options.durationSeconds} s` : ''}`,
  );
  const sender = new LisSender<GeneratedMessage>({
    host: options.host,
    port: options.port,
    source: () => generator.next(),
    ...(options.rate === undefined ? {} : { rate: options.rate }),
    ...(options.count === undefined ? {} : { count: options.count }),
    ...(options.durationSeconds === undefined
      ? {}
      : { durationMs: options.durationSeconds * 1000 }),
    connections: options.connections,
    ackTimeoutMs: options.ackTimeoutSeconds * 1000,
    maxAttempts: options.maxAttempts,
    logger,
    signal: abort.signal,
  });
  const ticker = setInterval(() => {
    const p = sender.progress();
    const codes = Object.entries(p.counts)
      .filter(([, n]) => n > 0)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    console.error(
      `  ${p.elapsedSeconds.toFixed(0).padStart(4)} s  sent ${p.dispatched}  (${(p.dispatched / Math.max(p.elapsedSeconds, 1e-3)).toFixed(1)}/s)  ` +
        `answered ${p.settled}  in flight ${p.inFlight}${codes ? `  [${codes}]` : ''}${p.unexpected > 0 ? `  unexpected ${p.unexpected}` : ''}`,
    );
  }, 1000);
  let report;
  try {
    report = await sender.run();
  } finally {
    clearInterval(ticker);
  }
  console.log('');
  console.log(ackTable(report.records));
  console.log('');
  console.log(sendSummary(report));
  const noAck =
    report.counts.timeout +
    report.counts['connection-error'] +
    report.counts['invalid-ack'] +
    report.counts['not-sent'];
  if (options.report) {
    writeFileSync(
      options.report,
      JSON.stringify(
        {
          options: { ...options, mix: options.mix },
          summary: { ...report, records: undefined },
          messages: report.records.map((r) => ({
            seq: r.message.seq,
            kind: r.message.kind,
            controlId: r.message.controlId,
            fillerOrderNumber: r.message.order.fillerOrderNumber,
            patient: r.message.patient.mrn,
            expectedAck: r.message.expectedAck,
            outcome: r.outcome,
            asExpected: r.asExpected,
            sentAt: new Date(r.sentAt).toISOString(),
            latencyMs: Number(r.latencyMs.toFixed(3)),
            ...(r.errorText ? { errorText: r.errorText } : {}),
          })),
        },
        null,
        2,
      ),
    );
    console.log(`\nReport: ${options.report}`);
  }
  if (report.stoppedEarly) console.log('\nStopped early (SIGINT).');
  if (noAck > 0) {
    console.log(
      `\n${noAck} message(s) got no ACK (timeout, connection error or unreadable answer): exit 1.`,
    );
    return 1;
  }
  if (options.strict && report.unexpected > 0) {
    console.log(
      `\n${report.unexpected} answer(s) differ from the expected one (--strict): exit 1.`,
    );
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`sim:lis: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    },
  );
}
