import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from '@ancillary/observability';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';
import { LOGGER } from './tokens';

export interface ObservabilityModuleOptions {
  logger: Logger;
}

/** Health, readiness and metrics endpoints, and the logger, for the whole service. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityModuleOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      controllers: [HealthController],
      providers: [{ provide: LOGGER, useValue: options.logger }, ReadinessRegistry],
      exports: [LOGGER, ReadinessRegistry],
    };
  }
}
