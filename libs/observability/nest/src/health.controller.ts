/**
 * /health (liveness: the process answers and nothing in it gave up for good), /ready (its dependencies answer) and /metrics
 * (Prometheus text format) for every service.
 */
import { Controller, Get, Header, HttpStatus, Res } from '@nestjs/common';
import { metricsRegistry } from '@ancillary/observability';
import type { Response } from 'express';
import { ReadinessRegistry } from './readiness.registry';

@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessRegistry) {}

  @Get('health')
  async health(@Res() response: Response): Promise<void> {
    const result = await this.readiness.runLiveness();
    response
      .status(result.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .json(result.ready ? { status: 'ok' } : { status: 'unhealthy', checks: result.checks });
  }

  @Get('ready')
  async ready(@Res() response: Response): Promise<void> {
    const result = await this.readiness.run();
    response
      .status(result.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .json({ status: result.ready ? 'ready' : 'not-ready', checks: result.checks });
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Res() response: Response): Promise<void> {
    const registry = metricsRegistry();
    response.setHeader('Content-Type', registry.contentType);
    response.send(await registry.metrics());
  }
}
