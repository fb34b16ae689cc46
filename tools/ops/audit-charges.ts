/**
 * The missed-charge audit (revenue integrity, ADR 0004): does every order and dispense
 * completed in a time window have its charge (billed, pending, or dead-lettered with a reason),
 * and does every charge point to completed work?
 *   npm run audit:charges -- --since 2026-12-04T00:00:00Z [--until T] [--pending-grace 15m] [--json]
 * Runbook: docs/runbooks/charge-audit.md.
 *
 * Exit status: 0 no discrepancy; 1 discrepancies; 2 usage, configuration or infrastructure
 * error (Kafka, registry or database unreachable, a topic missing).
 */
import { databaseEnvSchema, kafkaEnvSchema } from '@ancillary/config';
import { createPool } from '@ancillary/database';
import { DEFAULT_PLACER_ORDER_SYSTEM } from '@ancillary/fhir-store';
import {
  auditCharges,
  DEFAULT_BILLING_SERVICE,
  DEFAULT_CHARGE_AUDIT_TOPICS,
  DEFAULT_PENDING_GRACE_MS,
  type ChargeAuditReport,
  type ChargeAuditTopics,
} from '@ancillary/ops';
import { z } from 'zod';
import { parseCommandLine, parseInstant } from '../common/cli-args';
import { bootstrapTool, runTool, toolKafka, UsageError } from '../common/tool-bootstrap';
import { parseDuration } from './audit-charges.args';
import { formatReport } from './audit-charges.output';

const T = DEFAULT_CHARGE_AUDIT_TOPICS;

const USAGE = `usage: npm run audit:charges -- --since <time> [options]

  --since TIME            window start, ISO 8601 with zone (e.g. 2026-12-04T00:00:00Z) (required)
  --until TIME            window end (exclusive); default: now
  --pending-grace D       how long a charge may stay billable before it is a discrepancy
                          (e.g. 900s, 15m, 2h; a bare number is minutes; default 15m)
  --placer-system URI     identifier system of placer order numbers (default: PLACER_ORDER_SYSTEM
                          from the environment, else ${DEFAULT_PLACER_ORDER_SYSTEM})
  --billing-service NAME  x-dlt-service of billing-trigger's dead letters (default ${DEFAULT_BILLING_SERVICE})
  --charges-dead-letter-topic T      (default ${T.chargeDeadLetters})
  --results-dead-letter-topic T      (default ${T.resultsDeadLetters})
  --imaging-dead-letter-topic T      (default ${T.imagingReportsDeadLetters})
  --dispenses-dead-letter-topic T    (default ${T.dispensesDeadLetters})
  --json                  print the report as JSON instead of tables
  --help                  this text

exit status: 0 no discrepancy, 1 discrepancies, 2 usage or infrastructure error`;

const OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  'pending-grace': { type: 'string' },
  'placer-system': { type: 'string' },
  'billing-service': { type: 'string' },
  'charges-dead-letter-topic': { type: 'string' },
  'results-dead-letter-topic': { type: 'string' },
  'imaging-dead-letter-topic': { type: 'string' },
  'dispenses-dead-letter-topic': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const schema = z.object({
  ...kafkaEnvSchema.shape,
  ...databaseEnvSchema.shape,
  /** The ehr-writer's setting of the same name: the system the chart's placer numbers carry. */
  PLACER_ORDER_SYSTEM: z.string().min(1).optional(),
});

function topicsFrom(args: Record<string, unknown>): Partial<ChargeAuditTopics> {
  const pick = (name: string): string | undefined => {
    const value = args[name];
    return typeof value === 'string' ? value : undefined;
  };
  const entries: [keyof ChargeAuditTopics, string | undefined][] = [
    ['chargeDeadLetters', pick('charges-dead-letter-topic')],
    ['resultsDeadLetters', pick('results-dead-letter-topic')],
    ['imagingReportsDeadLetters', pick('imaging-dead-letter-topic')],
    ['dispensesDeadLetters', pick('dispenses-dead-letter-topic')],
  ];
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), OPTIONS, USAGE);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.since) throw new UsageError(`--since is required\n\n${USAGE}`);
  const since = parseInstant('since', args.since);
  const until = args.until !== undefined ? parseInstant('until', args.until) : undefined;
  if (until && until <= since) throw new UsageError('--until must be after --since');
  if (!until && since >= new Date()) throw new UsageError('--since must be in the past');
  const pendingGraceMs =
    args['pending-grace'] !== undefined
      ? parseDuration('pending-grace', args['pending-grace'])
      : DEFAULT_PENDING_GRACE_MS;

  const { config, logger } = bootstrapTool('audit-charges', schema);
  const { kafka, codec } = toolKafka('audit-charges', config, logger);
  const pool = createPool({
    databaseUrl: config.DATABASE_URL,
    applicationName: 'audit-charges',
    maxConnections: 2,
    // A pass over the ChargeItems of a long window; a stuck statement still ends the audit (exit 2).
    statementTimeoutMs: 120_000,
  });
  let report: ChargeAuditReport;
  try {
    report = await auditCharges({
      kafka,
      codec,
      pool,
      logger,
      since,
      ...(until ? { until } : {}),
      pendingGraceMs,
      placerOrderSystem:
        args['placer-system'] ?? config.PLACER_ORDER_SYSTEM ?? DEFAULT_PLACER_ORDER_SYSTEM,
      ...(args['billing-service'] !== undefined ? { billingService: args['billing-service'] } : {}),
      topics: topicsFrom(args),
    });
  } finally {
    await pool.end().catch(() => undefined);
  }
  console.log(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}

runTool(main, { failurePrefix: 'audit:charges failed', errorExitCode: 2 });
