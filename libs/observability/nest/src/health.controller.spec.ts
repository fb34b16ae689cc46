/**
 * /health answers 503 only for what a restart cures (liveness checks), /ready for every
 * dependency: a Kafka outage must make pods unready, not restart them all.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { createLogger } from '@ancillary/observability';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ObservabilityModule } from './observability.module';
import { ReadinessRegistry } from './readiness.registry';

const quiet = new Writable({
  write(_chunk, _encoding, callback) {
    callback();
  },
});

@Module({
  imports: [
    ObservabilityModule.forRoot({
      logger: createLogger({ service: 't', level: 'silent', destination: quiet }),
    }),
  ],
})
class TestModule {}

let app: INestApplication;
let base: string;
let brokerUp = true;
let consumerCrashed = false;

beforeAll(async () => {
  app = await NestFactory.create(TestModule, { logger: false });
  const registry = app.get(ReadinessRegistry);
  registry.add({
    name: 'kafka',
    check: () => (brokerUp ? Promise.resolve() : Promise.reject(new Error('broker down'))),
  });
  registry.addLiveness({
    name: 'consumers',
    check: () =>
      consumerCrashed ? Promise.reject(new Error('crashed for good')) : Promise.resolve(),
  });
  await app.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
});

it('stays live but not ready while a dependency is down', async () => {
  brokerUp = false;
  expect((await fetch(`${base}/health`)).status).toBe(200);
  expect((await fetch(`${base}/ready`)).status).toBe(503);
  brokerUp = true;
  expect((await fetch(`${base}/ready`)).status).toBe(200);
});

it('is not live once something gave up for good, naming it', async () => {
  consumerCrashed = true;
  const health = await fetch(`${base}/health`);
  expect(health.status).toBe(503);
  expect(await health.json()).toMatchObject({
    status: 'unhealthy',
    checks: { consumers: { ok: false, error: 'crashed for good' } },
  });
  consumerCrashed = false;
});
