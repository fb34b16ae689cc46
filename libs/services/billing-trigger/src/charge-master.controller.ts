/**
 * Reloads the charge master on demand, the way /admin/terminology reloads the code-set tables
 * (libs/terminology-nest): prices change on a schedule and a missing row dead-letters completed
 * work, so the runbook is "add the row, reload, replay the dead letters" — without a restart.
 * The store has no file watcher (a reload is an explicit act), so this endpoint is how a new
 * table gets in. A table that does not validate is refused with its problems, counted and
 * logged, and the previous one keeps pricing.
 *
 * Like /admin/terminology it has no authentication of its own: the HTTP port is fenced by the
 * network policy (deploy/k8s/network-policy.example.yaml), reachable by operators through
 * `kubectl port-forward`.
 */
import { Controller, Get, HttpCode, HttpException, HttpStatus, Inject, Post } from '@nestjs/common';
import { ChargeMasterStore, type ChargeMaster } from '@ancillary/charge-master';
import { counter, describeError, gauge, type Logger } from '@ancillary/observability';
import { CHARGE_MASTER } from './charge.trigger';

/** What the endpoints answer about a table: the version on every charge event, its files' hash. */
export interface ChargeMasterSummary {
  readonly version: string;
  readonly hash: string;
  /** Rows (a charge code has one row per price period). */
  readonly entries: number;
}

export function chargeMasterSummary(chargeMaster: ChargeMaster): ChargeMasterSummary {
  return {
    version: chargeMaster.version,
    hash: chargeMaster.hash,
    entries: chargeMaster.entries().length,
  };
}

// Registered through @ancillary/observability, which returns the metric already registered under
// a name: a second service in one process (tests) shares it instead of failing.
const chargeMasterInfo = gauge(
  'charge_master_info',
  'The charge master in use (value 1), by version and content hash.',
  ['version', 'hash'],
);
const chargeMasterReloads = counter(
  'charge_master_reloads_total',
  'Charge-master reloads, by result: changed, unchanged, invalid (refused; the old table stays).',
  ['result'],
);

function showInUse(chargeMaster: ChargeMaster): void {
  // One series per process: the version in use, whatever an earlier store in it reported.
  chargeMasterInfo.reset();
  chargeMasterInfo.set({ version: chargeMaster.version, hash: chargeMaster.hash }, 1);
}

/**
 * Loads the charge master and wires its reloads to metrics and the log: changed / unchanged /
 * invalid counted, the info gauge moved to the new version, a refusal logged with every problem
 * (file, line, column; the table holds prices, never patient data).
 * @param dir the table's directory; undefined: the charge-master lib's own data/.
 * @throws ChargeMasterLoadError when the table is invalid at start: the service must not run.
 */
export function createChargeMasterStore(
  dir: string | undefined,
  logger: Logger,
): ChargeMasterStore {
  const store = new ChargeMasterStore({
    ...(dir === undefined ? {} : { dir }),
    onReload: (outcome) => {
      if (outcome.ok) {
        chargeMasterReloads.inc({ result: outcome.changed ? 'changed' : 'unchanged' });
        if (!outcome.changed) return;
        showInUse(outcome.chargeMaster);
        logger.info(
          {
            chargeMaster: chargeMasterSummary(outcome.chargeMaster),
            previousVersion: outcome.previous.version,
            previousHash: outcome.previous.hash,
          },
          'charge master reloaded',
        );
      } else {
        chargeMasterReloads.inc({ result: 'invalid' });
        logger.error(
          { err: describeError(outcome.error), inUse: chargeMasterSummary(outcome.chargeMaster) },
          'charge master reload refused; the previous table stays in use',
        );
      }
    },
  });
  showInUse(store.current);
  logger.info(
    { chargeMaster: chargeMasterSummary(store.current), directory: store.directory },
    'charge master loaded',
  );
  return store;
}

@Controller('admin/charge-master')
export class ChargeMasterController {
  constructor(@Inject(CHARGE_MASTER) private readonly store: ChargeMasterStore) {}

  /** The table in use: version, content hash, row count. */
  @Get()
  current(): ChargeMasterSummary {
    return chargeMasterSummary(this.store.current);
  }

  /**
   * 200 with the table now in use and whether anything changed; 422 naming every problem when
   * the files are invalid (and the version still in use).
   */
  @Post('reload')
  @HttpCode(200)
  reload(): ChargeMasterSummary & { changed: boolean } {
    const outcome = this.store.reload();
    if (!outcome.ok) {
      throw new HttpException(
        {
          error: 'charge master is invalid; the previous version stays in use',
          detail: outcome.error.message,
          inUse: chargeMasterSummary(outcome.chargeMaster),
        },
        HttpStatus.UNPROCESSABLE_ENTITY,
      );
    }
    return { ...chargeMasterSummary(outcome.chargeMaster), changed: outcome.changed };
  }
}
