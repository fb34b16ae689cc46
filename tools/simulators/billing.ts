/**
 * The simulated billing engine, in its own process: takes the billing trigger's DFT^P03 over
 * MLLP (default port 2593), answers as its ack script says, and keeps a ledger — served
 * read-only as JSON while it runs (GET http://127.0.0.1:2594/ledger, /ledger/totals, /health),
 * printed with its totals on SIGINT/SIGTERM, and written as JSON with --ledger-file.
 *
 *   npm run sim:billing
 *   npm run sim:billing -- --script "reject:Account closed@code=300*, error@1-2" --ledger-file /tmp/ledger.json
 *   npm run sim:billing -- --help
 *
 * One line per DFT on stdout (control id, transactions, charge codes, amounts, the answer;
 * never patient data). Every option can also come from the environment (SIM_BILLING_*, see
 * the usage text); options win. Exit status: 0 after a signal; 2 for bad options or a port
 * already taken.
 */
import { assertSupportedNode, port as portSchema } from '@ancillary/config';
import { createLogger } from '@ancillary/observability';
import {
  BillingEngineSimulator,
  formatNumber,
  parseAckScript,
  type BillingEngineEvent,
} from '@ancillary/simulators';
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { parseCommandLine } from '../common/cli-args';
import { runTool, UsageError } from '../common/tool-bootstrap';

const USAGE = `usage: npm run sim:billing -- [options]

Simulated billing engine: takes DFT^P03 over MLLP, answers per its ack script, keeps a ledger
(duplicates flagged, credits and negative quantities netted) and prints it on Ctrl-C.

  --port N            DFT^P03 in, MLLP (default 2593; 0 picks a free one)  SIM_BILLING_PORT
  --host H            interface to listen on (default 127.0.0.1)           SIM_BILLING_HOST
  --ledger-port N     the ledger over HTTP, read-only: GET /ledger,        SIM_BILLING_LEDGER_PORT
                      /ledger/totals, /health (default 2594; 0 picks one)
  --script S          ack script (default accept)                          SIM_BILLING_SCRIPT
  --ledger-file FILE  write the ledger, totals and arrivals as JSON on exit SIM_BILLING_LEDGER_FILE
  --log-level L       warn (default), error, info, debug, silent           SIM_BILLING_LOG_LEVEL
  --help              this text

Ack scripts (comma-separated rules, first match wins, default accept):
  [N*]action[@when]   action: accept | reject[:text] | error[:text] | commit-error[:text]
                              | delay:<ms>[:action] | drop | lose-ack | silent
                      when:   n | n-m | n+ (arrival number)
                              | code=<glob>   an FT1-7 charge code, FT1-25 CPT/HCPCS or FT1-29 NDC
                              | placer=<glob> an FT1-23 filler order number
                              | new (a charge) | cancel (a credit or negative quantity)
  reject answers AR with the text in ERR-8 and MSA-3; error AE, commit-error CE (resend later).
  e.g. "reject:Account closed for posting@code=300*, 2*error@placer=FLAB*, drop@3"

exit status: 0 stopped by a signal, 2 bad options or a port in use`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'ledger-port': { type: 'string' },
  script: { type: 'string' },
  'ledger-file': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Everything the command takes, from the environment; command-line options are laid over it. */
export const billingSimSchema = z.object({
  SIM_BILLING_PORT: portSchema.default(2593),
  SIM_BILLING_HOST: z.string().min(1).default('127.0.0.1'),
  SIM_BILLING_LEDGER_PORT: portSchema.default(2594),
  SIM_BILLING_SCRIPT: z
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
    }),
  SIM_BILLING_LEDGER_FILE: z.string().min(1).optional(),
  SIM_BILLING_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('warn'),
});
export type BillingSimConfig = z.output<typeof billingSimSchema>;

/** Option name → environment variable it overrides. */
const VARIABLE: Readonly<Record<Exclude<keyof typeof OPTIONS, 'help'>, keyof BillingSimConfig>> = {
  port: 'SIM_BILLING_PORT',
  host: 'SIM_BILLING_HOST',
  'ledger-port': 'SIM_BILLING_LEDGER_PORT',
  script: 'SIM_BILLING_SCRIPT',
  'ledger-file': 'SIM_BILLING_LEDGER_FILE',
  'log-level': 'SIM_BILLING_LOG_LEVEL',
};

