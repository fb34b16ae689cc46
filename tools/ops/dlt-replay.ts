/**
 * Replays dead letters to their original topic once the cause is fixed:
 *   npm run dlt:replay -- --topic lab.hl7-inbound.v1.dlt [--dry-run] [--yes] [filters]
 * Shows the plan and asks before publishing (--yes skips the question, for runbooks that ran
 * --dry-run first). Runbook: docs/runbooks/dead-letters.md.
 *
 * Exit status: 0 done; 1 records failed or the run stopped short (state full, publish
 * failed); 2 usage, configuration or infrastructure error; 130 interrupted (SIGINT).
 */
import { kafkaEnvSchema } from '@ancillary/config';
import { replayDeadLetters, type DeadLetterRecord, type ReplayFilter } from '@ancillary/ops';
import { createInterface } from 'node:readline/promises';
import { parseCommandLine, parseInstant, parsePositiveInt } from '../common/cli-args';
import { bootstrapTool, runTool, toolMessaging, UsageError } from '../common/tool-bootstrap';
import { renderTable, type Cell } from '../common/text-table';
import {
  formatPlan,
  formatProgress,
  formatRecords,
  formatSummary,
  RECORD_HEADERS,
  recordRow,
} from './replay.output';

const USAGE = `usage: npm run dlt:replay -- --topic <topic>.dlt [options]

  --topic T          the dead-letter topic, e.g. lab.hl7-inbound.v1.dlt (required)
  --dry-run          list what would be replayed; publish and commit nothing
  --yes              do not ask before replaying (run --dry-run first)
  --since TIME       only dead letters written at or after TIME (ISO 8601 with zone)
  --until TIME       only dead letters written before TIME
  --control-id ID    only the message with MSH-10 = ID (repeatable)
  --error-code C     only dead letters with x-dlt-error-code C (repeatable)
  --error-class C    only dead letters with x-dlt-error-class C (repeatable)
  --limit N          replay at most N records
  --all              read from the beginning, replaying again what was replayed before
  --help             this text`;

const OPTIONS = {
  topic: { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  since: { type: 'string' },
  until: { type: 'string' },
  'control-id': { type: 'string', multiple: true },
  'error-code': { type: 'string', multiple: true },
  'error-class': { type: 'string', multiple: true },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Plan rows shown before the question; the rest are counted. */
const PLAN_ROWS_SHOWN = 20;

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), OPTIONS, USAGE);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (!args.topic) throw new UsageError(`--topic is required\n\n${USAGE}`);
  if (!args.topic.endsWith('.dlt')) {
    throw new UsageError(`--topic ${args.topic} is not a dead-letter topic (<topic>.dlt)`);
  }
  const dryRun = args['dry-run'] ?? false;
  const interactive = process.stdin.isTTY && process.stdout.isTTY;
  if (!dryRun && !args.yes && !interactive) {
    throw new UsageError(
      'not replaying without a confirmation: run with --dry-run to see what would be replayed, then with --yes',
    );
  }
  const filter: ReplayFilter = {
    ...(args.since ? { since: parseInstant('since', args.since) } : {}),
    ...(args.until ? { until: parseInstant('until', args.until) } : {}),
    ...(args['control-id'] ? { controlIds: args['control-id'] } : {}),
    ...(args['error-code'] ? { errorCodes: args['error-code'] } : {}),
    ...(args['error-class'] ? { errorClasses: args['error-class'] } : {}),
  };
  const limit = args.limit !== undefined ? parsePositiveInt('limit', args.limit) : undefined;

  const { config, logger } = bootstrapTool('dlt-replay', kafkaEnvSchema);
  const messaging = toolMessaging('dlt-replay', config, logger);
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('interrupted: finishing the records in hand, then stopping');
    abort.abort();
  });

  const planned: DeadLetterRecord[] = [];
  const dryRunRows: Cell[][] = [];
  const confirmWithOperator = !dryRun && !args.yes;
  try {
    const report = await replayDeadLetters({
      kafka: messaging.kafka,
      producer: messaging.producer,
      logger,
      deadLetterTopic: args.topic,
      filter,
      ...(limit !== undefined ? { limit } : {}),
      all: args.all ?? false,
      dryRun,
      signal: abort.signal,
      onPlanned: (record) => {
        // A dry run lists every record (rows are small: no keys, no values); a plan the first ones.
        if (dryRun) dryRunRows.push(recordRow(record));
        else if (planned.length < PLAN_ROWS_SHOWN) planned.push(record);
      },
      onProgress: (progress) => {
        console.error(formatProgress(progress));
      },
      ...(confirmWithOperator
        ? {
            confirm: async (plan) => {
              console.log(formatPlan(plan));
              if (planned.length > 0) {
                console.log(`\nFirst ${planned.length} of ${plan.toReplay}:`);
                console.log(formatRecords(planned));
              }
              const rl = createInterface({ input: process.stdin, output: process.stdout });
              // Ctrl-C at the prompt reaches readline, not the process: treat it as a "no".
              rl.on('SIGINT', () => {
                abort.abort();
              });
              try {
                const answer = await rl.question(
                  `\nReplay ${plan.toReplay} record(s) to ${plan.targetTopic}? Type "yes" to proceed: `,
                  { signal: abort.signal },
                );
                return answer.trim().toLowerCase() === 'yes';
              } catch (error) {
                if (abort.signal.aborted) return false;
                throw error;
              } finally {
                rl.close();
              }
            },
          }
        : {}),
    });
    if (dryRun) {
      console.log(
        dryRunRows.length > 0
          ? renderTable(RECORD_HEADERS, dryRunRows, { alignRight: [0, 1] })
          : 'nothing to replay',
      );
    }
    console.log(`\n${formatSummary(report)}`);
    if (report.stopReason === 'aborted' || abort.signal.aborted) return 130;
    const short = report.stopReason === 'publish-failed' || report.stopReason === 'state-full';
    return report.failed > 0 || short ? 1 : 0;
  } finally {
    await messaging.close();
  }
}

runTool(main, { errorExitCode: 2 });
