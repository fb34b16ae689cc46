/**
 * The one place that constructs the Kafka client. kafkajs stays behind this library's own
 * interfaces (MessageProducer, ConsumerRunner, provisioning), so the client can be swapped
 * for a KafkaJS-compatible one without touching a service.
 */
import type { Logger } from '@ancillary/observability';
import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';

export interface KafkaConnectionOptions {
  brokers: string[];
  clientId: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
  /** ms to wait for a TCP connection to a broker. */
  connectionTimeoutMs?: number;
  /** ms to wait for a broker's answer to a request. */
  requestTimeoutMs?: number;
}

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(options: KafkaConnectionOptions, logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    logLevel: logLevel.WARN,
    // kafkajs' own log lines go through the service logger (JSON, trace ids, no PHI: kafkajs
    // logs metadata such as topics and brokers, never record contents).
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, timestamp: _timestamp, logger: _name, ...rest } = log;
        kafkaLogger[levelNames[level] ?? 'info'](rest, message);
      },
  });
}
