/**
 * The one way a platform service starts: a Nest app with the service's JSON logger, shutdown
 * hooks (SIGTERM/SIGINT: stop taking work, finish what is in hand, commit, disconnect), and an
 * HTTP listener for /health, /ready, /metrics and the service's own API.
 *
 * Services are created in-process by `startService` (end-to-end tests run all of them in one
 * process with one in-memory span exporter) and by `runMain` from each app's main.ts.
 */
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  assertSupportedNode,
  ConfigError,
  loadConfig,
  UnsupportedRuntimeError,
  type Environment,
} from '@ancillary/config';
import { createLogger, describeError, startTracing, type Logger } from '@ancillary/observability';
import type { z } from 'zod';
import { PinoNestLogger } from '@ancillary/observability-nest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StartServiceOptions {
  module: DynamicModule | Type;
  logger: Logger;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Install SIGTERM/SIGINT handlers; off for in-process tests that start several services. */
  shutdownHooks?: boolean;
  /**
   * Off for a service that reads request bodies itself (the exact bytes, its own size limit and
   * content types, its own error answers); default on (JSON and urlencoded, 100 kB).
   */
  bodyParser?: boolean;
}

export interface ServiceHandle {
  app: INestApplication;
  /** http://host:port of the service's HTTP listener. */
  url: string;
  port: number;
  /** Graceful stop: the same sequence SIGTERM runs. */
  close(): Promise<void>;
}

export async function startService(options: StartServiceOptions): Promise<ServiceHandle> {
  const app = await NestFactory.create(options.module, {
    logger: new PinoNestLogger(options.logger),
    abortOnError: false, // a failing provider rejects here, with its error, instead of exiting
    bodyParser: options.bodyParser ?? true,
  });
  if (options.shutdownHooks ?? true) app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(options.port, options.host);
  const server = app.getHttpServer() as Server;
  const address = server.address() as AddressInfo;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  let closing: Promise<void> | undefined;
  return {
    app,
    port: address.port,
    url: `http://${host}:${address.port}`,
    close: () => (closing ??= app.close()),
  };
}

/**
 * The body of an app's main.ts: refuses an unsupported Node.js and bad configuration with a
 * plain message (exit 78, EX_CONFIG), and any start-up failure with a logged error (exit 1).
 */
export function runMain(
  service: string,
  start: (env: NodeJS.ProcessEnv) => Promise<unknown>,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const fail = (error: unknown, code: number): never => {
    if (error instanceof ConfigError || error instanceof UnsupportedRuntimeError) {
      process.stderr.write(`${service}: ${error.message}\n`);
    } else {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', service, msg: 'start-up failed', ...describeError(error) })}\n`,
      );
    }
    process.exit(code);
  };
  try {
    assertSupportedNode();
  } catch (error) {
    fail(error, 78);
  }
  process.on('unhandledRejection', (reason) => fail(reason, 1));
  // Spans go to the OTLP collector when one is configured; the ids reach logs and headers anyway.
  startTracing({
    serviceName: env['SERVICE_NAME'] ?? service,
    ...(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']
      ? { otlpTracesEndpoint: env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] }
      : {}),
  });
  start(env).catch((error: unknown) => fail(error, error instanceof ConfigError ? 78 : 1));
}

export interface StartFromEnvOptions {
  /** Default: a JSON logger named after SERVICE_NAME at LOG_LEVEL. */
  logger?: Logger;
  /** Off for in-process tests that run several services. */
  shutdownHooks?: boolean;
  /** See StartServiceOptions.bodyParser. */
  bodyParser?: boolean;
}

/** The settings every service's environment carries (serviceEnvSchema). */
interface BaseServiceConfig {
  SERVICE_NAME: string;
  LOG_LEVEL: string;
  HTTP_HOST: string;
  HTTP_PORT: number;
}

/**
 * A service's start from its environment: validate it with the service's schema (all problems
 * at once), create the logger, build the module, listen. Returns the handle and the config.
 */
export async function startFromEnv<S extends z.ZodType<BaseServiceConfig>>(
  schema: S,
  env: Environment,
  module: (config: z.output<S>, logger: Logger) => DynamicModule,
  options: StartFromEnvOptions = {},
): Promise<ServiceHandle & { config: z.output<S>; logger: Logger }> {
  const config = loadConfig(schema, env);
  const logger =
    options.logger ?? createLogger({ service: config.SERVICE_NAME, level: config.LOG_LEVEL });
  const handle = await startService({
    module: module(config, logger),
    logger,
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    ...(options.shutdownHooks !== undefined ? { shutdownHooks: options.shutdownHooks } : {}),
    ...(options.bodyParser !== undefined ? { bodyParser: options.bodyParser } : {}),
  });
  return { ...handle, config, logger };
}
