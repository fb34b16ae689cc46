/**
 * The simulated ancillaries that receive orders, in one process: the LIS (MLLP, default port
 * 2590), the RIS (2591) and the pharmacy (MLLP 2592, or FHIR on 8092). Each answers the orders
 * the gateways send as its ack script says, then sends results, reports and dispenses back to
 * the gateways (lab 2575, radiology 2576, pharmacy 2577 or http://127.0.0.1:8085).
 * With them, the simulated billing engine that the billing trigger sends DFT^P03 to (MLLP 2593;
 * its ledger read-only over HTTP on 2594, GET /ledger), so that the demo's one process —
 * started by tools/demo/start.sh, stopped by services.sh down — covers every far end.
 *
 *   npm run sim:ancillaries
 *   npm run sim:ancillaries -- --script "reject:Analyzer offline@code=TROP*" --result-delay 500-1500
 *   npm run sim:ancillaries -- --pharmacy-mode fhir --only lis,pharmacy
 *   npm run sim:ancillaries -- --help
 *
 * One line per order received, answer and result on stdout; a summary table on SIGINT/SIGTERM.
 * Every option can also come from the environment (SIM_*, see the usage text); options win.
 * Exit status: 0 after a signal; 2 for bad options or a port already taken.
 */
import { assertSupportedNode, port as portSchema } from '@ancillary/config';
import { createLogger, type Logger } from '@ancillary/observability';
import {
  ancillarySummaryTable,
  BillingEngineSimulator,
  FhirPharmacyAncillary,
  LisAncillary,
  parseAckScript,
  parseDelayRange,
  PharmacyAncillary,
  RisAncillary,
  type AncillaryEvent,
  type DelayRange,
  type ReceivedOrderRecord,
  type SimOrderRecord,
} from '@ancillary/simulators';
import { DEFAULT_TERMINOLOGY_DIR, loadTerminology } from '@ancillary/terminology';
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { parseCommandLine } from '../common/cli-args';
import { runTool, UsageError } from '../common/tool-bootstrap';
import { formatBillingEvent } from './billing';

