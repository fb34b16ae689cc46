import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from '@ancillary/observability';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';
import { LOGGER } from './tokens';

export interface ObservabilityModuleOptions {
  logger: Logger;
}

/**
 * The logger writes asynchronously (pino, sync: false); its last lines — "MLLP server closed",
 * "consumer stopped" — would be lost when the process exits after shutdown. Flushes them last.
 */
@Injectable()
export class LoggerFlush implements OnApplicationShutdown {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  onApplicationShutdown(): Promise<void> {
    return new Promise((resolve) => {
      this.logger.flush(() => {
        resolve();
      });
    });
  }
}

/** Health, readiness and metrics endpoints, and the logger, for the whole service. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityModuleOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [HealthController],
      providers: [{ provide: LOGGER, useValue: options.logger }, ReadinessRegistry, LoggerFlush],
      exports: [LOGGER, ReadinessRegistry],
    };
  }
}
