import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { describeError, flushTracing, type Logger } from '@ancillary/observability';
import { withTimeout } from '@ancillary/retry';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';
import { LOGGER } from './tokens';

export interface ObservabilityModuleOptions {
  logger: Logger;
}

/**
 * Spans wait in a batch and the logger writes asynchronously (pino, sync: false): the last spans
 * and lines — "MLLP server closed", "consumer stopped" — would be lost when the process exits
 * after shutdown. Flushes both, last.
 */
@Injectable()
export class ObservabilityFlush implements OnApplicationShutdown {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  async onApplicationShutdown(): Promise<void> {
    // Bounded: an unreachable collector must not hold the shutdown past the grace period.
    await withTimeout(flushTracing(), 5_000, () => new Error('no answer within 5 s')).catch(
      (error: unknown) => {
        this.logger.warn({ err: describeError(error) }, 'spans could not be flushed at shutdown');
      },
    );
    await new Promise<void>((resolve) => {
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
      providers: [
        { provide: LOGGER, useValue: options.logger },
        ReadinessRegistry,
        ObservabilityFlush,
      ],
      exports: [LOGGER, ReadinessRegistry],
    };
  }
}
