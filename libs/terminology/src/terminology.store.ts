import { watch as watchDirectory, type FSWatcher } from 'node:fs';
import { resolve } from 'node:path';
import type { Terminology } from './terminology';
import { DEFAULT_TERMINOLOGY_DIR, loadTerminology } from './terminology.loader';

/** What started a reload. */
export type TerminologyReloadTrigger = 'manual' | 'watch';

/**
 * The result of a reload. On failure the store keeps serving `terminology`, the tables it had:
 * a half-edited or broken file never takes mapping down.
 */
export type TerminologyReloadOutcome =
  | {
      readonly ok: true;
      readonly trigger: TerminologyReloadTrigger;
      /** The tables now served. */
      readonly terminology: Terminology;
      readonly previous: Terminology;
      /** False when the files hash the same as before (the old object is kept). */
      readonly changed: boolean;
    }
  | {
      readonly ok: false;
      readonly trigger: TerminologyReloadTrigger;
      /** `TerminologyLoadError` with every problem, or the error reading the directory. */
      readonly error: Error;
      /** The tables still served. */
      readonly terminology: Terminology;
    };

export interface TerminologyStoreOptions {
  /** Directory of the tables; default the lib's own `data/`. */
  readonly dir?: string;
  /** Quiet time after the last file event before `watch()` reloads (editors write in bursts). */
  readonly debounceMs?: number;
  /**
   * Called after every reload, successful or not. This lib is framework-free, so the service
   * wires it to its logger and metrics (version and hash on success; the error, which names
   * file, line and column, on failure). Must not throw.
   */
  readonly onReload?: (outcome: TerminologyReloadOutcome) => void;
  /** Called when the directory watcher itself fails (directory removed, too many watchers). */
  readonly onWatchError?: (error: Error) => void;
}

/** Default quiet time before a watched change is loaded. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 300;

/**
 * Holds the terminology a service maps with, and replaces it when the files change.
 *
 * The swap is atomic: a reload builds and validates a complete new `Terminology` and only then
 * replaces the reference, so `current` is always one whole, valid version. Callers read
 * `current` once per message and map the whole message with it.
 */
export class TerminologyStore {
  /** Absolute path of the tables' directory. */
  readonly directory: string;
  private terminology: Terminology;
  private readonly debounceMs: number;
  private readonly onReload: ((outcome: TerminologyReloadOutcome) => void) | undefined;
  private readonly onWatchError: ((error: Error) => void) | undefined;

  /**
   * Loads the tables at once: a service must not start without valid ones.
   * @throws TerminologyLoadError when they are invalid.
   */
  constructor(options: TerminologyStoreOptions = {}) {
    this.directory = resolve(options.dir ?? DEFAULT_TERMINOLOGY_DIR);
    this.debounceMs = options.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS;
    this.onReload = options.onReload;
    this.onWatchError = options.onWatchError;
    this.terminology = loadTerminology(this.directory);
  }

  /** The tables to map with now. */
  get current(): Terminology {
    return this.terminology;
  }

  /**
   * Reads and validates the directory again and swaps the tables in when they are valid; when
   * they are not, keeps the current ones and reports why. Never throws for bad files.
   */
  reload(trigger: TerminologyReloadTrigger = 'manual'): TerminologyReloadOutcome {
    const previous = this.terminology;
    let outcome: TerminologyReloadOutcome;
    try {
      const next = loadTerminology(this.directory);
      const changed = next.contentHash !== previous.contentHash;
      if (changed) this.terminology = next;
      outcome = { ok: true, trigger, terminology: this.terminology, previous, changed };
    } catch (error) {
      outcome = {
        ok: false,
        trigger,
        error: error instanceof Error ? error : new Error(String(error)),
        terminology: previous,
      };
    }
    this.onReload?.(outcome);
    return outcome;
  }

  /**
   * Watches the directory (fs.watch) and reloads after `debounceMs` of quiet following any
   * change. Any event counts, not only the known file names: editors save through temporary
   * files and renames, and a Kubernetes ConfigMap volume swaps a `..data` symlink. Returns the
   * function that stops watching. The watcher does not keep the process alive.
   */
  watch(): () => void {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const fire = (): void => {
      timer = undefined;
      if (stopped) return;
      try {
        this.reload('watch');
      } catch (error) {
        // Only a throwing onReload listener can get here; reload itself never throws.
        this.reportWatchError(error);
      }
    };
    let watcher: FSWatcher;
    try {
      watcher = watchDirectory(this.directory, { persistent: false }, () => {
        if (stopped) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(fire, this.debounceMs);
        timer.unref();
      });
    } catch (error) {
      this.reportWatchError(error);
      return () => undefined;
    }
    watcher.on('error', (error) => {
      this.reportWatchError(error);
    });
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      watcher.close();
    };
  }

  private reportWatchError(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    if (this.onWatchError) this.onWatchError(err);
    else throw err;
  }
}