const USAGE = `usage: npm run sim:ancillaries -- [options]

Simulated LIS, RIS and pharmacy receiving orders and sending results back, and the
simulated billing engine receiving charges (DFT^P03) from the billing trigger.

  --only LIST                 lis,ris,pharmacy,billing (default all four)   SIM_ONLY
  --host H                    interface to listen on (default 127.0.0.1)     SIM_HOST
  --lis-port N                LIS orders, MLLP (default 2590)               SIM_LIS_PORT
  --ris-port N                RIS orders, MLLP (default 2591)               SIM_RIS_PORT
  --pharmacy-port N           pharmacy orders, MLLP (default 2592)          SIM_PHARMACY_PORT
  --pharmacy-fhir-port N      pharmacy orders, FHIR (default 8092)          SIM_PHARMACY_FHIR_PORT
  --pharmacy-mode M           mllp (RDE^O11 → RDS^O13, default) or fhir     SIM_PHARMACY_MODE
                              (MedicationRequest → MedicationDispense)
  --gateway-host H            where the gateways listen (default 127.0.0.1) SIM_GATEWAY_HOST
  --lab-gateway-port N        lab gateway MLLP inbound (default 2575)       SIM_LAB_GATEWAY_PORT
  --radiology-gateway-port N  radiology gateway MLLP inbound (default 2576) SIM_RADIOLOGY_GATEWAY_PORT
  --pharmacy-gateway-port N   pharmacy gateway MLLP inbound (default 2577)  SIM_PHARMACY_GATEWAY_PORT
  --pharmacy-gateway-url URL  pharmacy gateway HTTP, FHIR mode              SIM_PHARMACY_GATEWAY_URL
                              (default http://127.0.0.1:8085)
  --billing-port N            billing engine DFT^P03 in, MLLP (default 2593) SIM_BILLING_PORT
  --billing-ledger-port N     its ledger over HTTP, read-only: GET /ledger, SIM_BILLING_LEDGER_PORT
                              /ledger/totals, /health (default 2594)
  --billing-script S          the billing engine's ack script (default      SIM_BILLING_SCRIPT
                              accept; --script is not applied to it)
  --script S                  ack script of all three (default accept)      SIM_SCRIPT
  --lis-script S, --ris-script S, --pharmacy-script S
                              per ancillary, instead of --script            SIM_LIS_SCRIPT …
  --result-delay MS           order to result, ms or min-max (default       SIM_RESULT_DELAY_MS
                              1000-3000)
  --stat-delay MS             the same for STAT orders (default half)       SIM_STAT_DELAY_MS
  --status-updates            send ORM^O01 ORC-5 IP before each result      SIM_STATUS_UPDATES
  --seed N                    values, delays and reports (default 1)        SIM_SEED
  --run-id ID                 1-8 of A-Z0-9 in filler numbers and MSH-10    SIM_RUN_ID
                              (default from the clock)
  --critical F                share of lab results with a critical value    SIM_CRITICAL
  --abnormal F                share of imaging reports with findings        SIM_ABNORMAL
  --report-style S            loinc (default) or suffix (&GDT/&IMP) OBX-3   SIM_REPORT_STYLE
  --timings FILE              write every order's timings as JSON on exit   SIM_TIMINGS_FILE
  --terminology DIR           code-set tables (default the terminology lib) TERMINOLOGY_DIR
  --log-level L               warn (default), error, info, debug, silent    SIM_LOG_LEVEL
  --help                      this text

Ack scripts (comma-separated rules, first match wins, default accept):
  [N*]action[@when]   action: accept | reject[:text] | error[:text] | commit-error[:text]
                              | delay:<ms>[:action] | drop | lose-ack | silent
                      when:   n | n-m | n+ (arrival number) | placer=<glob> | code=<glob>
                              | new | cancel | stat
  e.g. "reject:Analyzer offline@code=TROP*, 2*error@placer=ORD-9*, drop@3, delay:4000@stat"
  For the billing engine, code= matches a charge code, CPT/HCPCS or NDC, placer= a filler
  order number, new a charge, cancel a reversal (npm run sim:billing -- --help).

exit status: 0 stopped by a signal, 2 bad options or a port in use`;

