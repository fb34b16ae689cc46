import { resolve } from 'node:path';
import { DEFAULT_CHARGE_MASTER_DIR, loadChargeMaster, type ChargeMaster } from './charge-master';

/**
 * The result of a reload. On failure the store keeps serving `chargeMaster`, the table it had,
 * and `error` says why (a `ChargeMasterLoadError` names file, line and column of every problem).
 */
export type ChargeMasterReloadOutcome =
  | {
      readonly ok: true;
      /** The table now served. */
      readonly chargeMaster: ChargeMaster;
      readonly previous: ChargeMaster;
      /** False when the files hash the same as before (the old object is kept). */
      readonly changed: boolean;
    }
  | {
      readonly ok: false;
      readonly error: Error;
      /** The table still served. */
      readonly chargeMaster: ChargeMaster;
    };

export interface ChargeMasterStoreOptions {
  /** Directory holding charge-master.csv and manifest.json; default the lib's own `data/`. */
  readonly dir?: string;
  /**
   * Called after every reload, successful or not. The lib is framework-free, so the service
   * wires this to its logger and metrics (version and hash on success, the error on failure).
   * Must not throw.
   */
  readonly onReload?: (outcome: ChargeMasterReloadOutcome) => void;
}

/**
 * The charge master a service prices with, replaced on reload (mirrors libs/terminology's
 * TerminologyStore, without the file watcher: prices change on a schedule, and a reload is an
 * explicit act — an admin endpoint or a signal — not a side effect of saving a file).
 *
 * A reload builds and validates a whole new table before swapping the reference, and a failed
 * one keeps the table in use: a half-edited file never stops charging. Read `current` once per
 * event and price the whole event with it.
 */
export class ChargeMasterStore {
  /** Absolute path of the table's directory. */
  readonly directory: string;
  private table: ChargeMaster;
  private readonly onReload: ((outcome: ChargeMasterReloadOutcome) => void) | undefined;

  /**
   * Loads the table at once: a service must not start without a valid one.
   * @param options the directory, or options; default the lib's own `data/`.
   * @throws ChargeMasterLoadError when the files are invalid.
   */
  constructor(options: string | ChargeMasterStoreOptions = {}) {
    const { dir, onReload } = typeof options === 'string' ? { dir: options } : options;
    this.directory = resolve(dir ?? DEFAULT_CHARGE_MASTER_DIR);
    this.onReload = onReload;
    this.table = loadChargeMaster(this.directory);
  }

  /** The table to price with now. */
  get current(): ChargeMaster {
    return this.table;
  }

  /**
   * Reads and validates the files again and swaps the table in when it is valid; when it is
   * not, keeps the current one and reports why. Never throws for bad files.
   */
  reload(): ChargeMasterReloadOutcome {
    const previous = this.table;
    let outcome: ChargeMasterReloadOutcome;
    try {
      const next = loadChargeMaster(this.directory);
      const changed = next.hash !== previous.hash;
      if (changed) this.table = next;
      outcome = { ok: true, chargeMaster: this.table, previous, changed };
    } catch (error) {
      outcome = {
        ok: false,
        error: error instanceof Error ? error : new Error(String(error)),
        chargeMaster: previous,
      };
    }
    this.onReload?.(outcome);
    return outcome;
  }
}
