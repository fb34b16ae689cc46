/**
 * The Nest shell of an inbound gateway: an MLLP listener whose handler is InboundGateway,
 * started once Kafka is connected and closed first on shutdown (stop accepting, finish the
 * in-flight messages and their ACKs) before the messaging module flushes and disconnects.
 *
 * Frames that are not HL7 at all are kept (original bytes on the inbound topic's dead-letter
 * topic, with the parse error) before they are answered AR: nothing a sender gave us is lost.
 */
import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  DeadLetterHeaders,
  deadLetterTopicOf,
  MessageHeaders,
  type TopicDefinition,
} from '@ancillary/contracts';
import { createPool } from '@ancillary/database';
import type { FallbackCharset } from '@ancillary/hl7-core';
import { MllpServer, type MllpMetricsHooks } from '@ancillary/hl7-mllp';
import { Messaging } from '@ancillary/messaging-kafka';
import { counter, describeError, histogram, type Logger } from '@ancillary/observability';
import { LOGGER } from '@ancillary/observability-nest';
import type { Pool } from 'pg';
import { DedupeStore } from './dedupe.store';
import { InboundGateway } from './inbound.gateway';

export interface MllpGatewayOptions {
  sourceSystem: string;
  topic: TopicDefinition;
  acceptedMessageTypes: readonly string[];
  mllp: {
    host: string;
    port: number;
    maxConnections?: number;
    idleTimeoutMs?: number;
    handlerTimeoutMs?: number;
    fallbackCharset?: FallbackCharset;
  };
  /** PostgreSQL for the de-duplication window; absent = no de-duplication. */
  dedupe?: { databaseUrl: string; windowMs: number };
}

export const MLLP_GATEWAY_OPTIONS = Symbol('ancillary.mllp-gateway.options');

const frames = counter('mllp_frames_total', 'MLLP frames by direction.', ['direction']);
const bytes = counter('mllp_bytes_total', 'MLLP payload bytes by direction.', ['direction']);
const errors = counter('mllp_errors_total', 'MLLP errors by kind.', ['kind']);
const connections = counter('mllp_connections_total', 'MLLP connection events.', ['event']);
const ackLatency = histogram(
  'mllp_ack_latency_seconds',
  'From a frame arriving to its ACK being written, by ACK code.',
  ['code'],
);
const unparseable = counter(
  'gateway_unparseable_frames_total',
  'Frames that are not HL7 v2, kept on the dead-letter topic and answered AR/CR.',
  ['source_system'],
);

const dedupeUnavailable = counter(
  'gateway_dedupe_unavailable_total',
  'Start-ups that found the de-duplication store unavailable (the gateway ran without it).',
  ['source_system'],
);

const hooks: MllpMetricsHooks = {
  onConnection: (event) => {
    connections.inc({ event });
  },
  onFrameIn: (size) => {
    frames.inc({ direction: 'in' });
    bytes.inc({ direction: 'in' }, size);
  },
  onFrameOut: (size) => {
    frames.inc({ direction: 'out' });
    bytes.inc({ direction: 'out' }, size);
  },
  onError: (kind) => {
    errors.inc({ kind });
  },
  onAckLatency: (seconds, code) => {
    ackLatency.observe({ code }, seconds);
  },
};

@Injectable()
export class MllpGatewayLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  private server: MllpServer | undefined;
  private pool: Pool | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(MLLP_GATEWAY_OPTIONS) private readonly options: MllpGatewayOptions,
    private readonly messaging: Messaging,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The bound MLLP port (after bootstrap). */
  get port(): number {
    const port = this.server?.address()?.port;
    if (port === undefined) throw new Error('the MLLP server is not listening');
    return port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { options, logger } = this;
    let dedupe: DedupeStore | undefined;
    if (options.dedupe) {
      this.pool = createPool({
        databaseUrl: options.dedupe.databaseUrl,
        maxConnections: 5,
        applicationName: options.sourceSystem,
      });
      // Not a readiness check: without the store the gateway still stores every message
      // (downstream writers are idempotent); it only loses the topic-side de-duplication.
      const store = new DedupeStore(this.pool, options.dedupe.windowMs);
      try {
        await store.migrate();
        dedupe = store;
      } catch (error) {
        // Results keep flowing without it; a restart (or the next deploy) brings it back.
        dedupeUnavailable.inc({ source_system: options.sourceSystem });
        logger.error(
          { err: describeError(error) },
          'de-duplication store unavailable at start-up; running without de-duplication',
        );
      }
      const prune = () => {
        dedupe?.prune().then(
          (n) => {
            if (n > 0) logger.info({ removed: n }, 'dedupe window pruned');
          },
          (error: unknown) => {
            logger.warn({ err: describeError(error) }, 'dedupe prune failed');
          },
        );
      };
      this.pruneTimer = setInterval(prune, 15 * 60_000);
      this.pruneTimer.unref();
    }
    const gateway = new InboundGateway({
      sourceSystem: options.sourceSystem,
      topic: options.topic,
      acceptedMessageTypes: options.acceptedMessageTypes,
      producer: this.messaging.producer,
      ...(dedupe ? { dedupe } : {}),
      logger,
    });
    this.server = new MllpServer({
      ...options.mllp,
      handler: (message, context) => gateway.handle(message, context),
      onUnparseable: async (raw, error, context) => {
        unparseable.inc({ source_system: options.sourceSystem });
        const topic = deadLetterTopicOf(options.topic.name);
        await this.messaging.producer.sendRaw(topic, [
          {
            key: null,
            value: raw,
            headers: {
              [MessageHeaders.sourceSystem]: options.sourceSystem,
              [MessageHeaders.producer]: options.sourceSystem,
              [DeadLetterHeaders.originalTopic]: options.topic.name,
              [DeadLetterHeaders.errorClass]: error.name,
              [DeadLetterHeaders.errorCode]: 'unparseable',
              [DeadLetterHeaders.errorMessage]: error.message.slice(0, 2_000),
              [DeadLetterHeaders.attempts]: '1',
              [DeadLetterHeaders.service]: options.sourceSystem,
              [DeadLetterHeaders.failedAt]: new Date().toISOString(),
              'x-mllp-peer': `${context.connection.remoteAddress}:${context.connection.remotePort}`,
            },
          },
        ]);
        logger.warn(
          { err: describeError(error), bytes: raw.length, topic },
          'unparseable frame kept on the dead-letter topic; answering AR',
        );
      },
      hooks,
      logger,
    });
    await this.server.listen();
    logger.info(
      { host: options.mllp.host, port: this.port, topic: options.topic.name },
      'MLLP listener started',
    );
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.pruneTimer);
    try {
      // First: no new frames, the ones in hand finish (publish, ACK). Kafka closes after this.
      await this.server?.close();
    } finally {
      await this.pool?.end();
    }
  }
}

@Module({})
export class MllpGatewayModule {
  static forRoot(options: MllpGatewayOptions): DynamicModule {
    return {
      module: MllpGatewayModule,
      providers: [{ provide: MLLP_GATEWAY_OPTIONS, useValue: options }, MllpGatewayLifecycle],
      exports: [MllpGatewayLifecycle],
    };
  }
}
