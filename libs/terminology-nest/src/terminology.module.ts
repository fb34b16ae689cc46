/**
 * The code-set tables as a global Nest module, for every service that maps codes: one
 * `TerminologyStore` per process, loaded at boot (a service does not start on invalid tables),
 * optionally watched, reloadable over HTTP, and reported as metrics and log lines.
 */
import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnModuleDestroy,
} from '@nestjs/common';
import { counter, describeError, gauge } from '@ancillary/observability';
import { TerminologyStore } from '@ancillary/terminology';
import type { TerminologyModuleOptions } from './terminology.config';
import { TerminologyController } from './terminology.controller';

/** Injection token of the module options. */
export const TERMINOLOGY_MODULE_OPTIONS = Symbol('TERMINOLOGY_MODULE_OPTIONS');

// Registered through @ancillary/observability, which returns the metric already registered
// under a name: a service (or a test) that loads this module and older code registering the
// same names shares one metric instead of failing on a duplicate registration.
const terminologyInfo = gauge(
  'terminology_tables_info',
  'The code-set tables in use (value 1), by version and content hash.',
  ['version', 'hash'],
);
const terminologyReloads = counter('terminology_reloads_total', 'Table reloads, by result.', [
  'result',
]);

/**
 * Loads the tables and wires the store's reports to metrics and the log: `changed` /
 * `unchanged` / `invalid` reloads counted, the info gauge moved to the new version, a refused
 * reload logged with every problem (file, line, column; no patient data is ever in the tables).
 * @throws TerminologyLoadError when the tables are invalid at boot.
 */
export function createTerminologyStore(options: TerminologyModuleOptions): TerminologyStore {
  const { logger } = options;
  const store = new TerminologyStore({
    ...(options.dir === undefined ? {} : { dir: options.dir }),
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    onReload: (outcome) => {
      if (outcome.ok) {
        terminologyReloads.inc({ result: outcome.changed ? 'changed' : 'unchanged' });
        if (!outcome.changed) return;
        terminologyInfo.reset();
        const summary = outcome.terminology.summary();
        terminologyInfo.set({ version: summary.version, hash: summary.contentHash }, 1);
        logger.info({ terminology: summary, trigger: outcome.trigger }, 'terminology reloaded');
      } else {
        terminologyReloads.inc({ result: 'invalid' });
        logger.error(
          { err: describeError(outcome.error), trigger: outcome.trigger },
          'terminology reload refused; the previous tables stay in use',
        );
      }
    },
    onWatchError: (error) => {
      logger.error({ err: describeError(error) }, 'terminology watcher failed');
    },
  });
  const summary = store.current.summary();
  // One series per process: the version in use, whatever an earlier store in it reported.
  terminologyInfo.reset();
  terminologyInfo.set({ version: summary.version, hash: summary.contentHash }, 1);
  logger.info({ terminology: summary }, 'terminology loaded');
  return store;
}

/** Watches the tables' directory while the module lives, when asked to. */
@Injectable()
export class TerminologyWatch implements OnModuleDestroy {
  private readonly stop: (() => void) | undefined;

  constructor(
    store: TerminologyStore,
    @Inject(TERMINOLOGY_MODULE_OPTIONS) options: TerminologyModuleOptions,
  ) {
    this.stop = options.watch ? store.watch() : undefined;
  }

  onModuleDestroy(): void {
    this.stop?.();
  }
}

/**
 * `TerminologyModule.forRoot(options)`: provides `TerminologyStore` to the whole application
 * (global), watches the directory when `watch` is true, and serves `GET /admin/terminology`
 * and `POST /admin/terminology/reload`. Import it once, in the service's root module.
 */
@Global()
@Module({})
export class TerminologyModule {
  static forRoot(options: TerminologyModuleOptions): DynamicModule {
    return {
      module: TerminologyModule,
      global: true,
      controllers: [TerminologyController],
      providers: [
        { provide: TERMINOLOGY_MODULE_OPTIONS, useValue: options },
        {
          provide: TerminologyStore,
          useFactory: (o: TerminologyModuleOptions) => createTerminologyStore(o),
          inject: [TERMINOLOGY_MODULE_OPTIONS],
        },
        TerminologyWatch,
      ],
      exports: [TerminologyStore],
    };
  }
}