/** The command's configuration from argv and env; undefined for --help (throws UsageError). */
export function parseBillingSimOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): BillingSimConfig | undefined {
  const args = parseCommandLine(argv, OPTIONS, USAGE);
  if (args.help) return undefined;
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const [option, variable] of Object.entries(VARIABLE)) {
    const value = args[option as keyof typeof args];
    if (typeof value === 'string') merged[variable] = value;
  }
  const result = billingSimSchema.safeParse(merged);
  if (result.success) return result.data;
  const flags = new Map(Object.entries(VARIABLE).map(([option, variable]) => [variable, option]));
  throw new UsageError(
    result.error.issues
      .map((issue) => {
        const variable = String(issue.path[0] ?? '');
        const flag = flags.get(variable as keyof BillingSimConfig);
        return `${flag ? `--${flag} / ` : ''}${variable}: ${issue.message}`;
      })
      .join('\n'),
  );
}

/**
 * One line per event as the command prints it: per DFT its control id, each FT1 as
 * type + charge code + amount, the scripted action and the answer (no patient data).
 */
export function formatBillingEvent(event: BillingEngineEvent, at: Date = new Date()): string {
  const time = at.toISOString().slice(11, 23);
  switch (event.type) {
    case 'listening':
      return `${time} billing listening on port ${event.port}`;
    case 'down':
      return `${time} billing down (port ${event.port})`;
    case 'answered': {
      const a = event.arrival;
      const head = `${time} billing ← ${a.messageType} ${a.controlId}`;
      if (a.duplicate) return `${head} (resend: same answer ${a.answer ?? '?'}, not posted again)`;
      const ft1s = a.dft?.transactions ?? [];
      const what =
        ft1s.length === 0
          ? ''
          : ` ${ft1s.length} FT1: ${ft1s
              .map(
                (t) =>
                  `${t.transactionType} ${t.chargeCode}${t.quantity === 1 ? '' : ` ×${t.quantity}`} ${formatNumber(t.extendedAmount ?? t.quantity * (t.unitAmount ?? 0), 2)}`,
              )
              .join(', ')}`;
      const posted =
        a.posted.length > 0 ? `, posted ${a.posted.map((s) => `#${s}`).join(' ')}` : '';
      const why = a.errorText ? `: ${a.errorText}` : '';
      return `${head}${what} [${a.action}] → ${a.answer ?? '?'}${why}${posted}`;
    }
  }
}

async function main(): Promise<number> {
  const config = parseBillingSimOptions(process.argv.slice(2), process.env);
  if (!config) {
    console.log(USAGE);
    return 0;
  }
  assertSupportedNode();
  const logger = createLogger({
    service: 'sim-billing',
    level: config.SIM_BILLING_LOG_LEVEL,
    // stdout is the event lines and the ledger
    destination: process.stderr,
  });
  const sim = new BillingEngineSimulator({
    host: config.SIM_BILLING_HOST,
    port: config.SIM_BILLING_PORT,
    ledgerPort: config.SIM_BILLING_LEDGER_PORT,
    ...(config.SIM_BILLING_SCRIPT ? { script: config.SIM_BILLING_SCRIPT } : {}),
    logger,
    onEvent: (event) => {
      console.log(formatBillingEvent(event));
    },
  });
  try {
    await sim.start();
  } catch (error) {
    await sim.stop();
    throw new UsageError(
      `cannot listen: ${error instanceof Error ? error.message : String(error)} (another billing simulator running? pick another --port / --ledger-port)`,
    );
  }
  console.error(
    `sim:billing: DFT^P03 on ${config.SIM_BILLING_HOST}:${sim.port}, script "${sim.scriptText}", ledger at ${sim.ledgerUrl}/ledger; Ctrl-C prints the ledger and stops.`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.stop();
  console.log('');
  console.log(sim.printLedger());
  if (config.SIM_BILLING_LEDGER_FILE) {
    writeFileSync(config.SIM_BILLING_LEDGER_FILE, JSON.stringify(sim.snapshot(), null, 2));
    console.log(`\nLedger: ${config.SIM_BILLING_LEDGER_FILE}`);
  }
  return 0;
}

if (require.main === module) {
  runTool(main, { failurePrefix: 'sim:billing', errorExitCode: 2 });
}
