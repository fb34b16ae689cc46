/**
 * The normalizer service: raw HL7 from the gateways' inbound topics to canonical, coded
 * events. Today the lab flow (LabNormalizerHandler); radiology and pharmacy join it.
 */
import {
  Module,
  type DynamicModule,
  type OnModuleDestroy,
  Inject,
  Injectable,
} from '@nestjs/common';
import { booleanFlag, ianaTimeZone, port, type Environment } from '@ancillary/config';
import { MessagingModule } from '@ancillary/messaging-nest';
import { describeError, gauge, counter, type Logger } from '@ancillary/observability';
import { ObservabilityModule } from '@ancillary/observability-nest';
import {
  consumerDefaultsFrom,
  kafkaServiceEnvSchema,
  messagingOptionsFrom,
  startFromEnv,
  type ServiceHandle,
  type StartFromEnvOptions,
} from '@ancillary/service-kit';
import { TerminologyStore } from '@ancillary/terminology';
import { z } from 'zod';
import { LabNormalizerHandler, NORMALIZER_SETTINGS } from './lab-normalizer.handler';
import { TerminologyController } from './terminology.controller';

export const normalizerEnvSchema = kafkaServiceEnvSchema.extend({
  SERVICE_NAME: z.string().min(1).default('normalizer'),
  HTTP_PORT: port.default(8082),
  CONSUMER_GROUP: z.string().min(1).default('normalizer'),
  /** Directory of the code-set tables; default the terminology lib's own data/. */
  TERMINOLOGY_DIR: z.string().min(1).optional(),
  TERMINOLOGY_WATCH: booleanFlag.default(true),
  /** IANA zone of HL7 timestamps sent without an offset. */
  DEFAULT_TIME_ZONE: ianaTimeZone.default('UTC'),
});

export type NormalizerConfig = z.output<typeof normalizerEnvSchema>;

const terminologyInfo = gauge(
  'terminology_tables_info',
  'The code-set tables in use (value 1), by version and content hash.',
  ['version', 'hash'],
);
const terminologyReloads = counter('terminology_reloads_total', 'Table reloads, by result.', [
  'result',
]);

@Injectable()
class TerminologyWatch implements OnModuleDestroy {
  private readonly stop: (() => void) | undefined;
  constructor(store: TerminologyStore, @Inject('TERMINOLOGY_WATCH') enabled: boolean) {
    this.stop = enabled ? store.watch() : undefined;
  }
  onModuleDestroy(): void {
    this.stop?.();
  }
}

function createTerminologyStore(config: NormalizerConfig, logger: Logger): TerminologyStore {
  const store = new TerminologyStore({
    ...(config.TERMINOLOGY_DIR ? { dir: config.TERMINOLOGY_DIR } : {}),
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
  terminologyInfo.set({ version: summary.version, hash: summary.contentHash }, 1);
  logger.info({ terminology: summary }, 'terminology loaded');
  return store;
}

@Module({})
export class NormalizerModule {
  static forRoot(config: NormalizerConfig, logger: Logger): DynamicModule {
    return {
      module: NormalizerModule,
      imports: [
        ObservabilityModule.forRoot({ logger }),
        MessagingModule.forRoot({
          ...messagingOptionsFrom(config),
          groupId: config.CONSUMER_GROUP,
          consumer: consumerDefaultsFrom(config),
        }),
      ],
      controllers: [TerminologyController],
      providers: [
        { provide: TerminologyStore, useValue: createTerminologyStore(config, logger) },
        { provide: 'TERMINOLOGY_WATCH', useValue: config.TERMINOLOGY_WATCH },
        { provide: NORMALIZER_SETTINGS, useValue: { defaultTimeZone: config.DEFAULT_TIME_ZONE } },
        TerminologyWatch,
        LabNormalizerHandler,
      ],
    };
  }
}

export interface NormalizerHandle extends ServiceHandle {
  config: NormalizerConfig;
}

export function startNormalizer(
  env: Environment,
  options: StartFromEnvOptions = {},
): Promise<NormalizerHandle> {
  return startFromEnv(normalizerEnvSchema, env, (c, l) => NormalizerModule.forRoot(c, l), options);
}