const OPTIONS = {
  only: { type: 'string' },
  host: { type: 'string' },
  'lis-port': { type: 'string' },
  'ris-port': { type: 'string' },
  'pharmacy-port': { type: 'string' },
  'pharmacy-fhir-port': { type: 'string' },
  'pharmacy-mode': { type: 'string' },
  'gateway-host': { type: 'string' },
  'lab-gateway-port': { type: 'string' },
  'radiology-gateway-port': { type: 'string' },
  'pharmacy-gateway-port': { type: 'string' },
  'pharmacy-gateway-url': { type: 'string' },
  'billing-port': { type: 'string' },
  'billing-ledger-port': { type: 'string' },
  'billing-script': { type: 'string' },
  script: { type: 'string' },
  'lis-script': { type: 'string' },
  'ris-script': { type: 'string' },
  'pharmacy-script': { type: 'string' },
  'result-delay': { type: 'string' },
  'stat-delay': { type: 'string' },
  'status-updates': { type: 'boolean' },
  seed: { type: 'string' },
  'run-id': { type: 'string' },
  critical: { type: 'string' },
  abnormal: { type: 'string' },
  'report-style': { type: 'string' },
  timings: { type: 'string' },
  terminology: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Kind = 'lis' | 'ris' | 'pharmacy' | 'billing';
const KINDS: readonly Kind[] = ['lis', 'ris', 'pharmacy', 'billing'];

const share = z.coerce.number().min(0).max(1);
const script = z
  .string()
  .optional()
  .superRefine((text, ctx) => {
    if (text === undefined) return;
    try {
      parseAckScript(text);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
const delay = z
  .string()
  .optional()
  .transform((text, ctx): DelayRange | undefined => {
    if (text === undefined) return undefined;
    try {
      return parseDelayRange(text);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: error instanceof Error ? error.message : String(error),
      });
      return z.NEVER;
    }
  });

/** Everything the command takes, from the environment; command-line options are laid over it. */
export const ancillariesSchema = z.object({
  SIM_ONLY: z
    .string()
    .default(KINDS.join(','))
    .transform((text, ctx): Kind[] => {
      const kinds = text
        .split(',')
        .map((k) => k.trim().toLowerCase())
        .filter(Boolean);
      const wrong = kinds.filter((k) => !(KINDS as readonly string[]).includes(k));
      if (wrong.length > 0 || kinds.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected some of ${KINDS.join(',')}, got "${text}"`,
        });
        return z.NEVER;
      }
      return [...new Set(kinds)] as Kind[];
    }),
  SIM_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_LIS_PORT: portSchema.default(2590),
  SIM_RIS_PORT: portSchema.default(2591),
  SIM_PHARMACY_PORT: portSchema.default(2592),
  SIM_PHARMACY_FHIR_PORT: portSchema.default(8092),
  SIM_PHARMACY_MODE: z.enum(['mllp', 'fhir']).default('mllp'),
  SIM_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_LAB_GATEWAY_PORT: portSchema.default(2575),
  SIM_RADIOLOGY_GATEWAY_PORT: portSchema.default(2576),
  SIM_PHARMACY_GATEWAY_PORT: portSchema.default(2577),
  SIM_PHARMACY_GATEWAY_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8085'),
  SIM_BILLING_PORT: portSchema.default(2593),
  SIM_BILLING_LEDGER_PORT: portSchema.default(2594),
  SIM_BILLING_SCRIPT: script,
  SIM_SCRIPT: script,
  SIM_LIS_SCRIPT: script,
  SIM_RIS_SCRIPT: script,
  SIM_PHARMACY_SCRIPT: script,
  SIM_RESULT_DELAY_MS: delay,
  SIM_STAT_DELAY_MS: delay,
  SIM_STATUS_UPDATES: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default('false')
    .transform((v) => ['true', '1', 'yes'].includes(v)),
  SIM_SEED: z.coerce.number().int().default(1),
  SIM_RUN_ID: z
    .string()
    .regex(/^[A-Z0-9]{1,8}$/, '1-8 characters A-Z or 0-9')
    .optional(),
  SIM_CRITICAL: share.optional(),
  SIM_ABNORMAL: share.optional(),
  SIM_REPORT_STYLE: z.enum(['loinc', 'suffix']).default('loinc'),
  SIM_TIMINGS_FILE: z.string().min(1).optional(),
  TERMINOLOGY_DIR: z.string().min(1).default(DEFAULT_TERMINOLOGY_DIR),
  SIM_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('warn'),
});
export type AncillariesConfig = z.output<typeof ancillariesSchema>;

/** Option name → environment variable it overrides. */
const VARIABLE: Readonly<Record<Exclude<keyof typeof OPTIONS, 'help'>, keyof AncillariesConfig>> = {
  only: 'SIM_ONLY',
  host: 'SIM_HOST',
  'lis-port': 'SIM_LIS_PORT',
  'ris-port': 'SIM_RIS_PORT',
  'pharmacy-port': 'SIM_PHARMACY_PORT',
  'pharmacy-fhir-port': 'SIM_PHARMACY_FHIR_PORT',
  'pharmacy-mode': 'SIM_PHARMACY_MODE',
  'gateway-host': 'SIM_GATEWAY_HOST',
  'lab-gateway-port': 'SIM_LAB_GATEWAY_PORT',
  'radiology-gateway-port': 'SIM_RADIOLOGY_GATEWAY_PORT',
  'pharmacy-gateway-port': 'SIM_PHARMACY_GATEWAY_PORT',
  'pharmacy-gateway-url': 'SIM_PHARMACY_GATEWAY_URL',
  'billing-port': 'SIM_BILLING_PORT',
  'billing-ledger-port': 'SIM_BILLING_LEDGER_PORT',
  'billing-script': 'SIM_BILLING_SCRIPT',
  script: 'SIM_SCRIPT',
  'lis-script': 'SIM_LIS_SCRIPT',
  'ris-script': 'SIM_RIS_SCRIPT',
  'pharmacy-script': 'SIM_PHARMACY_SCRIPT',
  'result-delay': 'SIM_RESULT_DELAY_MS',
  'stat-delay': 'SIM_STAT_DELAY_MS',
  'status-updates': 'SIM_STATUS_UPDATES',
  seed: 'SIM_SEED',
  'run-id': 'SIM_RUN_ID',
  critical: 'SIM_CRITICAL',
  abnormal: 'SIM_ABNORMAL',
  'report-style': 'SIM_REPORT_STYLE',
  timings: 'SIM_TIMINGS_FILE',
  terminology: 'TERMINOLOGY_DIR',
  'log-level': 'SIM_LOG_LEVEL',
};

/**
 * The command line laid over the environment, as the environment would say it; undefined for
 * --help. Validation (with the variable names in its messages) is the schema's.
 */
export function environmentWithOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv | undefined {
  const args = parseCommandLine(argv, OPTIONS, USAGE);
  if (args.help) return undefined;
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [option, variable] of Object.entries(VARIABLE)) {
    const value = args[option as keyof typeof args];
    if (value === undefined) continue;
    merged[variable] = typeof value === 'boolean' ? String(value) : value;
  }
  return merged;
}

/** The command's configuration from argv and env (throws UsageError / ConfigError). */
export function parseAncillariesOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): AncillariesConfig | undefined {
  const merged = environmentWithOptions(argv, env);
  if (!merged) return undefined;
  const result = ancillariesSchema.safeParse(merged);
  if (result.success) return result.data;
  const flags = new Map(Object.entries(VARIABLE).map(([option, variable]) => [variable, option]));
  throw new UsageError(
    result.error.issues
      .map((issue) => {
        const variable = String(issue.path[0] ?? '');
        const flag = flags.get(variable as keyof AncillariesConfig);
        return `${flag ? `--${flag} / ` : ''}${variable}: ${issue.message}`;
      })
      .join('\n'),
  );
}

/** One line per event, as the command prints them (no patient data: placer, code, priority). */
export function formatAncillaryEvent(event: AncillaryEvent, at: Date = new Date()): string {
  const time = at.toISOString().slice(11, 23);
  const who = event.ancillary.padEnd(8);
  switch (event.type) {
    case 'listening':
      return `${time} ${who} listening on port ${event.port}`;
    case 'down':
      return `${time} ${who} down (port ${event.port})`;
    case 'received': {
      const m = event.message;
      const what = [m.messageType, m.controlId, m.orderControl, m.placerOrderNumber, m.code]
        .filter(Boolean)
        .join(' ');
      return `${time} ${who} ← ${what}${m.stat ? ' STAT' : ''}${m.duplicate ? ' (resend: same answer)' : ` [${m.action}]`}`;
    }
    case 'answered':
      return `${time} ${who} → ${event.answer} ${event.placerOrderNumber}${event.fillerOrderNumber ? ` filler ${event.fillerOrderNumber}` : ''}`;
    case 'status-sent':
      return `${time} ${who} ⇒ status ${event.status} ${event.order.placerOrderNumber} acknowledged`;
    case 'result-sent': {
      const o = event.order;
      const seconds =
        o.resultAcknowledgedAt === undefined
          ? ''
          : `, ${((o.resultAcknowledgedAt.getTime() - o.receivedAt.getTime()) / 1000).toFixed(1)} s after the order`;
      return `${time} ${who} ⇒ result ${o.placerOrderNumber} (${o.resultId ?? '?'}) acknowledged, ${o.resultAttempts ?? 1} attempt(s)${seconds}`;
    }
    case 'result-failed':
      return `${time} ${who} ⇒ result ${event.order.placerOrderNumber} FAILED: ${event.error}`;
    case 'result-skipped':
      return `${time} ${who} ⇒ result ${event.order.placerOrderNumber} not sent (${event.reason})`;
  }
}

type OrderKind = Exclude<Kind, 'billing'>;

/** The simulated billing engine (its own ack script only), its DFTs as event lines. */
function billingEngine(config: AncillariesConfig, logger: Logger): BillingEngineSimulator {
  return new BillingEngineSimulator({
    host: config.SIM_HOST,
    port: config.SIM_BILLING_PORT,
    ledgerPort: config.SIM_BILLING_LEDGER_PORT,
    ...(config.SIM_BILLING_SCRIPT ? { script: config.SIM_BILLING_SCRIPT } : {}),
    logger,
    onEvent: (event) => {
      console.log(formatBillingEvent(event));
    },
  });
}

/** What the command needs of each simulator, MLLP or FHIR. */
interface Simulator {
  start(): Promise<unknown>;
  stop(): Promise<void>;
  readonly scriptText: string;
  orders(): SimOrderRecord[];
  received(): ReceivedOrderRecord[];
}

async function main(): Promise<number> {
  const parsed = parseAncillariesOptions(process.argv.slice(2), process.env);
  if (!parsed) {
    console.log(USAGE);
    return 0;
  }
  assertSupportedNode();
  const config = parsed;
  const logger = createLogger({
    service: 'sim-ancillaries',
    level: config.SIM_LOG_LEVEL,
    // stdout is the event lines and the summary
    destination: process.stderr,
  });
  const terminology = loadTerminology(config.TERMINOLOGY_DIR);
  const onEvent = (event: AncillaryEvent): void => {
    console.log(formatAncillaryEvent(event));
  };
  const scriptFor = (kind: OrderKind): string | undefined =>
    ({
      lis: config.SIM_LIS_SCRIPT,
      ris: config.SIM_RIS_SCRIPT,
      pharmacy: config.SIM_PHARMACY_SCRIPT,
    })[kind] ?? config.SIM_SCRIPT;
  const common = (kind: OrderKind) => ({
    terminology,
    host: config.SIM_HOST,
    seed: config.SIM_SEED,
    ...(config.SIM_RUN_ID ? { runId: config.SIM_RUN_ID } : {}),
    ...(scriptFor(kind) ? { script: scriptFor(kind) } : {}),
    ...(config.SIM_RESULT_DELAY_MS ? { resultDelayMs: config.SIM_RESULT_DELAY_MS } : {}),
    ...(config.SIM_STAT_DELAY_MS ? { statResultDelayMs: config.SIM_STAT_DELAY_MS } : {}),
    logger,
    onEvent,
  });
  const sims: { kind: OrderKind; sim: Simulator; target: string }[] = [];
  const billing = config.SIM_ONLY.includes('billing') ? billingEngine(config, logger) : undefined;
  for (const kind of config.SIM_ONLY) {
    switch (kind) {
      case 'billing':
        break;
      case 'lis':
        sims.push({
          kind,
          target: `${config.SIM_GATEWAY_HOST}:${config.SIM_LAB_GATEWAY_PORT}`,
          sim: new LisAncillary({
            ...common(kind),
            port: config.SIM_LIS_PORT,
            resultHost: config.SIM_GATEWAY_HOST,
            resultPort: config.SIM_LAB_GATEWAY_PORT,
            statusUpdates: config.SIM_STATUS_UPDATES,
            ...(config.SIM_CRITICAL === undefined ? {} : { criticalShare: config.SIM_CRITICAL }),
          }),
        });
        break;
      case 'ris':
        sims.push({
          kind,
          target: `${config.SIM_GATEWAY_HOST}:${config.SIM_RADIOLOGY_GATEWAY_PORT}`,
          sim: new RisAncillary({
            ...common(kind),
            port: config.SIM_RIS_PORT,
            resultHost: config.SIM_GATEWAY_HOST,
            resultPort: config.SIM_RADIOLOGY_GATEWAY_PORT,
            statusUpdates: config.SIM_STATUS_UPDATES,
            sectionStyle: config.SIM_REPORT_STYLE,
            ...(config.SIM_ABNORMAL === undefined ? {} : { abnormalShare: config.SIM_ABNORMAL }),
          }),
        });
        break;
      case 'pharmacy':
        sims.push(
          config.SIM_PHARMACY_MODE === 'fhir'
            ? {
                kind,
                target: `${config.SIM_PHARMACY_GATEWAY_URL}/fhir/MedicationDispense`,
                sim: new FhirPharmacyAncillary({
                  ...common(kind),
                  port: config.SIM_PHARMACY_FHIR_PORT,
                  gatewayUrl: config.SIM_PHARMACY_GATEWAY_URL,
                }),
              }
            : {
                kind,
                target: `${config.SIM_GATEWAY_HOST}:${config.SIM_PHARMACY_GATEWAY_PORT}`,
                sim: new PharmacyAncillary({
                  ...common(kind),
                  port: config.SIM_PHARMACY_PORT,
                  resultHost: config.SIM_GATEWAY_HOST,
                  resultPort: config.SIM_PHARMACY_GATEWAY_PORT,
                  statusUpdates: config.SIM_STATUS_UPDATES,
                }),
              },
        );
        break;
    }
  }
  try {
    for (const { sim } of sims) await sim.start();
    await billing?.start();
  } catch (error) {
    await Promise.all([...sims.map(({ sim }) => sim.stop()), billing?.stop()]);
    throw new UsageError(
      `cannot listen: ${error instanceof Error ? error.message : String(error)} (another simulator running? pick other ports)`,
    );
  }
  const delayText = config.SIM_RESULT_DELAY_MS
    ? `${config.SIM_RESULT_DELAY_MS.minMs}-${config.SIM_RESULT_DELAY_MS.maxMs} ms`
    : '1000-3000 ms';
  for (const { kind, sim, target } of sims) {
    console.error(
      `sim:ancillaries: ${kind} (${kind === 'pharmacy' ? config.SIM_PHARMACY_MODE : 'mllp'}) results → ${target}, script "${sim.scriptText}", result delay ${delayText}, seed ${config.SIM_SEED}`,
    );
  }
  if (billing) {
    console.error(
      `sim:ancillaries: billing (mllp) DFT^P03 on ${config.SIM_HOST}:${billing.port}, script "${billing.scriptText}", ledger at ${billing.ledgerUrl}/ledger`,
    );
  }
  console.error('sim:ancillaries: running; Ctrl-C prints the summary and stops.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.all([...sims.map(({ sim }) => sim.stop()), billing?.stop()]);
  const orders = sims.flatMap(({ sim }) => sim.orders());
  if (sims.length > 0) {
    console.log('');
    console.log(
      ancillarySummaryTable(
        orders,
        sims.flatMap(({ sim }) => sim.received()),
      ),
    );
  }
  if (billing) {
    console.log('\nBilling engine ledger:\n');
    console.log(billing.printLedger());
  }
  if (config.SIM_TIMINGS_FILE) {
    writeFileSync(
      config.SIM_TIMINGS_FILE,
      JSON.stringify({ orders, received: sims.flatMap(({ sim }) => sim.received()) }, null, 2),
    );
    console.log(`\nTimings: ${config.SIM_TIMINGS_FILE}`);
  }
  return 0;
}

if (require.main === module) {
  runTool(main, { failurePrefix: 'sim:ancillaries', errorExitCode: 2 });
}
