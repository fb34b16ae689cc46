/**
 * The go-live audit: is every lab message of a time window in the chart, or dead-lettered with
 * its reason?
 *   npm run reconcile -- --since 2026-11-26T00:00:00Z [--until T] [--sample N] [--source-system X] [--json]
 * Runbook: docs/runbooks/reconcile.md.
 *
 * Exit status: 0 nothing MISSING; 1 something is MISSING; 2 usage, configuration or
 * infrastructure error (Kafka, registry or database unreachable, a topic missing).
 */
import { databaseEnvSchema, kafkaEnvSchema } from '@ancillary/config';
import { createPool } from '@ancillary/database';
import { deadLetterTopicOf } from '@ancillary/contracts';
import { DEFAULT_RECONCILE_TOPICS, reconcile, type ReconcileReport } from '@ancillary/ops';
import { z } from 'zod';
import { parseCommandLine, parseInstant, parsePositiveInt } from '../common/cli-args';
import { bootstrapTool, runTool, toolKafka, UsageError } from '../common/tool-bootstrap';
import { formatReport } from './reconcile.output';

const USAGE = `usage: npm run reconcile -- --since <time> [options]

  --since TIME          window start, ISO 8601 with zone (e.g. 2026-11-26T00:00:00Z) (required)
  --until TIME          window end (exclusive); default: everything on the topic now
  --sample N            audit N messages picked at random instead of all of them
  --source-system X     only messages of this ancillary connection (x-source-system)
  --inbound-topic T     the inbound topic (default ${DEFAULT_RECONCILE_TOPICS.inbound}); its
                        dead letters are read from T.dlt
  --results-dead-letter-topic T
                        where the ehr-writer dead-letters results
                        (default ${DEFAULT_RECONCILE_TOPICS.resultsDeadLetters})
  --json                print the report as JSON instead of tables
  --help                this text

exit status: 0 every message accounted for, 1 something MISSING, 2 usage or infrastructure error`;

const OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  sample: { type: 'string' },
  'source-system': { type: 'string' },
  'inbound-topic': { type: 'string' },
  'results-dead-letter-topic': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

const schema = z.object({ ...kafkaEnvSchema.shape, ...databaseEnvSchema.shape });

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
  const sample = args.sample !== undefined ? parsePositiveInt('sample', args.sample) : undefined;

  const { config, logger } = bootstrapTool('reconcile', schema);
  const { kafka, codec } = toolKafka('reconcile', config, logger);
  const pool = createPool({
    databaseUrl: config.DATABASE_URL,
    applicationName: 'reconcile',
    maxConnections: 2,
    // Batched lookups over a long window; a stuck statement still ends the audit (exit 2).
    statementTimeoutMs: 120_000,
  });
  let report: ReconcileReport;
  try {
    report = await reconcile({
      kafka,
      codec,
      pool,
      logger,
      since,
      ...(until ? { until } : {}),
      ...(sample !== undefined ? { sample } : {}),
      ...(args['source-system'] !== undefined ? { sourceSystem: args['source-system'] } : {}),
      topics: {
        ...(args['inbound-topic'] !== undefined
          ? {
              inbound: args['inbound-topic'],
              inboundDeadLetters: deadLetterTopicOf(args['inbound-topic']),
            }
          : {}),
        ...(args['results-dead-letter-topic'] !== undefined
          ? { resultsDeadLetters: args['results-dead-letter-topic'] }
          : {}),
      },
    });
  } finally {
    await pool.end().catch(() => undefined);
  }
  console.log(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}

runTool(main, { failurePrefix: 'reconcile failed', errorExitCode: 2 });
