import { booleanFlag } from '@ancillary/config';
import type { Logger } from '@ancillary/observability';
import { z } from 'zod';

/**
 * The terminology settings of every service that maps codes (normalizer, ehr-writer, the
 * gateways). Extend a service's env schema with it:
 * `kafkaServiceEnvSchema.extend(terminologyEnvSchema.shape)`.
 */
export const terminologyEnvSchema = z.object({
  /** Directory of the code-set tables; unset: the terminology lib's own data/. */
  TERMINOLOGY_DIR: z.string().min(1).optional(),
  /** Reload the tables when their files change (fs.watch); `POST /admin/terminology/reload` works either way. */
  TERMINOLOGY_WATCH: booleanFlag.default(true),
});

export type TerminologyEnv = z.output<typeof terminologyEnvSchema>;

/** What `TerminologyModule.forRoot` needs. */
export interface TerminologyModuleOptions {
  /** Directory of the tables; default the terminology lib's own data/. */
  readonly dir?: string;
  /** Whether to watch the directory and reload on changes (stopped when the module is destroyed). */
  readonly watch: boolean;
  /** Where the load, reload and refusal lines go. */
  readonly logger: Logger;
  /** Quiet time after a file event before reloading (tests shorten it); default the store's. */
  readonly debounceMs?: number;
}

/** The module options from a service's validated config. */
export function terminologyOptionsFrom(
  config: TerminologyEnv,
  logger: Logger,
): TerminologyModuleOptions {
  return {
    ...(config.TERMINOLOGY_DIR === undefined ? {} : { dir: config.TERMINOLOGY_DIR }),
    watch: config.TERMINOLOGY_WATCH,
    logger,
  };
}
