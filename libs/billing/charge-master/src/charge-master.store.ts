import { DEFAULT_CHARGE_MASTER_DIR, loadChargeMaster, type ChargeMaster } from './charge-master';

export type ChargeMasterReloadOutcome =
  | { readonly ok: true; readonly chargeMaster: ChargeMaster; readonly changed: boolean }
  | { readonly ok: false; readonly error: Error; readonly chargeMaster: ChargeMaster };

/**
 * The charge master a service prices with, replaced on reload. A reload builds and validates a
 * whole new table before swapping the reference, and a failed one keeps the table in use: a
 * half-edited file never stops charging. Read `current` once per event.
 */
export class ChargeMasterStore {
  private table: ChargeMaster;

  constructor(readonly directory: string = DEFAULT_CHARGE_MASTER_DIR) {
    this.table = loadChargeMaster(directory);
  }

  get current(): ChargeMaster {
    return this.table;
  }

  reload(): ChargeMasterReloadOutcome {
    try {
      const next = loadChargeMaster(this.directory);
      const changed = next.hash !== this.table.hash;
      if (changed) this.table = next;
      return { ok: true, chargeMaster: this.table, changed };
    } catch (error) {
      return {
        ok: false,
        error: error instanceof Error ? error : new Error(String(error)),
        chargeMaster: this.table,
      };
    }
  }
}
